/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dmctl: the administrator's view of Xen device models run by qemu-dm.
 * Same core as the C API (dm_control); see `qemu-dmctl --help`.
 */

#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "build_config.h"
#include "dev_grant.h"
#include "dm_audit.h"
#include "dm_control.h"
#include "dm_media.h"
#include "libxl_argv.h"
#include "domain.h"
#include "host_check.h"
#include "json.h"
#include "log.h"
#include "parse_util.h"

using namespace qemudm;

namespace {

constexpr const char *kUsage = "Usage: qemu-dmctl [OPTIONS] COMMAND ...\n"
			       "\n"
			       "Start, stop and inspect the QEMU device models of Xen domains. Each runs as\n"
			       "the confined transient unit qemu-dm@DOMID.service (systemctl status qemu-dm@5,\n"
			       "journalctl -u qemu-dm@5).\n"
			       "\n"
			       "Commands:\n"
			       "  start DOMID [START OPTIONS] -- QEMU [ARG...]\n"
			       "                         start the device model of domain DOMID\n"
			       "  stop DOMID [--timeout SEC | --kill]\n"
			       "                         stop it; returns when every process of it is gone\n"
			       "                         (--kill: destroy, SIGKILL every process at once)\n"
			       "  kill DOMID [--signal SIG]\n"
			       "                         send a signal (default SIGTERM) to every process of it\n"
			       "  status DOMID [--json]  state, main process, user and cgroup of one device model\n"
			       "  list [--json] [--no-legend]\n"
			       "                         every device model qemu-dm runs\n"
			       "  start|policy --from-argv [--no-domain-check] -- QEMU-ARGS...\n"
			       "                         the same, from QEMU's arguments as stock libxl builds\n"
			       "                         them (qemu-dm-shim(8)); QEMU is qemu-dm.conf's Qemu=\n"
			       "  policy DOMID [START OPTIONS] -- QEMU [ARG...]\n"
			       "                         print the exact unit properties `start` would send\n"
			       "                         (nothing is started)\n"
			       "  cdrom DOMID DRIVE PATH|--eject [--qmp-socket PATH] [--timeout SEC]\n"
			       "                         insert PATH into the running DM's drive (hdc, or\n"
			       "                         QEMU's block device name), or eject it: we open PATH\n"
			       "                         and hand QEMU the fd over libxl's QMP socket\n"
			       "                         /var/run/xen/qmp-libxl-DOMID (add-fd and\n"
			       "                         blockdev-change-medium of /dev/fdset/N), so the DM\n"
			       "                         never needs the path; every reply is bounded in\n"
			       "                         size and time (default 10 s)\n"
			       "  check [--json]         host readiness report\n"
			       "  audit DOMID|--pid PID [--json]\n"
			       "                         is a running device model deprivileged? (docs/audit.md)\n"
			       "  audit grants [--json]  no stale never-root device grant on the host's Xen nodes\n"
			       "  help                   this text\n"
			       "\n"
			       "Options:\n"
			       "  -h --help              this text\n"
			       "     --version           the version\n"
			       "  -v --verbose           log debug messages\n"
			       "     --json              status, list, check, audit: print JSON\n"
			       "     --no-legend         list: no header line\n"
			       "     --no-pager          accepted as by systemctl; qemu-dmctl never pages\n"
			       "Options take their value as --opt VALUE or --opt=VALUE, anywhere before '--'.\n"
			       "\n"
			       "Start options:\n"
			       "  --name NAME            the domain's name (journal field XEN_DOMAIN_NAME)\n"
			       "  --user USER            device_model_user: run QEMU as USER instead of the\n"
			       "                         per-domain user xen-qemuuser-DOMID\n"
			       "  --type hvm|pv|pvh      guest type (default hvm)\n"
			       "  --no-restrict          do not pass -xen-domid-restrict (dm_restrict=0)\n"
			       "  --disk PATH[:ro]       a disk image or device QEMU may open (read-write\n"
			       "                         unless :ro); repeatable\n"
			       "  --path PATH[:rw]       another file QEMU may read (or write with :rw)\n"
			       "  --device NODE[:PERMS]  an extra device node (PERMS from rwm, default rw)\n"
			       "  --qmp-fd N             hand our stdin (a QMP socket) to QEMU as fd N\n"
			       "  --pass-fd N            hand our fd N (a socket, pipe or regular file, e.g.\n"
			       "                         -incoming fd:N) to QEMU as fd N; repeatable\n"
			       "  --vnc-localhost        QEMU serves VNC on TCP localhost (a vfb): allows\n"
			       "                         AF_INET/AF_INET6 with localhost only, in the host's\n"
			       "                         network namespace\n"
			       "  --tap NAME             an emulated NIC's tap device QEMU creates; repeatable\n"
			       "  --no-domain-check      skip the Xen domain check: for stand-in device models\n"
			       "                         without Xen (tests, demos) only\n"
			       "  --allow-jit            allow W+X memory: for TCG stand-in device models only\n"
			       "\n"
			       "Exit status: 0 success, 1 failure, 2 usage error; `status`: 0 active, 3 not\n"
			       "active (as systemctl status), 1 the state could not be read; `check`: 0 all\n"
			       "pass, 1 warnings, 2 failures; `audit`: 0 every check passed, 1 a check failed,\n"
			       "2 usage error or the audit could not run.\n";

int usageError(const std::string &msg)
{
	log::error("{}", msg);
	log::error("See 'qemu-dmctl --help'.");
	return 2;
}

/* The options of every command (getopt_long permutes: they may follow the command). */
enum Opt {
	OPT_HELP = 'h',
	OPT_VERBOSE = 'v',
	OPT_VERSION = 0x100,
	OPT_JSON,
	OPT_NO_LEGEND,
	OPT_NO_PAGER,
	/* start, policy */
	OPT_FROM_ARGV,
	OPT_NAME,
	OPT_USER,
	OPT_TYPE,
	OPT_NO_RESTRICT,
	OPT_DISK,
	OPT_PATH,
	OPT_DEVICE,
	OPT_QMP_FD,
	OPT_PASS_FD,
	OPT_VNC_LOCALHOST,
	OPT_TAP,
	OPT_NO_DOMAIN_CHECK,
	OPT_ALLOW_JIT,
	/* stop, kill, cdrom, audit */
	OPT_TIMEOUT,
	OPT_KILL,
	OPT_SIGNAL,
	OPT_QMP_SOCKET,
	OPT_EJECT,
	OPT_PID,
};

const struct option kLongOptions[] = {
	{ "help", no_argument, nullptr, OPT_HELP },
	{ "verbose", no_argument, nullptr, OPT_VERBOSE },
	{ "version", no_argument, nullptr, OPT_VERSION },
	{ "json", no_argument, nullptr, OPT_JSON },
	{ "no-legend", no_argument, nullptr, OPT_NO_LEGEND },
	{ "no-pager", no_argument, nullptr, OPT_NO_PAGER },
	{ "from-argv", no_argument, nullptr, OPT_FROM_ARGV },
	{ "name", required_argument, nullptr, OPT_NAME },
	{ "user", required_argument, nullptr, OPT_USER },
	{ "type", required_argument, nullptr, OPT_TYPE },
	{ "no-restrict", no_argument, nullptr, OPT_NO_RESTRICT },
	{ "disk", required_argument, nullptr, OPT_DISK },
	{ "path", required_argument, nullptr, OPT_PATH },
	{ "device", required_argument, nullptr, OPT_DEVICE },
	{ "qmp-fd", required_argument, nullptr, OPT_QMP_FD },
	{ "pass-fd", required_argument, nullptr, OPT_PASS_FD },
	{ "vnc-localhost", no_argument, nullptr, OPT_VNC_LOCALHOST },
	{ "tap", required_argument, nullptr, OPT_TAP },
	{ "no-domain-check", no_argument, nullptr, OPT_NO_DOMAIN_CHECK },
	{ "allow-jit", no_argument, nullptr, OPT_ALLOW_JIT },
	{ "timeout", required_argument, nullptr, OPT_TIMEOUT },
	{ "kill", no_argument, nullptr, OPT_KILL },
	{ "signal", required_argument, nullptr, OPT_SIGNAL },
	{ "qmp-socket", required_argument, nullptr, OPT_QMP_SOCKET },
	{ "eject", no_argument, nullptr, OPT_EJECT },
	{ "pid", required_argument, nullptr, OPT_PID },
	{},
};

std::string optionName(int opt)
{
	if (opt == OPT_HELP || opt == OPT_VERBOSE)
		return opt == OPT_HELP ? "--help" : "--verbose";
	for (const auto &o : kLongOptions)
		if (o.name && o.val == opt)
			return fmt::format("--{}", o.name);
	return "?";
}

/* The command line, parsed once; each command takes the part it accepts. */
struct Options {
	std::vector<int> given; /* every option, in order, for the per-command check */
	bool help = false, version = false, json = false, noLegend = false;

	DmRequest request; /* start, policy: the options; DOMID and QEMU come from the arguments */
	bool fromArgv = false;

	std::optional<std::string> timeout; /* stop and cdrom differ in range */
	bool kill = false;
	int signal = SIGTERM;
	std::optional<std::string> qmpSocket;
	bool eject = false;
	std::optional<pid_t> pid;
};

/* A descriptor number of 3 or more, below `limit`. */
Result<int> fdArg(std::string_view opt, std::string_view v, uint32_t limit)
{
	auto n = parseDecimal(v, limit - 1);
	if (!n || *n < 3)
		return makeError(EINVAL, "{}: '{}' is not a descriptor number of 3 or more", opt, v);
	return static_cast<int>(*n);
}

Status applyOption(Options &o, int opt, std::string_view v)
{
	DmRequest &req = o.request;
	switch (opt) {
	case OPT_HELP:
		o.help = true;
		break;
	case OPT_VERBOSE:
		log::setLevel(log::Level::Debug);
		break;
	case OPT_VERSION:
		o.version = true;
		break;
	case OPT_JSON:
		o.json = true;
		break;
	case OPT_NO_LEGEND:
		o.noLegend = true;
		break;
	case OPT_NO_PAGER:
		break; /* nothing is paged */
	case OPT_FROM_ARGV:
		o.fromArgv = true;
		break;
	case OPT_NAME:
		req.name = v;
		break;
	case OPT_USER:
		if (v.empty())
			return makeError(EINVAL, "--user needs a user name");
		req.deviceModelUser = v;
		break;
	case OPT_TYPE: {
		auto t = parseGuestType(v);
		if (!t)
			return t.error();
		req.type = *t;
		break;
	}
	case OPT_NO_RESTRICT:
		req.restrict = false;
		break;
	case OPT_DISK: {
		DiskSpec d{ std::string(v), false };
		if (v.ends_with(":ro") || v.ends_with(":rw")) {
			d.path = v.substr(0, v.size() - 3);
			d.readOnly = v.ends_with(":ro");
		}
		req.disks.push_back(d);
		break;
	}
	case OPT_PATH: {
		PathSpec p{ std::string(v), false };
		if (v.ends_with(":rw") || v.ends_with(":ro")) {
			p.path = v.substr(0, v.size() - 3);
			p.writable = v.ends_with(":rw");
		}
		req.paths.push_back(p);
		break;
	}
	case OPT_DEVICE: {
		DeviceNode n{ std::string(v), "rw" };
		if (auto c = v.rfind(':'); c != std::string_view::npos) {
			n.path = v.substr(0, c);
			n.permissions = v.substr(c + 1);
		}
		req.devices.push_back(n);
		break;
	}
	case OPT_TAP:
		if (v.empty() || v.size() > 15 || v.find_first_of("/ \n") != std::string_view::npos)
			return makeError(EINVAL, "--tap: '{}' is not an interface name", v);
		req.taps.emplace_back(v);
		break;
	case OPT_PASS_FD: {
		auto n = fdArg("--pass-fd", v, kMaxFdTarget);
		if (!n)
			return n.error();
		req.argvFds.push_back(*n);
		break;
	}
	case OPT_QMP_FD: {
		auto n = fdArg("--qmp-fd", v, 1024);
		if (!n)
			return n.error();
		req.qmpFdTarget = *n;
		break;
	}
	case OPT_VNC_LOCALHOST:
		req.vncLocalhost = true;
		break;
	case OPT_NO_DOMAIN_CHECK:
		req.domainCheck = false;
		break;
	case OPT_ALLOW_JIT:
		req.allowWriteExecute = true;
		break;
	case OPT_TIMEOUT:
		o.timeout = std::string(v);
		break;
	case OPT_KILL:
		o.kill = true;
		break;
	case OPT_SIGNAL: {
		auto sig = parseSignal(v);
		if (!sig)
			return makeError(EINVAL, "'{}' is not a signal name or number", v);
		o.signal = *sig;
		break;
	}
	case OPT_QMP_SOCKET:
		o.qmpSocket = std::string(v);
		break;
	case OPT_EJECT:
		o.eject = true;
		break;
	case OPT_PID: {
		auto p = parseDecimal(v, 0x3fffffff);
		if (!p || *p == 0)
			return makeError(EINVAL, "--pid: '{}' is not a process id", v);
		o.pid = static_cast<pid_t>(*p);
		break;
	}
	default:
		return makeError(EINVAL, "unknown option");
	}
	return success();
}

/* --timeout SEC: 1..max whole seconds. */
Result<unsigned> timeoutSeconds(const std::string &v, uint32_t max)
{
	auto t = parseDecimal(v, max);
	if (!t || *t == 0)
		return makeError(EINVAL, "--timeout: '{}' is not a number of seconds", v);
	return *t;
}

using Args = std::vector<std::string>;

/* The one "open the controller or fail" path of every command that talks to systemd. */
template <typename Fn>
int withController(Fn fn)
{
	auto ctl = DmController::open();
	if (!ctl) {
		log::error(ctl.error());
		return 1;
	}
	return fn(*ctl);
}

/* start/policy: DOMID QEMU [ARG...] (the options are in `o`), or --from-argv QEMU-ARGS. */
Result<DmRequest> startRequest(const Options &o, const Args &args)
{
	if (o.fromArgv) {
		if (args.empty())
			return makeError(EINVAL, "--from-argv: missing '-- QEMU-ARGS'");
		auto config = loadDefaultConfig();
		if (!config)
			return config.error();
		auto req = dmRequestFromQemuArgv(args, config->defaultQemu);
		if (!req)
			return req.error();
		req->domainCheck = o.request.domainCheck;
		req->allowWriteExecute = o.request.allowWriteExecute;
		return req;
	}
	if (args.empty())
		return makeError(EINVAL, "missing DOMID");
	auto domid = parseDomid(args[0]);
	if (!domid)
		return domid.error();
	if (args.size() < 2)
		return makeError(EINVAL, "missing the device model command line after '--'");
	DmRequest req = o.request;
	req.domid = *domid;
	req.qemuArgv.assign(args.begin() + 1, args.end());
	return req;
}

int verbStart(const Options &o, const Args &args, bool dryRun)
{
	auto req = startRequest(o, args);
	if (!req)
		return usageError(req.error().message());
	if (dryRun) {
		auto config = loadDefaultConfig();
		if (!config) {
			log::error(config.error());
			return 1;
		}
		SystemUserLookup lookup;
		auto plan = planWithXen(*config, *req, lookup);
		if (!plan) {
			log::error(plan.error());
			return 1;
		}
		for (const auto &w : plan->warnings)
			log::warning("{}", w);
		std::fputs(formatPlan(*plan).c_str(), stdout);
		return 0;
	}
	return withController([&](DmController &ctl) {
		DmStartOptions opts;
		if (req->qmpFdTarget >= 3)
			opts.qmpFd = STDIN_FILENO;
		for (int fd : req->argvFds)
			opts.fds.push_back(
			    HandedFd{ fd, fd }); /* --pass-fd N, --from-argv's -incoming fd:N: our fd N */
		auto started = ctl.start(*req, opts);
		if (!started) {
			log::error(started.error());
			return 1;
		}
		for (const auto &w : started->warnings)
			log::warning("{}", w);
		fmt::print("Started {} for domain {}.\n", dmUnitName(req->domid), req->domid);
		return 0;
	});
}

int verbCdrom(const Options &o, const Args &args)
{
	if (args.size() != (o.eject ? 2u : 3u))
		return usageError("usage: qemu-dmctl cdrom DOMID DRIVE PATH|--eject");
	auto domid = parseDomid(args[0]);
	if (!domid)
		return usageError(domid.error().message());
	CdromChange change;
	change.domid = *domid;
	change.device = args[1];
	if (!o.eject)
		change.path = args[2];
	if (o.qmpSocket)
		change.qmpSocket = *o.qmpSocket;
	if (o.timeout) {
		auto t = timeoutSeconds(*o.timeout, 3600);
		if (!t)
			return usageError(t.error().message());
		change.limits.timeout = std::chrono::seconds(*t);
	}
	auto s = changeCdrom(change);
	if (!s) {
		log::error(s.error());
		return 1;
	}
	if (change.path)
		fmt::print("Inserted {} into {} of domain {}.\n", *change.path, change.device, change.domid);
	else
		fmt::print("Ejected the medium of {} of domain {}.\n", change.device, change.domid);
	return 0;
}

int verbStopKill(const Options &o, const Args &args, bool kill)
{
	auto domid = parseDomid(args[0]);
	if (!domid)
		return usageError(domid.error().message());
	unsigned timeout = 30;
	if (o.timeout) {
		if (o.kill)
			return usageError("--kill and --timeout exclude each other (--kill sends SIGKILL at once)");
		auto t = timeoutSeconds(*o.timeout, 86400);
		if (!t)
			return usageError(t.error().message());
		timeout = *t;
	}
	return withController([&](DmController &ctl) {
		Status s = kill	    ? ctl.kill(*domid, o.signal)
			   : o.kill ? ctl.destroy(*domid)
				    : ctl.stop(*domid, std::chrono::seconds(timeout));
		if (!s) {
			log::error(s.error());
			return 1;
		}
		return 0;
	});
}

json::Value statusToJson(const DmStatus &st)
{
	json::Value o = json::Value::object();
	o.set("domid", json::Value::unsignedInteger(st.domid));
	o.set("unit", json::Value::string(st.unit));
	o.set("description", json::Value::string(st.description));
	o.set("active_state", json::Value::string(st.activeState));
	o.set("sub_state", json::Value::string(st.subState));
	o.set("result", json::Value::string(st.result));
	o.set("main_pid", st.mainPid ? json::Value::unsignedInteger(st.mainPid) : json::Value::null());
	o.set("user", st.mainPid ? json::Value::string(st.user) : json::Value::null());
	o.set("uid", st.mainPid ? json::Value::unsignedInteger(st.uid) : json::Value::null());
	o.set("tasks",
	      st.tasks && st.tasks != UINT64_MAX ? json::Value::unsignedInteger(st.tasks) : json::Value::null());
	o.set("control_group", json::Value::string(st.controlGroup));
	return o;
}

void printStatus(const DmStatus &st)
{
	fmt::print("{} - {}\n", st.unit, st.description.empty() ? "(not loaded)" : st.description);
	fmt::print("     State: {}{}{}\n", st.activeState, st.subState.empty() ? "" : " (" + st.subState + ")",
		   st.result.empty() || st.result == "success" ? "" : ", result " + st.result);
	if (st.mainPid) {
		fmt::print("  Main PID: {}\n", st.mainPid);
		fmt::print("      User: {} ({})\n", st.user, st.uid);
	}
	if (st.tasks && st.tasks != UINT64_MAX)
		fmt::print("     Tasks: {}\n", st.tasks);
	if (!st.controlGroup.empty())
		fmt::print("    CGroup: {}\n", st.controlGroup);
}

/* As systemctl status: 0 active, 3 not active (LSB "program is not running"), 1 unknown. */
constexpr int kStatusNotActive = 3;

int verbStatus(const Options &o, const Args &args)
{
	auto domid = parseDomid(args[0]);
	if (!domid)
		return usageError(domid.error().message());
	return withController([&](DmController &ctl) {
		auto st = ctl.status(*domid);
		if (!st) {
			log::error(st.error());
			return 1;
		}
		if (o.json)
			fmt::print("{}\n", statusToJson(*st).serialize());
		else
			printStatus(*st);
		return st->activeState == "active" ? 0 : kStatusNotActive;
	});
}

int verbList(const Options &o, const Args &)
{
	return withController([&](DmController &ctl) {
		auto l = ctl.list();
		if (!l) {
			log::error(l.error());
			return 1;
		}
		if (o.json) {
			json::Value a = json::Value::array();
			for (const auto &st : *l)
				a.append(statusToJson(st));
			fmt::print("{}\n", a.serialize());
			return 0;
		}
		constexpr std::string_view row = "{:>6}  {:<24} {:<10} {:<10} {:>8}  {}\n";
		if (!o.noLegend)
			fmt::print(fmt::runtime(row), "DOMID", "UNIT", "STATE", "SUB", "PID", "USER");
		for (const auto &st : *l)
			fmt::print(fmt::runtime(row), st.domid, st.unit, st.activeState, st.subState, st.mainPid,
				   st.user);
		return 0;
	});
}

json::Value checksToJson(const std::vector<CheckResult> &results)
{
	json::Value a = json::Value::array();
	for (const auto &r : results) {
		json::Value o = json::Value::object();
		std::string level(checkLevelName(r.level));
		std::transform(level.begin(), level.end(), level.begin(), [](char c) { return std::tolower(c); });
		o.set("name", json::Value::string(r.name));
		o.set("level", json::Value::string(level));
		o.set("detail", json::Value::string(r.detail));
		o.set("hint", json::Value::string(r.hint));
		a.append(std::move(o));
	}
	return a;
}

int verbCheck(const Options &o, const Args &)
{
	std::vector<CheckResult> results;
	auto config = loadDefaultConfig();
	HostCheckEnv env = systemHostCheckEnv();
	if (config) {
		results = runHostChecks(*config, env);
	} else {
		/* Still report the host; the broken config is the first failure. */
		results = { { "Configuration", CheckLevel::Fail, config.error().message(),
			      "fix the file and line named above (see qemu-dm.conf(5))" } };
		auto rest = runHostChecks(Config(), env);
		results.insert(results.end(), rest.begin(), rest.end());
	}
	if (o.json)
		fmt::print("{}\n", checksToJson(results).serialize());
	else
		std::fputs(formatHostChecks(results).c_str(), stdout);
	return hostCheckExitCode(results);
}

/* audit DOMID | audit --pid PID, [--json]: exit codes kAuditExit* (docs/audit.md). */
int verbAudit(const Options &o, const Args &args)
{
	if (o.pid && !args.empty())
		return usageError("audit: unexpected argument '--pid' (a DOMID or --pid PID, not both)");
	if (!o.pid && args.empty())
		return usageError("audit needs a DOMID or --pid PID");
	if (args.size() > 1)
		return usageError(fmt::format("audit: unexpected argument '{}'", args[1]));

	Result<AuditReport> report = makeError(EINVAL, "no audit");
	if (o.pid) {
		report = auditPid(*o.pid);
	} else if (args[0] == "grants") {
		auto manager = SystemdManager::connect();
		if (!manager) {
			log::error(manager.error());
			return kAuditExitCannotRun;
		}
		auto checks = auditHostGrants(*manager);
		if (checks) {
			AuditReport r;
			r.target = fmt::format("the device grants on {}", kXenDevDir);
			r.unitChecks = std::move(*checks);
			report = std::move(r);
		} else {
			report = checks.error();
		}
	} else {
		auto domid = parseDomid(args[0]);
		if (!domid)
			return usageError(domid.error().message());
		auto config = loadDefaultConfig();
		if (!config) {
			log::error(config.error());
			return kAuditExitCannotRun;
		}
		auto manager = SystemdManager::connect();
		if (!manager) {
			log::error(manager.error());
			return kAuditExitCannotRun;
		}
		SystemUserLookup users;
		report = auditDmUnit(*manager, *domid, *config, users);
	}
	if (!report) {
		log::error(report.error().wrap("Failed to audit the device model"));
		return kAuditExitCannotRun;
	}
	if (o.json)
		fmt::print("{}\n", auditToJson(*report).serialize());
	else
		std::fputs(formatAudit(*report).c_str(), stdout);
	return auditExitCode(*report);
}

int verbHelp(const Options &, const Args &)
{
	std::fputs(kUsage, stdout);
	return 0;
}

constexpr size_t kAny = SIZE_MAX;

/* As systemd's src/shared/verbs.h: a name, how many arguments, the options it takes, what runs. */
struct Verb {
	std::string_view name;
	size_t minArgs, maxArgs; /* not counting the verb */
	std::vector<int> options;
	std::function<int(const Options &, const Args &)> run;
};

const std::vector<int> kStartOptions = { OPT_FROM_ARGV,	      OPT_NAME,	    OPT_USER,	       OPT_TYPE,
					 OPT_NO_RESTRICT,     OPT_DISK,	    OPT_PATH,	       OPT_DEVICE,
					 OPT_QMP_FD,	      OPT_PASS_FD,  OPT_VNC_LOCALHOST, OPT_TAP,
					 OPT_NO_DOMAIN_CHECK, OPT_ALLOW_JIT };

const std::vector<Verb> &verbs()
{
	static const std::vector<Verb> table = {
		{ "start", 0, kAny, kStartOptions,
		  [](const Options &o, const Args &a) { return verbStart(o, a, false); } },
		{ "policy", 0, kAny, kStartOptions,
		  [](const Options &o, const Args &a) { return verbStart(o, a, true); } },
		{ "stop",
		  1,
		  1,
		  { OPT_TIMEOUT, OPT_KILL },
		  [](const Options &o, const Args &a) { return verbStopKill(o, a, false); } },
		{ "kill",
		  1,
		  1,
		  { OPT_SIGNAL },
		  [](const Options &o, const Args &a) { return verbStopKill(o, a, true); } },
		{ "status", 1, 1, { OPT_JSON, OPT_NO_PAGER }, verbStatus },
		{ "list", 0, 0, { OPT_JSON, OPT_NO_LEGEND, OPT_NO_PAGER }, verbList },
		{ "check", 0, 0, { OPT_JSON }, verbCheck },
		{ "cdrom", 2, 3, { OPT_QMP_SOCKET, OPT_TIMEOUT, OPT_EJECT }, verbCdrom },
		{ "audit", 0, 1, { OPT_PID, OPT_JSON }, verbAudit },
		{ "help", 0, 0, {}, verbHelp },
	};
	return table;
}

int run(int argc, char **argv)
{
	log::setup("qemu-dmctl", log::Target::Console);

	Options o;
	opterr = 0; /* our own messages, below */
	int c;
	while ((c = getopt_long(argc, argv, ":hv", kLongOptions, nullptr)) >= 0) {
		const char *spelled = argv[optind - 1];
		if (c == '?' && optopt >= '0' && optopt <= '9') {
			/* "-1" is never an option: the one number qemu-dmctl takes in that place is a DOMID. */
			for (int i = 1; i < argc; i++)
				if (argv[i][0] == '-' && argv[i][1] == optopt)
					return usageError(parseDomid(argv[i]).error().message());
		}
		if (c == '?')
			return usageError(fmt::format("unknown option '{}'", optopt ? fmt::format("-{}", char(optopt))
										    : std::string(spelled)));
		if (c == ':')
			return usageError(fmt::format("{} needs a value", std::string_view(spelled).substr(
									      0, std::string_view(spelled).find('='))));
		o.given.push_back(c);
		if (auto s = applyOption(o, c, optarg ? optarg : ""); !s)
			return usageError(s.error().message());
	}
	if (o.help)
		return verbHelp(o, {});
	if (o.version) {
		std::puts("qemu-dmctl " PROJECT_VERSION);
		return 0;
	}
	if (optind >= argc)
		return usageError("missing command");
	std::string name = argv[optind];
	Args args(argv + optind + 1, argv + argc);

	const auto &table = verbs();
	auto verb = std::find_if(table.begin(), table.end(), [&](const Verb &v) { return v.name == name; });
	if (verb == table.end())
		return usageError(fmt::format("unknown command '{}'", name));
	for (int opt : o.given) {
		bool global = opt == OPT_HELP || opt == OPT_VERBOSE || opt == OPT_VERSION;
		if (!global && std::find(verb->options.begin(), verb->options.end(), opt) == verb->options.end())
			return usageError(fmt::format("{}: unexpected option '{}'", name, optionName(opt)));
	}
	if (args.size() < verb->minArgs)
		return usageError(verb->minArgs == 1 ? "missing DOMID" : fmt::format("{}: missing arguments", name));
	if (args.size() > verb->maxArgs)
		return usageError(fmt::format("{}: unexpected argument '{}'", name, args[verb->maxArgs]));
	return verb->run(o, args);
}

} /* namespace */

int main(int argc, char **argv)
{
	return run(argc, argv);
}
