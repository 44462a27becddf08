/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "qmp_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace qemudm {

namespace {

int remainingMs(std::chrono::steady_clock::time_point deadline)
{
	auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
	return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
}

/* Wait for `events` on fd until the deadline: ETIMEDOUT when it passes. */
Status waitFor(int fd, short events, std::chrono::steady_clock::time_point deadline, std::string_view what)
{
	for (;;) {
		int ms = remainingMs(deadline);
		if (ms == 0)
			return makeError(ETIMEDOUT, "QMP peer did not {} in time", what);
		struct pollfd p = { fd, events, 0 };
		int n = ::poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errnoError(errno, "Failed to wait for the QMP peer");
		if (n > 0)
			return success();
	}
}

} /* namespace */

std::string libxlQmpSocketPath(uint32_t domid)
{
	return fmt::format("/var/run/xen/qmp-libxl-{}", domid);
}

Result<QmpClient> QmpClient::connect(const std::string &path, const QmpLimits &limits)
{
	struct sockaddr_un sa = {};
	sa.sun_family = AF_UNIX;
	if (path.empty() || path.size() >= sizeof(sa.sun_path))
		return makeError(EINVAL, "QMP socket path '{}' is empty or too long", path);
	std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
	UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	if (!fd)
		return errnoError(errno, "Failed to create a socket for QMP");
	const auto deadline = std::chrono::steady_clock::now() + limits.timeout;
	/* AF_UNIX: EAGAIN is a full backlog (QEMU serves one client; others queue): retry, bounded. */
	while (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&sa), sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return errnoError(errno, "Failed to connect to QMP socket {}", path);
		if (remainingMs(deadline) == 0)
			return makeError(ETIMEDOUT, "Failed to connect to QMP socket {}: its backlog stayed full",
					 path);
		(void)::poll(nullptr, 0, std::min(50, remainingMs(deadline)));
	}
	auto c = adoptUntil(std::move(fd), limits, deadline);
	if (!c)
		return c.error().wrap(fmt::format("QMP socket {}", path));
	return c;
}

Result<QmpClient> QmpClient::adopt(UniqueFd fd, const QmpLimits &limits)
{
	return adoptUntil(std::move(fd), limits, std::chrono::steady_clock::now() + limits.timeout);
}

Result<QmpClient> QmpClient::adoptUntil(UniqueFd fd, const QmpLimits &limits, Deadline deadline)
{
	int fl = ::fcntl(fd.get(), F_GETFL);
	if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) < 0)
		return errnoError(errno, "Failed to make the QMP socket non-blocking");
	QmpClient c(std::move(fd), limits);
	if (auto s = c.handshake(deadline); !s)
		return s.error();
	return c;
}

Status QmpClient::handshake(Deadline deadline)
{
	auto greeting = readMessage(deadline);
	if (!greeting)
		return greeting.error().wrap("Failed to read the QMP greeting");
	if (!greeting->isObject() || !greeting->find("QMP"))
		return makeError(EPROTO, "Failed to read the QMP greeting: the peer sent no QMP greeting");
	auto caps = executeUntil("qmp_capabilities", json::Value(), -1, deadline);
	if (!caps)
		return caps.error().wrap("Failed to negotiate QMP capabilities");
	return success();
}

Status QmpClient::sendAll(std::string_view data, int passFd, Deadline deadline)
{
	bool fdSent = passFd < 0;
	while (!data.empty()) {
		if (auto s = waitFor(fd_.get(), POLLOUT, deadline, "take the command"); !s)
			return s.error();
		struct iovec iov = { const_cast<char *>(data.data()), data.size() };
		struct msghdr msg = {};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
		if (!fdSent) {
			msg.msg_control = control;
			msg.msg_controllen = sizeof(control);
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			std::memcpy(CMSG_DATA(cm), &passFd, sizeof(int));
		}
		ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errnoError(errno, "Failed to send to the QMP peer");
		fdSent = true;
		data.remove_prefix(static_cast<size_t>(n));
	}
	return success();
}

Result<json::Value> QmpClient::readMessage(Deadline deadline)
{
	for (;;) {
		size_t nl = buffer_.find('\n');
		if (nl != std::string::npos) {
			std::string line = buffer_.substr(0, nl);
			buffer_.erase(0, nl + 1);
			if (!line.empty() && line.back() == '\r')
				line.pop_back();
			if (line.find_first_not_of(" \t") == std::string::npos)
				continue;
			json::ParseLimits pl;
			pl.maxSize = limits_.maxMessage;
			auto v = json::parse(line, pl);
			if (!v)
				return makeError(EPROTO, "the QMP peer sent invalid JSON: {}", v.error().message());
			return v;
		}
		if (buffer_.size() > limits_.maxMessage)
			return makeError(EMSGSIZE, "the QMP peer sent a message longer than {} bytes",
					 limits_.maxMessage);
		if (auto s = waitFor(fd_.get(), POLLIN, deadline, "reply"); !s)
			return s.error();
		char buf[4096];
		/* Never read past the bound: at most what is left of maxMessage + 1 bytes. */
		size_t room =
		    std::min(sizeof(buf), limits_.maxMessage + 1 - std::min(buffer_.size(), limits_.maxMessage));
		ssize_t n = ::recv(fd_.get(), buf, room, MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errnoError(errno, "Failed to read from the QMP peer");
		if (n == 0)
			return makeError(ECONNRESET, "the QMP peer closed the connection");
		buffer_.append(buf, static_cast<size_t>(n));
	}
}

Result<json::Value> QmpClient::execute(std::string_view command, const json::Value &arguments, int passFd)
{
	return executeUntil(command, arguments, passFd, std::chrono::steady_clock::now() + limits_.timeout);
}

Result<json::Value> QmpClient::executeUntil(std::string_view command, const json::Value &arguments, int passFd,
					    Deadline deadline)
{
	std::string line = "{\"execute\":";
	json::quoteString(line, command);
	if (!arguments.isNull()) {
		line += ",\"arguments\":";
		arguments.serializeTo(line);
	}
	line += "}\n";
	if (auto s = sendAll(line, passFd, deadline); !s)
		return s.error().wrap(fmt::format("QMP {}", command));
	for (unsigned events = 0;; events++) {
		auto m = readMessage(deadline);
		if (!m)
			return m.error().wrap(fmt::format("QMP {}", command));
		if (!m->isObject())
			return makeError(EPROTO, "QMP {}: the peer sent a reply that is not an object", command);
		if (m->find("event")) {
			if (events >= limits_.maxEvents)
				return makeError(EPROTO, "QMP {}: the peer sent more than {} events and no reply",
						 command, limits_.maxEvents);
			continue;
		}
		if (const json::Value *ret = m->find("return"))
			return *ret;
		if (const json::Value *err = m->find("error")) {
			const json::Value *desc = err->isObject() ? err->find("desc") : nullptr;
			const std::string *text = desc ? desc->asString() : nullptr;
			std::string shown = text ? text->substr(0, 512) : std::string("no description");
			for (char &c : shown)
				if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
					c = '?'; /* the peer's text reaches a terminal or log */
			return makeError(EIO, "QMP {} failed: {}", command, shown);
		}
		return makeError(EPROTO, "QMP {}: the peer's reply has neither \"return\" nor \"error\"", command);
	}
}

} /* namespace qemudm */
