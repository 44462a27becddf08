/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "userdb_accounts.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "c_ptr.h"

namespace qemudm::userdb {

namespace {

constexpr size_t kMaxBuffer = 1024 * 1024;

/*
 * getpwnam_r(3): "not found" is a zero return with a NULL result, but
 * several NSS modules report it as ENOENT, ESRCH, EBADF or EPERM.
 */
bool isNotFound(int r)
{
	return r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

template <typename Entry, typename Call>
Result<std::optional<Account>> nssLookup(std::string_view what, Call &&call)
{
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? static_cast<size_t>(hint) : 4096;
	std::vector<char> buffer;

	for (;;) {
		buffer.resize(size);
		Entry entry{};
		Entry *result = nullptr;
		int r = call(&entry, buffer.data(), buffer.size(), &result);
		if (r == ERANGE && size < kMaxBuffer) {
			size *= 2;
			continue;
		}
		if (r == 0 && result) {
			if constexpr (std::is_same_v<Entry, passwd>)
				return std::optional<Account>(
				    Account{ result->pw_name, result->pw_uid, result->pw_gid });
			else
				return std::optional<Account>(
				    Account{ result->gr_name, result->gr_gid, result->gr_gid });
		}
		if (isNotFound(r))
			return std::optional<Account>();
		return errnoError(r, "Failed to look up {}", what);
	}
}

using FilePtr = CPtr<FILE, std::fclose>;

} /* namespace */

Result<std::optional<Account>> NssAccounts::userByName(const std::string &name)
{
	return nssLookup<passwd>("user " + name, [&](passwd *e, char *b, size_t n, passwd **res) {
		return getpwnam_r(name.c_str(), e, b, n, res);
	});
}

Result<std::optional<Account>> NssAccounts::userById(uint32_t uid)
{
	return nssLookup<passwd>(fmt::format("uid {}", uid), [&](passwd *e, char *b, size_t n, passwd **res) {
		return getpwuid_r(static_cast<uid_t>(uid), e, b, n, res);
	});
}

Result<std::optional<Account>> NssAccounts::groupByName(const std::string &name)
{
	return nssLookup<group>("group " + name, [&](group *e, char *b, size_t n, group **res) {
		return getgrnam_r(name.c_str(), e, b, n, res);
	});
}

Result<std::optional<Account>> NssAccounts::groupById(uint32_t gid)
{
	return nssLookup<group>(fmt::format("gid {}", gid), [&](group *e, char *b, size_t n, group **res) {
		return getgrgid_r(static_cast<gid_t>(gid), e, b, n, res);
	});
}

FileAccounts::FileAccounts(std::string passwdPath, std::string groupPath)
    : passwdPath_(std::move(passwdPath)), groupPath_(std::move(groupPath))
{
}

Result<std::optional<Account>> FileAccounts::findUser(const std::string *name, std::optional<uint32_t> uid)
{
	if (passwdPath_.empty())
		return std::optional<Account>();
	FilePtr f(std::fopen(passwdPath_.c_str(), "re"));
	if (!f)
		return errnoError(errno, "Failed to open {}", passwdPath_);

	/* fgetpwent_r consumes a line even on ERANGE: size for any sane line. */
	std::vector<char> buffer(64 * 1024);
	for (;;) {
		passwd entry{};
		passwd *result = nullptr;
		int r = fgetpwent_r(f.get(), &entry, buffer.data(), buffer.size(), &result);
		if (r == ENOENT)
			return std::optional<Account>();
		if (r != 0)
			return errnoError(r, "Failed to read {}", passwdPath_);
		if ((name && *name == result->pw_name) || (uid && *uid == result->pw_uid))
			return std::optional<Account>(Account{ result->pw_name, result->pw_uid, result->pw_gid });
	}
}

Result<std::optional<Account>> FileAccounts::findGroup(const std::string *name, std::optional<uint32_t> gid)
{
	if (groupPath_.empty())
		return std::optional<Account>();
	FilePtr f(std::fopen(groupPath_.c_str(), "re"));
	if (!f)
		return errnoError(errno, "Failed to open {}", groupPath_);

	std::vector<char> buffer(64 * 1024);
	for (;;) {
		group entry{};
		group *result = nullptr;
		int r = fgetgrent_r(f.get(), &entry, buffer.data(), buffer.size(), &result);
		if (r == ENOENT)
			return std::optional<Account>();
		if (r != 0)
			return errnoError(r, "Failed to read {}", groupPath_);
		if ((name && *name == result->gr_name) || (gid && *gid == result->gr_gid))
			return std::optional<Account>(Account{ result->gr_name, result->gr_gid, result->gr_gid });
	}
}

Result<std::optional<Account>> FileAccounts::userByName(const std::string &name)
{
	return findUser(&name, std::nullopt);
}

Result<std::optional<Account>> FileAccounts::userById(uint32_t uid)
{
	return findUser(nullptr, uid);
}

Result<std::optional<Account>> FileAccounts::groupByName(const std::string &name)
{
	return findGroup(&name, std::nullopt);
}

Result<std::optional<Account>> FileAccounts::groupById(uint32_t gid)
{
	return findGroup(nullptr, gid);
}

} /* namespace qemudm::userdb */
