/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-bench: every benchmark in one run (`make bench`).
 *
 *   qemu-dm-bench [--build DIR] [--quick] [--out FILE] [--only P1,P3,...]
 *
 * Boots one private systemd test bed (tests/testbed) with this build
 * installed, and measures inside it, against baselines from the same run:
 *   P1  start and stop of one DM: (a) the C API with the full policy,
 *       (b) a bare StartTransientUnit of qemu-dm@N with the same properties and
 *       the same host drop-ins, (c) an unconfined transient unit, (d) libxl's
 *       way (fork, setsid, unshare(NEWNS|NEWIPC), upstream rlimits, exec);
 *       then the confinement cost by directive group and by single directive;
 *       all of it with PrivilegeModel=root, and (a)-(d) again with never-root,
 *       where (b) also waits for qemu-dm-ready@N as the C API does;
 *   P2  a burst of concurrent starts through the C API: DMs/s, PID 1 RSS per
 *       unit, the user database's RSS; one burst with never-root;
 *   P3  reap of a DM with many setsid + double-forked processes ignoring
 *       SIGTERM: graceful stop, destroy (qemu_dm_destroy), libxl's reaper;
 *   P4  getpwuid/getpwnam of a DM user through NSS (nss-systemd, our userdb)
 *       and of a user in the bed's /etc/passwd, idle and during P2;
 *   P5  qemu-dm-generator with a realistic config and with 100 drop-ins,
 *       against fork+exec of /bin/true.
 * The policy is never copied here: (a) plans through the core, (b) and the
 * breakdown read the properties planDmUnit() builds and the drop-ins the
 * bed's generator wrote, so whatever main's policy is gets measured. Each
 * step writes the bed's qemu-dm.conf with its PrivilegeModel= (never the
 * default), and what a step leaves loaded is a failure, stopped before the next.
 *
 * Every figure is a median with min and max over repeated runs; ratios are
 * of medians of the same run. Nothing is asserted about speed; the run fails
 * only when a benchmark itself did not work (a DM that did not start, a
 * process that survived a stop), which is what the `bench-smoke` test checks.
 */

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "config.h"
#include "dm_control.h"
#include "domain.h"
#include "fake_xen_dev.h"
#include "qemu-dm.h"
#include "systemd_bus.h"
#include "testbed.h"

using namespace qemudm;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

constexpr const char *kStandin = "/usr/libexec/qemu-dm-tests/dm-standin";
constexpr const char *kGenerator = "/usr/lib/systemd/system-generators/qemu-dm-generator";
constexpr const char *kDropInDir = "/run/systemd/generator/qemu-dm@.service.d";
constexpr uid_t kRangeBase = 131072;

struct Settings {
	bool quick = false;
	int p1Rounds = 20;	    /* (a)-(d) */
	int groupRounds = 8;	    /* by directive group */
	int directiveRounds = 5;    /* by single directive */
	int burst = 200;	    /* P2 */
	int burstRounds = 3;	    /* P2 */
	int privateBurst = 100;	    /* P2 over the private socket (N x N signals) */
	int reapProcesses = 1000;   /* P3 */
	int reapRounds = 5;	    /* P3 */
	int lookups = 2000;	    /* P4, per kind */
	int coldLookups = 20;	    /* P4, each after a stop of the service */
	int generatorRounds = 50;   /* P5 */
	std::set<std::string> only; /* empty: all */
};

double usSince(Clock::time_point t0)
{
	return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

/* ---- results: lines "S name value" (a sample, us), "I key value" (info), "F text" (a failure) ---- */

class Out
{
public:
	void sample(const std::string &name, double us)
	{
		std::lock_guard<std::mutex> l(m_);
		s_ += fmt::format("S {} {:.1f}\n", name, us);
	}
	void info(const std::string &key, const std::string &value)
	{
		std::lock_guard<std::mutex> l(m_);
		s_ += fmt::format("I {} {}\n", key, value);
	}
	void fail(const std::string &text)
	{
		std::lock_guard<std::mutex> l(m_);
		std::string t = text;
		std::replace(t.begin(), t.end(), '\n', ' ');
		s_ += fmt::format("F {}\n", t);
	}
	std::string str() const { return s_; }

private:
	std::mutex m_;
	std::string s_;
};

/* ---- helpers inside the bed ---- */

long rssKiB(pid_t pid)
{
	std::ifstream f(fmt::format("/proc/{}/status", pid));
	std::string line;
	while (std::getline(f, line))
		if (line.rfind("VmRSS:", 0) == 0)
			return std::atol(line.c_str() + 6);
	return -1;
}

/* utime + stime of a process (ms). */
double cpuMs(pid_t pid)
{
	std::ifstream f(fmt::format("/proc/{}/stat", pid));
	std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	auto close = stat.rfind(')');
	if (close == std::string::npos)
		return -1;
	std::istringstream rest(stat.substr(close + 2));
	std::string field;
	double ticks = 0;
	for (int i = 3; rest >> field && i <= 15; i++)
		if (i == 14 || i == 15) /* utime, stime */
			ticks += std::atof(field.c_str());
	return ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/* Processes (thread group leaders) whose real uid is `uid`, in this pid namespace. */
int processesOf(uid_t uid)
{
	int n = 0;
	for (const auto &e : fs::directory_iterator("/proc")) {
		const std::string name = e.path().filename();
		if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
			continue;
		std::ifstream f(e.path() / "status");
		std::string line;
		while (std::getline(f, line)) {
			if (line.rfind("Uid:", 0) == 0) {
				if (static_cast<uid_t>(std::atol(line.c_str() + 4)) == uid)
					n++;
				break;
			}
		}
	}
	return n;
}

bool waitFor(const std::function<bool()> &pred, std::chrono::milliseconds timeout)
{
	auto deadline = Clock::now() + timeout;
	while (!pred()) {
		if (Clock::now() > deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(10)); /* setup only, never timed */
	}
	return true;
}

std::string capiError(char *err)
{
	std::string e = err ? err : "(no message)";
	qemu_dm_free(err);
	return e;
}

int capiStart(uint32_t domid, const std::vector<std::string> &args, std::string &error)
{
	std::vector<const char *> argv;
	argv.push_back(kStandin);
	for (const auto &a : args)
		argv.push_back(a.c_str());
	argv.push_back(nullptr);
	qemu_dm_options *o = qemu_dm_options_new();
	qemu_dm_options_set_domain_check(o, 0);
	char *err = nullptr;
	int r = qemu_dm_start(domid, argv.data(), o, &err);
	qemu_dm_options_free(o);
	if (r < 0)
		error = capiError(err);
	return r;
}

/* The units a start of `unit` may load: itself and, for qemu-dm@N, its grant and ready units. */
std::vector<std::string> unitsOf(const std::string &unit)
{
	std::vector<std::string> units = { unit };
	if (auto domid = domidFromUnitName(unit)) {
		units.push_back(fmt::format("qemu-dm-grant@{}.service", *domid));
		units.push_back(fmt::format("qemu-dm-ready@{}.service", *domid));
	}
	return units;
}

/*
 * Stops `unit` and resets it and its grant and ready units: a failed unit
 * stays loaded, and a loaded unit that names qemu-dm@N keeps that transient
 * unit (and its file) loaded, so the next StartTransientUnit of it fails.
 */
void forgetUnit(SystemdManager &mgr, const std::string &unit)
{
	(void)mgr.stopUnit(unit, std::chrono::seconds(30));
	for (const auto &u : unitsOf(unit)) {
		(void)mgr.stopUnit(u, std::chrono::seconds(30));
		(void)mgr.resetFailed(u);
	}
}

/* One "Name=Value" line of a drop-in and its section ("Unit" or "Service"). */
struct DropInLine {
	std::string section;
	struct {
		std::string name;
		std::string value;
	} property;
};

/* The drop-ins the bed's generator wrote: the lines of their [Unit]/[Service] sections, in order. */
std::vector<DropInLine> hostDropInLines()
{
	std::vector<DropInLine> lines;
	std::vector<fs::path> files;
	std::error_code ec;
	for (const auto &e : fs::directory_iterator(kDropInDir, ec))
		if (e.path().extension() == ".conf")
			files.push_back(e.path());
	std::sort(files.begin(), files.end());
	for (const auto &f : files) {
		std::ifstream in(f);
		std::string line, section;
		while (std::getline(in, line)) {
			if (line.empty() || line[0] == '#' || line[0] == ';')
				continue;
			if (line[0] == '[') {
				section = line.substr(1, line.find(']') - 1);
				continue;
			}
			auto eq = line.find('=');
			if (eq == std::string::npos || (section != "Service" && section != "Unit"))
				continue;
			lines.push_back({ section, { line.substr(0, eq), line.substr(eq + 1) } });
		}
	}
	return lines;
}

/* Which confinement group a directive belongs to; "" for what is no confinement (kept always). */
std::string groupOf(const std::string &name)
{
	static const std::map<std::string, std::string> groups = {
		{ "SystemCallFilter", "seccomp-filter" },
		{ "SystemCallArchitectures", "seccomp-filter" },
		{ "SystemCallErrorNumber", "seccomp-filter" },
		{ "SystemCallLog", "seccomp-filter" },
		{ "LockPersonality", "seccomp-flags" },
		{ "RestrictRealtime", "seccomp-flags" },
		{ "RestrictSUIDSGID", "seccomp-flags" },
		{ "MemoryDenyWriteExecute", "seccomp-flags" },
		{ "RestrictNamespaces", "seccomp-flags" },
		{ "RestrictAddressFamilies", "seccomp-flags" },
		{ "ProtectSystem", "mounts" },
		{ "ProtectHome", "mounts" },
		{ "ReadOnlyPaths", "mounts" },
		{ "ReadWritePaths", "mounts" },
		{ "InaccessiblePaths", "mounts" },
		{ "ExecPaths", "mounts" },
		{ "NoExecPaths", "mounts" },
		{ "TemporaryFileSystem", "mounts" },
		{ "PrivateTmp", "mounts" },
		{ "BindPaths", "mounts" },
		{ "BindReadOnlyPaths", "mounts" },
		{ "RootDirectory", "mounts" },
		{ "RootImage", "mounts" },
		{ "MountAPIVFS", "mounts" },
		{ "PrivateMounts", "mounts" },
		{ "PrivateDevices", "devices" },
		{ "DeviceAllow", "devices" },
		{ "DevicePolicy", "devices" },
		{ "ProtectKernelTunables", "protect-kernel" },
		{ "ProtectKernelModules", "protect-kernel" },
		{ "ProtectKernelLogs", "protect-kernel" },
		{ "ProtectControlGroups", "protect-kernel" },
		{ "ProtectClock", "protect-kernel" },
		{ "ProtectHostname", "protect-kernel" },
		{ "ProtectProc", "proc" },
		{ "ProcSubset", "proc" },
		{ "PrivateIPC", "namespaces" },
		{ "PrivateNetwork", "namespaces" },
		{ "PrivateUsers", "namespaces" },
		{ "IPAddressDeny", "ip-bpf" },
		{ "IPAddressAllow", "ip-bpf" },
		{ "CapabilityBoundingSet", "privileges" },
		{ "AmbientCapabilities", "privileges" },
		{ "NoNewPrivileges", "privileges" },
		{ "KeyringMode", "privileges" },
		{ "UMask", "privileges" },
		{ "RemoveIPC", "privileges" },
	};
	auto it = groups.find(name);
	if (it != groups.end())
		return it->second;
	if (name.rfind("Limit", 0) == 0 || name == "TasksMax" || name.rfind("Memory", 0) == 0 ||
	    name.rfind("CPU", 0) == 0 || name.rfind("IO", 0) == 0)
		return "limits";
	static const std::set<std::string> service = {
		"Description",
		"Documentation",
		"Slice",
		"Type",
		"NotifyAccess",
		"TimeoutStartSec",
		"TimeoutStopSec",
		"CollectMode",
		"KillMode",
		"SuccessExitStatus",
		"SyslogIdentifier",
		"LogExtraFields",
		"Environment",
		"StandardOutput",
		"StandardError",
		"RuntimeDirectory",
		"RuntimeDirectoryMode",
		"LogRateLimitIntervalSec",
		"LogRateLimitBurst",
		"ExecStartPre",
		"ExecStart",
		"TimeoutStartUSec",
		"TimeoutStopUSec",
		"RuntimeDirectoryPreserve",
	};
	if (service.count(name))
		return "";
	return "other";
}

/* ---- one start/stop of a bare transient unit through sd-bus ---- */

struct BareUnit {
	std::string name;
	BusProperties properties; /* typed, as DmController::start sends them; ExecStart added from execStart */
	std::vector<std::string> execStart;
	std::string ready = {}; /* never-root: the unit whose start is the end of the start (qemu-dm-ready@N) */
};

/*
 * Start, time to "exec'd" (Type=exec job done) and, with a ready unit, to
 * that unit's job done too (`execUs` is then the first part); stop, time to
 * inactive and empty (and its grant and ready units stopped). A failed start
 * or stop leaves nothing loaded.
 */
bool bareStartStop(const BareUnit &u, double &startUs, double &stopUs, std::string &error, double *execUs = nullptr)
{
	auto t0 = Clock::now();
	auto mgr = SystemdManager::connect(); /* a connection per start, as each C API call opens one */
	if (!mgr) {
		error = mgr.error().message();
		return false;
	}
	BusProperties props = u.properties;
	props.push_back({ "ExecStart", ExecArgv{ u.execStart } });
	auto job = mgr->startTransientUnit(u.name, "fail", props, {}, std::chrono::seconds(30));
	if (execUs)
		*execUs = usSince(t0);
	bool ok = job && *job == "done";
	if (!ok)
		error = job ? fmt::format("{}: job {}", u.name, *job) : job.error().message();
	if (ok && !u.ready.empty()) {
		/* The ready unit's start job was queued with the DM's (BindsTo=): this waits for it. */
		auto ready = mgr->startUnit(u.ready, "fail", std::chrono::seconds(60));
		if (!ready || *ready != "done") {
			error = ready ? fmt::format("{}: job {}", u.ready, *ready) : ready.error().message();
			ok = false;
		}
	}
	startUs = usSince(t0);
	if (!ok) {
		forgetUnit(*mgr, u.name);
		return false;
	}
	auto t1 = Clock::now();
	auto mgr2 = SystemdManager::connect();
	auto s = mgr2 ? mgr2->stopUnit(u.name, std::chrono::seconds(30)) : Status(mgr2.error());
	/* Never root: until the grant unit's revoke (after the DM ended) is done too, as qemu_dm_stop() waits. */
	if (s && !u.ready.empty())
		for (const auto &x : unitsOf(u.name))
			if (x != u.name && s)
				s = mgr2->stopUnit(x, std::chrono::seconds(30));
	stopUs = usSince(t1);
	if (!s) {
		error = s.error().message();
		ok = false;
	}
	if (mgr2)
		for (const auto &x : unitsOf(u.name))
			(void)mgr2->resetFailed(x);
	if (!ok)
		forgetUnit(*mgr, u.name);
	return ok;
}

/*
 * The argv QEMU was exec'd with in a running DM unit (its /proc cmdline).
 * READY=1 comes right before qemu-dm-exec's exec: until then the main
 * process is qemu-dm-exec, so this waits (setup, untimed) for the stand-in.
 */
std::vector<std::string> execdArgv(uint32_t domid)
{
	auto mgr = SystemdManager::connect();
	if (!mgr)
		return {};
	std::vector<std::string> argv;
	(void)waitFor(
	    [&] {
		    argv.clear();
		    auto pid = mgr->mainPid(dmUnitName(domid));
		    if (!pid || *pid == 0)
			    return false;
		    std::ifstream f(fmt::format("/proc/{}/cmdline", *pid));
		    std::string a;
		    while (std::getline(f, a, '\0'))
			    argv.push_back(a);
		    return !argv.empty() && argv.front() == kStandin;
	    },
	    std::chrono::seconds(10));
	if (argv.empty() || argv.front() != kStandin)
		return {};
	return argv;
}

std::vector<std::string> withChroot(std::vector<std::string> argv, const std::string &dir)
{
	for (size_t i = 0; i + 1 < argv.size(); i++)
		if (argv[i] == "-chroot")
			argv[i + 1] = dir;
	return argv;
}

BusProperties execTyped(BusProperties p)
{
	/* Type=exec: the job is done once QEMU was exec'd, what READY=1 of qemu-dm-exec says in (a). */
	BusProperties out;
	for (auto &x : p) {
		if (x.name == "NotifyAccess")
			continue;
		if (x.name == "Type")
			x.value = std::string("exec");
		out.push_back(x);
	}
	return out;
}

/* ---- P1 ---- */

double runTimed(const std::vector<std::string> &argv, const std::vector<std::string> &env, bool &ok);

/* `argv` with every mention of domain `from`'s runtime directory naming domain `to`'s. */
std::vector<std::string> retargetRuntimeDir(std::vector<std::string> argv, uint32_t from, uint32_t to)
{
	const std::string a = fmt::format("/run/qemu-dm/{}/", from), b = fmt::format("/run/qemu-dm/{}/", to);
	for (auto &x : argv)
		for (size_t pos; (pos = x.find(a)) != std::string::npos;)
			x.replace(pos, a.size(), b);
	return argv;
}

/* `argv` without the QMP monitor qemu-dm-exec adds for the never-root grant's end (its -chardev and -mon). */
std::vector<std::string> withoutReadyMonitor(const std::vector<std::string> &argv)
{
	std::vector<std::string> out;
	for (size_t i = 0; i < argv.size(); i++) {
		if (i + 1 < argv.size() && (argv[i] == "-chardev" || argv[i] == "-mon") &&
		    argv[i + 1].find("qemu-dm-ready") != std::string::npos) {
			i++;
			continue;
		}
		out.push_back(argv[i]);
	}
	return out;
}

/*
 * P1 in one privilege model. Root (keys "p1."): QEMU starts as root and
 * drops itself (-runas, -chroot); also the breakdown by directive. Never
 * root (keys "p1nr."): the unit runs as the DM's user, bound to
 * qemu-dm-grant@N (ACLs on the Xen nodes before the start) and
 * qemu-dm-ready@N (after QEMU answered QMP: the access revoked), and a start
 * returns once qemu-dm-ready@N is up.
 */
void p1(const Settings &cfg, Out &out, bool neverRoot)
{
	const std::string k = neverRoot ? "p1nr." : "p1.";
	const std::string what = neverRoot ? "P1 never-root" : "P1";
	const uint32_t kDomA = neverRoot ? 21 : 11, kDomB = neverRoot ? 22 : 12, kDomD = neverRoot ? 24 : 14;

	/* Warm-up, untimed: fills the QEMU probe cache as any first start on a host does. */
	std::string err;
	if (capiStart(kDomA, {}, err) < 0) {
		out.fail(what + ": warm-up start through the C API: " + err);
		return;
	}
	const std::vector<std::string> argvA = execdArgv(kDomA);
	char *e = nullptr;
	if (qemu_dm_stop(kDomA, 30, &e) < 0)
		out.fail(what + ": warm-up stop: " + capiError(e));
	if (argvA.empty()) {
		out.fail(what + ": could not read the argv QEMU was exec'd with");
		return;
	}
	out.info(k + "execd_argv", fmt::format("{}", fmt::join(argvA, " ")));

	/* (b): what planDmUnit() builds for the same request, as qemu-dm@N with the host drop-ins. */
	auto ctl = DmController::open();
	if (!ctl) {
		out.fail(what + ": " + ctl.error().message());
		return;
	}
	DmRequest req;
	req.domid = kDomB;
	req.domainCheck = false;
	req.qemuArgv = { kStandin };
	auto plan = ctl->plan(req);
	if (!plan) {
		out.fail(what + ": plan: " + plan.error().message());
		return;
	}
	std::string runtimeDir;
	for (const auto &p : plan->properties)
		if (auto *dirs = std::get_if<Strings>(&p.value);
		    p.name == "RuntimeDirectory" && dirs && !dirs->items.empty())
			runtimeDir = "/run/" + dirs->items.front();
	BareUnit b{ dmUnitName(kDomB), execTyped(plan->properties),
		    withChroot(retargetRuntimeDir(argvA, kDomA, kDomB), runtimeDir) };
	if (neverRoot)
		b.ready = fmt::format("qemu-dm-ready@{}.service", kDomB);
	/* -runas of (a)'s argv is domain A's uid; (b) runs as its own. */
	for (size_t i = 0; i + 1 < b.execStart.size(); i++)
		if (b.execStart[i] == "-runas")
			b.execStart[i + 1] = fmt::format("{}:{}", plan->identity.uid, plan->identity.gid);
	/* (c) and (d) have no grant to end: no QMP monitor for it. */
	const std::vector<std::string> bare = withoutReadyMonitor(b.execStart);
	BareUnit c{ "qemu-dm-bench-plain.service", { { "Type", std::string("exec") } }, withChroot(bare, "/") };

	const std::vector<DropInLine> host = hostDropInLines();
	out.info(k + "host_dropin_lines", std::to_string(host.size()));
	if (host.empty())
		out.fail(what + ": no host drop-ins in " + std::string(kDropInDir));

	/*
	 * (d) libxl: the chroot directory it creates (mode 0000), its log file, the
	 * same argv; libxl passes -runas and -chroot under dm_restrict whatever
	 * qemu-dm's model.
	 */
	const std::string libxlRoot = "/run/bench-libxl";
	(void)::mkdir(libxlRoot.c_str(), 0755);
	const std::string libxlChroot = fmt::format("{}/qemu-root-{}", libxlRoot, kDomD);
	std::vector<std::string> argvD = withChroot(bare, libxlChroot);
	const std::string runasD = fmt::format("{}:{}", kRangeBase + kDomD, plan->identity.gid);
	if (std::find(argvD.begin(), argvD.end(), "-runas") == argvD.end())
		argvD.insert(argvD.end(), { "-runas", runasD });
	if (std::find(argvD.begin(), argvD.end(), "-chroot") == argvD.end())
		argvD.insert(argvD.end(), { "-chroot", libxlChroot });
	for (size_t i = 0; i + 1 < argvD.size(); i++)
		if (argvD[i] == "-runas")
			argvD[i + 1] = runasD;

	auto libxlStartStop = [&](double &startUs, double &stopUs) -> bool {
		auto t0 = Clock::now();
		(void)::mkdir(libxlChroot.c_str(), 0000);
		int logFd = ::open(fmt::format("{}/qemu-dm-{}.log", libxlRoot, kDomD).c_str(),
				   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
		int pp[2];
		if (logFd < 0 || nullFd < 0 || ::pipe2(pp, O_CLOEXEC) < 0)
			return false;
		std::vector<char *> av;
		for (auto &a : argvD)
			av.push_back(const_cast<char *>(a.c_str()));
		av.push_back(nullptr);
		pid_t pid = ::fork();
		if (pid == 0) {
			/* libxl__spawn_spawn's inner child, libxl__local_dm_preexec_restrict, libxl__exec. */
			::setsid();
			if (::unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0)
				::_exit(126);
			const std::pair<int, rlim_t> limits[] = { { RLIMIT_FSIZE, 256 * 1024 },
								  { RLIMIT_CORE, 0 },
								  { RLIMIT_MSGQUEUE, 0 },
								  { RLIMIT_LOCKS, 0 },
								  { RLIMIT_MEMLOCK, 0 } };
			for (auto [res, v] : limits) {
				rlimit rl{ v, v };
				if (::setrlimit(res, &rl) < 0)
					::_exit(126);
			}
			::dup2(nullFd, 0);
			::dup2(logFd, 1);
			::dup2(logFd, 2);
			::signal(SIGPIPE, SIG_DFL);
			::setenv("XEN_DOMAIN_ID", std::to_string(kDomD).c_str(), 1);
			::execv(av[0], av.data());
			::_exit(127);
		}
		::close(pp[1]);
		::close(logFd);
		::close(nullFd);
		char x;
		while (::read(pp[0], &x, 1) < 0 && errno == EINTR) {
		} /* EOF: the CLOEXEC pipe closed at exec */
		::close(pp[0]);
		startUs = usSince(t0);
		if (pid < 0)
			return false;
		auto t1 = Clock::now();
		(void)::kill(pid, SIGTERM);
		int st = 0;
		while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		}
		stopUs = usSince(t1);
		return WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
	};

	/*
	 * Never root, (b0): the DM unit's confinement alone, without the grant's
	 * units: a unit outside qemu-dm@ with the host drop-ins' lines but the
	 * [Unit] ones naming qemu-dm-grant@%i/qemu-dm-ready@%i, (b)'s properties,
	 * the argv without the QMP monitor of the grant's end.
	 */
	BareUnit b0{ "qemu-dm-bench-confined.service", b.properties, bare };
	/*
	 * qemu-dm-userdb answers only for a loaded qemu-dm@N, and systemd needs a
	 * record even for a numeric User=: the range base user of the bed's
	 * /etc/passwd instead (a files lookup, microseconds against milliseconds).
	 */
	for (auto &p : b0.properties)
		if (p.name == "User" || p.name == "Group")
			p.value = std::string("xen-qemuuser-range-base");
	const fs::path b0Dir = fmt::format("/run/systemd/system/{}.d", b0.name);
	if (neverRoot) {
		fs::create_directories(b0Dir);
		std::string text;
		for (const char *section : { "Unit", "Service" }) {
			text += fmt::format("[{}]\n", section);
			for (const auto &l : host)
				if (l.section == section &&
				    (l.section != "Unit" || l.property.value.find("%i") == std::string::npos))
					text += fmt::format("{}={}\n", l.property.name, l.property.value);
		}
		std::ofstream(b0Dir / "50-bench-confined.conf") << text;
		bool reloaded = false;
		(void)runTimed({ "/usr/bin/systemctl", "daemon-reload" }, {}, reloaded);
		if (!reloaded)
			out.fail(what + " (b0): systemctl daemon-reload failed");
	}

	for (int round = 0; round < cfg.p1Rounds; round++) {
		/* Interleaved, so that noise from the other helpers hits every variant alike. */
		auto t0 = Clock::now();
		int r = capiStart(kDomA, {}, err);
		double aStart = usSince(t0);
		if (r < 0) {
			out.fail(what + " (a): " + err);
		} else {
			out.sample(k + "a.start", aStart);
			auto t1 = Clock::now();
			if (qemu_dm_stop(kDomA, 30, &e) < 0)
				out.fail(what + " (a) stop: " + capiError(e));
			else
				out.sample(k + "a.stop", usSince(t1));
		}
		double s, t;
		double x = 0;
		if (bareStartStop(b, s, t, err, &x)) {
			out.sample(k + "b.start", s);
			out.sample(k + "b.stop", t);
			if (neverRoot)
				out.sample(k + "b.start_exec", x);
		} else {
			out.fail(what + " (b): " + err);
		}
		if (neverRoot) {
			if (bareStartStop(b0, s, t, err)) {
				out.sample(k + "b0.start", s);
				out.sample(k + "b0.stop", t);
			} else {
				out.fail(what + " (b0): " + err);
			}
		}
		if (bareStartStop(c, s, t, err)) {
			out.sample(k + "c.start", s);
			out.sample(k + "c.stop", t);
		} else {
			out.fail(what + " (c): " + err);
		}
		if (libxlStartStop(s, t)) {
			out.sample(k + "d.start", s);
			out.sample(k + "d.stop", t);
		} else {
			out.fail(what + " (d): libxl's way did not start or stop the stand-in");
		}
	}

	/* The breakdown is of the root model's policy. */
	if (neverRoot) {
		fs::remove_all(b0Dir);
		bool reloaded = false;
		(void)runTimed({ "/usr/bin/systemctl", "daemon-reload" }, {}, reloaded);
		return;
	}

	/*
	 * The breakdown: units outside qemu-dm@ (no host drop-in applies), each
	 * with its own drop-in in /run/systemd/system/NAME.d/ holding the host
	 * drop-ins' lines (as the generator wrote them) and the per-domain
	 * properties of (b) sent as transient properties, with one group removed,
	 * or only one group kept, or one directive removed.
	 */
	std::set<std::string> groupNames, directiveNames;
	auto note = [&](const std::string &name) {
		std::string g = groupOf(name);
		if (!g.empty()) {
			groupNames.insert(g);
			directiveNames.insert(name);
		}
		if (g == "other")
			out.info("p1.ungrouped", name);
	};
	for (const auto &l : host)
		note(l.property.name);
	for (const auto &p : b.properties)
		note(p.name);

	struct Variant {
		std::string key;
		std::function<bool(const std::string &)> keep;
		int rounds;
		std::string unit;
		std::string extra = {}; /* more [Service] lines of the drop-in */
	};
	std::vector<Variant> variants;
	variants.push_back({ "all", [](const std::string &) { return true; }, cfg.groupRounds, {} });
	variants.push_back({ "none", [](const std::string &n) { return groupOf(n).empty(); }, cfg.groupRounds, {} });
	for (const auto &g : groupNames) {
		variants.push_back(
		    { "without." + g, [g](const std::string &n) { return groupOf(n) != g; }, cfg.groupRounds, {} });
		variants.push_back({ "only." + g,
				     [g](const std::string &n) {
					     auto x = groupOf(n);
					     return x.empty() || x == g;
				     },
				     cfg.groupRounds,
				     {} });
	}
	/*
	 * The allow-list view is one protection made of several directives: its
	 * RootDirectory= holds nothing without the binds and tmpfs that fill it
	 * (a unit without BindReadOnlyPaths= alone cannot even exec), so they are
	 * removed together, as "without RootDirectory".
	 */
	static const std::set<std::string> kViewParts = { "BindReadOnlyPaths", "TemporaryFileSystem", "MountAPIVFS" };
	for (const auto &d : directiveNames) {
		if (kViewParts.count(d) && directiveNames.count("RootDirectory"))
			continue;
		bool view = d == "RootDirectory";
		variants.push_back(
		    { "without-directive." + d,
		      [d, view](const std::string &n) { return n != d && !(view && kViewParts.count(n)); },
		      cfg.directiveRounds,
		      {} });
	}

	/*
	 * The same protection for less: directives whose every effect another
	 * line of the policy has already (systemd.exec(5) of 252), each removed
	 * alone, and the kernel-tunables pair replaced by one read-only /sys
	 * (with ProcSubset=pid no /proc/sys or other non-pid /proc entry is
	 * visible, so what ProtectKernelTunables= and ProtectControlGroups= add
	 * beyond that is /sys read-only).
	 */
	auto present = [&](const std::string &d) { return directiveNames.count(d) > 0; };
	if (present("ProtectClock") && present("SystemCallFilter") && present("PrivateDevices"))
		variants.push_back({ "alt.no-ProtectClock",
				     [](const std::string &n) { return n != "ProtectClock"; },
				     cfg.groupRounds,
				     {} });
	if (present("ProtectKernelModules") && present("SystemCallFilter"))
		variants.push_back({ "alt.no-ProtectKernelModules",
				     [](const std::string &n) { return n != "ProtectKernelModules"; },
				     cfg.groupRounds,
				     {} });
	if (present("ProtectKernelTunables") && present("ProtectControlGroups") && present("ProcSubset"))
		variants.push_back(
		    { "alt.sys-read-only",
		      [](const std::string &n) { return n != "ProtectKernelTunables" && n != "ProtectControlGroups"; },
		      cfg.groupRounds,
		      {},
		      "ReadOnlyPaths=/sys\n" });

	std::vector<fs::path> dropInDirs;
	for (size_t i = 0; i < variants.size(); i++) {
		auto &v = variants[i];
		v.unit = fmt::format("qemu-dm-bench-{}.service", i);
		fs::path dir = fmt::format("/run/systemd/system/{}.d", v.unit);
		fs::create_directories(dir);
		dropInDirs.push_back(dir);
		std::string text;
		for (const char *section : { "Unit", "Service" }) {
			text += fmt::format("[{}]\n", section);
			for (const auto &l : host)
				if (l.section == section && v.keep(l.property.name) &&
				    (l.section != "Unit" || l.property.value.find("%i") == std::string::npos))
					text += fmt::format("{}={}\n", l.property.name, l.property.value);
			if (std::string_view(section) == "Service")
				text += v.extra;
		}
		std::ofstream(dir / "50-bench-variant.conf") << text;
	}
	bool reloaded = false;
	(void)runTimed({ "/usr/bin/systemctl", "daemon-reload" }, {}, reloaded);
	if (!reloaded)
		out.fail("P1 breakdown: systemctl daemon-reload failed");

	int maxRounds = 0;
	for (const auto &v : variants)
		maxRounds = std::max(maxRounds, v.rounds);
	for (int round = 0; round < maxRounds && reloaded; round++) {
		for (const auto &v : variants) {
			if (round >= v.rounds)
				continue;
			BusProperties props;
			for (const auto &p : b.properties)
				if (v.keep(p.name))
					props.push_back(p);
			BareUnit u{ v.unit, props, b.execStart };
			double s, t;
			if (bareStartStop(u, s, t, err)) {
				out.sample("p1.g." + v.key + ".start", s);
				out.sample("p1.g." + v.key + ".stop", t);
			} else {
				out.fail(fmt::format("P1 breakdown {}: {}", v.key, err));
			}
		}
	}
	for (const auto &d : dropInDirs)
		fs::remove_all(d);
	(void)runTimed({ "/usr/bin/systemctl", "daemon-reload" }, {}, reloaded);
}

/* ---- P4 lookups ---- */

struct LookupTarget {
	std::string name;
	uid_t uid;
};

/* getpwuid_r and getpwnam_r of `t`, `n` times each; false if one did not resolve. */
bool lookups(const LookupTarget &t, int n, const std::string &prefix, Out &out, const std::atomic<bool> *stop)
{
	char buf[4096];
	passwd pw, *res = nullptr;
	for (int i = 0; i < n || stop; i++) {
		if (stop && stop->load())
			break;
		auto t0 = Clock::now();
		int r = ::getpwuid_r(t.uid, &pw, buf, sizeof(buf), &res);
		double a = usSince(t0);
		if (r != 0 || !res || t.name != pw.pw_name) {
			out.fail(fmt::format("P4: getpwuid({}) did not return {}: {}", t.uid, t.name,
					     r != 0 ? std::strerror(r)
					     : res  ? "another name"
						    : "not found"));
			return false;
		}
		t0 = Clock::now();
		r = ::getpwnam_r(t.name.c_str(), &pw, buf, sizeof(buf), &res);
		double b = usSince(t0);
		if (r != 0 || !res || pw.pw_uid != t.uid) {
			out.fail(fmt::format("P4: getpwnam({}) did not return uid {}", t.name, t.uid));
			return false;
		}
		out.sample(prefix + ".getpwuid", a);
		out.sample(prefix + ".getpwnam", b);
		/*
		 * During a burst: 100 pairs a second, as ps or the journal would ask.
		 * Unpaced, each lookup's nss-systemd also asking PID 1's
		 * io.systemd.DynamicUser thousands of times a second starved PID 1
		 * and timed every start of the burst out.
		 */
		if (stop)
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	return true;
}

pid_t userdbPid()
{
	auto mgr = SystemdManager::connect();
	if (!mgr)
		return -1;
	auto pid = mgr->mainPid("qemu-dm-userdb.service");
	return pid && *pid ? static_cast<pid_t>(*pid) : -1;
}

void p4idle(const Settings &cfg, Out &out)
{
	constexpr uint32_t kDom = 250;
	std::string err;
	if (capiStart(kDom, {}, err) < 0) {
		out.fail("P4: " + err);
		return;
	}
	LookupTarget dm{ fmt::format("xen-qemuuser-{}", kDom), kRangeBase + kDom };
	LookupTarget local{ "xen-qemuuser-range-base", kRangeBase };
	/* Warm-up: NSS modules loaded, as in a long-running toolstack. */
	(void)lookups(dm, 10, "p4.warmup", out, nullptr);
	(void)lookups(local, 10, "p4.warmup", out, nullptr);
	(void)lookups(dm, cfg.lookups, "p4.idle.dm", out, nullptr);
	(void)lookups(local, cfg.lookups, "p4.idle.passwd", out, nullptr);
	/*
	 * Where the time goes: nss-systemd asks every service in
	 * /run/systemd/userdb/ (PID 1's io.systemd.DynamicUser too); with
	 * $SYSTEMD_ONLY_USERDB it asks only ours.
	 */
	::setenv("SYSTEMD_ONLY_USERDB", "org.xenproject.QemuDm", 1);
	(void)lookups(dm, cfg.lookups, "p4.idle.dm_only_ours", out, nullptr);
	::unsetenv("SYSTEMD_ONLY_USERDB");
	/*
	 * Cold: the service stopped (as after its idle exit), so this lookup's
	 * connection socket-activates it. It stays while a DM unit is loaded
	 * (docs/userdb.md), so this is what the first lookup after a quiet spell
	 * with no DM sees, e.g. the first DM start's User=.
	 */
	auto mgr = SystemdManager::connect();
	for (int i = 0; mgr && i < cfg.coldLookups; i++) {
		/* Setup, not timed: under the socket's trigger limit (20 activations in 2 s for Accept=no). */
		std::this_thread::sleep_for(std::chrono::milliseconds(250));
		if (auto st = mgr->stopUnit("qemu-dm-userdb.service", std::chrono::seconds(10)); !st) {
			out.fail("P4: stop qemu-dm-userdb.service: " + st.error().message());
			break;
		}
		/*
		 * Its start rate limit (5 starts in 10 s) would fail the 6th start, and
		 * with it the socket, for the rest of the run: every later lookup
		 * failed. reset-failed resets that counter.
		 */
		(void)mgr->resetFailed("qemu-dm-userdb.service");
		char buf[4096];
		passwd pw, *res = nullptr;
		auto t0 = Clock::now();
		int r = ::getpwuid_r(dm.uid, &pw, buf, sizeof(buf), &res);
		double a = usSince(t0);
		if (r != 0 || !res || dm.name != pw.pw_name) {
			out.fail(fmt::format("P4: cold getpwuid({}) did not return {}", dm.uid, dm.name));
			break;
		}
		out.sample("p4.cold.dm.getpwuid", a);
	}
	/* The DM's unit stays for P2 (lookups during the burst); P2 stops it. */
}

/* ---- P2 ---- */

/* Root: bursts over the system bus and one over the private socket, with P4's lookups; never root ("p2nr"): one burst. */
void p2(const Settings &cfg, Out &out, bool neverRoot)
{
	constexpr uint32_t kDomLookup = 250;
	LookupTarget dm{ fmt::format("xen-qemuuser-{}", kDomLookup), kRangeBase + kDomLookup };
	/*
	 * key "p2": the C API's own choice (the system bus, see dbus/systemd_bus.h);
	 * "p2.private": the same burst over PID 1's private socket, its fallback.
	 */
	auto burst = [&](const std::string &key, int round, int n) {
		const bool main = key == "p2";
		const pid_t udb = userdbPid(); /* socket-activated: it may have exited when idle and come back */
		long pid1Before = rssKiB(1), udbBefore = udb > 0 ? rssKiB(udb) : -1;
		const double udbCpuBefore = udb > 0 ? cpuMs(udb) : -1;
		std::atomic<long> udbMax{ udbBefore };
		std::atomic<bool> stopSampling{ false };
		std::thread sampler([&] {
			while (!stopSampling) {
				long r = udb > 0 ? rssKiB(udb) : -1;
				if (r > udbMax)
					udbMax = r;
				std::this_thread::sleep_for(
				    std::chrono::milliseconds(5)); /* a sampler, not the start path */
			}
		});
		std::atomic<bool> stopLookups{ false };
		std::thread looker([&] {
			if (!neverRoot && key != "p2.same")
				(void)lookups(dm, 0, main ? "p4.burst.dm" : "p4.burst_private.dm", out, &stopLookups);
		});

		std::mutex m;
		std::condition_variable cv;
		bool go = false;
		std::atomic<int> started{ 0 };
		std::vector<std::thread> threads;
		for (int i = 0; i < n; i++) {
			threads.emplace_back([&, i] {
				{
					std::unique_lock<std::mutex> l(m);
					cv.wait(l, [&] { return go; });
				}
				std::string err;
				auto t0 = Clock::now();
				if (capiStart(static_cast<uint32_t>(i + 1), {}, err) < 0) {
					out.fail(fmt::format("P2: domain {} ({}): {}", i + 1,
							     neverRoot		   ? "never-root"
							     : key == "p2.private" ? "private socket"
							     : key == "p2.same"	   ? "system bus, same size"
										   : "default: system bus",
							     err));
					return;
				}
				out.sample(key + ".start_latency", usSince(t0));
				started++;
			});
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(100)); /* let every thread reach the wait */
		auto t0 = Clock::now();
		{
			std::lock_guard<std::mutex> l(m);
			go = true;
		}
		cv.notify_all();
		for (auto &t : threads)
			t.join();
		double wall = usSince(t0);
		stopLookups = true;
		looker.join();
		long pid1After = rssKiB(1);
		stopSampling = true;
		sampler.join();
		out.sample(key + ".burst_wall", wall);
		out.sample(key + ".dms_per_s", started * 1e6 / wall); /* a rate, not microseconds */
		/* Only the first burst grows PID 1: later ones reuse what the stopped units freed. */
		if (started > 0 && round == 0 && main)
			out.sample("p2.pid1_rss_kib_per_unit", static_cast<double>(pid1After - pid1Before) / started);
		if (main) {
			out.sample("p2.pid1_rss_kib_before", static_cast<double>(pid1Before));
			out.sample("p2.pid1_rss_kib_after", static_cast<double>(pid1After));
			out.sample("p2.userdb_rss_kib_before", static_cast<double>(udbBefore));
			out.sample("p2.userdb_rss_kib_max", static_cast<double>(udbMax.load()));
			if (udb > 0 && udbCpuBefore >= 0)
				out.sample("p2.userdb_cpu_ms", cpuMs(udb) - udbCpuBefore);
		}
		if (started != n)
			out.fail(fmt::format("P2: {} of {} DMs started ({})", started.load(), n, key));

		/* Stop them all, concurrently too. */
		threads.clear();
		auto t1 = Clock::now();
		for (int i = 0; i < n; i++) {
			threads.emplace_back([&, i] {
				char *e = nullptr;
				if (qemu_dm_stop(static_cast<uint32_t>(i + 1), 30, &e) < 0) {
					std::string msg = capiError(e);
					if (msg.find("no device model is running") == std::string::npos)
						out.fail(fmt::format("P2 stop: {}", msg));
				}
			});
		}
		for (auto &t : threads)
			t.join();
		out.sample(key + ".stop_wall", usSince(t1));
		int left = 0;
		for (int i = 0; i < n; i++)
			left += processesOf(kRangeBase + static_cast<uid_t>(i + 1));
		if (left)
			out.fail(fmt::format("P2: {} processes survived the stop", left));
		if (main)
			out.sample("p2.pid1_rss_kib_stopped", static_cast<double>(rssKiB(1)));
	};
	/*
	 * Every direct connection to PID 1's private socket gets every signal PID 1
	 * sends; on the system bus the bus daemon delivers only what a client's
	 * matches ask for. The same burst over both.
	 */
	if (neverRoot) {
		burst("p2nr", 0, cfg.burst);
		return;
	}
	if (auto m = SystemdManager::connect())
		out.info("p2.address", m->address());
	/*
	 * The private socket once, after the default rounds: a burst there takes
	 * minutes (N x N signals), and PID 1 is left busy for a while after it.
	 */
	for (int round = 0; round < cfg.burstRounds; round++)
		burst("p2", round, cfg.burst);
	/* The same size over the system bus just before, for the ratio (the private socket's cost grows as N x N). */
	if (cfg.privateBurst != cfg.burst)
		burst("p2.same", 0, cfg.privateBurst);
	out.info("p2.private.n", std::to_string(cfg.privateBurst));
	::setenv("QEMU_DM_SYSTEMD_ADDRESS", "unix:path=/run/systemd/private", 1);
	burst("p2.private", 0, cfg.privateBurst);
	::unsetenv("QEMU_DM_SYSTEMD_ADDRESS");
	char *e = nullptr;
	if (qemu_dm_stop(kDomLookup, 30, &e) < 0)
		out.fail("P4: stop: " + capiError(e));
}

/* ---- P3 ---- */

void p3(const Settings &cfg, Out &out)
{
	constexpr uint32_t kDom = 300;
	const uid_t target = kRangeBase + kDom;
	const std::string n = std::to_string(cfg.reapProcesses);
	auto startTree = [&](bool ignoreTerm) -> bool {
		std::fprintf(stderr, "qemu-dm-bench: P3: starting a DM with %d escaped processes\n", cfg.reapProcesses);
		std::vector<std::string> args = { "-escape", n };
		if (ignoreTerm)
			args.insert(args.begin(), { "-behave", "ignore-term" });
		std::string err;
		if (capiStart(kDom, args, err) < 0) {
			out.fail("P3: " + err);
			return false;
		}
		if (!waitFor([&] { return processesOf(target) >= cfg.reapProcesses + 1; }, std::chrono::seconds(120))) {
			out.fail(fmt::format("P3: only {} of {} processes came up", processesOf(target),
					     cfg.reapProcesses + 1));
			return false;
		}
		return true;
	};
	auto survivors = [&](const std::string &what) {
		int left = processesOf(target);
		out.sample("p3." + what + ".survivors", left);
		if (left)
			out.fail(fmt::format("P3 {}: {} processes survived", what, left));
		auto mgr = SystemdManager::connect();
		if (mgr) {
			auto st = mgr->activeState(dmUnitName(kDom));
			if (st && *st != "inactive")
				out.fail(fmt::format("P3 {}: unit is {}", what, *st));
		}
	};

	for (int round = 0; round < cfg.reapRounds; round++) {
		char *e = nullptr;
		/* Graceful, processes that honour SIGTERM. */
		if (startTree(false)) {
			auto t0 = Clock::now();
			if (qemu_dm_stop(kDom, 30, &e) < 0)
				out.fail("P3 graceful: " + capiError(e));
			out.sample("p3.graceful.time", usSince(t0));
			survivors("graceful");
		}
		/* Graceful, ignoring SIGTERM: the shortest stop timeout the C API takes (1 s), then SIGKILL. */
		if (startTree(true)) {
			auto t0 = Clock::now();
			if (qemu_dm_stop(kDom, 1, &e) < 0)
				out.fail("P3 graceful-ignored: " + capiError(e));
			out.sample("p3.graceful_ignored.time", usSince(t0));
			survivors("graceful_ignored");
		}
		/* Destroy: SIGKILL of the cgroup at once. */
		if (startTree(true)) {
			auto t0 = Clock::now();
			if (qemu_dm_destroy(kDom, 30, &e) < 0)
				out.fail("P3 destroy: " + capiError(e));
			out.sample("p3.destroy.time", usSince(t0));
			survivors("destroy");
		}
		/*
		 * systemd's own kill, no qemu-dm code: KillUnit(all, SIGKILL) over the
		 * bus, until no process of the uid is left (what the reaper is timed to).
		 */
		if (startTree(true)) {
			auto mgr = SystemdManager::connect();
			if (!mgr) {
				out.fail("P3 KillUnit: " + mgr.error().message());
				continue;
			}
			auto t0 = Clock::now();
			if (auto k = mgr->killUnit(dmUnitName(kDom), "all", SIGKILL); !k)
				out.fail("P3 KillUnit: " + k.error().message());
			out.sample("p3.killunit_call.time", usSince(t0));
			while (processesOf(target) > 0) {
			}
			out.sample("p3.killunit.time", usSince(t0));
			(void)mgr->stopUnit(dmUnitName(kDom), std::chrono::seconds(30));
			(void)mgr->resetFailed(dmUnitName(kDom));
			survivors("killunit");
		}
		/*
		 * libxl's reaper on the same tree: setresuid(reaper, target, 0), then
		 * kill(-1, SIGKILL). Upstream sends it once and is done when the reaper
		 * exits ("kill1"); repeated until no process of the target uid is left
		 * (zombies included), the same end state destroy waits for ("time").
		 * kill(-1) itself cannot tell: it returns 0 while any other process of
		 * the namespace exists, even one it may not signal.
		 */
		if (startTree(true)) {
			int pp[2];
			if (::pipe2(pp, O_CLOEXEC) < 0) {
				out.fail("P3 reaper: pipe");
				continue;
			}
			auto t0 = Clock::now();
			pid_t pid = ::fork();
			if (pid == 0) {
				::close(pp[0]);
				if (::setresuid(kRangeBase, target, 0) < 0)
					::_exit(2);
				(void)::kill(-1, SIGKILL);
				(void)!::write(pp[1], "k", 1);
				while (processesOf(target) > 0)
					(void)::kill(-1, SIGKILL);
				::_exit(0);
			}
			::close(pp[1]);
			char k;
			if (pid > 0 && ::read(pp[0], &k, 1) == 1)
				out.sample("p3.reaper_once.time", usSince(t0));
			::close(pp[0]);
			int st = 0;
			while (pid > 0 && ::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
			}
			out.sample("p3.reaper.time", usSince(t0));
			if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
				out.fail("P3 reaper: the reaper failed");
			/* The unit ends when its main process died; wait for that (untimed), then count. */
			auto mgr = SystemdManager::connect();
			if (mgr)
				(void)mgr->stopUnit(dmUnitName(kDom), std::chrono::seconds(30));
			survivors("reaper");
		}
	}
}

/* ---- P5 ---- */

void writeText(const fs::path &p, const std::string &text)
{
	std::ofstream f(p);
	f << text;
}

double runTimed(const std::vector<std::string> &argv, const std::vector<std::string> &env, bool &ok)
{
	std::vector<char *> av, ev;
	for (auto &a : argv)
		av.push_back(const_cast<char *>(a.c_str()));
	av.push_back(nullptr);
	for (auto &a : env)
		ev.push_back(const_cast<char *>(a.c_str()));
	ev.push_back(nullptr);
	auto t0 = Clock::now();
	pid_t pid = ::fork();
	if (pid == 0) {
		::execve(av[0], av.data(), ev.data());
		::_exit(127);
	}
	int st = 0;
	while (pid > 0 && ::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	double us = usSince(t0);
	ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return us;
}

void p5(const Settings &cfg, Out &out)
{
	const fs::path dir = "/tmp/bench-generator";
	fs::remove_all(dir);
	fs::create_directories(dir / "realistic.d");
	fs::create_directories(dir / "many.d");
	/* A dom0 with guests that have NICs and a memory cap (qemu-dm.conf(5), EXAMPLES). */
	const std::string main = "[Users]\nRangeBaseUser=xen-qemuuser-range-base\nSharedUser=xen-qemuuser-shared\n\n"
				 "[Device Model]\nRestrict=yes\nQemu=/usr/libexec/xen-qemu-system-i386\n\n"
				 "[Limits]\nLimitCORE=0\nLimitFSIZE=infinity\nLimitMSGQUEUE=0\nLimitLOCKS=0\n"
				 "LimitMEMLOCK=0\nTasksMax=4096\n\n"
				 "[Logging]\nLogRateLimitIntervalSec=30s\nLogRateLimitBurst=1000\n";
	writeText(dir / "realistic.conf", main);
	writeText(dir / "realistic.d/50-local.conf",
		  "[Devices]\nDeviceAllow=/dev/net/tun rw\n\n[Limits]\nMemoryMax=1G\n");
	for (int i = 0; i < 100; i++) {
		std::string text = i % 2 ? fmt::format("[Limits]\nTasksMax={}\nMemoryMax={}M\n", 1000 + i, 512 + i)
					 : fmt::format("[Logging]\nLogRateLimitBurst={}\n", 1000 + i);
		writeText(dir / "many.d" / fmt::format("{:02d}-site.conf", i), text);
	}
	const std::string outDir = (dir / "out").string();
	auto gen = [&](const std::string &conf, const std::string &dropins, const std::string &key) {
		std::vector<std::string> env = { "QEMU_DM_CONFIG=" + (dir / conf).string(),
						 "QEMU_DM_CONFIG_DIR=" + (dir / dropins).string(),
						 "PATH=/usr/sbin:/usr/bin:/sbin:/bin" };
		for (int i = 0; i < cfg.generatorRounds; i++) {
			fs::remove_all(outDir);
			fs::create_directories(outDir);
			bool ok = false;
			double us = runTimed({ kGenerator, outDir, outDir, outDir }, env, ok);
			if (!ok || !fs::exists(fs::path(outDir) / "qemu-dm@.service.d")) {
				out.fail("P5: the generator failed with " + key);
				return;
			}
			if (fs::exists(fs::path(outDir) / "qemu-dm@.service.d/50-qemu-dm-config-invalid.conf")) {
				out.fail("P5: the generator found the " + key + " configuration invalid");
				return;
			}
			out.sample("p5." + key, us);
		}
	};
	for (int i = 0; i < cfg.generatorRounds; i++) {
		bool ok = false;
		double us = runTimed({ "/bin/true" }, {}, ok);
		if (ok)
			out.sample("p5.true", us);
	}
	gen("realistic.conf", "realistic.d", "realistic");
	gen("realistic.conf", "many.d", "dropins100");
	fs::remove_all(dir);
}

/* ---- the host side: statistics, table, docs/bench.md ---- */

struct Stat {
	double median = 0, min = 0, max = 0, p99 = 0;
	size_t n = 0;
};

Stat stat(std::vector<double> v)
{
	Stat s;
	if (v.empty())
		return s;
	std::sort(v.begin(), v.end());
	s.n = v.size();
	s.min = v.front();
	s.max = v.back();
	s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
	s.p99 = v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * 0.99))];
	return s;
}

struct Results {
	std::map<std::string, std::vector<double>> samples;
	std::map<std::string, std::vector<std::string>> info;
	std::vector<std::string> failures;

	void parse(const std::string &text)
	{
		std::istringstream in(text);
		std::string line;
		while (std::getline(in, line)) {
			if (line.size() < 2)
				continue;
			std::string rest = line.substr(2);
			if (line[0] == 'S') {
				auto sp = rest.rfind(' ');
				samples[rest.substr(0, sp)].push_back(std::atof(rest.c_str() + sp + 1));
			} else if (line[0] == 'I') {
				auto sp = rest.find(' ');
				info[rest.substr(0, sp)].push_back(sp == std::string::npos ? "" : rest.substr(sp + 1));
			} else if (line[0] == 'F') {
				failures.push_back(rest);
			}
		}
	}
	bool has(const std::string &k) const { return samples.count(k) && !samples.at(k).empty(); }
	Stat get(const std::string &k) const { return has(k) ? stat(samples.at(k)) : Stat{}; }
};

std::string ms(const Stat &s)
{
	if (!s.n)
		return "n/a";
	return fmt::format("{:.2f} ({:.2f}–{:.2f})", s.median / 1000, s.min / 1000, s.max / 1000);
}

std::string us(const Stat &s)
{
	if (!s.n)
		return "n/a";
	return fmt::format("{:.0f} ({:.0f}–{:.0f})", s.median, s.min, s.max);
}

std::string plain(const Stat &s, int prec = 1)
{
	if (!s.n)
		return "n/a";
	return fmt::format("{:.{}f} ({:.{}f}–{:.{}f})", s.median, prec, s.min, prec, s.max, prec);
}

std::string ratio(const Stat &a, const Stat &b)
{
	if (!a.n || !b.n || b.median <= 0)
		return "n/a";
	return fmt::format("{:.2f}×", a.median / b.median);
}

std::string firstLine(const std::string &cmd)
{
	auto r = testbed::runHost({ "/bin/sh", "-c", cmd }, std::chrono::seconds(10));
	if (!r || !r->ok())
		return "?";
	return r->out.substr(0, r->out.find('\n'));
}

std::string report(const Results &r, const Settings &cfg, const std::string &command, const std::string &loadStart)
{
	std::string o;
	auto line = [&](const std::string &s) { o += s + "\n"; };
	utsname u{};
	::uname(&u);
	auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
	char date[64];
	std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));

	line("# qemu-dm benchmarks");
	line("");
	line("Written by `qemu-dm-bench` (`make bench`, bench/qemu-dm-bench.cpp); do not edit by hand.");
	line("Every figure is a median with (min–max) over the repeated runs; every ratio is of two medians");
	line("of this same run. Speed is measured here, never asserted in tests.");
	line("");
	line(fmt::format("- date: {}", date));
	line(
	    fmt::format("- command: `{}`{}", command, cfg.quick ? " (quick: few iterations, not for comparison)" : ""));
	line(fmt::format("- machine: {} CPUs (nproc), kernel {} {}, {}", std::thread::hardware_concurrency(), u.release,
			 u.machine, firstLine("systemctl --version")));
	line(fmt::format("- tree: {}", firstLine("git -C " + std::string(QEMU_DM_SOURCE_ROOT) +
						 " describe --always --dirty 2>/dev/null || echo unknown")));
	line(fmt::format("- load (/proc/loadavg) at the start: {}; at the end: {}", loadStart,
			 firstLine("cat /proc/loadavg")));
	line("- model: each section names the PrivilegeModel= of the bed's qemu-dm.conf it ran with (set per "
	     "step, never the default); P1 runs in both");
	line("- where: a private systemd test bed (tests/testbed, systemd 252 as PID 1) with this build "
	     "installed; DM = tests/standin/dm-standin (drops privileges as QEMU does: -chroot, -runas)");
	line("");

	if (!r.failures.empty()) {
		line("## Failures (a DM that did not start or stop, a process that survived, a lookup that failed)");
		line("");
		for (const auto &f : r.failures)
			line("- " + f);
		line("");
	}

	/* The table of P1 (a)-(d) of one model (key prefix `k`). */
	auto p1Table = [&](const std::string &k, bool neverRoot) {
		auto a = r.get(k + "a.start"), b = r.get(k + "b.start"), c = r.get(k + "c.start"),
		     d = r.get(k + "d.start");
		line(neverRoot ? "## P1 never-root: start and stop of one device model, PrivilegeModel=never-root (ms)"
			       : "## P1: start and stop of one device model, PrivilegeModel=root (ms)");
		line("");
		line(fmt::format("{} rounds, interleaved a, b, c, d.", r.samples.at(k + "a.start").size()));
		line("");
		line("| path | start | stop |");
		line("|---|---|---|");
		line(fmt::format("| (a) `qemu_dm_start`/`qemu_dm_stop`, full policy, until {} | {} | {} |",
				 neverRoot ? "qemu-dm-ready@N is up (QEMU answered QMP, the access revoked)"
					   : "QEMU exec'd",
				 ms(a), ms(r.get(k + "a.stop"))));
		if (neverRoot) {
			line(fmt::format(
			    "| (b) bare `StartTransientUnit` of `qemu-dm@N` (same properties, Type=exec, host "
			    "drop-ins: qemu-dm-grant@N and qemu-dm-ready@N come with it), then `StartUnit` "
			    "of qemu-dm-ready@N until done | {} | {} |",
			    ms(b), ms(r.get(k + "b.stop"))));
			line(fmt::format(
			    "| (b) until its `StartTransientUnit` job is done (the grant done, QEMU exec'd; "
			    "no QMP wait) | {} | |",
			    ms(r.get(k + "b.start_exec"))));
			line(fmt::format(
			    "| (b0) the confinement alone: (b)'s properties and host drop-in lines on a unit "
			    "outside `qemu-dm@` without the grant's two units (no BindsTo=), until QEMU exec'd "
			    "| {} | {} |",
			    ms(r.get(k + "b0.start")), ms(r.get(k + "b0.stop"))));
		} else {
			line(fmt::format("| (b) bare `StartTransientUnit` of `qemu-dm@N` (same properties, Type=exec, "
					 "host drop-ins) "
					 "| {} | {} |",
					 ms(b), ms(r.get(k + "b.stop"))));
		}
		line(fmt::format("| (c) bare `StartTransientUnit`, unconfined (Type=exec only) | {} | {} |", ms(c),
				 ms(r.get(k + "c.stop"))));
		line(fmt::format(
		    "| (d) libxl's way: fork, setsid, unshare(NEWNS\\|NEWIPC), rlimits, exec; SIGTERM + waitpid "
		    "| {} | {} |",
		    ms(d), ms(r.get(k + "d.stop"))));
		line("");
		line(fmt::format(
		    "- **(a)/(b) = {}** (goal ≤ 1.15): what qemu-dm adds to the same unit{} (C API: config, "
		    "uid policy with NSS lookups, plan, QEMU probe cache, host-policy check; qemu-dm-exec's "
		    "checks and its exec).",
		    ratio(a, b), neverRoot ? " and the same grant and ready units" : ""));
		if (neverRoot) {
			auto bx = r.get(k + "b.start_exec");
			line(fmt::format(
			    "- (b)/(c) = {}: the confinement, the two units of the grant "
			    "and the wait for QEMU's QMP answer; without that wait, (b) until its job / (c) "
			    "= {}; the QMP wait and revocation: (b) − (b) until its job = {:.2f} ms.",
			    ratio(b, c), ratio(bx, c), b.n && bx.n ? (b.median - bx.median) / 1000 : 0.0));
			auto b0 = r.get(k + "b0.start");
			line(fmt::format(
			    "- **(b0)/(c) = {}** (the goal's measure for this model: the confinement itself); "
			    "the grant's two units: (b) until its job − (b0) = {:.2f} ms; (b)/(b0) = {}.",
			    ratio(b0, c), bx.n && b0.n ? (bx.median - b0.median) / 1000 : 0.0, ratio(b, b0)));
		} else {
			line(fmt::format("- **(b)/(c) = {}** (goal ≤ 7): the cost of the confinement itself.",
					 ratio(b, c)));
		}
		line(fmt::format("- (a)/(d) = {}, (c)/(d) = {}: systemd against libxl's fork+exec.", ratio(a, d),
				 ratio(c, d)));
		line(fmt::format("- stop: (a)/(b) = {}, (b)/(c) = {}.", ratio(r.get(k + "a.stop"), r.get(k + "b.stop")),
				 ratio(r.get(k + "b.stop"), r.get(k + "c.stop"))));
		if (r.info.count(k + "execd_argv"))
			line(fmt::format("- QEMU's argv as exec'd in (a), used for (b)–(d) ({}chroot: (b) the unit's "
					 "RuntimeDirectory, (c) `/`, (d) libxl's mode-0000 directory): `{}`",
					 neverRoot ? "(c) and (d) without the QMP monitor of the grant's end, (d) "
						     "with libxl's -runas and -chroot; "
						   : "",
					 r.info.at(k + "execd_argv").front()));
		line("");
	};
	if (r.has("p1.a.start"))
		p1Table("p1.", false);

	if (r.has("p1.a.start")) {
		auto all = r.get("p1.g.all.start"), none = r.get("p1.g.none.start");
		if (all.n) {
			line("### The confinement cost by directive group (start, ms)");
			line("");
			line(
			    "Units outside `qemu-dm@` (no host drop-in applies), each with its own drop-in holding the "
			    "host drop-ins' lines as the generator wrote them, and (b)'s per-domain transient "
			    "properties; with one group removed, or only one group kept (plus what is no "
			    "confinement: type, logging, slice, runtime directory). \"all\" is (b) under another "
			    "name.");
			line("");
			line(fmt::format("all groups: {}; no group: {}; all/none = {}.", ms(all), ms(none),
					 ratio(all, none)));
			line("");
			line("| group | without it | saves (all − without) | only it | adds (only − none) |");
			line("|---|---|---|---|---|");
			for (const auto &[k, v] : r.samples) {
				const std::string pre = "p1.g.without.";
				if (k.rfind(pre, 0) != 0 || k.size() < 6 || k.substr(k.size() - 6) != ".start")
					continue;
				std::string g = k.substr(pre.size(), k.size() - pre.size() - 6);
				auto w = stat(v), only = r.get("p1.g.only." + g + ".start");
				line(fmt::format("| {} | {} | {:+.2f} | {} | {:+.2f} |", g, ms(w),
						 (all.median - w.median) / 1000, ms(only),
						 only.n ? (only.median - none.median) / 1000 : 0.0));
			}
			line("");
			if (r.has("p1.g.alt.sys-read-only.start") || r.has("p1.g.alt.no-ProtectClock.start")) {
				line("### The same protection at a different cost (start, ms)");
				line("");
				line("| variant of the full set | start | saves (all − it) | why the protection is the "
				     "same |");
				line("|---|---|---|---|");
				const std::pair<std::string, std::string> alts[] = {
					{ "alt.no-ProtectClock", "ProtectClock= is a filter of @clock, no "
								 "CAP_SYS_TIME/CAP_WAKE_ALARM and no rtc device: "
								 "SystemCallFilter=~@clock, the bounding set and "
								 "PrivateDevices= have each already" },
					{ "alt.no-ProtectKernelModules",
					  "ProtectKernelModules= is a filter of @module, no CAP_SYS_MODULE and an "
					  "inaccessible "
					  "/usr/lib/modules: the first two are there already, and the modules "
					  "directory is "
					  "read-only anyway (ProtectSystem=strict)" },
					{ "alt.sys-read-only",
					  "ProtectKernelTunables= + ProtectControlGroups= replaced by "
					  "ReadOnlyPaths=/sys: with "
					  "ProcSubset=pid no /proc/sys or other non-pid /proc file is visible, so what "
					  "they add is "
					  "/sys (and /sys/fs/cgroup) read-only, which one mount gives" },
				};
				for (const auto &[key, why] : alts) {
					auto alt = r.get("p1.g." + key + ".start");
					if (!alt.n)
						continue;
					line(fmt::format("| {} | {} | {:+.2f} | {} |", key.substr(4), ms(alt),
							 (all.median - alt.median) / 1000, why));
				}
				line("");
				line("Not taken: the policy keeps all four directives (docs/confinement.md, the "
				     "kernel row). `systemd-analyze security` reads the directives, not their "
				     "effect: without them a DM unit scores 0.6 worse, above the gates of both "
				     "models (1.3 root, 0.5 never-root); and the replacements' effect would hang "
				     "on `ProcSubset=` and the `SystemCallFilter=` deny list, which an "
				     "administrator's drop-in may relax.");
				line("");
			}
			line("### Single directives removed from the full set (start, ms)");
			line("");
			line(fmt::format("{} rounds each, against \"all\" above: a saving smaller than the spread of "
					 "\"all\" is noise (the negative ones show how large it is).",
					 cfg.directiveRounds));
			line("");
			line("| directive | without it | saves (all − without) |");
			line("|---|---|---|");
			std::vector<std::pair<double, std::string>> rows;
			for (const auto &[k, v] : r.samples) {
				const std::string pre = "p1.g.without-directive.";
				if (k.rfind(pre, 0) != 0 || k.substr(k.size() - 6) != ".start")
					continue;
				auto w = stat(v);
				rows.push_back({ all.median - w.median,
						 fmt::format("| {} | {} | {:+.2f} |",
							     k.substr(pre.size(), k.size() - pre.size() - 6), ms(w),
							     (all.median - w.median) / 1000) });
			}
			std::sort(rows.begin(), rows.end(), [](auto &x, auto &y) { return x.first > y.first; });
			for (const auto &row : rows)
				line(row.second);
			line("");
			if (r.info.count("p1.ungrouped"))
				line(fmt::format("Directives in no group (counted as \"other\"): {}.",
						 fmt::join(r.info.at("p1.ungrouped"), ", ")));
			line("");
		}
	}

	if (r.has("p1nr.a.start"))
		p1Table("p1nr.", true);

	if (r.has("p2.burst_wall")) {
		auto seconds = [&](const std::string &key) {
			std::vector<double> v;
			for (double x : r.samples.at(key))
				v.push_back(x / 1e6);
			return plain(stat(v), 2);
		};
		auto failed = [&](const std::string &how) {
			return std::count_if(r.failures.begin(), r.failures.end(), [&](const std::string &f) {
				return f.rfind("P2: domain", 0) == 0 && f.find("(" + how) != std::string::npos;
			});
		};
		const bool priv = r.has("p2.private.burst_wall");
		const std::string address =
		    r.info.count("p2.address") ? r.info.at("p2.address").front() : std::string("unknown");
		line(fmt::format("## P2: a burst of {} concurrent starts through the C API, PrivilegeModel=root",
				 cfg.burst));
		line("");
		line(fmt::format(
		    "Each thread calls `qemu_dm_start()` at once (its own connection), then all are stopped "
		    "concurrently. \"default\": where the C API connects by itself ({}), {} rounds; \"private "
		    "socket\": a burst over PID 1's private socket, its fallback without a bus daemon "
		    "(`QEMU_DM_SYSTEMD_ADDRESS=unix:path=/run/systemd/private`), one round (it takes minutes).",
		    address, r.samples.at("p2.burst_wall").size()));
		line("");
		const bool same = r.has("p2.same.burst_wall");
		const std::string n =
		    r.info.count("p2.private.n") ? r.info.at("p2.private.n").front() : std::to_string(cfg.burst);
		if (same) {
			line(fmt::format(
			    "The private socket's burst has {0} DMs (its cost grows as N × N); \"default, "
			    "{0}\" is a burst of the same size over the system bus right before it, one round.",
			    n));
			line("");
		}
		std::vector<std::pair<std::string, std::string>> cols = { { fmt::format("default, {}", cfg.burst),
									    "p2" } };
		if (same)
			cols.push_back({ fmt::format("default, {}", n), "p2.same" });
		if (priv)
			cols.push_back({ fmt::format("private socket, {}", n), "p2.private" });
		std::string head = "| measure |", rule = "|---|";
		for (const auto &c : cols) {
			head += " " + c.first + " |";
			rule += "---|";
		}
		line(head);
		line(rule);
		auto row = [&](const std::string &label, const std::function<std::string(const std::string &)> &cell) {
			std::string l = "| " + label + " |";
			for (const auto &c : cols)
				l += " " + cell(c.second) + " |";
			line(l);
		};
		row("all running (s)", [&](const std::string &k) { return seconds(k + ".burst_wall"); });
		row("DMs per second", [&](const std::string &k) { return plain(r.get(k + ".dms_per_s")); });
		row("one start's latency in the burst (ms)",
		    [&](const std::string &k) { return ms(r.get(k + ".start_latency")); });
		row("all stopped (ms)", [&](const std::string &k) { return ms(r.get(k + ".stop_wall")); });
		row("starts that failed (all rounds)", [&](const std::string &k) {
			return std::to_string(failed(k == "p2.private" ? "private"
						     : k == "p2.same"  ? "system bus, same"
								       : "default"));
		});
		line("");
		line("Measured in the default bursts:");
		line("");
		line("| measure | value |");
		line("|---|---|");
		line(fmt::format("| PID 1 RSS before (KiB) | {} |", plain(r.get("p2.pid1_rss_kib_before"), 0)));
		line(
		    fmt::format("| PID 1 RSS with all running (KiB) | {} |", plain(r.get("p2.pid1_rss_kib_after"), 0)));
		line(fmt::format("| PID 1 RSS per DM unit, first burst (later bursts reuse freed memory) (KiB) | {} |",
				 plain(r.get("p2.pid1_rss_kib_per_unit"))));
		line(
		    fmt::format("| PID 1 RSS after the stop (KiB) | {} |", plain(r.get("p2.pid1_rss_kib_stopped"), 0)));
		line(fmt::format("| qemu-dm-userdb RSS before (KiB) | {} |",
				 plain(r.get("p2.userdb_rss_kib_before"), 0)));
		line(fmt::format("| qemu-dm-userdb RSS, max during the burst (KiB) | {} |",
				 plain(r.get("p2.userdb_rss_kib_max"), 0)));
		line(fmt::format("| qemu-dm-userdb CPU during the burst (ms, user + system) | {} |",
				 plain(r.get("p2.userdb_cpu_ms"), 1)));
		line("");
		if (priv)
			line(fmt::format("- default / private socket, all running, same size: {} (the lower the better "
					 "for the default).",
					 ratio(r.get(same ? "p2.same.burst_wall" : "p2.burst_wall"),
					       r.get("p2.private.burst_wall"))));
		if (r.has("p2nr.burst_wall")) {
			line("");
			line(fmt::format(
			    "The same burst with PrivilegeModel=never-root (the system bus, one round; each "
			    "start is three units, and returns once qemu-dm-ready@N is up):"));
			line("");
			line("| measure | never-root | root (default, above) |");
			line("|---|---|---|");
			line(fmt::format("| all {} running (s) | {} | {} |", cfg.burst, seconds("p2nr.burst_wall"),
					 seconds("p2.burst_wall")));
			line(fmt::format("| DMs per second | {} | {} |", plain(r.get("p2nr.dms_per_s")),
					 plain(r.get("p2.dms_per_s"))));
			line(fmt::format("| one start's latency in the burst (ms) | {} | {} |",
					 ms(r.get("p2nr.start_latency")), ms(r.get("p2.start_latency"))));
			line(fmt::format("| all stopped (ms) | {} | {} |", ms(r.get("p2nr.stop_wall")),
					 ms(r.get("p2.stop_wall"))));
			line(fmt::format("| starts that failed | {} | {} |", failed("never-root"), failed("default")));
			line("");
			line(fmt::format("- never-root / root, all running: {}.",
					 ratio(r.get("p2nr.burst_wall"), r.get("p2.burst_wall"))));
		}
		line("");
	}

	if (r.has("p3.destroy.time")) {
		auto destroy = r.get("p3.destroy.time"), reaper = r.get("p3.reaper.time");
		line(fmt::format(
		    "## P3: reap of a DM with {} escaped processes (setsid + double fork), PrivilegeModel=root "
		    "(ms)",
		    cfg.reapProcesses));
		line("");
		line("Until every process is gone; for qemu-dm also the unit inactive. TasksMax=4096 in the bed's "
		     "qemu-dm.conf (the default 128 would refuse the forks).");
		line("");
		line("| way | time | survivors (max) |");
		line("|---|---|---|");
		auto row = [&](const std::string &label, const std::string &key) {
			if (!r.has("p3." + key + ".time"))
				return;
			auto surv = r.get("p3." + key + ".survivors");
			line(fmt::format("| {} | {} | {} |", label, ms(r.get("p3." + key + ".time")),
					 surv.n ? fmt::format("{:.0f}", surv.max) : "—"));
		};
		row("graceful `qemu_dm_stop`, processes honour SIGTERM", "graceful");
		row("graceful `qemu_dm_stop(…, 1 s)`, SIGTERM ignored (waits the timeout, then SIGKILL)",
		    "graceful_ignored");
		row("destroy `qemu_dm_destroy` / `qemu-dmctl stop --kill`, SIGTERM ignored", "destroy");
		row("systemd's `KillUnit(all, SIGKILL)` alone (no qemu-dm code), until no process of the uid is left",
		    "killunit");
		row("of which the `KillUnit` call (PID 1 signals and logs each process)", "killunit_call");
		row("libxl's reaper as upstream: setresuid(reaper, target, 0), one kill(-1, SIGKILL), until it "
		    "returned",
		    "reaper_once");
		row("libxl's reaper, kill(-1, SIGKILL) repeated until no process of the uid is left", "reaper");
		line("");
		line(fmt::format("- **destroy/reaper = {}** (goal ≤ 1.5), both until nothing of the DM is left; "
				 "destroy/upstream reaper's single kill = {}.",
				 ratio(destroy, reaper), ratio(destroy, r.get("p3.reaper_once.time"))));
		line("");
	}

	if (r.has("p4.idle.dm.getpwuid")) {
		line("## P4: user lookups through NSS, PrivilegeModel=root (µs, median (min–max), p99)");
		line("");
		line("In the bed, `passwd: files systemd`: a DM user `xen-qemuuser-N` resolves through nss-systemd and "
		     "qemu-dm-userdb's varlink socket; `xen-qemuuser-range-base` is a line of the bed's /etc/passwd. "
		     "\"idle\": the service running (warm: it stays while a DM unit is loaded, docs/userdb.md), the "
		     "same process calling getpwuid_r/getpwnam_r in a loop; \"cold\": each lookup right after a "
		     "stop of qemu-dm-userdb.service (what the first lookup after an idle exit sees); \"during "
		     "P2\": a thread looking up continuously while a burst starts its DMs.");
		line("");
		line("| lookup | median (min–max) | p99 |");
		line("|---|---|---|");
		for (const auto &[label, key] : std::vector<std::pair<std::string, std::string>>{
			 { "getpwuid, DM user, idle", "p4.idle.dm.getpwuid" },
			 { "getpwnam, DM user, idle", "p4.idle.dm.getpwnam" },
			 { "getpwuid, /etc/passwd user, idle", "p4.idle.passwd.getpwuid" },
			 { "getpwnam, /etc/passwd user, idle", "p4.idle.passwd.getpwnam" },
			 { "getpwuid, DM user, idle, only our userdb asked ($SYSTEMD_ONLY_USERDB)",
			   "p4.idle.dm_only_ours.getpwuid" },
			 { "getpwnam, DM user, idle, only our userdb asked", "p4.idle.dm_only_ours.getpwnam" },
			 { "getpwuid, DM user, cold: the service stopped, this lookup socket-activates it",
			   "p4.cold.dm.getpwuid" },
			 { "getpwuid, DM user, during P2 (default)", "p4.burst.dm.getpwuid" },
			 { "getpwnam, DM user, during P2 (default)", "p4.burst.dm.getpwnam" },
			 { "getpwuid, DM user, during P2 over the private socket", "p4.burst_private.dm.getpwuid" },
			 { "getpwnam, DM user, during P2 over the private socket", "p4.burst_private.dm.getpwnam" } }) {
			if (!r.has(key))
				continue;
			auto s = r.get(key);
			line(fmt::format("| {} | {} | {:.0f} |", label, us(s), s.p99));
		}
		line("");
		line(
		    fmt::format("- getpwuid DM user / /etc/passwd user, idle: {} (p50), goal p99 ≤ 1000 µs idle: p99 = "
				"{:.0f} µs (getpwnam {:.0f} µs).",
				ratio(r.get("p4.idle.dm.getpwuid"), r.get("p4.idle.passwd.getpwuid")),
				r.get("p4.idle.dm.getpwuid").p99, r.get("p4.idle.dm.getpwnam").p99));
		line("");
	}

	if (r.has("p5.realistic")) {
		auto t = r.get("p5.true"), real = r.get("p5.realistic"), many = r.get("p5.dropins100");
		line("## P5: qemu-dm-generator, one run (ms)");
		line("");
		line("| run | time | / fork+exec of /bin/true |");
		line("|---|---|---|");
		line(fmt::format("| fork+exec+wait of /bin/true (the floor) | {} | 1.00× |", ms(t)));
		line(fmt::format("| realistic qemu-dm.conf + one drop-in (NICs, MemoryMax) | {} | {} |", ms(real),
				 ratio(real, t)));
		line(fmt::format("| the same + 100 drop-in files | {} | {} |", ms(many), ratio(many, t)));
		line("");
		line(fmt::format("- goal ≤ 5 ms realistic: {:.2f} ms.", real.median / 1000));
		line("");
	}
	line("## Reading these numbers");
	line("");
	line("- The machine is shared: the load line says how busy it was. Compare ratios of one "
	     "run, not figures of two runs.");
	line("- P1 (a) − (b) is everything qemu-dm adds to the same unit: the C API's connection, configuration, "
	     "uid policy (NSS lookups of the uid and name, through our userdb), the QEMU probe cache, the "
	     "DropInPaths check of the host policy, and in the unit qemu-dm-exec's checks before READY=1 and "
	     "its exec of QEMU. Start and stop wait for systemd's signals (JobRemoved, the unit's "
	     "PropertiesChanged/UnitRemoved); no sleep or poll is left in either path.");
	line("- P1 never-root: the DM unit is bound (BindsTo=, the generator's 50-qemu-dm-grant.conf) to "
	     "qemu-dm-grant@N and qemu-dm-ready@N, so one start is three units: qemu-dm-grant@N (oneshot, "
	     "ordered before the DM: `qemu-dm-grant grant N` adds u:<uid>:rw ACL entries on the unit's Xen "
	     "nodes, under one host-wide lock), the DM, and qemu-dm-ready@N (oneshot, after the DM's READY=1: "
	     "it waits until QEMU answers on its QMP monitor, then resets the unit's DeviceAllow= at runtime "
	     "and removes the ACL entries). A start returns only once qemu-dm-ready@N is up. The grant's cost "
	     "is two more units for PID 1 to load, fork and track, two execs of qemu-dm-grant, and the wait "
	     "for QEMU's main loop (for Xen's QEMU its device set-up; for the stand-in, which serves QMP at "
	     "once, little); a stop ends all three. The bed's /dev has fake Xen nodes (tests/integration/"
	     "fake_xen_dev.h), so the ACLs are real. The root model has neither: QEMU opens the nodes as root "
	     "and drops privileges itself (-runas, -chroot). The breakdown by directive is of the root "
	     "model's policy. The goal (b)/(c) ≤ 7 is the confinement's cost, which (b0) measures for this "
	     "model: the grant is a protection of its own (the Xen nodes only for the start) with its own "
	     "price, shown apart: (b) until its job − (b0) is its two units, (b) − (b) until its job the wait "
	     "for QEMU and the revocation.");
	line("- P2: systemd 252 sends every signal to every connection on its private socket, unconditionally "
	     "(src/core/dbus.c, bus_foreach_bus()), so N concurrent callers each receive the signals of all N "
	     "starts and PID 1 builds N × N messages; on the system bus the bus daemon delivers only what a "
	     "client's matches ask for, and each match names one unit (JobRemoved arg2, UnitRemoved arg0, the "
	     "unit's PropertiesChanged). Hence the decision (dbus/systemd_bus.h): the C API connects to the "
	     "system bus, and only as root without a bus daemon to the private socket. A start's calls are "
	     "bounded by its own timeout (90 s), not 25 s each, and a start asks PID 1 three times (the unit's "
	     "state, StartTransientUnit, DropInPaths: each property read on the unit's object path, no "
	     "GetUnit/LoadUnit first; no Subscribe on the private socket).");
	line("- P4: for each request qemu-dm-userdb checks that the uid, the user name, the gid and the group "
	     "name are not defined by another source (helpers/userdb/userdb_service.cpp, Service::isOurs()): four "
	     "NSS lookups, which nss-systemd answers by asking PID 1's io.systemd.DynamicUser among others. "
	     "Their answers are kept while the identity of every source they read is unchanged, and not at "
	     "all where a source cannot be observed (docs/userdb.md, \"What is cached\"); the unit check is a "
	     "stat per request. The \"only our userdb asked\" rows set $SYSTEMD_ONLY_USERDB in the caller: the "
	     "difference is nss-systemd asking PID 1 in parallel.");
	line("- P3: graceful stop of a DM that ignores SIGTERM lasts its stop timeout by design; "
	     "`qemu_dm_destroy()` (`qemu-dmctl stop --kill`, the shim when libxl SIGKILLs it) is the destroy. "
	     "systemd 252's `KillUnit` signals a cgroup's processes one by one from PID 1's event loop, reading "
	     "each one's comm and logging a journal line for each (1000 lines per destroy here; no cgroup.kill "
	     "for KillUnit in 252), so the destroy kills the unit's cgroup itself where it may (root, the "
	     "cgroup file system as PID 1 sees it): cgroup.kill on a kernel with it, else each listed process "
	     "by pidfd, and only a pid still listed after its pidfd was opened; `KillUnit` only as the "
	     "fallback. Then it waits for the unit's signals as before. Both it and the reaper then wait for "
	     "PID 1 to reap the 1000 zombies (they were reparented to it), one per event-loop iteration. "
	     "kill(-1, SIGKILL) returns 0 while any other process of the pid namespace exists, even one it may "
	     "not signal (kernel/signal.c, kill_something_info()), so the reaper's \"until none left\" is "
	     "judged from /proc.");
	line("");
	return o;
}

bool want(const Settings &cfg, const std::string &p)
{
	return cfg.only.empty() || cfg.only.count(p);
}

int run(int argc, char **argv)
{
	Settings cfg;
	fs::path build = QEMU_DM_BUILD_ROOT, outFile;
	std::string command = "qemu-dm-bench";
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		command += " " + a;
		if (a == "--quick") {
			cfg.quick = true;
			cfg.p1Rounds = 3;
			cfg.groupRounds = 1;
			cfg.directiveRounds = 1;
			cfg.burst = 20;
			cfg.burstRounds = 1;
			cfg.privateBurst = 20;
			cfg.reapProcesses = 100;
			cfg.reapRounds = 1;
			cfg.lookups = 100;
			cfg.coldLookups = 3;
			cfg.generatorRounds = 3;
		} else if (a == "--build" && i + 1 < argc) {
			build = argv[++i];
			command += std::string(" ") + argv[i];
		} else if (a == "--out" && i + 1 < argc) {
			outFile = argv[++i];
			command += std::string(" ") + argv[i];
		} else if (a == "--only" && i + 1 < argc) {
			std::string v = argv[++i];
			command += " " + v;
			std::stringstream ss(v);
			std::string p;
			while (std::getline(ss, p, ','))
				cfg.only.insert(p);
		} else {
			std::fprintf(
			    stderr,
			    "Usage: qemu-dm-bench [--build DIR] [--quick] [--out FILE] [--only P1,P2,P3,P4,P5]\n");
			return 2;
		}
	}
	if (::geteuid() != 0) {
		std::fprintf(stderr, "qemu-dm-bench: needs root (it boots a private systemd test bed)\n");
		return 1;
	}
	std::setvbuf(stdout, nullptr, _IOLBF, 0);

	const std::string loadStart = firstLine("cat /proc/loadavg");
	auto root = testbed::installTree(build);
	if (!root) {
		std::fprintf(stderr, "qemu-dm-bench: %s\n", root.error().message().c_str());
		return 1;
	}
	testbed::Options opts;
	opts.root = *root;
	opts.consoleLog = build / "meson-logs" / "testbed-bench.log";
	auto bed = testbed::TestBed::boot(opts);
	if (!bed) {
		std::fprintf(stderr, "qemu-dm-bench: Failed to boot the test bed: %s\n", bed.error().message().c_str());
		return 1;
	}
	/*
	 * The range base user as upstream documents it; fake Xen nodes in the
	 * bed's own /dev (POSIX ACLs: the never-root grant works on them).
	 */
	auto prep = (*bed)->sh("useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
			       "--uid 131072 --user-group xen-qemuuser-range-base 2>/dev/null && mkdir -p /etc/xen");
	if (prep && prep->ok())
		prep = (*bed)->sh(testbed::kFakeXenDev);
	if (!prep || !prep->ok()) {
		std::fprintf(stderr, "qemu-dm-bench: Failed to prepare the test bed: %s\n",
			     prep ? prep->err.c_str() : prep.error().message().c_str());
		return 1;
	}
	/*
	 * Every step names its privilege model in the bed's qemu-dm.conf, never
	 * the default; TasksMax for P3's 1000 processes (the default 128 would
	 * refuse the forks). The generator writes the model's drop-ins again.
	 */
	std::string model;
	auto useModel = [&](const std::string &m) -> bool {
		if (m == model)
			return true;
		auto w =
		    (*bed)->writeFile("/etc/xen/qemu-dm.conf",
				      fmt::format("[Device Model]\nPrivilegeModel={}\n\n[Limits]\nTasksMax=4096\n", m));
		if (!w)
			return false;
		auto r = (*bed)->sh("systemctl daemon-reload");
		if (!r || !r->ok())
			return false;
		model = m;
		return true;
	};
	/*
	 * What a step left loaded (a DM, its grant or ready unit, a breakdown
	 * unit): a failure of that step, stopped and reset so the next one starts clean.
	 */
	const std::string leftovers =
	    "systemctl list-units --all --plain --no-legend 'qemu-dm@*' 'qemu-dm-grant@*' "
	    "'qemu-dm-ready@*' 'qemu-dm-bench-*' | awk '$3 != \"inactive\" {print $1 \"=\" $3}'";
	auto sweep = [&](const std::string &name, Results &results) {
		auto r = (*bed)->sh(leftovers);
		if (r && r->ok() && !r->out.empty()) {
			std::string left = r->out;
			std::replace(left.begin(), left.end(), '\n', ' ');
			results.failures.push_back(name + ": left behind: " + left);
		}
		(void)(*bed)->sh(
		    "for u in $(systemctl list-units --all --plain --no-legend 'qemu-dm@*' 'qemu-dm-grant@*' "
		    "'qemu-dm-ready@*' 'qemu-dm-bench-*' | awk '{print $1}'); do systemctl kill -s KILL $u; "
		    "systemctl stop $u; systemctl reset-failed $u; done 2>/dev/null; true",
		    std::chrono::seconds(120));
	};

	Results results;
	auto step = [&](const std::string &name, const std::string &m, const std::function<void(Out &)> &fn) {
		std::printf("qemu-dm-bench: %s (PrivilegeModel=%s) ...\n", name.c_str(), m.c_str());
		auto t0 = Clock::now();
		if (!useModel(m)) {
			results.failures.push_back(name + ": could not set PrivilegeModel=" + m + " in the bed");
			return;
		}
		auto text = (*bed)->inside(
		    [&]() -> std::string {
			    Out out;
			    try {
				    fn(out);
			    } catch (const std::exception &e) {
				    out.fail(name + ": " + e.what());
			    }
			    return out.str();
		    },
		    std::chrono::minutes(30));
		if (!text)
			results.failures.push_back(name + ": " + text.error().message());
		else
			results.parse(*text);
		sweep(name, results);
		std::printf("qemu-dm-bench: %s done in %.1f s\n", name.c_str(), usSince(t0) / 1e6);
	};
	if (want(cfg, "P1")) {
		step("P1", "root", [&](Out &o) { p1(cfg, o, false); });
		step("P1 never-root", "never-root", [&](Out &o) { p1(cfg, o, true); });
	}
	if (want(cfg, "P4") || want(cfg, "P2"))
		step("P4 idle + P2", "root", [&](Out &o) {
			p4idle(cfg, o);
			if (want(cfg, "P2"))
				p2(cfg, o, false);
			else {
				char *e = nullptr;
				(void)qemu_dm_stop(250, 30, &e);
				qemu_dm_free(e);
			}
		});
	if (want(cfg, "P2"))
		step("P2 never-root", "never-root", [&](Out &o) { p2(cfg, o, true); });
	if (want(cfg, "P3"))
		step("P3", "root", [&](Out &o) { p3(cfg, o); });
	if (want(cfg, "P5"))
		step("P5", "root", [&](Out &o) { p5(cfg, o); });
	(void)(*bed)->shutdown();

	std::string md = report(results, cfg, command, loadStart);
	std::fputs(md.c_str(), stdout);
	if (!outFile.empty()) {
		std::ofstream f(outFile);
		f << md;
		if (!f) {
			std::fprintf(stderr, "qemu-dm-bench: Failed to write %s\n", outFile.c_str());
			return 1;
		}
		std::printf("qemu-dm-bench: wrote %s\n", outFile.c_str());
	}
	if (!results.failures.empty()) {
		std::fprintf(stderr, "qemu-dm-bench: %zu failures (see the report)\n", results.failures.size());
		return 1;
	}
	return 0;
}

} /* namespace */

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "qemu-dm-bench: %s\n", e.what());
		return 1;
	}
}
