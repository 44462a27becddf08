/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "fd_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "domain.h"

namespace qemudm {

std::string_view fdKindName(ChannelFdKind kind)
{
	switch (kind) {
	case ChannelFdKind::Socket:
		return "socket";
	case ChannelFdKind::Pipe:
		return "pipe";
	case ChannelFdKind::File:
		return "file";
	}
	return "unknown";
}

Result<ChannelFdKind> parseFdKind(std::string_view name)
{
	for (ChannelFdKind k : { ChannelFdKind::Socket, ChannelFdKind::Pipe, ChannelFdKind::File })
		if (name == fdKindName(k))
			return k;
	return makeError(EINVAL, "unknown fd kind '{}', expected socket, pipe or file", name);
}

Result<ChannelFdKind> fdKindOfMode(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFSOCK:
		return ChannelFdKind::Socket;
	case S_IFIFO:
		return ChannelFdKind::Pipe;
	case S_IFREG:
		return ChannelFdKind::File;
	case S_IFDIR:
		return makeError(EINVAL, "a directory, not a socket, pipe or regular file");
	case S_IFCHR:
		return makeError(EINVAL, "a character device, not a socket, pipe or regular file");
	case S_IFBLK:
		return makeError(EINVAL, "a block device, not a socket, pipe or regular file");
	default:
		return makeError(EINVAL, "not a socket, pipe or regular file (mode {:o})", mode & S_IFMT);
	}
}

Result<ChannelFdKind> fdKindOf(int fd)
{
	struct stat st {
	};
	if (::fstat(fd, &st) < 0)
		return errnoError(errno, "fd {}", fd);
	auto k = fdKindOfMode(st.st_mode);
	if (!k)
		return k.error().wrap(fmt::format("fd {}", fd));
	return k;
}

std::string FdDecl::toString() const
{
	return fmt::format("{}:{}", target, fdKindName(kind));
}

Result<FdDecl> parseFdDecl(std::string_view s)
{
	auto colon = s.find(':');
	if (colon == std::string_view::npos)
		return makeError(EINVAL, "'{}': expected TARGET:KIND (e.g. 16:socket)", s);
	auto n = parseDecimal(s.substr(0, colon), kMaxFdTarget - 1);
	if (!n)
		return n.error().wrap(fmt::format("'{}'", s));
	if (*n < 3)
		return makeError(EINVAL, "'{}': the target must be 3 or more (0, 1 and 2 are stdio)", s);
	auto k = parseFdKind(s.substr(colon + 1));
	if (!k)
		return k.error().wrap(fmt::format("'{}'", s));
	return FdDecl{ static_cast<int>(*n), *k };
}

Status checkFdDecls(std::span<const FdDecl> decls)
{
	if (decls.size() > kMaxChannelFds)
		return makeError(E2BIG, "{} fds to hand over, at most {}", decls.size(), kMaxChannelFds);
	for (size_t i = 0; i < decls.size(); ++i) {
		int t = decls[i].target;
		if (t < 3 || t >= kMaxFdTarget)
			return makeError(EINVAL, "fd target {}: expected 3 to {}", t, kMaxFdTarget - 1);
		for (size_t j = 0; j < i; ++j)
			if (decls[j].target == t)
				return makeError(EINVAL, "fd target {} given twice", t);
	}
	return success();
}

Result<FdChannelEntry> parseFdChannelMessage(std::span<const std::byte> payload, size_t fdCount)
{
	FdChannelMessage m;
	if (payload.size() != sizeof(m))
		return makeError(EPROTO, "fd channel: a message of {} bytes, expected {}", payload.size(), sizeof(m));
	std::memcpy(&m, payload.data(), sizeof(m));
	if (m.magic != kFdChannelMagic)
		return makeError(EPROTO, "fd channel: a message with a bad magic number");
	FdChannelEntry e;
	if (m.kind == 0 && m.target == -1) {
		if (fdCount != 0)
			return makeError(EPROTO, "fd channel: the end message carries {} fds", fdCount);
		e.end = true;
		return e;
	}
	if (fdCount != 1)
		return makeError(EPROTO, "fd channel: the message for fd {} carries {} fds, expected 1", m.target,
				 fdCount);
	if (m.kind < static_cast<uint32_t>(ChannelFdKind::Socket) ||
	    m.kind > static_cast<uint32_t>(ChannelFdKind::File))
		return makeError(EPROTO, "fd channel: fd {} has an unknown kind {}", m.target, m.kind);
	if (m.target < 3 || m.target >= kMaxFdTarget)
		return makeError(EPROTO, "fd channel: fd target {}: expected 3 to {}", m.target, kMaxFdTarget - 1);
	e.decl = FdDecl{ m.target, static_cast<ChannelFdKind>(m.kind) };
	return e;
}

Result<std::vector<FdDecl>> declareHandedFds(std::span<const HandedFd> fds)
{
	std::vector<FdDecl> decls;
	for (const HandedFd &h : fds) {
		if (h.target < 3 || h.target >= kMaxFdTarget)
			return makeError(EINVAL, "fd {} for QEMU's fd {}: the target must be 3 to {}", h.fd, h.target,
					 kMaxFdTarget - 1);
		if (std::any_of(decls.begin(), decls.end(), [&](const FdDecl &d) { return d.target == h.target; }))
			return makeError(EINVAL, "QEMU's fd {} is handed over twice", h.target);
		auto k = fdKindOf(h.fd);
		if (!k)
			return k.error().wrap(fmt::format("QEMU's fd {}", h.target));
		decls.push_back(FdDecl{ h.target, *k });
	}
	Status s = checkFdDecls(decls);
	if (!s)
		return s.error();
	return decls;
}

Result<FdChannelPair> makeFdChannel()
{
	int sv[2];
	if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return errnoError(errno, "Failed to create the fd channel");
	FdChannelPair p;
	p.local.reset(sv[0]);
	p.remote.reset(sv[1]);
	return p;
}

namespace {

Status sendMessage(int channel, const FdChannelMessage &m, int fd)
{
	iovec iov{ const_cast<FdChannelMessage *>(&m), sizeof(m) };
	alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
	msghdr msg{};
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do
		n = ::sendmsg(channel, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errnoError(errno, "Failed to send on the fd channel");
	if (static_cast<size_t>(n) != sizeof(m))
		return makeError(EIO, "Failed to send on the fd channel: short write");
	return success();
}

} /* namespace */

Status sendFds(int channel, std::span<const HandedFd> fds, std::span<const FdDecl> decls)
{
	if (fds.size() != decls.size())
		return makeError(EINVAL, "Failed to send on the fd channel: {} fds, {} declarations", fds.size(),
				 decls.size());
	for (size_t i = 0; i < fds.size(); ++i) {
		FdChannelMessage m{ kFdChannelMagic, decls[i].target, static_cast<uint32_t>(decls[i].kind) };
		Status s = sendMessage(channel, m, fds[i].fd);
		if (!s)
			return s.error().wrap(fmt::format("fd {} for QEMU's fd {}", fds[i].fd, decls[i].target));
	}
	return sendMessage(channel, FdChannelMessage{ kFdChannelMagic, -1, 0 }, -1);
}

Result<std::vector<ReceivedFd>> receiveFds(int channel, std::span<const FdDecl> declared,
					   std::chrono::milliseconds timeout)
{
	Status s = checkFdDecls(declared);
	if (!s)
		return s.error().wrap("fd channel");
	std::vector<ReceivedFd> got;
	const auto deadline = std::chrono::steady_clock::now() + timeout;
	for (size_t count = 0;; ++count) {
		if (count > declared.size())
			return makeError(EPROTO, "fd channel: more than the {} declared fds", declared.size());
		auto left =
		    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
		pollfd p{ channel, POLLIN, 0 };
		int r = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errnoError(errno, "fd channel: Failed to wait");
		if (r == 0)
			return makeError(ETIMEDOUT, "fd channel: no end message within {} ms ({} of {} fds came)",
					 timeout.count(), got.size(), declared.size());

		FdChannelMessage m;
		iovec iov{ &m, sizeof(m) };
		/* Room for more fds than allowed, so that extra ones are seen (and closed), not silently cut. */
		alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
		msghdr msg{};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		ssize_t n = ::recvmsg(channel, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			--count;
			continue;
		}
		if (n < 0)
			return errnoError(errno, "fd channel: Failed to receive");
		std::vector<UniqueFd> fds;
		for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; ++i) {
				int fd;
				std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				fds.emplace_back(fd);
			}
		}
		if (n == 0 && fds.empty())
			return makeError(EPROTO, "fd channel: closed after {} of {} fds, without the end message",
					 got.size(), declared.size());
		if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
			return makeError(EPROTO, "fd channel: a message too large");
		auto e =
		    parseFdChannelMessage(std::as_bytes(std::span(&m, 1)).first(static_cast<size_t>(n)), fds.size());
		if (!e)
			return e.error();
		if (e->end) {
			if (got.size() != declared.size()) {
				std::string missing;
				for (const FdDecl &d : declared)
					if (std::none_of(got.begin(), got.end(), [&](const ReceivedFd &g) {
						    return g.decl.target == d.target;
					    }))
						missing += fmt::format("{}{}", missing.empty() ? "" : ", ", d.target);
				return makeError(EPROTO, "fd channel: ended without the declared fds {}", missing);
			}
			return got;
		}
		const FdDecl &d = e->decl;
		auto decl = std::find_if(declared.begin(), declared.end(),
					 [&](const FdDecl &x) { return x.target == d.target; });
		if (decl == declared.end())
			return makeError(EPROTO, "fd channel: fd {} was not declared", d.target);
		if (decl->kind != d.kind)
			return makeError(EPROTO, "fd channel: fd {} came as a {}, declared a {}", d.target,
					 fdKindName(d.kind), fdKindName(decl->kind));
		if (std::any_of(got.begin(), got.end(), [&](const ReceivedFd &g) { return g.decl.target == d.target; }))
			return makeError(EPROTO, "fd channel: fd {} came twice", d.target);
		auto k = fdKindOf(fds[0].get());
		if (!k)
			return k.error().wrap(
			    fmt::format("fd channel: fd {} (declared a {})", d.target, fdKindName(d.kind)));
		if (*k != d.kind)
			return makeError(EPROTO, "fd channel: fd {} is a {}, declared a {}", d.target, fdKindName(*k),
					 fdKindName(d.kind));
		got.push_back(ReceivedFd{ std::move(fds[0]), d });
	}
}

Status placeFds(std::vector<ReceivedFd> &fds, std::span<const int> reserved)
{
	int top = 2;
	for (const ReceivedFd &r : fds) {
		if (r.decl.target < 3)
			return makeError(EINVAL, "fd target {}: expected 3 or more", r.decl.target);
		if (std::find(reserved.begin(), reserved.end(), r.decl.target) != reserved.end())
			return makeError(EINVAL, "fd target {} is already in use", r.decl.target);
		top = std::max(top, r.decl.target);
	}
	/* Phase 1: every fd above every target, so that no dup2 below closes one not yet placed. */
	for (ReceivedFd &r : fds) {
		int high = ::fcntl(r.fd.get(), F_DUPFD_CLOEXEC, top + 1);
		if (high < 0)
			return errnoError(errno, "Failed to move the fd for QEMU's fd {}", r.decl.target);
		r.fd.reset(high);
	}
	/* Phase 2: each to its target (dup2 clears O_CLOEXEC there). */
	for (ReceivedFd &r : fds) {
		if (::dup2(r.fd.get(), r.decl.target) < 0)
			return errnoError(errno, "Failed to place QEMU's fd {}", r.decl.target);
		r.fd.reset();
	}
	return success();
}

} /* namespace qemudm */
