/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dbus/systemd_bus + tests/support/unit_property against a real systemd 252: a
 * test bed's PID 1, reached through its private socket /run/systemd/private
 * (no bus daemon involved) from a process inside the bed (TestBed::inside():
 * PID 1 refuses peers from outside its pid namespace), and through the bed's
 * system bus as a bus client. Each step's results travel back as
 * "key=value" lines; the assertions run in the test process. Asserts that
 * the recommended DM property set takes effect, that stopping leaves
 * nothing, that failures come back clearly, and that a unit started through
 * our converter equals one started by `systemd-run -p` with the same lines
 * (the basis of `qemu-dmctl policy`).
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "systemd_bus.h"
#include "test_util.h"
#include "testbed_fixture.h"
#include "unique_fd.h"
#include "unit_cgroup.h"
#include "unit_property.h"

using namespace qemudm;
using namespace qemudm::testbed;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

/*
 * recommended.props (shared/reference/xen-lab-dm/guest/props/), adapted to a
 * host without Xen: the /dev/xen nodes are bound only if present ('-') and
 * /run/xen is writable only if it exists. Everything else is verbatim.
 */
const UnitProperties kRecommended = {
	{ "CapabilityBoundingSet", "CAP_SETUID CAP_SETGID CAP_SYS_CHROOT" },
	{ "NoNewPrivileges", "yes" },
	{ "ProtectSystem", "strict" },
	{ "ReadOnlyPaths", "/run" },
	{ "ReadWritePaths", "-/run/xen" },
	{ "ProtectHome", "yes" },
	{ "PrivateTmp", "yes" },
	{ "PrivateDevices", "yes" },
	{ "DeviceAllow", "/dev/xen/privcmd rw" },
	{ "DeviceAllow", "/dev/xen/evtchn rw" },
	{ "DeviceAllow", "/dev/xen/hypercall rw" },
	{ "BindPaths", "-/dev/xen/privcmd -/dev/xen/evtchn -/dev/xen/hypercall" },
	{ "PrivateIPC", "yes" },
	{ "PrivateNetwork", "yes" },
	{ "IPAddressDeny", "any" },
	{ "ProtectHostname", "yes" },
	{ "ProtectClock", "yes" },
	{ "ProtectKernelTunables", "yes" },
	{ "ProtectKernelModules", "yes" },
	{ "ProtectKernelLogs", "yes" },
	{ "ProtectControlGroups", "yes" },
	{ "ProtectProc", "invisible" },
	{ "ProcSubset", "pid" },
	{ "RestrictAddressFamilies", "AF_UNIX" },
	{ "RestrictNamespaces", "yes" },
	{ "LockPersonality", "yes" },
	{ "MemoryDenyWriteExecute", "yes" },
	{ "RestrictRealtime", "yes" },
	{ "RestrictSUIDSGID", "yes" },
	{ "SystemCallArchitectures", "native" },
	{ "SystemCallFilter", "@system-service @setuid @chown chroot" },
	{ "SystemCallFilter", "~@privileged @resources @mount @debug @module @reboot @swap @raw-io @cpu-emulation "
			      "@obsolete @clock @keyring @memlock" },
	{ "SystemCallFilter", "chroot setuid setgroups" },
	{ "LimitFSIZE", "262144" },
	{ "LimitCORE", "0" },
	{ "LimitMSGQUEUE", "0" },
	{ "LimitLOCKS", "0" },
	{ "LimitMEMLOCK", "0" },
	{ "TasksMax", "64" },
	{ "KeyringMode", "private" },
	{ "UMask", "0077" },
	{ "SuccessExitStatus", "SIGKILL" },
};

/* A start from unit-file text, as systemd-run sends it: the properties and ExecStart (expanded by systemd). */
struct TextExtras : TransientExtras {
	std::vector<std::string> execStart; /* empty: none */
};

Result<std::string> startFromText(SystemdManager &systemd, const std::string &name, const std::string &mode,
				  const UnitProperties &properties, const TextExtras &extras,
				  std::chrono::milliseconds timeout)
{
	return systemd.startTransientUnitWith(
	    name, mode,
	    [&](sd_bus_message *m) -> Status {
		    if (auto s = appendUnitProperties(m, properties); !s)
			    return s;
		    return extras.execStart.empty() ? success() : appendExecStart(m, extras.execStart);
	    },
	    extras, timeout);
}

std::string unitName(int instance)
{
	return fmt::format("qemu-dm-bus-test@{}.service", instance);
}

std::map<std::string, std::string> parseShow(const std::string &out)
{
	std::map<std::string, std::string> props;
	std::istringstream is(out);
	for (std::string line; std::getline(is, line);) {
		auto eq = line.find('=');
		if (eq == std::string::npos)
			continue;
		/* Some properties come as one line per entry (DeviceAllow=, IODeviceWeight=, ...). */
		auto [it, fresh] = props.emplace(line.substr(0, eq), line.substr(eq + 1));
		if (!fresh) {
			it->second += '\n';
			it->second += line.substr(eq + 1);
		}
	}
	return props;
}

std::string statusField(const std::string &status, const std::string &key)
{
	std::istringstream is(status);
	for (std::string line; std::getline(is, line);) {
		if (line.rfind(key + ":", 0) == 0) {
			auto v = line.substr(key.size() + 1);
			v.erase(0, v.find_first_not_of(" \t"));
			return v;
		}
	}
	return {};
}

using qemudm::test::words;

template <typename T>
std::string text(const Result<T> &r)
{
	if (!r.ok())
		return fmt::format("error {}: {}", r.error().code(), r.error().message());
	if constexpr (std::is_same_v<T, Ok>)
		return "ok";
	else if constexpr (fmt::is_formattable<T>::value)
		return fmt::format("{}", *r);
	else
		return "<value>";
}

/* "key=value" lines, for results that travel out of TestBed::inside(). */
class Report
{
public:
	template <typename T>
	Report &add(const std::string &key, const T &value)
	{
		std::string v = fmt::format("{}", value);
		for (auto &c : v)
			c = c == '\n' ? ' ' : c;
		out_ += key + "=" + v + "\n";
		return *this;
	}
	template <typename T>
	Report &add(const std::string &key, const Result<T> &value)
	{
		return add(key, text(value));
	}
	std::string str() const { return out_; }

private:
	std::string out_;
};

constexpr const char *kPrivate = "unix:path=/run/systemd/private";

class SystemdBusTest : public TestBedSuite
{
protected:
	/*
	 * Connect inside the bed (to `address`, or by connect()'s own rules when
	 * nullopt) and run fn; its report comes back parsed.
	 */
	std::map<std::string, std::string> withSystemd(const std::function<Report(SystemdManager &)> &fn,
						       std::optional<std::string> address = std::string(kPrivate))
	{
		auto r = bed().inside(
		    [&] {
			    auto m = SystemdManager::connect(address);
			    if (!m.ok())
				    return Report().add("connect", m.error().message()).str();
			    return Report()
				       .add("connect", "ok")
				       .add("address", m->address())
				       .add("direct", m->isDirect())
				       .str() +
				   fn(*m).str();
		    },
		    120s);
		EXPECT_TRUE(r.ok()) << r.error().message();
		if (!r.ok())
			return {};
		auto report = parseShow(*r);
		EXPECT_EQ(report["connect"], "ok");
		return report;
	}

	std::map<std::string, std::string> showAll(const std::string &unit)
	{
		auto r = bed().run({ "systemctl", "show", unit });
		EXPECT_TRUE(r.ok() && r->ok()) << unit;
		return r.ok() ? parseShow(r->out) : std::map<std::string, std::string>{};
	}

	/* Nothing of the unit left: stopped (or unloaded), nothing in its cgroup, no process running. */
	void expectGone(const std::string &unit, const std::string &marker)
	{
		auto report = withSystemd([&](SystemdManager &systemd) {
			auto procs = systemd.unitProcesses(unit);
			return Report().add("processes", procs.ok() ? std::to_string(procs->size()) : text(procs));
		});
		std::string procs = report["processes"];
		EXPECT_TRUE(procs == "0" || procs.find("not loaded") != std::string::npos) << unit << ": " << procs;
		std::string state = show(unit, "ActiveState");
		EXPECT_TRUE(state == "inactive" || state == "failed") << unit << " is " << state;
		auto pgrep = bed().run({ "pgrep", "-f", marker });
		ASSERT_TRUE(pgrep.ok());
		EXPECT_NE(pgrep->exitStatus, 0) << "processes left: " << pgrep->out;
	}

	void cleanUp(const std::string &unit)
	{
		(void)bed().run({ "systemctl", "stop", unit });
		(void)bed().run({ "systemctl", "reset-failed", unit });
	}
};

/* Default: the system bus (the bed runs a bus daemon), so the daemon filters signals per client. */
TEST_F(SystemdBusTest, ConnectsToTheSystemBusByDefault)
{
	auto r = withSystemd(
	    [](SystemdManager &systemd) {
		    auto units = systemd.listUnitsByPatterns({ "basic.target" });
		    Report report;
		    report.add("list", units.ok() ? std::to_string(units->size()) : text(units));
		    if (units.ok() && units->size() == 1)
			    report.add("name", (*units)[0].name).add("active", (*units)[0].activeState);
		    TextExtras extras;
		    extras.execStart = { "/bin/true" };
		    report.add("job", startFromText(systemd, "qemu-dm-bus-test@11.service", "fail",
						    { { "Type", "oneshot" } }, extras, 30s));
		    return report;
	    },
	    std::nullopt);
	EXPECT_EQ(r["address"], "system bus");
	EXPECT_EQ(r["direct"], "false");
	EXPECT_EQ(r["list"], "1");
	EXPECT_EQ(r["name"], "basic.target");
	EXPECT_EQ(r["active"], "active");
	EXPECT_EQ(r["job"], "done");
}

/* As root without a bus daemon (none installed, or before sockets.target): PID 1's private socket. */
TEST_F(SystemdBusTest, FallsBackToThePrivateSocketWithoutABusDaemon)
{
	auto r = bed().inside(
	    [] {
		    Report report;
		    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/dbus/nonexistent_socket", 1);
		    auto m = SystemdManager::connect();
		    report.add("connect", m.ok() ? "ok" : m.error().message());
		    if (m.ok()) {
			    report.add("address", m->address()).add("direct", m->isDirect());
			    report.add("state", m->activeState("basic.target"));
			    TextExtras extras;
			    extras.execStart = { "/bin/true" };
			    report.add("job", startFromText(*m, "qemu-dm-bus-test@12.service", "fail",
							    { { "Type", "oneshot" } }, extras, 30s));
		    }
		    /* "system" means the bus, with no fallback. */
		    auto bus = SystemdManager::connect("system");
		    report.add("system", bus.ok() ? "connected" : "refused");
		    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
		    return report.str();
	    },
	    120s);
	ASSERT_TRUE(r.ok()) << r.error().message();
	auto report = parseShow(*r);
	EXPECT_EQ(report["connect"], "ok");
	EXPECT_EQ(report["address"], kPrivate);
	EXPECT_EQ(report["direct"], "true");
	EXPECT_EQ(report["state"], "active");
	EXPECT_EQ(report["job"], "done");
	EXPECT_EQ(report["system"], "refused");
}

/*
 * On the bus anyone may send a signal straight to our connection: a forged
 * JobRemoved(..., "done") of our job must not end the wait. The forger sends
 * it the moment the job is queued; the unit itself fails a second later.
 */
TEST_F(SystemdBusTest, ForgedJobRemovedOnTheBusIsIgnored)
{
	auto r = bed().inside(
	    [] {
		    Report report;
		    auto bus = SystemdManager::connect("system");
		    if (!bus.ok())
			    return report.add("connect", bus.error().message()).str();
		    const std::string unit = "qemu-dm-bus-test@13.service";
		    const char *me = nullptr;
		    (void)sd_bus_get_unique_name(bus->bus(), &me);
		    const std::string target = me ? me : "";
		    TextExtras extras;
		    extras.execStart = { "/bin/sh", "-c", "sleep 1; exit 3" };
		    extras.afterQueued = [&]() -> Status {
			    /* The job's path, as the forger would learn it (e.g. by watching JobNew). */
			    sd_bus_error error = SD_BUS_ERROR_NULL;
			    sd_bus_message *reply = nullptr;
			    char *path = nullptr;
			    if (sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit.c_str(), &path) < 0)
				    return makeError(EIO, "no path");
			    int q = sd_bus_get_property(bus->bus(), "org.freedesktop.systemd1", path,
							"org.freedesktop.systemd1.Unit", "Job", &error, &reply, "(uo)");
			    free(path);
			    uint32_t id = 0;
			    const char *job = nullptr;
			    if (q >= 0)
				    q = sd_bus_message_read(reply, "(uo)", &id, &job);
			    std::string jobPath = job ? job : "";
			    sd_bus_message_unref(reply);
			    sd_bus_error_free(&error);
			    if (q < 0 || jobPath.empty() || jobPath == "/")
				    return makeError(EIO, "no job to forge");
			    sd_bus *forger = nullptr;
			    if (sd_bus_open_system(&forger) < 0)
				    return makeError(EIO, "forger cannot connect");
			    sd_bus_message *m = nullptr;
			    q = sd_bus_message_new_signal(forger, &m, "/org/freedesktop/systemd1",
							  "org.freedesktop.systemd1.Manager", "JobRemoved");
			    if (q >= 0)
				    q = sd_bus_message_set_destination(m, target.c_str());
			    if (q >= 0)
				    q = sd_bus_message_append(m, "uoss", id, jobPath.c_str(), unit.c_str(), "done");
			    if (q >= 0)
				    q = sd_bus_send(forger, m, nullptr);
			    if (q >= 0)
				    q = sd_bus_flush(forger);
			    sd_bus_message_unref(m);
			    sd_bus_flush_close_unref(forger);
			    return q < 0 ? makeError(EIO, "forger could not send") : success();
		    };
		    report.add("connect", "ok");
		    report.add("job", startFromText(*bus, unit, "fail", { { "Type", "oneshot" } }, extras, 30s));
		    (void)bus->resetFailed(unit);
		    return report.str();
	    },
	    120s);
	ASSERT_TRUE(r.ok()) << r.error().message();
	auto report = parseShow(*r);
	EXPECT_EQ(report["connect"], "ok");
	EXPECT_EQ(report["job"], "failed") << "a forged JobRemoved was taken for systemd's";
}

TEST_F(SystemdBusTest, AddressFromEnvironmentAndSystemBus)
{
	auto r = bed().inside([] {
		Report report;
		::setenv("QEMU_DM_SYSTEMD_ADDRESS", kPrivate, 1);
		auto env = SystemdManager::connect();
		report.add("env", env.ok() ? env->address() : text(env));
		if (env.ok())
			report.add("env.state", env->activeState("basic.target"));
		::unsetenv("QEMU_DM_SYSTEMD_ADDRESS");

		auto bad = SystemdManager::connect("unix:path=/nonexistent/systemd/private");
		report.add("bad", bad.ok() ? "connected" : bad.error().message());

		/* The bed runs a bus daemon: the same calls work as a bus client, JobRemoved included. */
		auto bus = SystemdManager::connect("system");
		report.add("system", bus.ok() ? bus->address() : text(bus));
		if (bus.ok()) {
			report.add("system.direct", bus->isDirect());
			report.add("system.state", bus->activeState("basic.target"));
			TextExtras extras;
			extras.execStart = { "/bin/true" };
			report.add("system.job", startFromText(*bus, "qemu-dm-bus-test@10.service", "fail",
							       { { "Type", "oneshot" } }, extras, 30s));
		}
		return report.str();
	});
	ASSERT_TRUE(r.ok()) << r.error().message();
	auto report = parseShow(*r);
	EXPECT_EQ(report["env"], kPrivate);
	EXPECT_EQ(report["env.state"], "active");
	EXPECT_THAT(report["bad"],
		    HasSubstr("Failed to connect to systemd at 'unix:path=/nonexistent/systemd/private'"));
	EXPECT_EQ(report["system"], "system bus");
	EXPECT_EQ(report["system.direct"], "false");
	EXPECT_EQ(report["system.state"], "active");
	EXPECT_EQ(report["system.job"], "done");
	cleanUp("qemu-dm-bus-test@10.service");
}

TEST_F(SystemdBusTest, RecommendedSetTakesEffectAndStopLeavesNothing)
{
	const std::string unit = unitName(1);
	UnitProperties props = kRecommended;
	props.push_back({ "Description", "qemu-dm bus test: recommended set" });

	auto started = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/sleep", "300" };
		Report report;
		report.add("job", startFromText(systemd, unit, "fail", props, extras, 30s));
		report.add("pid", systemd.mainPid(unit));
		report.add("cgroup", systemd.controlGroup(unit));
		report.add("user", systemd.user(unit));
		return report;
	});
	ASSERT_EQ(started["job"], "done") << bed().journal(unit);
	ASSERT_TRUE(waitUntil([&] { return show(unit, "SubState") == "running"; })) << bed().journal(unit);
	EXPECT_EQ(started["user"], "");

	auto s = showAll(unit);
	EXPECT_EQ(s["CapabilityBoundingSet"], "cap_setgid cap_setuid cap_sys_chroot");
	EXPECT_EQ(s["NoNewPrivileges"], "yes");
	EXPECT_EQ(s["ProtectSystem"], "strict");
	EXPECT_EQ(s["ProtectHome"], "yes");
	EXPECT_EQ(s["ReadOnlyPaths"], "/run");
	EXPECT_EQ(s["ReadWritePaths"], "-/run/xen");
	EXPECT_EQ(s["PrivateTmp"], "yes");
	EXPECT_EQ(s["PrivateDevices"], "yes");
	EXPECT_EQ(s["PrivateIPC"], "yes");
	EXPECT_EQ(s["PrivateNetwork"], "yes");
	EXPECT_THAT(s["DeviceAllow"], HasSubstr("/dev/xen/privcmd rw"));
	EXPECT_THAT(s["DeviceAllow"], HasSubstr("/dev/xen/hypercall rw"));
	EXPECT_THAT(s["BindPaths"], HasSubstr("-/dev/xen/privcmd:/dev/xen/privcmd:rbind"));
	EXPECT_THAT(s["BindPaths"], HasSubstr("-/dev/xen/hypercall:/dev/xen/hypercall:rbind"));
	EXPECT_THAT(s["IPAddressDeny"], HasSubstr("0.0.0.0/0"));
	EXPECT_THAT(s["IPAddressDeny"], HasSubstr("::/0"));
	for (const char *p : { "ProtectHostname", "ProtectClock", "ProtectKernelTunables", "ProtectKernelModules",
			       "ProtectKernelLogs", "ProtectControlGroups", "LockPersonality", "MemoryDenyWriteExecute",
			       "RestrictRealtime", "RestrictSUIDSGID" })
		EXPECT_EQ(s[p], "yes") << p;
	EXPECT_EQ(s["ProtectProc"], "invisible");
	EXPECT_EQ(s["ProcSubset"], "pid");
	EXPECT_EQ(s["RestrictAddressFamilies"], "AF_UNIX");
	EXPECT_EQ(s["RestrictNamespaces"], "yes");
	EXPECT_EQ(s["SystemCallArchitectures"], "native");
	auto filter = words(s["SystemCallFilter"]);
	std::set<std::string> allowed(filter.begin(), filter.end());
	EXPECT_GT(allowed.size(), 50u);
	for (const char *call : { "chroot", "setuid", "setgroups", "read", "write" })
		EXPECT_TRUE(allowed.count(call)) << call << " should be allowed";
	for (const char *call : { "mount", "reboot", "swapon", "ptrace", "init_module", "settimeofday" })
		EXPECT_FALSE(allowed.count(call)) << call << " should be denied";
	EXPECT_EQ(s["LimitFSIZE"], "262144");
	EXPECT_EQ(s["LimitCORE"], "0");
	EXPECT_EQ(s["LimitMSGQUEUE"], "0");
	EXPECT_EQ(s["LimitLOCKS"], "0");
	EXPECT_EQ(s["LimitMEMLOCK"], "0");
	EXPECT_EQ(s["TasksMax"], "64");
	EXPECT_EQ(s["KeyringMode"], "private");
	EXPECT_EQ(s["UMask"], "0077");
	EXPECT_EQ(s["Description"], "qemu-dm bus test: recommended set");

	/* And on the process itself, once it is sleep (Type=simple: "running" comes before the exec). */
	ASSERT_EQ(started["pid"], s["MainPID"]);
	ASSERT_NE(started["pid"], "0");
	ASSERT_TRUE(waitUntil([&] {
		auto comm = bed().run({ "cat", fmt::format("/proc/{}/comm", started["pid"]) });
		return comm.ok() && comm->out == "sleep\n";
	}));
	auto status = bed().run({ "cat", fmt::format("/proc/{}/status", started["pid"]) });
	ASSERT_TRUE(status.ok() && status->ok());
	EXPECT_EQ(statusField(status->out, "NoNewPrivs"), "1");
	EXPECT_EQ(statusField(status->out, "Seccomp"), "2");
	EXPECT_EQ(statusField(status->out, "CapBnd"), "00000000000400c0");
	const std::string cgroup = started["cgroup"];
	EXPECT_THAT(cgroup, testing::EndsWith("/" + unit));

	auto stopped =
	    withSystemd([&](SystemdManager &systemd) { return Report().add("stop", systemd.stopUnit(unit, 30s)); });
	ASSERT_EQ(stopped["stop"], "ok");
	expectGone(unit, "sleep 300");
	auto cg = bed().run({ "test", "-e", "/sys/fs/cgroup" + cgroup });
	ASSERT_TRUE(cg.ok());
	EXPECT_NE(cg->exitStatus, 0) << "the cgroup " << cgroup << " is still there";
	cleanUp(unit);
}

TEST_F(SystemdBusTest, BadPropertyIsAClearErrorAndStartsNothing)
{
	const std::string unit = unitName(2);
	auto r = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/sleep", "302" };
		Report report;
		report.add("bad",
			   startFromText(systemd, unit, "fail",
					 { { "ProtectSystem", "strict" }, { "ProtectHome", "bogus" } }, extras, 10s));
		report.add("unknown",
			   startFromText(systemd, unit, "fail", { { "ProtectEverything", "yes" } }, extras, 10s));
		/* A value only systemd can judge: its own error text comes back. */
		report.add("refused", startFromText(systemd, unit, "fail", { { "RestrictAddressFamilies", "AF_NOPE" } },
						    extras, 10s));
		return report;
	});
	EXPECT_EQ(r["bad"], "error 22: Failed to start transient unit qemu-dm-bus-test@2.service: "
			    "Invalid value 'bogus' for ProtectHome=: expected one of read-only, tmpfs, or a boolean");
	EXPECT_EQ(r["unknown"], "error 22: Failed to start transient unit qemu-dm-bus-test@2.service: "
				"Unknown unit property 'ProtectEverything'");
	EXPECT_THAT(r["refused"], StartsWith("error "));
	EXPECT_THAT(r["refused"], HasSubstr("Failed to start transient unit qemu-dm-bus-test@2.service: "));
	EXPECT_THAT(r["refused"], HasSubstr("Failed to set unit properties")); /* systemd 252's words */

	EXPECT_EQ(show(unit, "LoadState"), "not-found");
	auto pgrep = bed().run({ "pgrep", "-f", "sleep 302" });
	ASSERT_TRUE(pgrep.ok());
	EXPECT_NE(pgrep->exitStatus, 0);
}

TEST_F(SystemdBusTest, FailingExecStartIsReported)
{
	const std::string oneshot = unitName(3);
	const std::string simple = unitName(33);
	const std::string missing = unitName(34);

	auto r = withSystemd([&](SystemdManager &systemd) {
		Report report;
		/* oneshot: the start job itself fails. */
		report.add("oneshot.job",
			   startFromText(systemd, oneshot, "fail",
					 { { "Type", "oneshot" }, { "ExecStart", "/bin/false" } }, {}, 30s));
		report.add("oneshot.state", systemd.activeState(oneshot));
		report.add("oneshot.result", systemd.serviceResult(oneshot));
		report.add("oneshot.status", systemd.execMainStatus(oneshot));
		report.add("oneshot.code", systemd.execMainCode(oneshot));
		/* A failed unit stays loaded until reset. */
		report.add("oneshot.reset", systemd.resetFailed(oneshot));

		/* simple: the job is done at fork, the unit fails afterwards. */
		TextExtras extras;
		extras.execStart = { "/bin/false" };
		report.add("simple.job", startFromText(systemd, simple, "fail", {}, extras, 30s));

		/* exec: a missing binary fails the job (203/EXEC). */
		report.add("missing.job", startFromText(systemd, missing, "fail",
							{ { "Type", "exec" },
							  { "ExecStart", "/nonexistent/qemu-system-i386 -M xenfv" } },
							{}, 30s));
		report.add("missing.status", systemd.execMainStatus(missing));
		return report;
	});
	EXPECT_EQ(r["oneshot.job"], "failed");
	EXPECT_EQ(r["oneshot.state"], "failed");
	EXPECT_EQ(r["oneshot.result"], "exit-code");
	EXPECT_EQ(r["oneshot.status"], "1");
	EXPECT_EQ(r["oneshot.code"], std::to_string(CLD_EXITED));
	EXPECT_EQ(r["oneshot.reset"], "ok");
	EXPECT_TRUE(waitUntil([&] { return show(oneshot, "LoadState") == "not-found"; }));

	EXPECT_EQ(r["simple.job"], "done");
	ASSERT_TRUE(waitUntil([&] { return show(simple, "ActiveState") == "failed"; }));
	EXPECT_EQ(show(simple, "Result"), "exit-code");
	EXPECT_EQ(show(simple, "ExecMainStatus"), "1");

	EXPECT_EQ(r["missing.job"], "failed");
	EXPECT_EQ(r["missing.status"], "203");
	cleanUp(simple);
	cleanUp(missing);
}

TEST_F(SystemdBusTest, SameNameTwiceIsAlreadyExists)
{
	const std::string unit = unitName(4);
	auto r = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/sleep", "304" };
		Report report;
		report.add("first", startFromText(systemd, unit, "fail", { { "CollectMode", "inactive-or-failed" } },
						  extras, 30s));
		report.add("second", startFromText(systemd, unit, "fail", {}, extras, 30s));
		report.add("stop", systemd.stopUnit(unit, 30s));
		return report;
	});
	EXPECT_EQ(r["first"], "done");
	/* org.freedesktop.systemd1.UnitExists, in systemd 252's words. */
	EXPECT_EQ(r["second"], fmt::format("error {}: Failed to start transient unit qemu-dm-bus-test@4.service: "
					   "Unit qemu-dm-bus-test@4.service was already loaded or has a fragment file.",
					   EEXIST));
	EXPECT_EQ(r["stop"], "ok");
	expectGone(unit, "sleep 304");
}

/*
 * A stop returns before PID 1 unloads the unit, and StartTransientUnit
 * refuses a loaded name: releaseStopped() frees a down unit's name and
 * refuses a running one.
 */
TEST_F(SystemdBusTest, ReleaseStoppedFreesTheNameOfADownUnitOnly)
{
	const std::string failed = unitName(35), running = unitName(36);
	auto r = withSystemd([&](SystemdManager &systemd) {
		Report report;
		const UnitProperties fails = { { "Type", "oneshot" }, { "ExecStart", "/bin/false" } };
		report.add("failed.job", startFromText(systemd, failed, "fail", fails, {}, 30s));
		report.add("failed.again", startFromText(systemd, failed, "fail", fails, {}, 30s));
		report.add("failed.release", systemd.releaseStopped(failed, 10s));
		report.add("failed.restart", startFromText(systemd, failed, "fail", fails, {}, 30s));
		report.add("failed.reset", systemd.resetFailed(failed));

		TextExtras sleeper;
		sleeper.execStart = { "/bin/sleep", "336" };
		report.add("running.job", startFromText(systemd, running, "fail", {}, sleeper, 30s));
		report.add("running.release", systemd.releaseStopped(running, 10s));
		report.add("running.state", systemd.activeState(running));
		report.add("running.stop", systemd.stopUnit(running, 30s));

		return report;
	});
	EXPECT_EQ(r["failed.job"], "failed");
	EXPECT_THAT(r["failed.again"], HasSubstr(fmt::format("error {}: ", EEXIST)));
	EXPECT_EQ(r["failed.release"], "ok");
	EXPECT_EQ(r["failed.restart"], "failed") << "the name was not free again";
	EXPECT_EQ(r["failed.reset"], "ok");

	EXPECT_EQ(r["running.job"], "done");
	EXPECT_EQ(r["running.release"], fmt::format("error {}: qemu-dm-bus-test@36.service is active", EBUSY));
	EXPECT_EQ(r["running.state"], "active");
	EXPECT_EQ(r["running.stop"], "ok");
	expectGone(running, "sleep 336");

	cleanUp(failed);
}

TEST_F(SystemdBusTest, KillListAndGetters)
{
	const std::string unit = unitName(7);
	auto r = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/sleep", "307" };
		Report report;
		report.add("job", startFromText(systemd, unit, "fail",
						{ { "Type", "exec" },
						  { "User", "nobody" },
						  { "SuccessExitStatus", "SIGKILL" },
						  { "KillSignal", "SIGINT" } },
						extras, 30s));
		for (int i = 0; i < 500 && systemd.subState(unit).ok() && *systemd.subState(unit) != "running"; i++)
			::usleep(10000);

		auto units = systemd.listUnitsByPatterns({ "qemu-dm-bus-test@*.service" });
		report.add("list", units.ok() ? "ok" : text(units));
		if (units.ok()) {
			for (const auto &u : *units) {
				if (u.name == unit)
					report.add("listed", u.loadState + "/" + u.activeState + "/" + u.subState);
			}
		}
		auto failedOnly = systemd.listUnitsByPatterns({ "qemu-dm-bus-test@*.service" }, { "failed" });
		size_t listedAsFailed = 0;
		if (failedOnly.ok())
			listedAsFailed = std::count_if(failedOnly->begin(), failedOnly->end(),
						       [&](const UnitInfo &u) { return u.name == unit; });
		report.add("failedOnly", failedOnly.ok() ? std::to_string(listedAsFailed) : text(failedOnly));

		report.add("user", systemd.user(unit));
		report.add("killSignal",
			   systemd.unitProperty<int32_t>(unit, "org.freedesktop.systemd1.Service", "KillSignal"));
		report.add("nnp",
			   systemd.unitProperty<bool>(unit, "org.freedesktop.systemd1.Service", "NoNewPrivileges"));
		report.add("limitCore",
			   systemd.unitProperty<uint64_t>(unit, "org.freedesktop.systemd1.Service", "LimitCORE"));
		report.add("tasksMax",
			   systemd.unitProperty<uint64_t>(unit, "org.freedesktop.systemd1.Service", "TasksMax"));
		auto names =
		    systemd.unitProperty<std::vector<std::string>>(unit, "org.freedesktop.systemd1.Unit", "Names");
		report.add("names", names.ok() ? fmt::format("{}", fmt::join(*names, ",")) : text(names));
		report.add("bogus", systemd.unitProperty<std::string>(unit, "org.freedesktop.systemd1.Service",
								      "NoSuchProperty"));
		auto pid = systemd.mainPid(unit);
		report.add("pid", pid);
		auto procs = systemd.unitProcesses(unit);
		report.add("procs", procs.ok() ? std::to_string(procs->size()) : text(procs));
		if (procs.ok() && procs->size() == 1) {
			report.add("proc.pid", (*procs)[0].pid);
			report.add("proc.command", (*procs)[0].command);
		}

		/* SIGKILL counts as success here (SuccessExitStatus=SIGKILL, as for `xl destroy`). */
		report.add("kill", systemd.killUnit(unit, "all", SIGKILL));
		for (int i = 0; i < 500 && systemd.activeState(unit).ok() && *systemd.activeState(unit) == "active";
		     i++)
			::usleep(10000);
		report.add("afterKill", systemd.activeState(unit));
		report.add("killMissing", systemd.killUnit("qemu-dm-bus-test@999.service", "all", SIGTERM));
		return report;
	});
	EXPECT_EQ(r["job"], "done") << bed().journal(unit);
	EXPECT_EQ(r["list"], "ok");
	EXPECT_EQ(r["listed"], "loaded/active/running");
	EXPECT_EQ(r["failedOnly"], "0");
	EXPECT_EQ(r["user"], "nobody");
	EXPECT_EQ(r["killSignal"], std::to_string(SIGINT));
	EXPECT_EQ(r["nnp"], "false");
	EXPECT_EQ(r["limitCore"], std::to_string(UINT64_MAX)); /* the bed's default: unlimited */
	EXPECT_NE(r["tasksMax"], "");
	EXPECT_THAT(r["names"], HasSubstr(unit));
	EXPECT_THAT(r["bogus"], HasSubstr("NoSuchProperty"));
	EXPECT_EQ(r["procs"], "1");
	EXPECT_EQ(r["proc.pid"], r["pid"]);
	EXPECT_THAT(r["proc.command"], HasSubstr("sleep 307"));
	EXPECT_EQ(r["kill"], "ok");
	EXPECT_EQ(r["afterKill"], "inactive"); /* not "failed" */
	EXPECT_THAT(r["killMissing"], HasSubstr("qemu-dm-bus-test@999.service"));
	expectGone(unit, "sleep 307");
	cleanUp(unit);
}

TEST_F(SystemdBusTest, StandardOutputDescriptorReachesTheUnit)
{
	const std::string unit = unitName(8);
	int fds[2];
	ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
	UniqueFd readEnd(fds[0]), writeEnd(fds[1]);

	auto r = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/echo", "hello from", "the unit" };
		extras.stdoutFd = writeEnd.get();
		return Report().add("job",
				    startFromText(systemd, unit, "fail", { { "Type", "oneshot" } }, extras, 30s));
	});
	EXPECT_EQ(r["job"], "done");
	writeEnd.reset();

	std::string out;
	auto deadline = std::chrono::steady_clock::now() + 10s;
	while (out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
		pollfd p = { readEnd.get(), POLLIN, 0 };
		if (::poll(&p, 1, 100) <= 0)
			continue;
		char buf[256];
		ssize_t n = ::read(readEnd.get(), buf, sizeof(buf));
		if (n <= 0)
			break;
		out.append(buf, static_cast<size_t>(n));
	}
	EXPECT_EQ(out, "hello from the unit\n");
	cleanUp(unit);
}

TEST_F(SystemdBusTest, StopTimesOutOnAUnitThatWillNotDie)
{
	const std::string unit = unitName(9);
	auto r = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done; : marker309" };
		Report report;
		report.add("job", startFromText(systemd, unit, "fail",
						{ { "Type", "exec" }, { "TimeoutStopSec", "60" } }, extras, 30s));
		/* Once a "sleep 1" runs, the shell has set its trap. */
		for (int i = 0; i < 500; i++) {
			auto procs = systemd.unitProcesses(unit);
			if (procs.ok() && procs->size() >= 2)
				break;
			::usleep(10000);
		}
		report.add("stop", systemd.stopUnit(unit, 500ms));
		report.add("kill", systemd.killUnit(unit, "all", SIGKILL));
		report.add("again", systemd.stopUnit(unit, 30s));
		return report;
	});
	EXPECT_EQ(r["job"], "done");
	EXPECT_THAT(r["stop"],
		    StartsWith(fmt::format("error {}: Failed to stop unit qemu-dm-bus-test@9.service", ETIMEDOUT)));
	EXPECT_EQ(r["kill"], "ok");
	EXPECT_EQ(r["again"], "ok");
	expectGone(unit, "marker309");
	cleanUp(unit);
}

/*
 * The pidfd walk of the destroy path (used where cgroup.kill is missing), run
 * on a unit's cgroup in systemd's named v1 hierarchy: a unit whose processes
 * escape (new session, reparented, SIGTERM ignored) while more keep coming
 * ends with none left and inactive; a process outside that cgroup lives on.
 */
TEST_F(SystemdBusTest, PidfdWalkKillsEscapingProcessesAndNothingElse)
{
	const std::string unit = unitName(10);
	const std::string outsider = unitName(11);
	auto pidsIn = [](const std::filesystem::path &dir) -> std::string {
		if (!std::filesystem::exists(dir))
			return "0";
		auto pids = cgroup::cgroupPids(dir);
		return pids.ok() ? std::to_string(pids->size()) : text(pids);
	};
	auto r = withSystemd([&](SystemdManager &systemd) {
		Report report;
		TextExtras outsiderExtras;
		outsiderExtras.execStart = { "/bin/sleep", "3319" };
		report.add("outsider",
			   startFromText(systemd, outsider, "fail", { { "Type", "exec" } }, outsiderExtras, 30s));
		auto outsiderPid = systemd.mainPid(outsider);
		report.add("outsiderPid", outsiderPid);

		/* 300 escapers, then three spawners that make more until they are killed. */
		TextExtras extras;
		extras.execStart = {
			"/bin/sh", "-c",
			"trap '' TERM; i=0; while [ $i -lt 300 ]; do setsid -f sh -c 'exec sleep 3317'; "
			"i=$((i+1)); done; for s in 1 2 3; do while :; do setsid -f sh -c 'exec sleep 3317'; "
			"done & done; wait"
		};
		report.add("job", startFromText(systemd, unit, "fail",
						{ { "Type", "exec" },
						  { "TimeoutStopSec", "300" },
						  { "TasksMax", "infinity" },
						  { "Nice", "19" },
						  { "SuccessExitStatus", "SIGKILL" } },
						extras, 30s));
		auto cg = systemd.controlGroup(unit);
		report.add("cgroup", cg);
		if (!cg.ok())
			return report;
		const cgroup::CgroupDir v1{ std::filesystem::path("/sys/fs/cgroup/systemd" + *cg), false };
		const std::filesystem::path unified = "/sys/fs/cgroup/unified" + *cg;
		size_t listed = 0;
		for (int i = 0; i < 6000 && listed < 301; i++) {
			auto pids = cgroup::cgroupPids(v1.path);
			listed = pids.ok() ? pids->size() : 0;
			::usleep(10000);
		}
		report.add("listed", listed >= 301 ? "enough" : std::to_string(listed));

		auto killed = cgroup::killCgroup(v1, std::chrono::steady_clock::now() + 60s);
		report.add("killed", killed.ok() && *killed >= 301 ? "enough" : text(killed));
		for (int i = 0; i < 1000 && (pidsIn(v1.path) != "0" || pidsIn(unified) != "0"); i++)
			::usleep(10000);
		report.add("leftV1", pidsIn(v1.path));
		report.add("leftUnified", pidsIn(unified));
		for (int i = 0; i < 1000 && systemd.activeState(unit).ok() && *systemd.activeState(unit) != "inactive";
		     i++)
			::usleep(10000);
		report.add("state", systemd.activeState(unit));
		report.add("outsiderState", systemd.activeState(outsider));
		report.add("outsiderAlive",
			   outsiderPid.ok() && *outsiderPid > 0 && ::kill(static_cast<pid_t>(*outsiderPid), 0) == 0);
		report.add("outsiderSame", systemd.mainPid(outsider));
		return report;
	});
	EXPECT_EQ(r["outsider"], "done");
	EXPECT_EQ(r["job"], "done") << bed().journal(unit);
	EXPECT_THAT(r["cgroup"], HasSubstr(unit));
	EXPECT_EQ(r["listed"], "enough");
	EXPECT_EQ(r["killed"], "enough");
	EXPECT_EQ(r["leftV1"], "0");
	EXPECT_EQ(r["leftUnified"], "0");
	EXPECT_EQ(r["state"], "inactive"); /* before TimeoutStopSec: systemd did not have to kill anything */
	auto pgrep = bed().run({ "pgrep", "-f", "sleep 3317" });
	ASSERT_TRUE(pgrep.ok());
	EXPECT_NE(pgrep->exitStatus, 0) << "processes left: " << pgrep->out;
	EXPECT_EQ(r["outsiderState"], "active");
	EXPECT_EQ(r["outsiderAlive"], "true");
	EXPECT_EQ(r["outsiderSame"], r["outsiderPid"]);
	(void)bed().run({ "systemctl", "kill", "--signal=SIGKILL", unit });
	cleanUp(unit);
	cleanUp(outsider);
}

/*
 * The same property lines through our converter and through systemd-run make
 * the same unit: every property systemctl shows is equal, except the ones
 * that name or time the particular unit.
 */
TEST_F(SystemdBusTest, ConverterMatchesSystemdRun)
{
	const std::string ours = unitName(5);
	const std::string theirs = unitName(6);
	UnitProperties props = kRecommended;
	props.push_back({ "Environment", "QEMU_DM_DOMID=5 \"NAME=a b\"" });
	props.push_back({ "TimeoutStopSec", "1min 30s" });
	props.push_back({ "KillMode", "mixed" });
	props.push_back({ "KillSignal", "SIGINT" });
	props.push_back({ "SendSIGKILL", "yes" });
	props.push_back({ "LimitNOFILE", "1024:4096" });
	props.push_back({ "LimitNPROC", "infinity" });
	props.push_back({ "LimitAS", "8G" });
	props.push_back({ "MemoryMax", "50%" });
	props.push_back({ "CPUWeight", "50" });
	props.push_back({ "RuntimeDirectory", "qemu-dm-bus-test" });
	props.push_back({ "RuntimeDirectoryMode", "0750" });
	props.push_back({ "SyslogIdentifier", "qemu-dm-bus-test" });
	props.push_back({ "LogExtraFields", "QEMU_DM_DOMID=5" });
	props.push_back({ "LogRateLimitIntervalSec", "10s" });
	props.push_back({ "LogRateLimitBurst", "500" });
	props.push_back({ "StandardOutput", "journal" });
	props.push_back({ "StandardError", "journal" });
	props.push_back({ "WorkingDirectory", "/" });
	props.push_back({ "IPAddressAllow", "127.0.0.0/8 10.1.0.0/16 ::1" });
	props.push_back({ "SystemCallErrorNumber", "EPERM" });
	props.push_back({ "AmbientCapabilities", "" });
	props.push_back({ "BindReadOnlyPaths", "/etc/hostname:/etc/qemu-dm-hostname" });
	props.push_back({ "InaccessiblePaths", "-/var/lib/nothing-here" });
	props.push_back({ "DevicePolicy", "closed" });
	props.push_back({ "MountAPIVFS", "yes" });
	props.push_back({ "TasksMax", "10%" });

	auto r = withSystemd([&](SystemdManager &systemd) {
		TextExtras extras;
		extras.execStart = { "/bin/sleep", "305" };
		return Report().add("job", startFromText(systemd, ours, "fail", props, extras, 30s));
	});
	ASSERT_EQ(r["job"], "done") << bed().journal(ours);

	std::vector<std::string> argv = { "systemd-run", "--quiet", "--unit=" + theirs };
	for (const auto &[name, value] : props)
		argv.push_back("--property=" + name + "=" + value);
	argv.push_back("/bin/sleep");
	argv.push_back("305");
	auto run = bed().run(argv);
	ASSERT_TRUE(run.ok());
	ASSERT_TRUE(run->ok()) << run->err;

	ASSERT_TRUE(
	    waitUntil([&] { return show(ours, "SubState") == "running" && show(theirs, "SubState") == "running"; }));
	auto a = showAll(ours);
	auto b = showAll(theirs);
	ASSERT_GT(a.size(), 100u);

	/* What differs by nature: names, ids, times, PIDs, live counters, and systemd-run's own Description. */
	const std::set<std::string> ignored = {
		"Id",
		"Names",
		"Description",
		"InvocationID",
		"MainPID",
		"ExecMainPID",
		"ExecMainStartTimestamp",
		"ExecMainStartTimestampMonotonic",
		"ExecStart",
		"ExecStartEx",
		"ControlGroup",
		"ControlGroupId",
		"StateChangeTimestamp",
		"StateChangeTimestampMonotonic",
		"InactiveExitTimestamp",
		"InactiveExitTimestampMonotonic",
		"ActiveEnterTimestamp",
		"ActiveEnterTimestampMonotonic",
		"ConditionTimestamp",
		"ConditionTimestampMonotonic",
		"AssertTimestamp",
		"AssertTimestampMonotonic",
		"MemoryCurrent",
		"CPUUsageNSec",
		"TasksCurrent",
		"IPIngressBytes",
		"IPIngressPackets",
		"IPEgressBytes",
		"IPEgressPackets",
		"IOReadBytes",
		"IOReadOperations",
		"IOWriteBytes",
		"IOWriteOperations",
		"MemoryAvailable",
		"EffectiveCPUs",
		"EffectiveMemoryNodes",
		"WatchdogTimestamp",
		"WatchdogTimestampMonotonic",
	};
	/* Dependency lists come in hash order: compare them as sets. */
	const std::set<std::string> unordered = { "After",   "Before", "Requires",  "Wants",	  "RequiresMountsFor",
						  "BindsTo", "PartOf", "Conflicts", "RequiredBy", "WantedBy" };
	for (auto *shown : { &a, &b }) {
		for (const auto &key : unordered) {
			auto it = shown->find(key);
			if (it == shown->end())
				continue;
			auto w = words(it->second);
			std::sort(w.begin(), w.end());
			it->second = fmt::format("{}", fmt::join(w, " "));
		}
	}
	/* The unit's own name appears in some values (FragmentPath=). */
	for (auto &[key, value] : b) {
		for (auto pos = value.find(theirs); pos != std::string::npos; pos = value.find(theirs, pos + 1))
			value.replace(pos, theirs.size(), ours);
	}

	std::vector<std::string> differences;
	for (const auto &[key, value] : a) {
		if (ignored.count(key))
			continue;
		auto it = b.find(key);
		if (it == b.end())
			differences.push_back(fmt::format("{}: ours '{}', systemd-run's missing", key, value));
		else if (it->second != value)
			differences.push_back(fmt::format("{}: ours '{}', systemd-run's '{}'", key, value, it->second));
	}
	for (const auto &[key, value] : b) {
		if (!ignored.count(key) && !a.count(key))
			differences.push_back(fmt::format("{}: ours missing, systemd-run's '{}'", key, value));
	}
	EXPECT_TRUE(differences.empty()) << fmt::format("{}", fmt::join(differences, "\n"));

	/* A few that must be there at all, so the comparison compared something. */
	EXPECT_EQ(a["Slice"], "system-qemu\\x2ddm\\x2dbus\\x2dtest.slice");
	EXPECT_EQ(a["TimeoutStopUSec"], "1min 30s");
	EXPECT_EQ(a["LimitNOFILE"], "4096");
	EXPECT_EQ(a["LimitNOFILESoft"], "1024");
	EXPECT_EQ(a["KillMode"], "mixed");
	EXPECT_EQ(a["Environment"], "QEMU_DM_DOMID=5 \"NAME=a b\"");

	auto stopped = withSystemd([&](SystemdManager &systemd) {
		return Report().add("ours", systemd.stopUnit(ours, 30s)).add("theirs", systemd.stopUnit(theirs, 30s));
	});
	EXPECT_EQ(stopped["ours"], "ok");
	EXPECT_EQ(stopped["theirs"], "ok");
	expectGone(ours, "sleep 305");
	cleanUp(ours);
	cleanUp(theirs);
}

} /* namespace */
