/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small client of systemd's manager (org.freedesktop.systemd1) over sd-bus:
 * start transient units and wait for their job, stop them until their cgroup
 * is empty, kill, reset, read unit properties, list units.
 *
 * Where it connects (SystemdManager::connect):
 *   1. the address passed in, else
 *   2. $QEMU_DM_SYSTEMD_ADDRESS (docs/ENVIRONMENT.md), else
 *   3. the system bus; as root, if no bus daemon answers (dom0 without dbus,
 *      before sockets.target, or dbus-daemon refusing one more connection of
 *      uid 0: max_connections_per_user, 256 by default), systemd's private socket
 *      unix:path=/run/systemd/private (no bus daemon needed: StartTransientUnit
 *      and JobRemoved work over it with dbus stopped, as systemctl uses it).
 * Why the bus first: PID 1 sends every signal to every connection on its
 * private socket, so N concurrent starts there cost PID 1 N times N
 * messages (the measurements are in docs/bench.md, P2); on the bus the
 * daemon delivers each client only the signals its matches name, and every
 * match here names one unit (JobRemoved, UnitRemoved, the unit's
 * PropertiesChanged).
 * An address whose socket path ends in "/systemd/private" is a direct,
 * peer-to-peer connection to PID 1 (e.g. a test bed's
 * unix:path=/proc/PID/root/run/systemd/private); any other address is taken
 * to be a bus daemon (sd-bus sends Hello). The word "system" means the
 * system bus, with no fallback. Note that PIDs in replies are in PID 1's
 * PID namespace.
 *
 * Threading: a SystemdManager wraps one sd_bus connection, which is not
 * thread-safe. Use one SystemdManager per thread; never share one.
 *
 * Blocking: every call blocks the calling thread. Each D-Bus method call is
 * bounded by methodTimeout() (25 s unless changed), and within a start by
 * the start's own timeout if that is longer (a PID 1 busy with many
 * concurrent starts makes each call slow; only the start's own timeout ends
 * it); waiting for a job, or
 * for a unit to stop, is bounded by the timeout argument of that call. Nothing
 * runs in the background: JobRemoved signals are only read while a call
 * waits. A timeout is an Error with ETIMEDOUT; the job is left to systemd.
 *
 * Errors: systemd's own D-Bus error text is kept, e.g. "Failed to start
 * transient unit qemu-dm@5.service: Unit qemu-dm@5.service already exists."
 * with the errno systemd maps it to (EEXIST here). Code here logs at debug
 * level only.
 */

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <systemd/sd-bus.h>

#include "bus_property.h"
#include "c_ptr.h"
#include "result.h"

namespace qemudm {

using BusPtr = CPtr<sd_bus, sd_bus_flush_close_unref>;
using MessagePtr = CPtr<sd_bus_message, sd_bus_message_unref>;
using SlotPtr = CPtr<sd_bus_slot, sd_bus_slot_unref>;

/* An sd_bus_error that frees itself. */
class BusError final
{
public:
	BusError() = default;
	~BusError() { sd_bus_error_free(&error_); }
	BusError(const BusError &) = delete;
	BusError &operator=(const BusError &) = delete;

	sd_bus_error *get() { return &error_; }
	bool isSet() const { return sd_bus_error_is_set(&error_); }
	bool hasName(const char *name) const { return sd_bus_error_has_name(&error_, name); }
	const char *name() const { return error_.name; }
	/* The error's message, else its name, else strerror(r) for the sd-bus return value r. */
	std::string describe(int r) const;
	/* The errno systemd's error maps to, else -r. Positive. */
	int errnum(int r) const;

private:
	sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

/* One entry of ListUnits / ListUnitsByPatterns. */
struct UnitInfo {
	std::string name;
	std::string description;
	std::string loadState;
	std::string activeState;
	std::string subState;
	std::string following;
	std::string objectPath;
	uint32_t jobId = 0;
	std::string jobType;
	std::string jobPath;
};

/* One process of a unit's cgroup (GetUnitProcesses); pid is in PID 1's namespace. */
struct UnitProcess {
	std::string cgroup;
	pid_t pid = 0;
	std::string command;
};

/*
 * What a transient unit gets besides its properties: descriptors for its
 * stdin/stdout/stderr (sent as StandardInputFileDescriptor etc.; the caller
 * keeps its own fds).
 */
struct TransientExtras {
	int stdinFd = -1;
	int stdoutFd = -1;
	int stderrFd = -1;
	/*
	 * Run once the unit is loaded and its job queued, before waiting for the
	 * job: the unit exists at this point even if its process ends at once.
	 * An error is returned as the start's result (the caller cleans up).
	 */
	std::function<Status()> afterQueued;
};

class SystemdManager final
{
public:
	static constexpr std::chrono::milliseconds kDefaultJobTimeout{ 90000 };

	/* See the top of this file for how the address is chosen. */
	[[nodiscard]] static Result<SystemdManager> connect(std::optional<std::string> address = {});

	SystemdManager(SystemdManager &&) noexcept;
	SystemdManager &operator=(SystemdManager &&) noexcept;
	SystemdManager(const SystemdManager &) = delete;
	SystemdManager &operator=(const SystemdManager &) = delete;
	~SystemdManager();

	/* What we connected to ("system bus" or the address). */
	const std::string &address() const { return address_; }
	/* True for a direct connection to PID 1's private socket. */
	bool isDirect() const { return direct_; }
	/* The connection, for callers that need more than this class offers. */
	sd_bus *bus() const { return bus_.get(); }

	std::chrono::microseconds methodTimeout() const { return methodTimeout_; }
	void setMethodTimeout(std::chrono::microseconds timeout) { methodTimeout_ = timeout; }

	/*
	 * StartTransientUnit(name, mode, properties + extras) and wait until its
	 * job is removed. Subscribes to JobRemoved before calling, so the result
	 * cannot be missed. Returns the job result: "done", "failed",
	 * "dependency", "timeout", "canceled", "skipped", "invalid"... (a failed
	 * job is a value, not an Error). Errors: a bad property (nothing is sent),
	 * systemd refusing the call (its message kept), or ETIMEDOUT.
	 */
	[[nodiscard]] Result<std::string> startTransientUnit(const std::string &name, const std::string &mode,
							     const BusProperties &properties,
							     const TransientExtras &extras = {},
							     std::chrono::milliseconds timeout = kDefaultJobTimeout);
	/*
	 * The same with the properties appended by appendProperties (inside the
	 * "a(sv)"; an error is returned before anything is sent). Tests append
	 * unit-file text through their converter (tests/support/unit_property.h)
	 * to compare with systemd-run; DM units are started with typed values.
	 */
	[[nodiscard]] Result<std::string>
	startTransientUnitWith(const std::string &name, const std::string &mode,
			       const std::function<Status(sd_bus_message *)> &appendProperties,
			       const TransientExtras &extras = {},
			       std::chrono::milliseconds timeout = kDefaultJobTimeout);

	/*
	 * StopUnit(name, "replace"), wait for the job, then until the unit is
	 * inactive, failed or gone *and* its cgroup holds no process (woken by
	 * the unit's PropertiesChanged and UnitRemoved signals, no polling). A unit
	 * that is not loaded counts as stopped. ETIMEDOUT if not within timeout.
	 */
	[[nodiscard]] Status stopUnit(const std::string &name, std::chrono::milliseconds timeout = kDefaultJobTimeout);

	/*
	 * Destroy: SIGKILL to every process of the unit's cgroup, by the caller
	 * where it may (cgroup.kill, else each process by pidfd), else by
	 * KillUnit(name, "all", SIGKILL); then wait as stopUnit() does
	 * until the unit is inactive, failed or gone and its cgroup is empty. No
	 * SIGTERM and no stop timeout: what `xl destroy` means. A unit that is not
	 * loaded counts as stopped. ETIMEDOUT if not within timeout.
	 */
	[[nodiscard]] Status destroyUnit(const std::string &name,
					 std::chrono::milliseconds timeout = kDefaultJobTimeout);

	/*
	 * StartUnit(name, mode) and wait until its job is removed; returns the job
	 * result as startTransientUnit() does. A start job already queued for the
	 * unit is joined; an active unit's job is "done" at once.
	 */
	[[nodiscard]] Result<std::string> startUnit(const std::string &name, const std::string &mode,
						    std::chrono::milliseconds timeout = kDefaultJobTimeout);

	/* KillUnit(name, who, signal); who is "all", "main" or "control". Does not wait. */
	[[nodiscard]] Status killUnit(const std::string &name, const std::string &who, int signal);

	/* ResetFailedUnit(name): a failed transient unit is then unloaded. */
	[[nodiscard]] Status resetFailed(const std::string &name);

	/*
	 * A unit still loaded but down (inactive or failed, its cgroup empty; a
	 * stop returns before PID 1 collects it): ResetFailedUnit once, then wait
	 * until PID 1 unloads it (UnitRemoved, no polling). A unit that is not
	 * loaded is released already. EBUSY if it runs or holds processes;
	 * ETIMEDOUT if it stays loaded (another unit keeps it).
	 */
	[[nodiscard]] Status releaseStopped(const std::string &name, std::chrono::milliseconds timeout);

	/* The unit's object path: GetUnit, or LoadUnit if it is not loaded. */
	[[nodiscard]] Result<std::string> unitObjectPath(const std::string &name);

	/*
	 * One property of a unit (org.freedesktop.DBus.Properties.Get on the
	 * unit's object). T is one of std::string ("s"), bool ("b"), int32_t
	 * ("i"), uint32_t ("u"), uint64_t ("t"), std::vector<std::string> ("as").
	 */
	template <typename T>
	[[nodiscard]] Result<T> unitProperty(const std::string &name, const std::string &interface,
					     const std::string &property);

	/* Shorthands for the properties a caller asks about most. */
	[[nodiscard]] Result<std::string> activeState(const std::string &name);
	[[nodiscard]] Result<std::string> subState(const std::string &name);
	[[nodiscard]] Result<std::string> loadState(const std::string &name);
	[[nodiscard]] Result<std::string> serviceResult(const std::string &name);
	[[nodiscard]] Result<int32_t> execMainStatus(const std::string &name);
	[[nodiscard]] Result<int32_t> execMainCode(const std::string &name); /* CLD_EXITED, CLD_KILLED, ... */
	[[nodiscard]] Result<uint32_t> mainPid(const std::string &name);
	[[nodiscard]] Result<std::string> controlGroup(const std::string &name);
	[[nodiscard]] Result<std::string> user(const std::string &name);
	/* The unit's DeviceAllow= list as systemd applies it (transient properties, drop-ins, runtime changes). */
	[[nodiscard]] Result<std::vector<DeviceRule>> deviceAllow(const std::string &name);

	/*
	 * SetUnitProperties(name, runtime, properties): change a unit while it
	 * runs. systemd stores the change as a drop-in (system.control/, under
	 * /run with runtime) named after the property, e.g. 50-DeviceAllow.conf,
	 * and applies it at once (a DeviceAllow= change swaps the cgroup's BPF
	 * device program during the call).
	 */
	[[nodiscard]] Status setUnitProperties(const std::string &name, bool runtime, const BusProperties &properties);
	/*
	 * SetUnitProperties(name, runtime, DeviceAllow=[] then `rules`): the unit's
	 * device list replaced by `rules`, as systemd spells them (paths, and the
	 * "char-rtc" kind of entry ProtectClock= adds, which a DeviceRules property
	 * refuses); stored as one drop-in 50-DeviceAllow.conf.
	 */
	[[nodiscard]] Status replaceDeviceAllow(const std::string &name, bool runtime,
						const std::vector<DeviceRule> &rules);

	/* ListUnitsByPatterns(states, patterns), e.g. ({}, {"qemu-dm@*.service"}). */
	[[nodiscard]] Result<std::vector<UnitInfo>> listUnitsByPatterns(const std::vector<std::string> &patterns,
									const std::vector<std::string> &states = {});

	/* GetUnitProcesses(name): what is left in the unit's cgroup. */
	[[nodiscard]] Result<std::vector<UnitProcess>> unitProcesses(const std::string &name);

private:
	/* What the JobRemoved callback writes, at an address that survives moves. */
	struct JobWatch;
	static int onJobRemoved(sd_bus_message *m, void *userdata, sd_bus_error *error) noexcept;
	/* What stopUnit()/destroyUnit() wait on: signals that the unit changed or was unloaded. */
	struct UnitWatch;
	static int onUnitChanged(sd_bus_message *m, void *userdata, sd_bus_error *error) noexcept;
	static int onUnitRemoved(sd_bus_message *m, void *userdata, sd_bus_error *error) noexcept;
	Status watchUnit(const std::string &name, UnitWatch &watch);
	/*
	 * Dispatch the bus's messages (and so its callbacks) until done() or the
	 * deadline: false at the deadline. Nothing but the bus wakes it: no timer.
	 */
	Result<bool> processUntil(const std::function<bool()> &done, std::chrono::steady_clock::time_point deadline,
				  const std::string &waitingFor);
	/* True when PID 1 has no unit of that name loaded (GetUnit: NoSuchUnit). */
	Result<bool> unloaded(const std::string &name, const std::string &what);
	Status waitUntilStopped(const std::string &name, UnitWatch &watch, const std::string &what,
				std::chrono::steady_clock::time_point deadline, std::chrono::milliseconds timeout);

	SystemdManager(BusPtr bus, std::string address, bool direct);

	[[nodiscard]] static Result<SystemdManager> start(BusPtr bus, std::string address, bool direct);
	Status subscribe();
	/* A match for one unit's `member` signal of the manager; `unitArg`: the argument that names the unit. */
	Result<SlotPtr> matchManagerSignal(const char *member, int unitArg, const std::string &unit,
					   sd_bus_message_handler_t handler, void *userdata);
	/* JobRemoved of `unit`'s jobs, into jobs_, while the guard lives. */
	struct JobsGuard;
	Result<JobsGuard> watchJobs(const std::string &unit);
	/* The unit's object path, encoded from its name. */
	static Result<std::string> unitPath(const std::string &name);
	/* While it lives, every call waits until `deadline` if that is later than methodTimeout(). */
	struct DeadlineScope {
		DeadlineScope(SystemdManager &m, std::chrono::steady_clock::time_point d) : m_(m)
		{
			m_.callDeadline_ = d;
		}
		~DeadlineScope() { m_.callDeadline_.reset(); }
		DeadlineScope(const DeadlineScope &) = delete;
		DeadlineScope &operator=(const DeadlineScope &) = delete;
		SystemdManager &m_;
	};
	void drain();
	Result<MessagePtr> newManagerCall(const char *method);
	Result<MessagePtr> call(sd_bus_message *m, const std::string &what, BusError &error, int &r);
	Result<MessagePtr> call(sd_bus_message *m, const std::string &what);
	Result<std::string> waitForJob(const std::string &jobPath, const std::string &what,
				       std::chrono::steady_clock::time_point deadline);

	/* Declaration order is destruction order reversed: the slot goes before its userdata and the bus. */
	BusPtr bus_;
	std::unique_ptr<JobWatch> jobs_;
	std::string address_;
	bool direct_ = false;
	std::chrono::microseconds methodTimeout_{ 25000000 };
	std::optional<std::chrono::steady_clock::time_point> callDeadline_;
};

extern template Result<std::string> SystemdManager::unitProperty<std::string>(const std::string &, const std::string &,
									      const std::string &);
extern template Result<bool> SystemdManager::unitProperty<bool>(const std::string &, const std::string &,
								const std::string &);
extern template Result<int32_t> SystemdManager::unitProperty<int32_t>(const std::string &, const std::string &,
								      const std::string &);
extern template Result<uint32_t> SystemdManager::unitProperty<uint32_t>(const std::string &, const std::string &,
									const std::string &);
extern template Result<uint64_t> SystemdManager::unitProperty<uint64_t>(const std::string &, const std::string &,
									const std::string &);
extern template Result<std::vector<std::string>>
SystemdManager::unitProperty<std::vector<std::string>>(const std::string &, const std::string &, const std::string &);

} /* namespace qemudm */
