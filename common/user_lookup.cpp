/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "user_lookup.h"

#include "domain.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "log.h"
#include "file_util.h"
#include "string_util.h"

namespace qemudm {

namespace {

/* getpwnam_r/getpwuid_r with a buffer that grows on ERANGE (up to 1 MiB). */
template <typename Fn>
Result<std::optional<PasswdEntry>> lookupPasswd(Fn call, std::string_view what)
{
	long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t size = hint > 0 ? static_cast<size_t>(hint) : 4096;
	while (true) {
		std::vector<char> buf(size);
		struct passwd pw;
		struct passwd *result = nullptr;
		int r = call(&pw, buf.data(), buf.size(), &result);
		if (r == ERANGE && size < 1024 * 1024) {
			size *= 2;
			continue;
		}
		/* getpwnam_r(3): these all mean "not found" in some NSS module. */
		if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM) {
			if (!result)
				return std::optional<PasswdEntry>();
			return std::optional<PasswdEntry>(PasswdEntry{ pw.pw_name, pw.pw_uid, pw.pw_gid });
		}
		return errnoError(r, "Failed to look up {}", what);
	}
}

bool isPid(const std::string &name)
{
	return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<std::optional<std::vector<uid_t>>> uidsOfPid(const std::filesystem::path &procRoot, const std::string &pid)
{
	auto text = readFile(procRoot / pid / "status", { .missingOk = true });
	if (!text)
		return text.error();
	if (!*text)
		return std::optional<std::vector<uid_t>>();
	auto uids = parseStatusUids(**text);
	if (!uids)
		return makeError(EBADMSG, "Failed to parse {}: no valid Uid: line",
				 (procRoot / pid / "status").string());
	return uids;
}

/* Call fn(pid name) for every process directory in procRoot; stops early when fn returns true. */
template <typename Fn>
Status forEachProcess(const std::filesystem::path &procRoot, Fn fn)
{
	std::error_code ec;
	std::filesystem::directory_iterator it(procRoot, ec);
	if (ec)
		return errnoError(ec.value(), "Failed to list {}", procRoot.string());
	for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
		if (ec)
			return errnoError(ec.value(), "Failed to list {}", procRoot.string());
		std::string name = it->path().filename().string();
		if (!isPid(name))
			continue;
		Result<bool> done = fn(name);
		if (!done)
			return done.error();
		if (*done)
			break;
	}
	return success();
}

} /* namespace */

std::optional<std::vector<uid_t>> parseStatusUids(std::string_view text)
{
	while (!text.empty()) {
		std::string_view line = popLine(text);
		if (!line.starts_with("Uid:"))
			continue;
		std::istringstream ss{ std::string(line.substr(4)) };
		std::vector<uid_t> uids;
		unsigned long v;
		while (ss >> v) {
			if (v > static_cast<unsigned long>(static_cast<uid_t>(-1)))
				return std::nullopt;
			uids.push_back(static_cast<uid_t>(v));
		}
		if (uids.size() != 4 || !ss.eof())
			return std::nullopt;
		return uids;
	}
	return std::nullopt;
}

SystemUserLookup::SystemUserLookup(std::filesystem::path procRoot) : procRoot_(std::move(procRoot))
{
}

Result<std::optional<PasswdEntry>> SystemUserLookup::byName(const std::string &name)
{
	return lookupPasswd([&](struct passwd *pw, char *buf, size_t n,
				struct passwd **res) { return ::getpwnam_r(name.c_str(), pw, buf, n, res); },
			    fmt::format("user {}", name));
}

uid_t parseLoginDefsSystemUidMax(std::string_view text)
{
	std::optional<uint64_t> sysUidMax, uidMin;
	std::istringstream in{ std::string(text) };
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream words(line);
		std::string key, value, extra;
		if (!(words >> key >> value) || key.starts_with('#') || (words >> extra && !extra.starts_with('#')))
			continue;
		if (value.empty() || value.size() > 10 ||
		    !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
			continue;
		uint64_t v = std::stoull(value);
		if (v > 4294967294ULL)
			continue;
		if (key == "SYS_UID_MAX")
			sysUidMax = v;
		else if (key == "UID_MIN" && v > 0)
			uidMin = v;
	}
	if (sysUidMax)
		return static_cast<uid_t>(*sysUidMax);
	if (uidMin)
		return static_cast<uid_t>(*uidMin - 1);
	return 999;
}

Result<uid_t> UserLookup::systemUidMax()
{
	auto text = readFile("/etc/login.defs", { .missingOk = true });
	if (!text)
		return text.error();
	return parseLoginDefsSystemUidMax(*text ? **text : std::string());
}

Result<std::optional<PasswdEntry>> SystemUserLookup::byUid(uid_t uid)
{
	return lookupPasswd([&](struct passwd *pw, char *buf, size_t n,
				struct passwd **res) { return ::getpwuid_r(uid, pw, buf, n, res); },
			    fmt::format("uid {}", uid));
}

Result<std::optional<pid_t>> findProcessOfUid(uid_t uid, const std::filesystem::path &procRoot, pid_t except)
{
	std::optional<pid_t> found;
	const std::string self = except > 0 ? std::to_string(except) : std::string();
	auto s = forEachProcess(procRoot, [&](const std::string &pid) -> Result<bool> {
		if (pid == self)
			return false;
		auto uids = uidsOfPid(procRoot, pid);
		if (!uids)
			return uids.error();
		if (*uids && std::find((*uids)->begin(), (*uids)->end(), uid) != (*uids)->end())
			found = static_cast<pid_t>(std::stol(pid));
		return found.has_value();
	});
	if (!s)
		return s.error();
	return found;
}

Result<bool> SystemUserLookup::uidHasProcesses(uid_t uid)
{
	auto pid = findProcessOfUid(uid, procRoot_);
	if (!pid)
		return pid.error();
	if (*pid)
		log::debug("uid {} owns process {}", uid, **pid);
	return pid->has_value();
}

Result<std::vector<uid_t>> SystemUserLookup::runningDmUids()
{
	/*
	 * Every process whose cgroup is (below) a qemu-dm@<domid>.service, in
	 * any hierarchy: independent of the slice's place in the tree and of
	 * the cgroup mode (unified or hybrid).
	 */
	std::vector<uid_t> result;
	auto s = forEachProcess(procRoot_, [&](const std::string &pid) -> Result<bool> {
		auto cgroup = readFile(procRoot_ / pid / "cgroup", { .missingOk = true });
		if (!cgroup)
			return cgroup.error();
		if (!*cgroup)
			return false; /* exited meanwhile */
		bool inDm = false;
		std::istringstream lines(**cgroup);
		for (std::string line; !inDm && std::getline(lines, line);) {
			std::istringstream parts(line.substr(line.rfind(':') + 1));
			for (std::string part; std::getline(parts, part, '/');)
				inDm |= domidFromUnitName(part).has_value();
		}
		if (!inDm)
			return false;
		auto uids = uidsOfPid(procRoot_, pid);
		if (!uids)
			return uids.error();
		std::vector<uid_t> found = *uids ? **uids : std::vector<uid_t>();
		/*
		 * A DM is root until QEMU drops privileges, which can be seconds after
		 * its start returned: the uid its unit declared (QEMU_DM_UID=, set by
		 * planDmUnit) counts from the start.
		 */
		if (auto env = readFile(procRoot_ / pid / "environ", { .missingOk = true }); env && *env) {
			std::string_view e = **env;
			constexpr std::string_view key = "QEMU_DM_UID=";
			for (size_t at = 0; at < e.size();) {
				size_t end = e.find('\0', at);
				std::string_view var = e.substr(at, end == std::string_view::npos ? e.npos : end - at);
				if (var.starts_with(key))
					if (auto u = parseDecimal(var.substr(key.size()), UINT32_MAX - 1))
						found.push_back(static_cast<uid_t>(*u));
				at = end == std::string_view::npos ? e.size() : end + 1;
			}
		}
		for (uid_t u : found)
			if (std::find(result.begin(), result.end(), u) == result.end())
				result.push_back(u);
		return false;
	});
	if (!s)
		return s.error();
	std::sort(result.begin(), result.end());
	return result;
}

} /* namespace qemudm */
