/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where the user database service learns about everybody else's users and
 * groups: the range base user, and whether a uid/gid or name in our range is
 * already owned by another source (then we must not answer for it).
 *
 * NssAccounts asks NSS (files, LDAP, nss-systemd's other userdb services and
 * drop-ins); the daemon sets SYSTEMD_BYPASS_USERDB to its own service name
 * first, so nss-systemd never asks us back (see docs/userdb.md).
 * FileAccounts reads passwd/group-format files with fgetpwent/fgetgrent; the
 * daemon's --passwd-file/--group-file test options use it, and so do tests.
 */

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "result.h"

namespace qemudm::userdb {

/* One passwd or group entry. For groups, gid == id. */
struct Account {
	std::string name;
	uint32_t id = 0;
	uint32_t gid = 0;
};

class Accounts
{
public:
	virtual ~Accounts() = default;

	/* Found: the entry; not found: std::nullopt; lookup failure: Error. */
	virtual Result<std::optional<Account>> userByName(const std::string &name) = 0;
	virtual Result<std::optional<Account>> userById(uint32_t uid) = 0;
	virtual Result<std::optional<Account>> groupByName(const std::string &name) = 0;
	virtual Result<std::optional<Account>> groupById(uint32_t gid) = 0;

	/*
	 * An identity of everything the answers above depend on, taken before
	 * the lookups it covers: while it is unchanged no answer can have
	 * changed, so the caller may keep them. std::nullopt: this source cannot
	 * tell (a source it cannot observe, or a change too recent to tell from
	 * a later one); then nothing may be kept. The default: never.
	 */
	virtual std::optional<std::string> stateId() { return std::nullopt; }
};

/*
 * The identity of one file or directory (device, inode, size, mtime, ctime),
 * appended to `id`; a missing one has its own. False when it cannot serve:
 * a stat error other than "missing", or a change within the last second
 * (file times come from a coarse clock: a second change within the same
 * tick could leave every field as it was).
 */
bool appendPathIdentity(std::string &id, const std::string &path);

class NssAccounts final : public Accounts
{
public:
	Result<std::optional<Account>> userByName(const std::string &name) override;
	Result<std::optional<Account>> userById(uint32_t uid) override;
	Result<std::optional<Account>> groupByName(const std::string &name) override;
	Result<std::optional<Account>> groupById(uint32_t gid) override;

	/*
	 * Only when every source NSS asks can be observed (docs/userdb.md):
	 * /etc/nsswitch.conf names only "files" and "systemd" for passwd and
	 * group, and /run/systemd/userdb/ holds no service besides those bypassed
	 * ($SYSTEMD_BYPASS_USERDB), io.systemd.Multiplexer,
	 * io.systemd.NameServiceSwitch (never asked by nss-systemd) and PID 1's
	 * io.systemd.DynamicUser. Then the identity is that of nsswitch.conf,
	 * /etc/passwd, /etc/group, the userdb drop-in directories,
	 * /run/systemd/userdb/ and PID 1's /run/systemd/dynamic-uid/.
	 */
	std::optional<std::string> stateId() override;

private:
	/* Verdicts on nsswitch.conf and /run/systemd/userdb/, kept while their identity is unchanged. */
	std::string nsswitchId_, servicesId_;
	bool nsswitchObservable_ = false, servicesObservable_ = false;
};

class FileAccounts final : public Accounts
{
public:
	/* Either path may be empty: that database is then empty. Files are
	 * re-read on every lookup, like NSS "files" does. */
	FileAccounts(std::string passwdPath, std::string groupPath);

	Result<std::optional<Account>> userByName(const std::string &name) override;
	Result<std::optional<Account>> userById(uint32_t uid) override;
	Result<std::optional<Account>> groupByName(const std::string &name) override;
	Result<std::optional<Account>> groupById(uint32_t gid) override;

	/* The identity of both files. */
	std::optional<std::string> stateId() override;

private:
	Result<std::optional<Account>> findUser(const std::string *name, std::optional<uint32_t> uid);
	Result<std::optional<Account>> findGroup(const std::string *name, std::optional<uint32_t> gid);

	std::string passwdPath_;
	std::string groupPath_;
};

} /* namespace qemudm::userdb */
