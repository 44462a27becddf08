/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The fd channel: how the caller's fds reach QEMU at the numbers its argv
 * names. systemd 252 hands a
 * transient unit only stdin/stdout/stderr, so the unit's stdin is one end of
 * a socketpair(AF_UNIX, SOCK_SEQPACKET); the caller (DmController::start)
 * sends one message per fd, SCM_RIGHTS with the fd and a payload naming its
 * target number and kind, then an end message, and closes its end.
 * qemu-dm-exec receives only what its command line declared (--fd
 * TARGET:KIND), checks each fd's type, and places them (placeFds).
 */

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"
#include "unique_fd.h"

namespace qemudm {

enum class ChannelFdKind : uint32_t {
	Socket = 1,
	Pipe = 2, /* a pipe or FIFO */
	File = 3, /* a regular file */
};

std::string_view fdKindName(ChannelFdKind kind); /* "socket", "pipe", "file" */
[[nodiscard]] Result<ChannelFdKind> parseFdKind(std::string_view name);
/* The kind of an st_mode; error for anything else (directories, devices, ...). */
[[nodiscard]] Result<ChannelFdKind> fdKindOfMode(uint32_t mode);
/* fstat(fd): EBADF for a closed fd, EINVAL for a type that is none of the kinds. */
[[nodiscard]] Result<ChannelFdKind> fdKindOf(int fd);

/* One fd as qemu-dm-exec's command line declares it: --fd TARGET:KIND. */
struct FdDecl {
	int target = -1; /* >= 3 */
	ChannelFdKind kind = ChannelFdKind::Socket;

	bool operator==(const FdDecl &) const = default;
	std::string toString() const; /* "16:socket" */
};

[[nodiscard]] Result<FdDecl> parseFdDecl(std::string_view s);
/* Targets >= 3 and < kMaxFdTarget, no target twice. */
[[nodiscard]] Status checkFdDecls(std::span<const FdDecl> decls);

constexpr int kMaxFdTarget = 1024;    /* below FD_SETSIZE and the default RLIMIT_NOFILE soft limit */
constexpr size_t kMaxChannelFds = 64; /* bound on what one channel carries */

/* The payload of one channel message. End: kind 0, target -1, no fd. */
struct FdChannelMessage {
	uint32_t magic = 0;
	int32_t target = -1;
	uint32_t kind = 0;
};
constexpr uint32_t kFdChannelMagic = 0x71646d66; /* "qdmf" */

/*
 * What one received message means, given its payload bytes and the number of
 * fds that came with it: an entry (exactly one fd, a known kind, a target),
 * or the end (no fd). Pure, for the tests.
 */
struct FdChannelEntry {
	bool end = false;
	FdDecl decl;
};
[[nodiscard]] Result<FdChannelEntry> parseFdChannelMessage(std::span<const std::byte> payload, size_t fdCount);

/* A caller's fd to hand over, and the number QEMU's argv names for it. */
struct HandedFd {
	int fd = -1;
	int target = -1;
};

/*
 * Check what a caller hands over (each fd open and of a known kind, targets
 * >= 3, none twice) and return the declarations for qemu-dm-exec's --fd.
 */
[[nodiscard]] Result<std::vector<FdDecl>> declareHandedFds(std::span<const HandedFd> fds);

/* socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC). */
struct FdChannelPair {
	UniqueFd local;
	UniqueFd remote;
};
[[nodiscard]] Result<FdChannelPair> makeFdChannel();

/* Send every fd (with its declaration) and the end message. */
[[nodiscard]] Status sendFds(int channel, std::span<const HandedFd> fds, std::span<const FdDecl> decls);

struct ReceivedFd {
	UniqueFd fd;
	FdDecl decl;
};

/*
 * Receive exactly the declared fds, in any order, then the end message:
 * at most kMaxChannelFds messages, within `timeout` in all. Refuses an
 * undeclared target, a target twice, a kind other than declared, an fd whose
 * type is not its declared kind, a message with no or several fds, and a
 * channel that ends before every declared fd came.
 */
[[nodiscard]] Result<std::vector<ReceivedFd>> receiveFds(int channel, std::span<const FdDecl> declared,
							 std::chrono::milliseconds timeout);

/*
 * Move each received fd to its target number without clobbering another:
 * first every fd goes above the highest target (F_DUPFD_CLOEXEC), then each
 * is dup2'ed to its target. The targets end up open, O_CLOEXEC cleared, and
 * nothing else of `fds` stays open. `reserved`: fds that must not be a
 * target (the channel, --keep-fd ones).
 */
[[nodiscard]] Status placeFds(std::vector<ReceivedFd> &fds, std::span<const int> reserved);

} /* namespace qemudm */
