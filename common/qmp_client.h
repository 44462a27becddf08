/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A QMP client for talking to a running device model from outside it
 * (qemu-dmctl cdrom, qemu_dm_cdrom_change()). The peer is a QEMU that may be
 * hostile (it runs guest-controlled code paths), so the client trusts nothing
 * it reads: every exchange is bounded in time (one deadline for the whole
 * operation, poll(2) with what is left of it), every message in size (a line
 * longer than QmpLimits::maxMessage is an error, not a bigger buffer), the
 * number of asynchronous events skipped while waiting for a reply is capped,
 * and replies are parsed with the strict JSON parser (json.h). A peer that
 * stalls, floods or lies makes the call fail with a reason; it never hangs
 * the caller or makes it allocate without bound.
 *
 * Which socket: libxl's QMP socket of the domain, /var/run/xen/qmp-libxl-<domid>
 * (libxl_dm.c creates it and hands QEMU the listening fd). QEMU serves one
 * client at a time: while libxl is connected, the greeting only comes once it
 * is gone, and a client that waits longer than its deadline gives up.
 */

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "json.h"
#include "result.h"
#include "unique_fd.h"

namespace qemudm {

struct QmpLimits {
	std::chrono::milliseconds timeout{ 10000 }; /* each connect() (with the handshake) or execute() as a whole */
	size_t maxMessage = 64 * 1024;		    /* one JSON line from the peer */
	unsigned maxEvents = 64;		    /* events skipped while waiting for one reply */
};

/* libxl's QMP socket of `domid`: /var/run/xen/qmp-libxl-<domid>. */
std::string libxlQmpSocketPath(uint32_t domid);

class QmpClient final
{
public:
	/* Connect to the socket at `path`, read the greeting, negotiate capabilities. */
	[[nodiscard]] static Result<QmpClient> connect(const std::string &path, const QmpLimits &limits = {});
	/* The same on a connected stream socket (tests: a socketpair with a fake peer). */
	[[nodiscard]] static Result<QmpClient> adopt(UniqueFd fd, const QmpLimits &limits = {});

	/*
	 * Run `command` with `arguments` (an object, or null for none); with
	 * passFd >= 0 the fd goes along with the command (SCM_RIGHTS), as add-fd
	 * wants. Returns the reply's "return" value; a QMP error reply is an
	 * error with QEMU's description (EIO).
	 */
	[[nodiscard]] Result<json::Value> execute(std::string_view command, const json::Value &arguments = {},
						  int passFd = -1);

private:
	using Deadline = std::chrono::steady_clock::time_point;
	QmpClient(UniqueFd fd, const QmpLimits &limits) : fd_(std::move(fd)), limits_(limits) {}
	[[nodiscard]] static Result<QmpClient> adoptUntil(UniqueFd fd, const QmpLimits &limits, Deadline deadline);
	[[nodiscard]] Result<json::Value> executeUntil(std::string_view command, const json::Value &arguments,
						       int passFd, Deadline deadline);
	[[nodiscard]] Result<json::Value> readMessage(Deadline deadline);
	[[nodiscard]] Status sendAll(std::string_view data, int passFd, Deadline deadline);
	[[nodiscard]] Status handshake(Deadline deadline);

	UniqueFd fd_;
	QmpLimits limits_;
	std::string buffer_; /* bytes read past the last complete line */
};

} /* namespace qemudm */
