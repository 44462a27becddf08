/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "systemd_bus.h"

#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "log.h"

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
	uint32_t id;
	const char *path, *unit, *result;
	if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
		return 0;
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

	Result<BusPtr> bus = Error(EINVAL, "no connection");
	std::string used;
	bool direct = false;
	if (address && *address != "system") {
		direct = isPrivateAddress(*address);
		used = *address;
		bus = openAddress(*address, direct);
	} else if (!address && geteuid() == 0) {
		direct = true;
		used = kPrivateAddress;
		bus = openAddress(kPrivateAddress, true);
		if (!bus) {
			log::debug("{}, trying the system bus", bus.error().message());
			direct = false;
			used = "system bus";
			bus = openSystemBus();
		}
	} else {
		used = "system bus";
		bus = openSystemBus();
	}
	if (!bus)
		return bus.error();

	SystemdManager manager(std::move(*bus), used, direct);
	auto r = manager.subscribe();
	if (!r)
		return r.error();
	log::debug("Connected to systemd at {} ({})", manager.address_, direct ? "direct" : "bus");
	return manager;
}

Status SystemdManager::subscribe()
{
	/* Signals from PID 1 on its private socket carry no sender: match it only on a bus. */
	bool busClient = sd_bus_is_bus_client(bus_.get()) > 0;
	sd_bus_slot *slot = nullptr;
	int r = sd_bus_match_signal(bus_.get(), &slot, busClient ? kDestination : nullptr, kManagerPath,
				    kManagerInterface, "JobRemoved", &SystemdManager::onJobRemoved, jobs_.get());
	if (r < 0)
		return errnoError(r, "Failed to subscribe to systemd's JobRemoved signal at {}", address_);
	jobRemoved_.reset(slot);

	/* On a bus, systemd only sends signals to subscribed clients; on its private socket it always does. */
	BusError error;
	r = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManagerInterface, "Subscribe", error.get(),
			       nullptr, nullptr);
	if (r < 0) {
		if (busClient)
			return Error(error.errnum(r), fmt::format("Failed to subscribe to systemd at {}: {}", address_,
								  error.describe(r)));
		log::debug("Subscribe failed on {}: {}, ignoring.", address_, error.describe(r));
	}
	return success();
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
	r = sd_bus_call(bus_.get(), m, static_cast<uint64_t>(methodTimeout_.count()), error.get(), &reply);
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

	while (!jobs_->result) {
		int r = sd_bus_process(bus_.get(), nullptr);
		if (r < 0)
			return errnoError(r, "Failed to wait for the job to {} ({})", what, jobPath);
		if (r > 0)
			continue;
		long long left = remainingUsec(deadline);
		if (left == 0)
			return makeError(ETIMEDOUT, "Failed to {}: timed out waiting for job {}", what, jobPath);
		r = sd_bus_wait(bus_.get(), static_cast<uint64_t>(left));
		if (r < 0 && r != -EINTR)
			return errnoError(r, "Failed to wait for the job to {} ({})", what, jobPath);
	}
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

	/* JobRemoved is subscribed since connect(): it is queued even if it beats the reply. */
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
	slot = nullptr;
	r = sd_bus_match_signal(bus_.get(), &slot, sender, kManagerPath, kManagerInterface, "UnitRemoved",
				&SystemdManager::onUnitRemoved, &watch);
	if (r < 0)
		return errnoError(r, "Failed to watch unit {} at {}", name, address_);
	watch.unitRemoved.reset(slot);
	return success();
}

Status SystemdManager::waitUntilStopped(const std::string &name, UnitWatch &watch, const std::string &what,
					Clock::time_point deadline, std::chrono::milliseconds timeout)
{
	/*
	 * No timer: look at the unit, and again each time PID 1 says it changed
	 * (PropertiesChanged of its object, e.g. ActiveState, or UnitRemoved).
	 * The watch was armed before the call that stops it, so no change is missed.
	 */
	/* True when the unit is not loaded: systemd keeps units with processes loaded. */
	auto gone = [&]() -> Result<bool> {
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
	};
	for (;;) {
		watch.changed = false;
		auto unloaded = gone();
		if (!unloaded)
			return unloaded.error();
		if (*unloaded)
			return success();

		auto state = activeState(name);
		if (!state)
			return state.error();
		if (*state == "inactive" || *state == "failed") {
			auto procs = unitProcesses(name);
			if (!procs) {
				/* Collected since we looked (CollectMode=): gone is stopped. */
				unloaded = gone();
				if (unloaded && *unloaded)
					return success();
				return procs.error();
			}
			if (procs->empty())
				return success();
			log::debug("{} is {} but {} processes remain in its cgroup", name, *state, procs->size());
		}

		while (!watch.changed) {
			int r = sd_bus_process(bus_.get(), nullptr);
			if (r < 0)
				return errnoError(r, "Failed to wait for {} to stop", name);
			if (r > 0)
				continue;
			long long left = remainingUsec(deadline);
			if (left == 0)
				return makeError(ETIMEDOUT, "Failed to {}: still {} after {} ms", what, *state,
						 static_cast<long long>(timeout.count()));
			r = sd_bus_wait(bus_.get(), static_cast<uint64_t>(left));
			if (r < 0 && r != -EINTR)
				return errnoError(r, "Failed to wait for {} to stop", name);
		}
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

	/* Every process of the cgroup at once, as `xl destroy` means; systemd then finds the unit dead. */
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
	auto path = unitObjectPath(name);
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
