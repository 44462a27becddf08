/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The seam between the UID policy and the system: user database lookups
 * (NSS) and process ownership (/proc, the qemu-dm.slice cgroup). The policy
 * only ever talks to a UserLookup, so tests substitute a fake or a GMock.
 */

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "result.h"

namespace qemudm {

struct PasswdEntry {
	std::string name;
	uid_t uid = 0;
	gid_t gid = 0; /* the primary group */

	bool operator==(const PasswdEntry &) const = default;
};

class UserLookup
{
public:
	virtual ~UserLookup() = default;

	/* std::nullopt: no such user. An Error: the lookup itself failed. */
	virtual Result<std::optional<PasswdEntry>> byName(const std::string &name) = 0;
	virtual Result<std::optional<PasswdEntry>> byUid(uid_t uid) = 0;

	/* Does any process have `uid` as its real, effective, saved or fs uid? */
	virtual Result<bool> uidHasProcesses(uid_t uid) = 0;

	/* The uids of the processes of every running qemu-dm@*.service (root included). */
	virtual Result<std::vector<uid_t>> runningDmUids() = 0;

	/*
	 * The highest uid of a system user: SYS_UID_MAX of /etc/login.defs, the
	 * file useradd --system allocates by (default UID_MIN - 1, else 999, as
	 * shadow's useradd computes it). Default implementation: that file.
	 */
	virtual Result<uid_t> systemUidMax();
};

/* SYS_UID_MAX from the text of login.defs(5); UID_MIN - 1 without it; else 999. */
uid_t parseLoginDefsSystemUidMax(std::string_view loginDefsText);

/* The real thing: getpwnam_r/getpwuid_r, /proc/<pid>/status and /proc/<pid>/cgroup. */
class SystemUserLookup final : public UserLookup
{
public:
	static constexpr const char *kProcRoot = "/proc";

	explicit SystemUserLookup(std::filesystem::path procRoot = kProcRoot);

	Result<std::optional<PasswdEntry>> byName(const std::string &name) override;
	Result<std::optional<PasswdEntry>> byUid(uid_t uid) override;
	Result<bool> uidHasProcesses(uid_t uid) override;
	Result<std::vector<uid_t>> runningDmUids() override;

private:
	std::filesystem::path procRoot_;
};

/* The four uids (real, effective, saved, fs) from the text of /proc/<pid>/status. */
std::optional<std::vector<uid_t>> parseStatusUids(std::string_view statusText);

/* A process other than `except` whose real, effective, saved or fs uid is `uid`; nullopt if none. */
[[nodiscard]] Result<std::optional<pid_t>> findProcessOfUid(uid_t uid, const std::filesystem::path &procRoot = "/proc",
							    pid_t except = 0);

} /* namespace qemudm */
