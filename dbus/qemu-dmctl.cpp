/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dmctl: the administrator's view of Xen device models run by qemu-dm.
 * Same core as the C API (common/dm_control); see `qemu-dmctl --help`.
 */

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "build_config.h"
#include "dm_audit.h"
#include "dm_control.h"
#include "dm_media.h"
#include "libxl_argv.h"
#include "domain.h"
#include "host_check.h"
#include "log.h"
#include "parse_util.h"

using namespace qemudm;

namespace {

constexpr const char *kUsage = "Usage: qemu-dmctl COMMAND [OPTIONS]\n"
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
			       "  status DOMID           state, main process, user and cgroup of one device model\n"
			       "  list                   every device model qemu-dm runs\n"
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
			       "  check                  host readiness report\n"
			       "  audit DOMID|--pid PID [--json]\n"
			       "                         is a running device model deprivileged? (docs/audit.md)\n"
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
			       "Exit status: 0 success, 1 failure, 2 usage error; `check`: 0 all pass,\n"
			       "1 warnings, 2 failures; `audit`: 0 every check passed, 1 a check failed,\n"
			       "2 usage error or the audit could not run.\n";

int usageError(const std::string &msg)
{
	log::error("{}", msg);
	log::error("See 'qemu-dmctl --help'.");
	return 2;
}

struct StartArgs {
	DmRequest request;
	bool ok = false;
};

/* Parse "start"/"policy" arguments: DOMID [options] -- QEMU [ARG...]. */
Result<DmRequest> parseStart(const std::vector<std::string> &args)
{
	if (!args.empty() && args[0] == "--from-argv") {
		/* --from-argv [--no-domain-check] [--allow-jit] -- QEMU-ARGS: what libxl passes (qemu-dm-shim(8)). */
		size_t i = 1;
		bool domainCheck = true, jit = false;
		for (; i < args.size() && args[i] != "--"; i++) {
			if (args[i] == "--no-domain-check")
				domainCheck = false;
			else if (args[i] == "--allow-jit")
				jit = true;
			else
				return makeError(EINVAL, "--from-argv: unknown option '{}'", args[i]);
		}
		if (i >= args.size())
			return makeError(EINVAL, "--from-argv: missing '-- QEMU-ARGS'");
		auto config = loadDefaultConfig();
		if (!config)
			return config.error();
		auto req = dmRequestFromQemuArgv(
		    std::vector<std::string>(args.begin() + static_cast<long>(i) + 1, args.end()), config->defaultQemu);
		if (!req)
			return req.error();
		req->domainCheck = domainCheck;
		req->allowWriteExecute = jit;
		return req;
	}
	if (args.empty())
		return makeError(EINVAL, "missing DOMID");
	auto domid = parseDomid(args[0]);
	if (!domid)
		return domid.error();
	DmRequest req;
	req.domid = *domid;
	size_t i = 1;
	auto value = [&](const std::string &opt) -> Result<std::string> {
		if (i + 1 >= args.size())
			return makeError(EINVAL, "{} needs a value", opt);
		return args[++i];
	};
	for (; i < args.size(); i++) {
		const std::string &a = args[i];
		if (a == "--") {
			i++;
			break;
		}
		if (a == "--name" || a == "--user" || a == "--type" || a == "--disk" || a == "--path" ||
		    a == "--device" || a == "--qmp-fd" || a == "--tap" || a == "--pass-fd") {
			auto v = value(a);
			if (!v)
				return v.error();
			if (a == "--name") {
				req.name = *v;
			} else if (a == "--user") {
				if (v->empty())
					return makeError(EINVAL, "--user needs a user name");
				req.deviceModelUser = *v;
			} else if (a == "--type") {
				auto t = parseGuestType(*v);
				if (!t)
					return t.error();
				req.type = *t;
			} else if (a == "--disk") {
				DiskSpec d{ *v, false };
				if (v->ends_with(":ro")) {
					d.path = v->substr(0, v->size() - 3);
					d.readOnly = true;
				} else if (v->ends_with(":rw")) {
					d.path = v->substr(0, v->size() - 3);
				}
				req.disks.push_back(d);
			} else if (a == "--path") {
				PathSpec p{ *v, false };
				if (v->ends_with(":rw")) {
					p.path = v->substr(0, v->size() - 3);
					p.writable = true;
				} else if (v->ends_with(":ro")) {
					p.path = v->substr(0, v->size() - 3);
				}
				req.paths.push_back(p);
			} else if (a == "--device") {
				DeviceNode n{ *v, "rw" };
				if (auto c = v->rfind(':'); c != std::string::npos) {
					n.path = v->substr(0, c);
					n.permissions = v->substr(c + 1);
				}
				req.devices.push_back(n);
			} else if (a == "--tap") {
				if (v->empty() || v->size() > 15 || v->find_first_of("/ \n") != std::string::npos)
					return makeError(EINVAL, "--tap: '{}' is not an interface name", *v);
				req.taps.push_back(*v);
			} else if (a == "--pass-fd") {
				auto n = parseDecimal(*v, kMaxFdTarget - 1);
				if (!n || *n < 3)
					return makeError(EINVAL,
							 "--pass-fd: '{}' is not a descriptor number of 3 or more", *v);
				req.argvFds.push_back(static_cast<int>(*n));
			} else if (a == "--qmp-fd") {
				auto n = parseDecimal(*v, 1023);
				if (!n || *n < 3)
					return makeError(EINVAL,
							 "--qmp-fd: '{}' is not a descriptor number of 3 or more", *v);
				req.qmpFdTarget = static_cast<int>(*n);
			}
		} else if (a == "--no-restrict") {
			req.restrict = false;
		} else if (a == "--no-domain-check") {
			req.domainCheck = false;
		} else if (a == "--allow-jit") {
			req.allowWriteExecute = true;
		} else if (a == "--vnc-localhost") {
			req.vncLocalhost = true;
		} else {
			return makeError(EINVAL, "unknown option '{}'", a);
		}
	}
	if (i >= args.size())
		return makeError(EINVAL, "missing the device model command line after '--'");
	req.qemuArgv.assign(args.begin() + static_cast<long>(i), args.end());
	return req;
}

int cmdStart(const std::vector<std::string> &args, bool dryRun)
{
	auto req = parseStart(args);
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
	auto ctl = DmController::open();
	if (!ctl) {
		log::error(ctl.error());
		return 1;
	}
	DmStartOptions opts;
	if (req->qmpFdTarget >= 3)
		opts.qmpFd = STDIN_FILENO;
	for (int fd : req->argvFds)
		opts.fds.push_back(HandedFd{ fd, fd }); /* --pass-fd N, --from-argv's -incoming fd:N: our fd N */
	auto s = ctl->start(*req, opts);
	if (!s) {
		log::error(s.error());
		return 1;
	}
	fmt::print("Started {} for domain {}.\n", dmUnitName(req->domid), req->domid);
	return 0;
}

Result<int> signalArg(const std::string &s)
{
	if (auto sig = qemudm::parseSignal(s))
		return *sig;
	return makeError(EINVAL, "'{}' is not a signal name or number", s);
}

int cmdCdrom(const std::vector<std::string> &args)
{
	if (args.size() < 3)
		return usageError("usage: qemu-dmctl cdrom DOMID DRIVE PATH|--eject");
	auto domid = parseDomid(args[0]);
	if (!domid)
		return usageError(domid.error().message());
	CdromChange change;
	change.domid = *domid;
	change.device = args[1];
	if (args[2] != "--eject")
		change.path = args[2];
	for (size_t i = 3; i < args.size(); i++) {
		if (args[i] == "--qmp-socket" && i + 1 < args.size()) {
			change.qmpSocket = args[++i];
		} else if (args[i] == "--timeout" && i + 1 < args.size()) {
			auto t = parseDecimal(args[++i], 3600);
			if (!t || *t == 0)
				return usageError(fmt::format("--timeout: '{}' is not a number of seconds", args[i]));
			change.limits.timeout = std::chrono::seconds(*t);
		} else {
			return usageError(fmt::format("unexpected argument '{}'", args[i]));
		}
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

int cmdStopKill(const std::vector<std::string> &args, bool kill)
{
	if (args.empty())
		return usageError("missing DOMID");
	auto domid = parseDomid(args[0]);
	if (!domid)
		return usageError(domid.error().message());
	int timeout = 30, sig = SIGTERM;
	bool destroy = false, timeoutGiven = false;
	for (size_t i = 1; i < args.size(); i++) {
		if (!kill && args[i] == "--kill") {
			destroy = true;
		} else if (!kill && args[i] == "--timeout" && i + 1 < args.size()) {
			timeoutGiven = true;
			auto t = parseDecimal(args[++i], 86400);
			if (!t || *t == 0)
				return usageError(fmt::format("--timeout: '{}' is not a number of seconds", args[i]));
			timeout = static_cast<int>(*t);
		} else if (kill && args[i] == "--signal" && i + 1 < args.size()) {
			auto s = signalArg(args[++i]);
			if (!s)
				return usageError(s.error().message());
			sig = *s;
		} else {
			return usageError(fmt::format("unexpected argument '{}'", args[i]));
		}
	}
	if (destroy && timeoutGiven)
		return usageError("--kill and --timeout exclude each other (--kill sends SIGKILL at once)");
	auto ctl = DmController::open();
	if (!ctl) {
		log::error(ctl.error());
		return 1;
	}
	Status s = kill	     ? ctl->kill(*domid, sig)
		   : destroy ? ctl->destroy(*domid)
			     : ctl->stop(*domid, std::chrono::seconds(timeout));
	if (!s) {
		log::error(s.error());
		return 1;
	}
	return 0;
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

int cmdStatus(const std::vector<std::string> &args)
{
	if (args.size() != 1)
		return usageError("status takes exactly one DOMID");
	auto domid = parseDomid(args[0]);
	if (!domid)
		return usageError(domid.error().message());
	auto ctl = DmController::open();
	if (!ctl) {
		log::error(ctl.error());
		return 1;
	}
	auto st = ctl->status(*domid);
	if (!st) {
		log::error(st.error());
		return 1;
	}
	printStatus(*st);
	return st->activeState == "active" ? 0 : 3;
}

int cmdList()
{
	auto ctl = DmController::open();
	if (!ctl) {
		log::error(ctl.error());
		return 1;
	}
	auto l = ctl->list();
	if (!l) {
		log::error(l.error());
		return 1;
	}
	fmt::print("{:>6}  {:<24} {:<10} {:<10} {:>8}  {}\n", "DOMID", "UNIT", "STATE", "SUB", "PID", "USER");
	for (const auto &st : *l)
		fmt::print("{:>6}  {:<24} {:<10} {:<10} {:>8}  {}\n", st.domid, st.unit, st.activeState, st.subState,
			   st.mainPid, st.user);
	return 0;
}

int cmdCheck(const std::vector<std::string> &args)
{
	if (!args.empty())
		return usageError("check takes no arguments");
	auto config = loadDefaultConfig();
	if (!config) {
		/* Still report the host; the broken config is the first failure. */
		std::vector<CheckResult> results = { { "Configuration", CheckLevel::Fail, config.error().message(),
						       "fix the file and line named above (see qemu-dm.conf(5))" } };
		Config defaults;
		HostCheckEnv env = systemHostCheckEnv();
		auto rest = runHostChecks(defaults, env);
		results.insert(results.end(), rest.begin(), rest.end());
		std::fputs(formatHostChecks(results).c_str(), stdout);
		return hostCheckExitCode(results);
	}
	HostCheckEnv env = systemHostCheckEnv();
	auto results = runHostChecks(*config, env);
	std::fputs(formatHostChecks(results).c_str(), stdout);
	return hostCheckExitCode(results);
}

/* audit DOMID | audit --pid PID, [--json]: exit codes kAuditExit* (docs/audit.md). */
int cmdAudit(const std::vector<std::string> &args)
{
	bool json = false;
	std::optional<uint32_t> domid;
	std::optional<pid_t> pid;
	for (size_t i = 0; i < args.size(); i++) {
		if (args[i] == "--json") {
			json = true;
		} else if (args[i] == "--pid" && i + 1 < args.size() && !pid && !domid) {
			auto p = parseDecimal(args[++i], 0x3fffffff);
			if (!p || *p == 0)
				return usageError(fmt::format("--pid: '{}' is not a process id", args[i]));
			pid = static_cast<pid_t>(*p);
		} else if (!pid && !domid && !args[i].starts_with("-")) {
			auto d = parseDomid(args[i]);
			if (!d)
				return usageError(d.error().message());
			domid = *d;
		} else {
			return usageError(fmt::format("audit: unexpected argument '{}'", args[i]));
		}
	}
	if (!pid && !domid)
		return usageError("audit needs a DOMID or --pid PID");

	Result<AuditReport> report = makeError(EINVAL, "no audit");
	if (pid) {
		report = auditPid(*pid);
	} else {
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
	if (json)
		fmt::print("{}\n", auditToJson(*report).serialize());
	else
		std::fputs(formatAudit(*report).c_str(), stdout);
	return auditExitCode(*report);
}

int run(int argc, char **argv)
{
	log::setup("qemu-dmctl", log::Target::Console);
	if (argc < 2)
		return usageError("missing command");
	std::string cmd = argv[1];
	std::vector<std::string> args(argv + 2, argv + argc);
	if (cmd == "--help" || cmd == "-h" || cmd == "help") {
		std::fputs(kUsage, stdout);
		return 0;
	}
	if (cmd == "--version") {
		std::puts("qemu-dmctl " PROJECT_VERSION);
		return 0;
	}
	if (cmd == "start")
		return cmdStart(args, false);
	if (cmd == "policy")
		return cmdStart(args, true);
	if (cmd == "stop")
		return cmdStopKill(args, false);
	if (cmd == "kill")
		return cmdStopKill(args, true);
	if (cmd == "status")
		return cmdStatus(args);
	if (cmd == "list")
		return cmdList();
	if (cmd == "check")
		return cmdCheck(args);
	if (cmd == "cdrom")
		return cmdCdrom(args);
	if (cmd == "audit")
		return cmdAudit(args);
	return usageError(fmt::format("unknown command '{}'", cmd));
}

} /* namespace */

int main(int argc, char **argv)
{
	return run(argc, argv);
}
