/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string_view>

#include "unique_fd.h"

namespace qemudm {

namespace {

std::string_view fileType(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "of an unknown type";
	}
}

} /* namespace */

Result<std::optional<std::string>> readFile(const std::filesystem::path &path, const ReadFileOptions &options)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
	if (!fd) {
		int e = errno;
		if (options.missingOk && (e == ENOENT || e == ENOTDIR || e == ESRCH))
			return std::optional<std::string>();
		/* A socket cannot be opened (ENXIO): name what it is rather than "No such device or address". */
		struct stat st;
		if (e == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
			return makeError(EINVAL, "Failed to read {}: not a regular file but {}", path.string(),
					 fileType(st.st_mode));
		return errnoError(e, "Failed to open {}", path.string());
	}
	struct stat st;
	if (::fstat(fd.get(), &st) < 0)
		return errnoError(errno, "Failed to stat {}", path.string());
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3)
		return std::optional<std::string>(std::string()); /* masked by a link to /dev/null */
	if (!S_ISREG(st.st_mode))
		return makeError(EINVAL, "Failed to read {}: not a regular file but {}", path.string(),
				 fileType(st.st_mode));
	/* st_size is 0 for /proc and /sys files: the limit is checked again while reading. */
	if (static_cast<uint64_t>(st.st_size) > options.maxSize)
		return makeError(EFBIG, "Failed to read {}: larger than {} bytes", path.string(), options.maxSize);
	std::string text;
	char buf[8192];
	while (true) {
		ssize_t n = ::read(fd.get(), buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (options.missingOk && errno == ESRCH)
				return std::optional<std::string>(); /* the process exited while we read */
			return errnoError(errno, "Failed to read {}", path.string());
		}
		if (n == 0)
			break;
		text.append(buf, static_cast<size_t>(n));
		if (text.size() > options.maxSize)
			return makeError(EFBIG, "Failed to read {}: larger than {} bytes", path.string(),
					 options.maxSize);
	}
	return std::optional<std::string>(std::move(text));
}

} /* namespace qemudm */
