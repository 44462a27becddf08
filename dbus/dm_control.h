/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Starting, stopping and inspecting device models: the one core behind the
 * C API (dbus/libqemu-dm) and qemu-dmctl. Blocking, with explicit timeouts;
 * one DmController per thread (it owns one sd-bus connection).
 *
 * Every error names the domain and the reason; a failed start leaves nothing
 * behind (the unit is stopped and its failed state reset).
 *
 * start() returns success exactly when the start job succeeded: the unit is
 * Type=notify and qemu-dm-exec sends READY=1 right before it execs QEMU, so
 * success means every check of qemu-dm-exec passed and QEMU was exec'd. Any
 * failure before that returns the domain, the cause and the unit's last
 * journal lines of this start. No settle window, no polling.
 */

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"
#include "dm_unit.h"
#include "fd_channel.h"
#include "libxl_argv.h"
#include "result.h"
#include "systemd_bus.h"

namespace qemudm {

struct DmStartOptions {
	int qmpFd = -1; /* caller's fd: a socket, becomes QEMU's fd request.qmpFdTarget */
	/*
	 * More of the caller's fds for QEMU, each at its target number (sockets,
	 * pipes, regular files). They and qmpFd go over the fd channel
	 * (fd_channel.h); start() declares them for qemu-dm-exec and replaces
	 * request.fds. The caller keeps its own fds open and closes them.
	 */
	std::vector<HandedFd> fds;
	/* Client-side bound on the start job; the unit's own TimeoutStartSec=60s normally ends it first. */
	std::chrono::milliseconds jobTimeout{ 90000 };
};

struct DmStatus {
	uint32_t domid = 0;
	std::string unit;
	std::string activeState; /* "inactive" when no unit is loaded */
	std::string subState;
	std::string result;
	uint32_t mainPid = 0;
	std::string user; /* resolved name of the main process's uid, or the uid */
	uid_t uid = 0;
	std::string controlGroup;
	uint64_t tasks = 0;
	std::string description;
};

/* How a device model's unit ended, from the journal (its unit may be gone already). */
struct DmEnd {
	bool known = false;   /* systemd's final message of the unit was found */
	bool failed = false;  /* "Failed with result ..." rather than "Deactivated successfully" */
	std::string exitCode; /* EXIT_CODE of the main process when it failed: "exited", "killed", "dumped" */
	int exitStatus = 0;   /* its EXIT_STATUS: exit status or signal number */
	std::string journal;  /* the unit's last journal lines */
};

/*
 * planDmUnit() after what Xen knows best (xen_store.h: the domain's name when
 * none is given, a PV device model's qdisk disks), read from xenstore when the
 * request's domain check is on and xenstore is there. The one plan behind
 * DmController::start and `qemu-dmctl policy`.
 */
[[nodiscard]] Result<DmUnitPlan> planWithXen(const Config &config, const DmRequest &request, UserLookup &lookup);

/*
 * The disks QEMU's argv opens by path (-drive file=PATH) that qemu-dm hands
 * to it as fds instead (libxl_argv.h, planDriveFds): every declared disk that
 * is a regular file. Rewrites request.qemuArgv and marks those disks viaFd;
 * returns the fds to open and their targets (above every fd number the
 * request already uses). Idempotent: a rewritten argv names no disk path.
 */
[[nodiscard]] Result<std::vector<DriveFd>> planDiskFds(DmRequest &request, std::span<const int> usedTargets);

/* CLOCK_REALTIME in microseconds, for the sinceUsec arguments below. */
uint64_t realtimeNowUsec();

/* What a successful start() leaves the caller to report, once. */
struct DmStarted {
	std::vector<std::string> warnings; /* each one sentence; the device model runs regardless */
};

class DmController final
{
public:
	/* Connect to systemd (see SystemdManager::connect for the address rules). */
	[[nodiscard]] static Result<DmController> open(std::optional<std::string> address = {});

	[[nodiscard]] Result<DmUnitPlan> plan(const DmRequest &request);
	/* The warnings (plan notes, host links not made) are the caller's to log: nothing here logs. */
	[[nodiscard]] Result<DmStarted> start(const DmRequest &request, const DmStartOptions &options = {});
	/* Returns once the unit is inactive and every process of it is gone. */
	[[nodiscard]] Status stop(uint32_t domid, std::chrono::milliseconds timeout = std::chrono::seconds(30));
	/*
	 * Destroy, what `xl destroy` means: SIGKILL every process of the unit at
	 * once (no SIGTERM, no stop timeout), return once the unit is inactive and
	 * every process of it is gone.
	 */
	[[nodiscard]] Status destroy(uint32_t domid, std::chrono::milliseconds timeout = std::chrono::seconds(30));
	[[nodiscard]] Status kill(uint32_t domid, int signal);
	[[nodiscard]] Result<DmStatus> status(uint32_t domid);
	[[nodiscard]] Result<std::vector<DmStatus>> list();

	/* The last `lines` journal messages of the unit (its output and systemd's). */
	static std::string journalExcerpt(const std::string &unit, int lines = 10);

	/*
	 * The unit's journal messages since `sinceUsec` (CLOCK_REALTIME), the last
	 * `lines` of them, once systemd's "Failed to start" message of the job is
	 * in (journald receives a unit's output and systemd's messages on separate
	 * streams, so they may lag the job's end): waits for the journal to
	 * change, at most `wait`. `cause`: the last line the unit's own process
	 * wrote (qemu-dm-exec's reason), if any.
	 */
	/*
	 * How `unit` ended after `sinceUsec`: waits (at most `wait`) for systemd's
	 * "Deactivated successfully" or "Failed with result" message of it.
	 */
	static DmEnd unitEnd(const std::string &unit, uint64_t sinceUsec, int lines, std::chrono::milliseconds wait);

	static std::string startFailureExcerpt(const std::string &unit, uint64_t sinceUsec, int lines,
					       std::chrono::milliseconds wait, std::string *cause);

private:
	explicit DmController(SystemdManager manager) : manager_(std::move(manager)) {}
	/* EINVAL for an invalid domid; ESRCH (and the domain's host links removed) unless the unit is active or
	 * still has processes. */
	Status requireDm(uint32_t domid, const std::string &unit);
	SystemdManager manager_;
};

/*
 * Make a plan's hostLinks: a symlink at each path, to its target, replacing a
 * symlink or socket that is there (a stale one of an earlier domain with this
 * id), never anything else. Run by the caller (root, on the host) once the
 * unit runs; DmController::start() does.
 */
[[nodiscard]] Status makeHostLinks(uint32_t domid, const std::vector<DmUnitPlan::HostLink> &links);
/* Remove domain `domid`'s links (libxl's libxenstat path) that still point into its runtime dir. */
void removeHostLinks(uint32_t domid);

} /* namespace qemudm */
