/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "exec_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include "c_ptr.h"
#include "file_util.h"
#include "unique_fd.h"

namespace qemudm {

namespace {

using DirPtr = CPtr<DIR, closedir>;

bool parsePid(const char *s, pid_t &ret)
{
	std::string_view v(s);
	if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
		return false;
	auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ret);
	return ec == std::errc() && p == v.data() + v.size();
}

std::string parentOf(const std::string &dir)
{
	size_t slash = dir.rfind('/');
	return slash == 0 ? std::string("/") : dir.substr(0, slash);
}

} /* namespace */

Result<UserId> resolveUserName(const std::string &name)
{
	long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
	std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
	for (;;) {
		struct passwd pw, *result = nullptr;
		int r = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result);
		if (r == ERANGE && buf.size() < (1U << 20)) {
			buf.resize(buf.size() * 2);
			continue;
		}
		if (r != 0)
			return errnoError(r, "Failed to look up user '{}'", name);
		if (!result)
			return makeError(ENOENT, "user '{}' does not exist", name);
		return UserId{ pw.pw_uid, pw.pw_gid };
	}
}

Status checkNeverRootStatus(std::string_view text, const UserId &want)
{
	bool haveUid = false, haveGid = false, haveGroups = false;
	int caps = 0;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
		size_t colon = line.find(':');
		if (colon == std::string_view::npos)
			continue;
		std::string_view key = line.substr(0, colon);
		const bool capKey =
		    key == "CapInh" || key == "CapPrm" || key == "CapEff" || key == "CapBnd" || key == "CapAmb";
		if (key != "Uid" && key != "Gid" && key != "Groups" && !capKey)
			continue;
		std::vector<uint64_t> values;
		std::string_view rest = line.substr(colon + 1);
		const int base = capKey ? 16 : 10;
		for (;;) {
			size_t b = rest.find_first_not_of(" \t");
			if (b == std::string_view::npos)
				break;
			rest.remove_prefix(b);
			size_t e = rest.find_first_of(" \t");
			std::string_view word = rest.substr(0, e);
			uint64_t v = 0;
			auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v, base);
			if (ec != std::errc() || p != word.data() + word.size())
				return makeError(EBADMSG, "/proc/self/status: unreadable {}: line", key);
			values.push_back(v);
			rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
		}
		auto allAre = [&](uint64_t id) {
			return values.size() == 4 &&
			       std::all_of(values.begin(), values.end(), [&](uint64_t v) { return v == id; });
		};
		auto joined = [&] {
			std::string out;
			for (uint64_t v : values)
				out += (out.empty() ? "" : " ") + std::to_string(v);
			return out;
		};
		if (key == "Uid") {
			haveUid = true;
			if (!allAre(want.uid))
				return makeError(EPERM, "running as uid {}, not {} (the unit's User=)", joined(),
						 want.uid);
		} else if (key == "Gid") {
			haveGid = true;
			if (!allAre(want.gid))
				return makeError(EPERM, "running as gid {}, not {} (the unit's Group=)", joined(),
						 want.gid);
		} else if (key == "Groups") {
			haveGroups = true;
			for (uint64_t g : values)
				if (g != want.gid)
					return makeError(EPERM, "member of supplementary groups [{}], not only of {}",
							 joined(), want.gid);
		} else {
			caps++;
			if (values.size() != 1)
				return makeError(EBADMSG, "/proc/self/status: unreadable {}: line", key);
			if (values[0] != 0)
				return makeError(EPERM, "holding capabilities: {} {:016x}", key, values[0]);
		}
	}
	if (!haveUid || !haveGid || !haveGroups || caps != 5)
		return makeError(EBADMSG, "/proc/self/status lacks the Uid, Gid, Groups or Cap* lines");
	return success();
}

Status checkNeverRootIdentity(const UserId &want)
{
	auto text = readFile("/proc/self/status");
	if (!text)
		return text.error();
	if (!*text)
		return makeError(ENOENT, "Failed to read /proc/self/status");
	return checkNeverRootStatus(**text, want);
}

Status checkFdOpen(int fd)
{
	if (::fcntl(fd, F_GETFD) < 0)
		return errnoError(errno, "file descriptor {} is not usable", fd);
	return success();
}

Status clearCloexec(int fd)
{
	int flags = ::fcntl(fd, F_GETFD);
	if (flags < 0 || ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
		return errnoError(errno, "Failed to clear FD_CLOEXEC on file descriptor {}", fd);
	return success();
}

Status closeFdsExcept(const std::vector<int> &keep)
{
	std::vector<int> kept = { 0, 1, 2 };
	kept.insert(kept.end(), keep.begin(), keep.end());
	std::sort(kept.begin(), kept.end());
	kept.erase(std::unique(kept.begin(), kept.end()), kept.end());

#ifdef SYS_close_range
	/* Close the gaps between kept descriptors, then everything above the last. */
	bool fallback = false;
	for (size_t i = 0; i < kept.size() && !fallback; i++) {
		unsigned int first = static_cast<unsigned int>(kept[i]) + 1;
		unsigned int last = i + 1 < kept.size() ? static_cast<unsigned int>(kept[i + 1]) - 1 : ~0U;
		if (first > last)
			continue;
		if (::syscall(SYS_close_range, first, last, 0U) < 0) {
			if (errno != ENOSYS && errno != EPERM)
				return errnoError(errno, "Failed to close file descriptors {}-{}", first, last);
			fallback = true; /* kernel < 5.9, or filtered by seccomp */
		}
	}
	if (!fallback)
		return success();
#endif

	/* Collect first, close afterwards: closing while reading would skip entries. */
	std::vector<int> toClose;
	{
		UniqueFd dfd(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (!dfd)
			return errnoError(errno, "Failed to open /proc/self/fd");
		int self = dfd.get();
		DirPtr dir(::fdopendir(dfd.release()));
		if (!dir) {
			(void)::close(self);
			return errnoError(errno, "Failed to read /proc/self/fd");
		}
		while (struct dirent *de = ::readdir(dir.get())) {
			pid_t fd;
			if (!parsePid(de->d_name, fd) || fd == self)
				continue;
			if (!std::binary_search(kept.begin(), kept.end(), fd))
				toClose.push_back(fd);
		}
	}
	for (int fd : toClose)
		(void)::close(fd);
	return success();
}

Status checkExecutable(const std::string &path)
{
	struct stat st;
	if (::stat(path.c_str(), &st) < 0)
		return errnoError(errno, "{}", path);
	if (!S_ISREG(st.st_mode))
		return makeError(EACCES, "{} is not a regular file", path);
	if (::access(path.c_str(), X_OK) < 0)
		return errnoError(errno, "{} is not executable", path);
	return success();
}

ChrootDirOps systemChrootDirOps()
{
	ChrootDirOps ops;
	ops.lstat = [](const std::string &path) -> Result<PathInfo> {
		struct stat st;
		if (::lstat(path.c_str(), &st) < 0) {
			if (errno == ENOENT)
				return PathInfo{};
			return errnoError(errno, "Failed to stat {}", path);
		}
		return PathInfo{ true, st.st_mode, st.st_uid };
	};
	ops.mkdir = [](const std::string &path, mode_t mode) -> Status {
		if (::mkdir(path.c_str(), mode) < 0)
			return errnoError(errno, "Failed to create {}", path);
		return success();
	};
	ops.chmod = [](const std::string &path, mode_t mode) -> Status {
		if (::chmod(path.c_str(), mode) < 0)
			return errnoError(errno, "Failed to change the mode of {}", path);
		return success();
	};
	ops.isEmpty = [](const std::string &path) -> Result<bool> {
		UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
		if (!fd && errno == EACCES) {
			/* Root without CAP_DAC_READ_SEARCH cannot list a 0100 directory
			 * it owns: allow itself r-x for the look, then restore. */
			struct stat st;
			if (::lstat(path.c_str(), &st) < 0)
				return errnoError(errno, "Failed to stat {}", path);
			if (::chmod(path.c_str(), 0500) < 0)
				return errnoError(errno, "Failed to change the mode of {}", path);
			fd.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
			int err = errno;
			(void)::chmod(path.c_str(), st.st_mode & 07777);
			errno = err;
		}
		if (!fd)
			return errnoError(errno, "Failed to open {}", path);
		DirPtr dir(::fdopendir(fd.get()));
		if (!dir)
			return errnoError(errno, "Failed to read {}", path);
		(void)fd.release(); /* owned by dir now */
		errno = 0;
		while (struct dirent *de = ::readdir(dir.get())) {
			std::string_view n(de->d_name);
			if (n != "." && n != "..")
				return false;
		}
		if (errno)
			return errnoError(errno, "Failed to read {}", path);
		return true;
	};
	return ops;
}

Result<std::string> prepareChrootDir(const std::string &dir, const ChrootDirOps &ops)
{
	const std::string parent = parentOf(dir);
	auto p = ops.lstat(parent);
	if (!p)
		return p.error();
	if (!p->exists)
		return makeError(ENOENT, "{} does not exist", parent);
	if (!S_ISDIR(p->mode))
		return makeError(ENOTDIR, "{} is not a directory", parent);
	if (p->uid != 0)
		return makeError(EPERM, "{} is owned by uid {}, not root", parent, p->uid);
	if (p->mode & 022)
		return makeError(EPERM, "{} is writable by group or others (mode {:04o})", parent, p->mode & 07777);

	auto d = ops.lstat(dir);
	if (!d)
		return d.error();
	if (!d->exists) {
		Status s = ops.mkdir(dir, kChrootDirMode);
		if (!s)
			return s.error();
		/* mkdir() honours the umask; say the mode explicitly. */
		s = ops.chmod(dir, kChrootDirMode);
		if (!s)
			return s.error();
		return fmt::format("created {} (mode {:04o})", dir, kChrootDirMode);
	}

	if (S_ISLNK(d->mode))
		return makeError(ELOOP, "{} is a symbolic link", dir);
	if (!S_ISDIR(d->mode))
		return makeError(ENOTDIR, "{} is not a directory", dir);
	if (d->uid != 0)
		return makeError(EPERM, "{} is owned by uid {}, not root", dir, d->uid);
	if (d->mode & 022)
		return makeError(EPERM, "{} is writable by group or others (mode {:04o})", dir, d->mode & 07777);
	auto empty = ops.isEmpty(dir);
	if (!empty)
		return empty.error();
	if (!*empty)
		return makeError(ENOTEMPTY, "{} is not empty", dir);

	mode_t mode = d->mode & 07777;
	if (mode == kChrootDirMode)
		return fmt::format("using {} (mode {:04o})", dir, mode);
	Status s = ops.chmod(dir, kChrootDirMode);
	if (!s)
		return s.error();
	return fmt::format("using {}, mode changed from {:04o} to {:04o}", dir, mode, kChrootDirMode);
}

} /* namespace qemudm */
