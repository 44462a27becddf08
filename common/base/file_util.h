/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one whole-file reader (as systemd's src/basic/fileio.h). libqemu-dm
 * runs inside libxl's process, so the file is opened O_CLOEXEC; O_NONBLOCK
 * and the regular-file check mean a FIFO or a device node can neither stall
 * the caller in open() or read() nor be read as if it were a file.
 */

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "result.h"

namespace qemudm {

inline constexpr size_t kMaxReadFileSize = 4 * 1024 * 1024;

struct ReadFileOptions {
	/* std::nullopt instead of an Error when the file does not exist (ENOENT, ENOTDIR), or vanished
	 * with its process (ESRCH, for /proc). */
	bool missingOk = false;
	/* A larger file is an Error (EFBIG). */
	size_t maxSize = kMaxReadFileSize;
};

/*
 * Read a whole regular file. A link to /dev/null (masking, as in systemd)
 * reads as empty; any other non-regular file is an Error (EINVAL) naming
 * what it is. Errors read "Failed to open|read <path>: <reason>".
 */
[[nodiscard]] Result<std::optional<std::string>> readFile(const std::filesystem::path &path,
							  const ReadFileOptions &options = {});

/* Why readUntilDeadline() stopped: end of file (or a read error), the deadline, or the size limit. */
enum class ReadStop { End, Deadline, TooLong };

struct DeadlineRead {
	std::string data;
	ReadStop stop = ReadStop::End;
};

/*
 * Read a pipe or socket until end of file, a read error, the deadline or more
 * than maxSize bytes; EINTR is retried. The chunk that would pass maxSize is
 * dropped, so data never holds more than maxSize bytes.
 */
DeadlineRead readUntilDeadline(int fd, std::chrono::steady_clock::time_point deadline, size_t maxSize = SIZE_MAX);

} /* namespace qemudm */
