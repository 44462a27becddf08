/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "systemd_bus.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "log.h"
#include "unit_cgroup.h"

namespace qemudm {

namespace {

constexpr const char *kDestination = "org.freedesktop.systemd1";
constexpr const char *kManagerPath = "/org/freedesktop/systemd1";
constexpr const char *kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr const char *kUnitInterface = "org.freedesktop.systemd1.Unit";
constexpr const char *kServiceInterface = "org.freedesktop.systemd1.Service";
constexpr const char *kPrivateAddress = "unix:path=/run/systemd/private";
constexpr const char *kNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit";

using Clock = std::chrono::steady_clock;

/* A unit name that a match rule can hold without escapes (a backslash of systemd's \\x2d would need one). */
bool isPlainUnitName(std::string_view unit)
{
	return !unit.empty() && std::all_of(unit.begin(), unit.end(), [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		       std::string_view("@._:-").find(c) != std::string_view::npos;
	});
}

bool isPrivateAddress(std::string_view address)
{
	constexpr std::string_view suffix = "/systemd/private";
	return address.substr(0, 10) == "unix:path=" && address.size() >= suffix.size() &&
	       address.substr(address.size() - suffix.size()) == suffix;
}

Result<BusPtr> openAddress(const std::string &address, bool direct)
{
	sd_bus *raw = nullptr;
	int r = sd_bus_new(&raw);
	if (r < 0)
		return errnoError(r, "Failed to allocate a D-Bus connection");
	BusPtr bus(raw);
	r = sd_bus_set_address(bus.get(), address.c_str());
	if (r < 0)
		return errnoError(r, "Failed to use D-Bus address '{}'", address);
	if (!direct) {
		r = sd_bus_set_bus_client(bus.get(), 1);
		if (r < 0)
			return errnoError(r, "Failed to configure the D-Bus connection to '{}'", address);
	}
	r = sd_bus_start(bus.get());
	if (r < 0)
		return errnoError(r, "Failed to connect to systemd at '{}'", address);
	return bus;
}

Result<BusPtr> openSystemBus()
{
	sd_bus *raw = nullptr;
	int r = sd_bus_open_system(&raw);
	if (r < 0)
		return errnoError(r, "Failed to connect to the system bus");
	return BusPtr(raw);
}

long long remainingUsec(Clock::time_point deadline)
{
	auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
	return left > 0 ? left : 0;
}

} /* namespace */

/* ---- BusError ---- */

std::string BusError::describe(int r) const
{
	if (error_.message && *error_.message)
		return error_.message;
	if (error_.name)
		return error_.name;
	return strerror(r < 0 ? -r : r);
}

int BusError::errnum(int r) const
{
	int e = sd_bus_error_is_set(&error_) ? sd_bus_error_get_errno(&error_) : 0;
	if (e > 0)
		return e;
	return r < 0 ? -r : (r > 0 ? r : EIO);
}

/* ---- SystemdManager ---- */

struct SystemdManager::JobWatch {
	std::string path;		   /* the job we wait for; empty: none */
	std::optional<std::string> result; /* set by onJobRemoved */
	/*
	 * On a bus: systemd's unique name. Anyone may send a signal to our
	 * connection directly (the daemon delivers a unicast signal whatever our
	 * matches say), so a JobRemoved counts only from this sender. Empty on
	 * PID 1's private socket, where PID 1 is the only peer.
	 */
	std::string systemd;
};

/* The JobRemoved watch of one start or stop: a filter here, and on a bus the daemon's match of that unit. */
struct SystemdManager::JobsGuard {
	sd_bus *bus = nullptr;
	SlotPtr filter;
	std::string rule; /* the AddMatch rule to remove; empty on the private socket */

	JobsGuard() = default;
	JobsGuard(JobsGuard &&o) noexcept : bus(o.bus), filter(std::move(o.filter)), rule(std::exchange(o.rule, {})) {}
	JobsGuard &operator=(JobsGuard &&) = delete;
	~JobsGuard()
	{
		if (rule.empty() || !bus)
			return;
		/* Sent, not waited for: the next call or the close flushes it. */
		sd_bus_message *raw = nullptr;
		if (sd_bus_message_new_method_call(bus, &raw, "org.freedesktop.DBus", "/org/freedesktop/DBus",
						   "org.freedesktop.DBus", "RemoveMatch") < 0)
			return;
		MessagePtr m(raw);
		if (sd_bus_message_append(m.get(), "s", rule.c_str()) >= 0 &&
		    sd_bus_message_set_expect_reply(m.get(), 0) >= 0)
			(void)sd_bus_send(bus, m.get(), nullptr);
	}
};

SystemdManager::SystemdManager(BusPtr bus, std::string address, bool direct)
    : bus_(std::move(bus)), jobs_(std::make_unique<JobWatch>()), address_(std::move(address)), direct_(direct)
{
}

SystemdManager::SystemdManager(SystemdManager &&) noexcept = default;
SystemdManager &SystemdManager::operator=(SystemdManager &&) noexcept = default;
SystemdManager::~SystemdManager() = default;

int SystemdManager::onJobRemoved(sd_bus_message *m, void *userdata, sd_bus_error *) noexcept
{
	auto *watch = static_cast<JobWatch *>(userdata);
	if (!sd_bus_message_is_signal(m, kManagerInterface, "JobRemoved") ||
	    std::string_view(sd_bus_message_get_path(m) ? sd_bus_message_get_path(m) : "") != kManagerPath)
		return 0;
	if (!watch->systemd.empty()) {
		const char *sender = sd_bus_message_get_sender(m);
		if (!sender || watch->systemd != sender)
			return 0;
	}
	uint32_t id;
	const char *path, *unit, *result;
	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
	(void)sd_bus_message_rewind(m, 1); /* a filter: later handlers read it too */
	try {
		if (!watch->path.empty() && watch->path == path)
			watch->result = result;
	} catch (...) {
		/* Out of memory: the waiter times out rather than an exception crossing sd-bus. */
	}
	return 0;
}

Result<SystemdManager> SystemdManager::connect(std::optional<std::string> address)
{
	if (!address) {
		const char *env = secure_getenv("QEMU_DM_SYSTEMD_ADDRESS");
		if (env && *env)
			address = env;
	}

	/* An explicit address: exactly that. */
	if (address && *address != "system") {
		const bool direct = isPrivateAddress(*address);
		auto bus = openAddress(*address, direct);
		if (!bus)
			return bus.error();
		return start(std::move(*bus), *address, direct);
	}

	/*
	 * The system bus first, also for root: there the bus daemon delivers only
	 * the signals a client's matches ask for, while PID 1 sends every signal
	 * to every connection on its private socket (systemd 252, src/core/dbus.c
	 * bus_foreach_bus()), so N concurrent starts each read the signals of all
	 * N and PID 1 builds N times N messages (200 concurrent starts: several
	 * times slower over the private socket, with starts timing out; the
	 * "P2" rows of docs/bench.md). Root falls back to the private socket
	 * when there is no bus daemon (dom0 without dbus, or before
	 * sockets.target).
	 */
	auto bus = openSystemBus();
	Result<SystemdManager> manager =
	    bus ? start(std::move(*bus), "system bus", false) : Result<SystemdManager>(bus.error());
	if (manager || address || geteuid() != 0)
		return manager;
	log::debug("{}, trying systemd's private socket", manager.error().message());
	auto direct = openAddress(kPrivateAddress, true);
	if (!direct)
		return direct.error();
	return start(std::move(*direct), kPrivateAddress, true);
}

Result<SystemdManager> SystemdManager::start(BusPtr bus, std::string address, bool direct)
{
	SystemdManager manager(std::move(bus), std::move(address), direct);
	auto r = manager.subscribe();
	if (!r)
		return r.error();
	log::debug("Connected to systemd at {} ({})", manager.address_, direct ? "direct" : "bus");
	return manager;
}

Status SystemdManager::subscribe()
{
	/*
	 * On a bus, systemd sends signals only while a client is subscribed. On
	 * its private socket it always does (and Subscribe is a no-op there): no
	 * round trip.
	 */
	if (sd_bus_is_bus_client(bus_.get()) <= 0)
		return success();
	BusError error;
	int r = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManagerInterface, "Subscribe", error.get(),
				   nullptr, nullptr);
	if (r < 0)
		return Error(error.errnum(r),
			     fmt::format("Failed to subscribe to systemd at {}: {}", address_, error.describe(r)));
	BusError ownerError;
	sd_bus_message *raw = nullptr;
	r = sd_bus_call_method(bus_.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
			       "GetNameOwner", ownerError.get(), &raw, "s", kDestination);
	MessagePtr reply(raw);
	const char *owner = nullptr;
	if (r >= 0)
		r = sd_bus_message_read(reply.get(), "s", &owner);
	if (r < 0 || !owner || !*owner)
		return Error(ownerError.errnum(r),
			     fmt::format("Failed to find systemd on {}: {}", address_, ownerError.describe(r)));
	jobs_->systemd = owner;
	return success();
}

/* For signals whose arguments up to the unit's are all strings (sd-bus's own argN match needs that): UnitRemoved. */
Result<SlotPtr> SystemdManager::matchManagerSignal(const char *member, int unitArg, const std::string &unit,
						   sd_bus_message_handler_t handler, void *userdata)
{
	/*
	 * Only this unit's signals: on a bus the daemon filters by the rule (no
	 * fan-out of every other unit's signal to every client); on PID 1's
	 * private socket, where signals carry no sender, sd-bus filters here.
	 */
	const bool plainName = isPlainUnitName(unit);
	const bool busClient = sd_bus_is_bus_client(bus_.get()) > 0;
	std::string rule = fmt::format("type='signal',{}path='{}',interface='{}',member='{}'",
				       busClient ? fmt::format("sender='{}',", kDestination) : std::string(),
				       kManagerPath, kManagerInterface, member);
	if (plainName)
		rule += fmt::format(",arg{}='{}'", unitArg, unit);
	sd_bus_slot *slot = nullptr;
	int r = sd_bus_add_match(bus_.get(), &slot, rule.c_str(), handler, userdata);
	if (r < 0)
		return errnoError(r, "Failed to watch systemd's {} signal of {} at {}", member, unit, address_);
	return SlotPtr(slot);
}

void SystemdManager::drain()
{
	/*
	 * Signals that arrived while we waited for replies queue up in sd-bus
	 * (PID 1 sends every signal on its private socket). Dispatch them, so the
	 * queue stays short.
	 */
	for (int i = 0; i < 10000; i++) {
		int r = sd_bus_process(bus_.get(), nullptr);
		if (r <= 0)
			break;
	}
}

Result<MessagePtr> SystemdManager::newManagerCall(const char *method)
{
	sd_bus_message *raw = nullptr;
	int r = sd_bus_message_new_method_call(bus_.get(), &raw, kDestination, kManagerPath, kManagerInterface, method);
	if (r < 0)
		return errnoError(r, "Failed to create a {} call", method);
	return MessagePtr(raw);
}

Result<MessagePtr> SystemdManager::call(sd_bus_message *m, const std::string &what, BusError &error, int &r)
{
	sd_bus_message *reply = nullptr;
	uint64_t timeout = static_cast<uint64_t>(methodTimeout_.count());
	if (callDeadline_) /* inside a start: its own bound, however busy PID 1 is */
		timeout = std::max<uint64_t>(timeout, static_cast<uint64_t>(remainingUsec(*callDeadline_)));
	r = sd_bus_call(bus_.get(), m, timeout, error.get(), &reply);
	if (r < 0)
		return Error(error.errnum(r), fmt::format("Failed to {}: {}", what, error.describe(r)));
	return MessagePtr(reply);
}

Result<MessagePtr> SystemdManager::call(sd_bus_message *m, const std::string &what)
{
	BusError error;
	int r;
	return call(m, what, error, r);
}

Result<SystemdManager::JobsGuard> SystemdManager::watchJobs(const std::string &unit)
{
	/*
	 * JobRemoved(u id, o job, s unit, s result). sd-bus cannot match it by
	 * unit (its local argN match needs every earlier argument to be a
	 * string), so a filter reads it here; on a bus, the daemon's own match
	 * names the unit (arg2), so no other unit's JobRemoved reaches us.
	 */
	JobsGuard guard;
	guard.bus = bus_.get();
	sd_bus_slot *slot = nullptr;
	int r = sd_bus_add_filter(bus_.get(), &slot, &SystemdManager::onJobRemoved, jobs_.get());
	if (r < 0)
		return errnoError(r, "Failed to watch systemd's jobs at {}", address_);
	guard.filter.reset(slot);
	if (sd_bus_is_bus_client(bus_.get()) <= 0)
		return guard;

	std::string rule = fmt::format("type='signal',sender='{}',path='{}',interface='{}',member='JobRemoved'",
				       kDestination, kManagerPath, kManagerInterface);
	if (isPlainUnitName(unit))
		rule += fmt::format(",arg2='{}'", unit);
	BusError error;
	r = sd_bus_call_method(bus_.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
			       "AddMatch", error.get(), nullptr, "s", rule.c_str());
	if (r < 0)
		return Error(error.errnum(r), fmt::format("Failed to watch the jobs of {} at {}: {}", unit, address_,
							  error.describe(r)));
	guard.rule = std::move(rule);
	return guard;
}

Result<bool> SystemdManager::processUntil(const std::function<bool()> &done, Clock::time_point deadline,
					  const std::string &waitingFor)
{
	while (!done()) {
		int r = sd_bus_process(bus_.get(), nullptr);
		if (r < 0)
			return errnoError(r, "Failed to wait for {}", waitingFor);
		if (r > 0)
			continue;
		long long left = remainingUsec(deadline);
		if (left == 0)
			return false;
		r = sd_bus_wait(bus_.get(), static_cast<uint64_t>(left));
		if (r < 0 && r != -EINTR)
			return errnoError(r, "Failed to wait for {}", waitingFor);
	}
	return true;
}

Result<std::string> SystemdManager::waitForJob(const std::string &jobPath, const std::string &what,
					       Clock::time_point deadline)
{
	if (jobs_->path != jobPath) { /* not armed before (see startTransientUnit) */
		jobs_->path = jobPath;
		jobs_->result.reset();
	}
	struct Reset {
		JobWatch *w;
		~Reset() { w->path.clear(); }
	} reset{ jobs_.get() };

	auto finished = processUntil([&] { return jobs_->result.has_value(); }, deadline,
				     fmt::format("the job to {} ({})", what, jobPath));
	if (!finished)
		return finished.error();
	if (!*finished)
		return makeError(ETIMEDOUT, "Failed to {}: timed out waiting for job {}", what, jobPath);
	log::debug("Job {} ({}) finished: {}", jobPath, what, *jobs_->result);
	return *jobs_->result;
}

Result<std::string> SystemdManager::startTransientUnit(const std::string &name, const std::string &mode,
						       const BusProperties &properties, const TransientExtras &extras,
						       std::chrono::milliseconds timeout)
{
	return startTransientUnitWith(
	    name, mode, [&](sd_bus_message *m) { return appendBusProperties(m, properties); }, extras, timeout);
}

Result<std::string>
SystemdManager::startTransientUnitWith(const std::string &name, const std::string &mode,
				       const std::function<Status(sd_bus_message *)> &appendProperties,
				       const TransientExtras &extras, std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	const std::string what = fmt::format("start transient unit {}", name);
	drain();
	/* Every call of this start is bounded by its deadline, not by one method timeout each. */
	DeadlineScope scope(*this, deadline);
	auto jobRemoved = watchJobs(name);
	if (!jobRemoved)
		return jobRemoved.error();

	auto m = newManagerCall("StartTransientUnit");
	if (!m)
		return m.error();
	sd_bus_message *msg = m->get();
	int r = sd_bus_message_append(msg, "ss", name.c_str(), mode.c_str());
	if (r >= 0)
		r = sd_bus_message_open_container(msg, 'a', "(sv)");
	if (r < 0)
		return errnoError(r, "Failed to build the StartTransientUnit call for {}", name);

	auto added = appendProperties(msg);
	if (added && extras.stdinFd >= 0)
		added = appendStandardFileDescriptor(msg, StdStream::Input, extras.stdinFd);
	if (added && extras.stdoutFd >= 0)
		added = appendStandardFileDescriptor(msg, StdStream::Output, extras.stdoutFd);
	if (added && extras.stderrFd >= 0)
		added = appendStandardFileDescriptor(msg, StdStream::Error, extras.stderrFd);
	if (!added)
		return added.error().wrap(fmt::format("Failed to {}", what));

	r = sd_bus_message_close_container(msg);
	if (r >= 0)
		r = sd_bus_message_append(msg, "a(sa(sv))", 0); /* no auxiliary units */
	if (r < 0)
		return errnoError(r, "Failed to build the StartTransientUnit call for {}", name);

	/* JobRemoved is watched since before the call: it is queued even if it beats the reply. */
	auto reply = call(msg, what);
	if (!reply)
		return reply.error();
	const char *jobPath = nullptr;
	r = sd_bus_message_read(reply->get(), "o", &jobPath);
	if (r < 0)
		return errnoError(r, "Failed to read the reply to StartTransientUnit for {}", name);
	/* Copy the path: the hook's own calls may reuse the reply's buffer. */
	const std::string job = jobPath;
	if (extras.afterQueued) {
		/* Armed first: the hook's calls dispatch queued signals, JobRemoved among them. */
		jobs_->path = job;
		jobs_->result.reset();
		if (auto s = extras.afterQueued(); !s) {
			jobs_->path.clear();
			return s.error();
		}
	}
	return waitForJob(job.c_str(), what, deadline);
}

/* What the unit signals write, while stopUnit()/destroyUnit() wait: set when the unit may have changed. */
struct SystemdManager::UnitWatch {
	std::string name;
	bool changed = false;
	SlotPtr propertiesChanged;
	SlotPtr unitRemoved;
};

int SystemdManager::onUnitChanged(sd_bus_message *, void *userdata, sd_bus_error *) noexcept
{
	static_cast<UnitWatch *>(userdata)->changed = true;
	return 0;
}

int SystemdManager::onUnitRemoved(sd_bus_message *m, void *userdata, sd_bus_error *) noexcept
{
	auto *watch = static_cast<UnitWatch *>(userdata);
	const char *unit = nullptr, *path = nullptr;
	if (sd_bus_message_read(m, "so", &unit, &path) >= 0 && unit && watch->name == unit)
		watch->changed = true;
	return 0;
}

Status SystemdManager::watchUnit(const std::string &name, UnitWatch &watch)
{
	watch.name = name;
	watch.changed = false;
	char *raw = nullptr;
	int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", name.c_str(), &raw);
	if (r < 0)
		return errnoError(r, "Failed to build the object path of {}", name);
	std::unique_ptr<char, decltype(&free)> path(raw, &free);

	/* As for JobRemoved: signals on PID 1's private socket carry no sender. */
	const char *sender = sd_bus_is_bus_client(bus_.get()) > 0 ? kDestination : nullptr;
	sd_bus_slot *slot = nullptr;
	r = sd_bus_match_signal(bus_.get(), &slot, sender, path.get(), "org.freedesktop.DBus.Properties",
				"PropertiesChanged", &SystemdManager::onUnitChanged, &watch);
	if (r < 0)
		return errnoError(r, "Failed to watch unit {} at {}", name, address_);
	watch.propertiesChanged.reset(slot);
	auto removed = matchManagerSignal("UnitRemoved", 0, name, &SystemdManager::onUnitRemoved, &watch);
	if (!removed)
		return removed.error();
	watch.unitRemoved = std::move(*removed);
	return success();
}

Result<bool> SystemdManager::unloaded(const std::string &name, const std::string &what)
{
	BusError getError;
	auto get = newManagerCall("GetUnit");
	if (!get)
		return get.error();
	int r = sd_bus_message_append(get->get(), "s", name.c_str());
	if (r < 0)
		return errnoError(r, "Failed to build the GetUnit call for {}", name);
	auto unit = call(get->get(), what, getError, r);
	if (!unit && !getError.hasName(kNoSuchUnit))
		return unit.error();
	return !unit;
}

Status SystemdManager::releaseStopped(const std::string &name, std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	const std::string what = fmt::format("release the stopped unit {}", name);
	drain();
	UnitWatch watch;
	if (auto w = watchUnit(name, watch); !w)
		return w.error();
	for (bool reset = false;;) {
		watch.changed = false;
		auto gone = unloaded(name, what);
		if (!gone)
			return gone.error();
		if (*gone)
			return success();
		auto state = activeState(name);
		if (!state)
			return state.error();
		if (*state != "inactive" && *state != "failed")
			return makeError(EBUSY, "{} is {}", name, *state);
		if (auto procs = unitProcesses(name); procs && !procs->empty())
			return makeError(EBUSY, "{} is {} but {} processes remain in its cgroup", name, *state,
					 procs->size());
		/* Once: a failed unit waits for it; an inactive one is collected on PID 1's next pass. */
		if (!reset) {
			reset = true;
			if (auto r = resetFailed(name); !r)
				log::debug("{}: {}", name, r.error().message());
			continue;
		}
		auto changed =
		    processUntil([&] { return watch.changed; }, deadline, fmt::format("{} to be unloaded", name));
		if (!changed)
			return changed.error();
		if (!*changed)
			return makeError(ETIMEDOUT, "{} is {} and still loaded after {} ms (held by another unit?)",
					 name, *state, static_cast<long long>(timeout.count()));
	}
}

Status SystemdManager::waitUntilStopped(const std::string &name, UnitWatch &watch, const std::string &what,
					Clock::time_point deadline, std::chrono::milliseconds timeout)
{
	/*
	 * No timer: look at the unit, and again each time PID 1 says it changed
	 * (PropertiesChanged of its object, e.g. ActiveState, or UnitRemoved).
	 * The watch was armed before the call that stops it, so no change is missed.
	 */
	for (;;) {
		watch.changed = false;
		/* Not loaded: gone (systemd keeps a unit with processes loaded). */
		auto gone = unloaded(name, what);
		if (!gone)
			return gone.error();
		if (*gone)
			return success();

		auto state = activeState(name);
		if (!state)
			return state.error();
		if (*state == "inactive" || *state == "failed") {
			auto procs = unitProcesses(name);
			if (!procs) {
				/* Collected since we looked (CollectMode=): gone is stopped. */
				gone = unloaded(name, what);
				if (gone && *gone)
					return success();
				return procs.error();
			}
			if (procs->empty())
				return success();
			log::debug("{} is {} but {} processes remain in its cgroup", name, *state, procs->size());
		}

		auto changed = processUntil([&] { return watch.changed; }, deadline, fmt::format("{} to stop", name));
		if (!changed)
			return changed.error();
		if (!*changed)
			return makeError(ETIMEDOUT, "Failed to {}: still {} after {} ms", what, *state,
					 static_cast<long long>(timeout.count()));
	}
}

Status SystemdManager::stopUnit(const std::string &name, std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	const std::string what = fmt::format("stop unit {}", name);
	drain();
	UnitWatch watch;
	if (auto w = watchUnit(name, watch); !w)
		return w.error();
	auto jobRemoved = watchJobs(name);
	if (!jobRemoved)
		return jobRemoved.error();

	auto m = newManagerCall("StopUnit");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "ss", name.c_str(), "replace");
	if (r < 0)
		return errnoError(r, "Failed to build the StopUnit call for {}", name);
	BusError error;
	auto reply = call(m->get(), what, error, r);
	if (!reply) {
		if (error.hasName(kNoSuchUnit))
			return success(); /* not loaded: nothing runs */
		return reply.error();
	}
	const char *jobPath = nullptr;
	r = sd_bus_message_read(reply->get(), "o", &jobPath);
	if (r < 0)
		return errnoError(r, "Failed to read the reply to StopUnit for {}", name);
	auto job = waitForJob(jobPath, what, deadline);
	if (!job)
		return job.error();

	/* The job is gone; now the unit must be down and its cgroup empty. */
	return waitUntilStopped(name, watch, what, deadline, timeout);
}

Status SystemdManager::destroyUnit(const std::string &name, std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	const std::string what = fmt::format("destroy unit {}", name);
	drain();
	UnitWatch watch;
	if (auto w = watchUnit(name, watch); !w)
		return w.error();

	/*
	 * Every process of the cgroup at once, as `xl destroy` means; systemd then
	 * finds the unit dead. Killed here where we may (root, the cgroup file
	 * system mounted as PID 1 sees it): systemd 252's KillUnit signals the
	 * processes one by one and logs a line for each (for a DM with 1000
	 * processes, 1000 journal entries), in PID 1's event loop; else by KillUnit.
	 */
	if (auto cg = controlGroup(name); cg && !cg->empty()) {
		if (auto dir = cgroup::unitCgroupDir(*cg)) {
			auto killed = cgroup::killCgroup(*dir, deadline);
			if (killed) {
				log::debug("{}: sent SIGKILL to the processes of {} ({})", name, dir->path.string(),
					   dir->unified && *killed == 0 ? std::string("cgroup.kill")
									: fmt::format("{} processes", *killed));
				return waitUntilStopped(name, watch, what, deadline, timeout);
			}
			log::debug("{}: {}; asking systemd to kill them", name, killed.error().message());
		}
	}
	auto m = newManagerCall("KillUnit");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "ssi", name.c_str(), "all", static_cast<int32_t>(SIGKILL));
	if (r < 0)
		return errnoError(r, "Failed to build the KillUnit call for {}", name);
	BusError error;
	auto reply = call(m->get(), what, error, r);
	if (!reply) {
		if (error.hasName(kNoSuchUnit))
			return success(); /* not loaded: nothing runs */
		if (!error.hasName("org.freedesktop.systemd1.NoSuchProcess"))
			return reply.error();
		log::debug("{}: no process left to kill", name);
	}
	return waitUntilStopped(name, watch, what, deadline, timeout);
}

Result<std::string> SystemdManager::startUnit(const std::string &name, const std::string &mode,
					      std::chrono::milliseconds timeout)
{
	const auto deadline = Clock::now() + timeout;
	const std::string what = fmt::format("start {}", name);
	drain();
	/* Every call of this start is bounded by its deadline; JobRemoved watched before the call. */
	DeadlineScope scope(*this, deadline);
	auto jobRemoved = watchJobs(name);
	if (!jobRemoved)
		return jobRemoved.error();
	auto m = newManagerCall("StartUnit");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "ss", name.c_str(), mode.c_str());
	if (r < 0)
		return errnoError(r, "Failed to build the StartUnit call for {}", name);
	auto reply = call(m->get(), what);
	if (!reply)
		return reply.error();
	const char *jobPath = nullptr;
	r = sd_bus_message_read(reply->get(), "o", &jobPath);
	if (r < 0)
		return errnoError(r, "Failed to read the reply to StartUnit for {}", name);
	const std::string job = jobPath;
	return waitForJob(job, what, deadline);
}

Status SystemdManager::killUnit(const std::string &name, const std::string &who, int signal)
{
	drain();
	auto m = newManagerCall("KillUnit");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "ssi", name.c_str(), who.c_str(), static_cast<int32_t>(signal));
	if (r < 0)
		return errnoError(r, "Failed to build the KillUnit call for {}", name);
	auto reply = call(m->get(), fmt::format("send signal {} to {} ({})", signal, name, who));
	if (!reply)
		return reply.error();
	return success();
}

Status SystemdManager::resetFailed(const std::string &name)
{
	drain();
	auto m = newManagerCall("ResetFailedUnit");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "s", name.c_str());
	if (r < 0)
		return errnoError(r, "Failed to build the ResetFailedUnit call for {}", name);
	auto reply = call(m->get(), fmt::format("reset the failed state of {}", name));
	if (!reply)
		return reply.error();
	return success();
}

Result<std::string> SystemdManager::unitPath(const std::string &name)
{
	char *raw = nullptr;
	int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", name.c_str(), &raw);
	if (r < 0)
		return errnoError(r, "Failed to build the object path of {}", name);
	std::string path = raw;
	free(raw);
	return path;
}

Result<std::string> SystemdManager::unitObjectPath(const std::string &name)
{
	for (const char *method : { "GetUnit", "LoadUnit" }) {
		auto m = newManagerCall(method);
		if (!m)
			return m.error();
		int r = sd_bus_message_append(m->get(), "s", name.c_str());
		if (r < 0)
			return errnoError(r, "Failed to build the {} call for {}", method, name);
		BusError error;
		auto reply = call(m->get(), fmt::format("look up unit {}", name), error, r);
		if (!reply) {
			if (error.hasName(kNoSuchUnit) && std::string_view(method) == "GetUnit")
				continue;
			return reply.error();
		}
		const char *path = nullptr;
		r = sd_bus_message_read(reply->get(), "o", &path);
		if (r < 0)
			return errnoError(r, "Failed to read the reply to {} for {}", method, name);
		return std::string(path);
	}
	return makeError(ENOENT, "Failed to look up unit {}", name);
}

template <typename T>
Result<T> SystemdManager::unitProperty(const std::string &name, const std::string &interface,
				       const std::string &property)
{
	const char *signature;
	if constexpr (std::is_same_v<T, std::string>)
		signature = "s";
	else if constexpr (std::is_same_v<T, bool>)
		signature = "b";
	else if constexpr (std::is_same_v<T, int32_t>)
		signature = "i";
	else if constexpr (std::is_same_v<T, uint32_t>)
		signature = "u";
	else if constexpr (std::is_same_v<T, uint64_t>)
		signature = "t";
	else
		signature = "as";

	drain();
	/*
	 * The unit's object path is its name, encoded (as systemctl show does):
	 * systemd loads a unit that is not loaded when its path is asked for, as
	 * LoadUnit would. One round trip instead of GetUnit (+ LoadUnit) + Get.
	 */
	auto path = unitPath(name);
	if (!path)
		return path.error();

	BusError error;
	sd_bus_message *raw = nullptr;
	int r = sd_bus_get_property(bus_.get(), kDestination, path->c_str(), interface.c_str(), property.c_str(),
				    error.get(), &raw, signature);
	MessagePtr reply(raw);
	if (r < 0)
		return Error(error.errnum(r), fmt::format("Failed to read {}.{} of {}: {}", interface, property, name,
							  error.describe(r)));

	T value{};
	if constexpr (std::is_same_v<T, std::string>) {
		const char *s = nullptr;
		r = sd_bus_message_read_basic(reply.get(), 's', &s);
		if (r > 0)
			value = s;
	} else if constexpr (std::is_same_v<T, bool>) {
		int b = 0;
		r = sd_bus_message_read_basic(reply.get(), 'b', &b);
		value = b != 0;
	} else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
		char **strv = nullptr;
		r = sd_bus_message_read_strv(reply.get(), &strv);
		if (r > 0 && strv) {
			for (char **p = strv; *p; p++) {
				value.emplace_back(*p);
				free(*p);
			}
		}
		free(strv);
	} else {
		r = sd_bus_message_read_basic(reply.get(), signature[0], &value);
	}
	if (r < 0)
		return errnoError(r, "Failed to read {}.{} of {}", interface, property, name);
	return value;
}

template Result<std::string> SystemdManager::unitProperty<std::string>(const std::string &, const std::string &,
								       const std::string &);
template Result<bool> SystemdManager::unitProperty<bool>(const std::string &, const std::string &, const std::string &);
template Result<int32_t> SystemdManager::unitProperty<int32_t>(const std::string &, const std::string &,
							       const std::string &);
template Result<uint32_t> SystemdManager::unitProperty<uint32_t>(const std::string &, const std::string &,
								 const std::string &);
template Result<uint64_t> SystemdManager::unitProperty<uint64_t>(const std::string &, const std::string &,
								 const std::string &);
template Result<std::vector<std::string>>
SystemdManager::unitProperty<std::vector<std::string>>(const std::string &, const std::string &, const std::string &);

Result<std::string> SystemdManager::activeState(const std::string &name)
{
	return unitProperty<std::string>(name, kUnitInterface, "ActiveState");
}

Result<std::string> SystemdManager::subState(const std::string &name)
{
	return unitProperty<std::string>(name, kUnitInterface, "SubState");
}

Result<std::string> SystemdManager::loadState(const std::string &name)
{
	return unitProperty<std::string>(name, kUnitInterface, "LoadState");
}

Result<std::string> SystemdManager::serviceResult(const std::string &name)
{
	return unitProperty<std::string>(name, kServiceInterface, "Result");
}

Result<int32_t> SystemdManager::execMainStatus(const std::string &name)
{
	return unitProperty<int32_t>(name, kServiceInterface, "ExecMainStatus");
}

Result<int32_t> SystemdManager::execMainCode(const std::string &name)
{
	return unitProperty<int32_t>(name, kServiceInterface, "ExecMainCode");
}

Result<uint32_t> SystemdManager::mainPid(const std::string &name)
{
	return unitProperty<uint32_t>(name, kServiceInterface, "MainPID");
}

Result<std::string> SystemdManager::controlGroup(const std::string &name)
{
	return unitProperty<std::string>(name, kServiceInterface, "ControlGroup");
}

Result<std::string> SystemdManager::user(const std::string &name)
{
	return unitProperty<std::string>(name, kServiceInterface, "User");
}

Result<std::vector<DeviceRule>> SystemdManager::deviceAllow(const std::string &name)
{
	drain();
	auto path = unitObjectPath(name);
	if (!path)
		return path.error();
	BusError error;
	sd_bus_message *raw = nullptr;
	int r = sd_bus_get_property(bus_.get(), kDestination, path->c_str(), "org.freedesktop.systemd1.Service",
				    "DeviceAllow", error.get(), &raw, "a(ss)");
	MessagePtr reply(raw);
	if (r < 0)
		return Error(error.errnum(r),
			     fmt::format("Failed to read DeviceAllow of {}: {}", name, error.describe(r)));
	std::vector<DeviceRule> rules;
	r = sd_bus_message_enter_container(reply.get(), 'a', "(ss)");
	if (r < 0)
		return errnoError(r, "Failed to read DeviceAllow of {}", name);
	const char *node = nullptr, *perms = nullptr;
	while ((r = sd_bus_message_read(reply.get(), "(ss)", &node, &perms)) > 0)
		rules.push_back({ node, perms });
	if (r < 0 || (r = sd_bus_message_exit_container(reply.get())) < 0)
		return errnoError(r, "Failed to read DeviceAllow of {}", name);
	return rules;
}

Status SystemdManager::setUnitProperties(const std::string &name, bool runtime, const BusProperties &properties)
{
	drain();
	auto m = newManagerCall("SetUnitProperties");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "sb", name.c_str(), static_cast<int>(runtime));
	if (r >= 0)
		r = sd_bus_message_open_container(m->get(), 'a', "(sv)");
	if (r < 0)
		return errnoError(r, "Failed to build the SetUnitProperties call for {}", name);
	if (Status s = appendBusProperties(m->get(), properties); !s)
		return s.error().wrap(fmt::format("Failed to build the SetUnitProperties call for {}", name));
	if ((r = sd_bus_message_close_container(m->get())) < 0)
		return errnoError(r, "Failed to build the SetUnitProperties call for {}", name);
	auto reply = call(m->get(), fmt::format("change the properties of {}", name));
	if (!reply)
		return reply.error();
	return success();
}

Status SystemdManager::replaceDeviceAllow(const std::string &name, bool runtime, const std::vector<DeviceRule> &rules)
{
	drain();
	auto m = newManagerCall("SetUnitProperties");
	if (!m)
		return m.error();
	sd_bus_message *msg = m->get();
	int r = sd_bus_message_append(msg, "sb", name.c_str(), static_cast<int>(runtime));
	if (r >= 0)
		r = sd_bus_message_open_container(msg, 'a', "(sv)");
	/* An empty list resets; a second DeviceAllow then adds the rules. */
	if (r >= 0)
		r = sd_bus_message_append(msg, "(sv)", "DeviceAllow", "a(ss)", 0);
	if (r >= 0 && !rules.empty()) {
		r = sd_bus_message_open_container(msg, 'r', "sv");
		if (r >= 0)
			r = sd_bus_message_append(msg, "s", "DeviceAllow");
		if (r >= 0)
			r = sd_bus_message_open_container(msg, 'v', "a(ss)");
		if (r >= 0)
			r = sd_bus_message_open_container(msg, 'a', "(ss)");
		for (const auto &rule : rules)
			if (r >= 0)
				r = sd_bus_message_append(msg, "(ss)", rule.path.c_str(), rule.permissions.c_str());
		for (int i = 0; i < 3 && r >= 0; i++)
			r = sd_bus_message_close_container(msg);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(msg);
	if (r < 0)
		return errnoError(r, "Failed to build the SetUnitProperties call for {}", name);
	auto reply = call(msg, fmt::format("change DeviceAllow= of {}", name));
	if (!reply)
		return reply.error();
	return success();
}

Result<std::vector<UnitInfo>> SystemdManager::listUnitsByPatterns(const std::vector<std::string> &patterns,
								  const std::vector<std::string> &states)
{
	drain();
	auto m = newManagerCall("ListUnitsByPatterns");
	if (!m)
		return m.error();

	auto appendStrv = [&](const std::vector<std::string> &v) {
		int r = sd_bus_message_open_container(m->get(), 'a', "s");
		for (const auto &s : v) {
			if (r < 0)
				break;
			r = sd_bus_message_append_basic(m->get(), 's', s.c_str());
		}
		if (r >= 0)
			r = sd_bus_message_close_container(m->get());
		return r;
	};
	int r = appendStrv(states);
	if (r >= 0)
		r = appendStrv(patterns);
	if (r < 0)
		return errnoError(r, "Failed to build the ListUnitsByPatterns call");

	auto reply = call(m->get(), "list units");
	if (!reply)
		return reply.error();

	std::vector<UnitInfo> units;
	r = sd_bus_message_enter_container(reply->get(), 'a', "(ssssssouso)");
	while (r >= 0) {
		const char *name, *description, *load, *active, *sub, *following, *path, *jobType, *jobPath;
		uint32_t jobId;
		r = sd_bus_message_read(reply->get(), "(ssssssouso)", &name, &description, &load, &active, &sub,
					&following, &path, &jobId, &jobType, &jobPath);
		if (r <= 0)
			break;
		units.push_back(
		    UnitInfo{ name, description, load, active, sub, following, path, jobId, jobType, jobPath });
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(reply->get());
	if (r < 0)
		return errnoError(r, "Failed to read the reply to ListUnitsByPatterns");
	return units;
}

Result<std::vector<UnitProcess>> SystemdManager::unitProcesses(const std::string &name)
{
	auto m = newManagerCall("GetUnitProcesses");
	if (!m)
		return m.error();
	int r = sd_bus_message_append(m->get(), "s", name.c_str());
	if (r < 0)
		return errnoError(r, "Failed to build the GetUnitProcesses call for {}", name);
	auto reply = call(m->get(), fmt::format("list the processes of {}", name));
	if (!reply)
		return reply.error();

	std::vector<UnitProcess> procs;
	r = sd_bus_message_enter_container(reply->get(), 'a', "(sus)");
	while (r >= 0) {
		const char *cgroup, *command;
		uint32_t pid;
		r = sd_bus_message_read(reply->get(), "(sus)", &cgroup, &pid, &command);
		if (r <= 0)
			break;
		procs.push_back(UnitProcess{ cgroup, static_cast<pid_t>(pid), command });
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(reply->get());
	if (r < 0)
		return errnoError(r, "Failed to read the reply to GetUnitProcesses for {}", name);
	return procs;
}

} /* namespace qemudm */
