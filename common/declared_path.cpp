/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "declared_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include "path_util.h"
#include "string_util.h"
#include "unique_fd.h"

namespace qemudm {

namespace {

constexpr std::string_view kComponentChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+,=@~-";

/* Never handed to a DM, nor anything below them. */
constexpr std::array<std::string_view, 15> kForbiddenTrees = {
	"/etc",
	"/usr",
	"/boot",
	"/root",
	"/proc",
	"/sys",
	"/run",
	"/var/cache",
	"/var/log",
	"/var/spool",
	"/var/lib/apt",
	"/var/lib/dpkg",
	"/var/lib/systemd",
	"/var/lib/qemu-dm",
	"/var/lib/xenstored",
};

/* Device nodes that are never declared, whatever the kind. */
constexpr std::array<std::string_view, 3> kForbiddenDevices = { "/dev/mem", "/dev/kmem", "/dev/port" };

bool isBelow(std::string_view path, std::string_view tree)
{
	return path == tree || (path.starts_with(tree) && path.size() > tree.size() && path[tree.size()] == '/');
}

std::vector<std::string_view> components(std::string_view path)
{
	std::vector<std::string_view> out;
	size_t i = 1;
	while (i <= path.size()) {
		size_t slash = path.find('/', i);
		if (slash == std::string_view::npos)
			slash = path.size();
		out.push_back(path.substr(i, slash - i));
		i = slash + 1;
	}
	return out;
}

std::string_view kindName(DeclaredKind kind)
{
	switch (kind) {
	case DeclaredKind::Disk:
		return "a regular file or block device";
	case DeclaredKind::Path:
		return "a regular file or block device";
	case DeclaredKind::Device:
		return "a character or block device";
	}
	return "?";
}

bool kindMatches(DeclaredKind kind, mode_t mode)
{
	switch (kind) {
	case DeclaredKind::Disk:
	case DeclaredKind::Path:
		return S_ISREG(mode) || S_ISBLK(mode);
	case DeclaredKind::Device:
		return S_ISCHR(mode) || S_ISBLK(mode);
	}
	return false;
}

} /* namespace */

Status checkDeclaredPathSpelling(uint32_t domid, std::string_view what, std::string_view path)
{
	if (path.empty() || path[0] != '/')
		return makeError(EINVAL, "domain {}: {} '{}' is not an absolute path", domid, what, path);
	if (path.size() > kMaxDeclaredPathLength)
		return makeError(ENAMETOOLONG, "domain {}: {} path is longer than {} bytes", domid, what,
				 kMaxDeclaredPathLength);
	if (path == "/")
		return makeError(EPERM, "domain {}: {} '/' is the host's root directory", domid, what);
	if (!isNormalizedAbsolutePath(path))
		return makeError(EINVAL,
				 "domain {}: {} '{}' is not a normal path (empty, '.' or '..' component, or a "
				 "trailing '/')",
				 domid, what, printable(path));
	for (std::string_view c : components(path))
		if (c.find_first_not_of(kComponentChars) != std::string_view::npos || c[0] == '-')
			return makeError(EINVAL,
					 "domain {}: {} '{}' contains characters qemu-dm does not accept (allowed: "
					 "A-Z a-z 0-9 . _ + , = @ ~ - and '/', no component starting with '-')",
					 domid, what, printable(path));
	return success();
}

namespace {

struct WalkedObject {
	UniqueFd fd; /* O_PATH */
	DeclaredObject object;
};

/* The whole rule; returns the checked object as an O_PATH fd. */
Result<WalkedObject> walkDeclaredObject(uint32_t domid, std::string_view what, const std::string &path,
					DeclaredKind kind, const std::string &root)
{
	if (auto s = checkDeclaredPathSpelling(domid, what, path); !s)
		return s.error();
	for (std::string_view tree : kForbiddenTrees)
		if (isBelow(path, tree))
			return makeError(EPERM,
					 "domain {}: {} {} is in {}, a system location qemu-dm never hands to a "
					 "device model",
					 domid, what, path, tree);
	for (std::string_view dev : kForbiddenDevices)
		if (path == dev)
			return makeError(EPERM, "domain {}: {} {} is never handed to a device model", domid, what,
					 path);

	UniqueFd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (!dir)
		return errnoError(errno, "domain {}: {} {}: cannot open {}", domid, what, path, root);
	auto parts = components(path);
	std::string walked;
	struct stat st;
	for (size_t i = 0; i < parts.size(); i++) {
		/* The directory we are in: never writable by others (no one may swap what follows). */
		if (::fstat(dir.get(), &st) < 0)
			return errnoError(errno, "domain {}: {} {}", domid, what, path);
		const std::string here = walked.empty() ? "/" : walked;
		if (st.st_mode & S_IWOTH)
			return makeError(EPERM,
					 "domain {}: {} {}: its directory {} is writable by every user, which "
					 "qemu-dm does not accept",
					 domid, what, path, here);
		/* Only root (or the caller itself) may rename what is below: nobody else can swap it. */
		if (st.st_uid != 0 && st.st_uid != ::geteuid())
			return makeError(EPERM,
					 "domain {}: {} {}: its directory {} belongs to uid {}, who could swap it "
					 "after the check (directories must belong to root)",
					 domid, what, path, here, st.st_uid);
		if ((st.st_mode & S_IWGRP) && st.st_gid != 0)
			return makeError(EPERM,
					 "domain {}: {} {}: its directory {} is writable by group {}, who could "
					 "swap it after the check",
					 domid, what, path, here, st.st_gid);
		walked += '/';
		walked += parts[i];
		bool last = i + 1 == parts.size();
		std::string name(parts[i]);
		UniqueFd next(::openat(dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
		if (!next)
			return errnoError(errno, "domain {}: {} {}", domid, what, path);
		if (::fstat(next.get(), &st) < 0)
			return errnoError(errno, "domain {}: {} {}", domid, what, path);
		if (S_ISLNK(st.st_mode))
			return makeError(ELOOP,
					 "domain {}: {} {}: {} is a symbolic link, which qemu-dm does not accept "
					 "(declare the real path)",
					 domid, what, path, walked);
		if (!last && !S_ISDIR(st.st_mode))
			return makeError(ENOTDIR, "domain {}: {} {}: {} is not a directory", domid, what, path, walked);
		dir = std::move(next);
	}
	/* `dir` is now the object itself, `st` its stat. */
	if (!kindMatches(kind, st.st_mode))
		return makeError(EINVAL, "domain {}: {} {} is {}, not {}", domid, what, path,
				 S_ISDIR(st.st_mode)	? "a directory"
				 : S_ISSOCK(st.st_mode) ? "a socket"
				 : S_ISFIFO(st.st_mode) ? "a FIFO"
				 : S_ISCHR(st.st_mode)	? "a character device"
				 : S_ISBLK(st.st_mode)	? "a block device"
							: "a regular file",
				 kindName(kind));
	if (isBelow(path, "/dev") && !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
		return makeError(EPERM, "domain {}: {} {}: in /dev only device nodes are handed to a device model",
				 domid, what, path);
	if (S_ISREG(st.st_mode)) {
		if (st.st_nlink != 1)
			return makeError(EPERM,
					 "domain {}: {} {} has {} hard links, which qemu-dm does not accept (one "
					 "file, one name)",
					 domid, what, path, st.st_nlink);
		if (st.st_mode & (S_ISUID | S_ISGID))
			return makeError(EPERM, "domain {}: {} {} is set-uid or set-gid", domid, what, path);
	}
	return WalkedObject{ std::move(dir), DeclaredObject{ st.st_dev, st.st_ino, st.st_mode } };
}

} /* namespace */

Result<DeclaredObject> checkDeclaredObject(uint32_t domid, std::string_view what, const std::string &path,
					   DeclaredKind kind, const std::string &root)
{
	auto w = walkDeclaredObject(domid, what, path, kind, root);
	if (!w)
		return w.error();
	return w->object;
}

Result<OpenedObject> openDeclaredObject(uint32_t domid, std::string_view what, const std::string &path,
					DeclaredKind kind, int flags, const std::string &root)
{
	if (kind == DeclaredKind::Device)
		return makeError(EINVAL, "domain {}: {} {}: device nodes are not opened for a device model", domid,
				 what, path);
	if ((flags & ~O_ACCMODE) != 0 || (flags & O_ACCMODE) == O_ACCMODE)
		return makeError(EINVAL, "domain {}: {} {}: invalid open flags {:#x}", domid, what, path, flags);
	auto w = walkDeclaredObject(domid, what, path, kind, root);
	if (!w)
		return w.error();
	/*
	 * Reopen the checked object itself (its O_PATH fd through /proc), never
	 * the path again: what was checked is what is opened.
	 */
	const std::string self = fmt::format("/proc/self/fd/{}", w->fd.get());
	UniqueFd fd(::open(self.c_str(), flags | O_CLOEXEC | O_NOCTTY));
	if (!fd)
		return errnoError(errno, "domain {}: Failed to open {} {}", domid, what, path);
	struct stat st;
	if (::fstat(fd.get(), &st) < 0)
		return errnoError(errno, "domain {}: {} {}", domid, what, path);
	if (st.st_dev != w->object.dev || st.st_ino != w->object.ino)
		return makeError(EBUSY, "domain {}: {} {} changed while it was opened", domid, what, path);
	return OpenedObject{ std::move(fd), w->object };
}

} /* namespace qemudm */
