/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one fake user database of the unit tests: users and processes in memory, any lookup can fail. */

#include <set>
#include <string>
#include <vector>

#include "user_lookup.h"

namespace qemudm::test {

class FakeUserLookup : public UserLookup
{
public:
	std::vector<PasswdEntry> users;
	std::set<uid_t> uidsWithProcesses;
	bool everyUidHasProcesses = false; /* "busy" everywhere: proves a check does not depend on it */
	std::vector<uid_t> dmUids;
	uid_t sysUidMax = 999;

	/* Failures, each an EIO with `failure` as its message. */
	std::set<std::string> failName;
	bool failNames = false, failUid = false, failProcesses = false, failRunning = false;
	bool failSystemUidMax = false; /* EACCES, as an unreadable /etc/login.defs */
	std::string failure = "I/O error";

	void add(const std::string &name, uid_t uid, gid_t gid) { users.push_back({ name, uid, gid }); }
	/* Every name and uid lookup fails, as a broken NSS. */
	void failNss() { failNames = failUid = true; }

	Result<std::optional<PasswdEntry>> byName(const std::string &name) override
	{
		if (failNames || failName.count(name))
			return Error(EIO, failure);
		for (const auto &u : users)
			if (u.name == name)
				return std::optional<PasswdEntry>(u);
		return std::optional<PasswdEntry>();
	}
	Result<std::optional<PasswdEntry>> byUid(uid_t uid) override
	{
		if (failUid)
			return Error(EIO, failure);
		for (const auto &u : users)
			if (u.uid == uid)
				return std::optional<PasswdEntry>(u);
		return std::optional<PasswdEntry>();
	}
	Result<bool> uidHasProcesses(uid_t uid) override
	{
		if (failProcesses)
			return Error(EIO, failure);
		return everyUidHasProcesses || uidsWithProcesses.count(uid) > 0;
	}
	Result<std::vector<uid_t>> runningDmUids() override
	{
		if (failRunning)
			return Error(EIO, failure);
		return dmUids;
	}
	Result<uid_t> systemUidMax() override
	{
		if (failSystemUidMax)
			return Error(EACCES, "Failed to open /etc/login.defs: Permission denied");
		return sysUidMax;
	}
};

} /* namespace qemudm::test */
