/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "file_util.h"

#include <fcntl.h>
#include <poll.h>
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

DeadlineRead readUntilDeadline(int fd, std::chrono::steady_clock::time_point deadline, size_t maxSize)
{
	DeadlineRead out;
	char buf[65536];
	for (;;) {
		auto left =
		    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		if (left.count() <= 0) {
			out.stop = ReadStop::Deadline;
			return out;
		}
		struct pollfd pfd = { fd, POLLIN, 0 };
		int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			out.stop = ReadStop::Deadline;
			return out;
		}
		ssize_t n = ::read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return out;
		if (static_cast<size_t>(n) > maxSize - out.data.size()) {
			out.stop = ReadStop::TooLong;
			return out;
		}
		out.data.append(buf, static_cast<size_t>(n));
	}
}

} /* namespace qemudm */
