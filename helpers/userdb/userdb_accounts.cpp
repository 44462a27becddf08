/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "userdb_accounts.h"

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
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
using DirPtr = CPtr<DIR, closedir>;

/* What nss-systemd (v252, src/shared/userdb.c) reads besides the varlink services. */
constexpr const char *kNsswitch = "/etc/nsswitch.conf";
constexpr const char *kServiceDir = "/run/systemd/userdb";
constexpr const char *kWatchedPaths[] = {
	"/etc/passwd",
	"/etc/group",
	/* userdb drop-ins: <uid>.user, <name>.user, <gid>.group, <name>.group in each */
	"/etc/userdb",
	"/run/userdb",
	"/run/host/userdb",
	"/usr/local/lib/userdb",
	"/usr/lib/userdb",
	"/lib/userdb",
	/* PID 1's dynamic users (io.systemd.DynamicUser answers from these) */
	"/run/systemd/dynamic-uid",
};

/* Whether nsswitch.conf's passwd and group lines name only sources we can observe. */
bool nsswitchObservable()
{
	std::ifstream f(kNsswitch);
	if (!f)
		return false;
	bool passwd = false, group = false;
	std::string line;
	while (std::getline(f, line)) {
		line = line.substr(0, line.find('#'));
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		std::string db = line.substr(0, colon);
		db.erase(std::remove_if(db.begin(), db.end(), ::isspace), db.end());
		if (db != "passwd" && db != "group")
			continue;
		(db == "passwd" ? passwd : group) = true;
		std::istringstream words(line.substr(colon + 1));
		std::string w;
		bool inAction = false;
		while (words >> w) {
			/* [NOTFOUND=return] and friends: actions, not sources */
			if (w.front() == '[')
				inAction = true;
			if (inAction) {
				inAction = w.back() != ']';
				continue;
			}
			if (w != "files" && w != "systemd")
				return false;
		}
	}
	/* No line: glibc's built-in default, which we do not second-guess. */
	return passwd && group;
}

/* Whether every service in /run/systemd/userdb/ is one nss-systemd skips or one we can observe. */
bool servicesObservable()
{
	DirPtr d(::opendir(kServiceDir));
	if (!d)
		return errno == ENOENT;
	std::vector<std::string> allowed = { "io.systemd.Multiplexer", "io.systemd.NameServiceSwitch",
					     "io.systemd.DynamicUser" };
	if (const char *bypass = std::getenv("SYSTEMD_BYPASS_USERDB")) {
		std::istringstream ss(bypass);
		std::string s;
		while (std::getline(ss, s, ':'))
			allowed.push_back(s);
	}
	while (struct dirent *e = ::readdir(d.get())) {
		std::string_view name = e->d_name;
		if (name == "." || name == "..")
			continue;
		if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
			return false;
	}
	return true;
}

} /* namespace */

bool appendPathIdentity(std::string &id, const std::string &path)
{
	struct stat st;
	if (::stat(path.c_str(), &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return false;
		fmt::format_to(std::back_inserter(id), "{}:-;", path);
		return true;
	}
	struct timespec now;
	::clock_gettime(CLOCK_REALTIME, &now);
	/* ctime moves on every change (write, rename into, chmod) and cannot be set back. */
	const long long age = (static_cast<long long>(now.tv_sec) - st.st_ctim.tv_sec) * 1000000000LL +
			      (now.tv_nsec - st.st_ctim.tv_nsec);
	if (age < 1000000000LL) /* also a ctime in the future (the clock was set back) */
		return false;
	fmt::format_to(std::back_inserter(id), "{}:{}:{}:{}:{}.{}:{}.{};", path, st.st_dev, st.st_ino, st.st_size,
		       st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return true;
}

std::optional<std::string> NssAccounts::stateId()
{
	std::string nsswitchId, servicesId;
	if (!appendPathIdentity(nsswitchId, kNsswitch) || !appendPathIdentity(servicesId, kServiceDir))
		return std::nullopt;
	if (nsswitchId != nsswitchId_) {
		nsswitchObservable_ = nsswitchObservable();
		nsswitchId_ = nsswitchId;
	}
	if (servicesId != servicesId_) {
		servicesObservable_ = servicesObservable();
		servicesId_ = servicesId;
	}
	if (!nsswitchObservable_ || !servicesObservable_)
		return std::nullopt;
	std::string id = nsswitchId + servicesId;
	for (const char *p : kWatchedPaths)
		if (!appendPathIdentity(id, p))
			return std::nullopt;
	return id;
}

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

std::optional<std::string> FileAccounts::stateId()
{
	std::string id;
	for (const std::string *p : { &passwdPath_, &groupPath_ })
		if (!p->empty() && !appendPathIdentity(id, *p))
			return std::nullopt;
	return id;
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
