/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The system glue of the audit (see dm_audit.h): /proc, pidfd_getfd and the
 * probe ioctls, in a forked child bounded by a timeout; the unit's processes
 * from systemd. Library code: logs at debug level only.
 */

#include "dm_audit.h"

/* libxen-dev's Linux headers need these first (reference: xen-dm-restrict.md §12.1). */
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <xen/xen.h>
#include <xen/version.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>
#include <xen/sys/privcmd.h>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "dev_grant.h"
#include "domain.h"
#include "log.h"
#include "systemd_bus.h"
#include "file_util.h"
#include "unique_fd.h"

namespace qemudm {

namespace {

/* glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++: call the system calls directly (Linux >= 5.6). */
int pidfdOpen(pid_t pid)
{
	return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfdGetfd(int pidfd, int fd)
{
	return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

std::string readLink(const std::filesystem::path &p)
{
	std::error_code ec;
	auto t = std::filesystem::read_symlink(p, ec);
	return ec ? std::string() : t.string();
}

std::string readOr(const std::filesystem::path &p)
{
	auto t = readFile(p, { .missingOk = true });
	return t && *t ? **t : std::string();
}

/* The rdev of our own /dev node, if there is one: a stolen fd must be that device. */
std::optional<dev_t> hostRdev(const std::string &node)
{
	struct stat st;
	if (::stat(node.c_str(), &st) == 0 && S_ISCHR(st.st_mode))
		return st.st_rdev;
	return std::nullopt;
}

/* The stolen descriptor is still the character device the link named (fds can be reused meanwhile). */
bool isStillDevice(int fd, const std::string &node)
{
	struct stat st;
	if (::fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return false;
	auto want = hostRdev(node);
	return !want || *want == st.st_rdev;
}

ProbeResult probe(int fd, unsigned long request, void *arg)
{
	long r = ::ioctl(fd, request, arg);
	return r >= 0 ? ProbeResult{ r, 0 } : ProbeResult{ -1, errno };
}

/* Undo a bind a probe made through the DM's descriptor; 0 or the errno. */
int unbindPort(int fd, long port)
{
	ioctl_evtchn_unbind u{};
	u.port = static_cast<unsigned int>(port);
	return ::ioctl(fd, IOCTL_EVTCHN_UNBIND, &u) < 0 ? errno : 0;
}

AuditCheck probePrivcmd(int fd, int number, std::optional<uint32_t> domid)
{
	privcmd_hypercall_t h{};
	h.op = __HYPERVISOR_xen_version;
	h.arg[0] = XENVER_version; /* no buffer: harmless on an unrestricted handle */
	ProbeResult hypercall = probe(fd, IOCTL_PRIVCMD_HYPERCALL, &h);
	if (hypercall.ret >= 0 || hypercall.err != EPERM || !domid)
		return privcmdVerdict(number, hypercall, domid);
	/*
	 * Restricted (the kernel refuses every hypercall on a restricted handle, and
	 * Xen never refuses XENVER_version). Only now ask which domain: RESTRICT to
	 * the same domain is accepted and changes nothing, another gives EINVAL.
	 * On an unrestricted handle this call would restrict it: never made there.
	 */
	domid_t d = static_cast<domid_t>(*domid);
	return privcmdVerdict(number, hypercall, domid, probe(fd, IOCTL_PRIVCMD_RESTRICT, &d));
}

AuditCheck probeEvtchn(int fd, int number, uint32_t other, std::optional<uint32_t> domid)
{
	/* Port 0 is never an unbound port: on an unrestricted handle Xen refuses it too, nothing gets bound. */
	ioctl_evtchn_bind_interdomain bi{};
	bi.remote_domain = other;
	bi.remote_port = 0;
	ProbeResult inter = probe(fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bi);
	int unbindError = 0;
	if (inter.ret >= 0) {
		unbindError = unbindPort(fd, inter.ret);
		return evtchnVerdict(number, other, inter, std::nullopt, unbindError);
	}
	if (inter.err != EACCES)
		return evtchnVerdict(number, other, inter, std::nullopt);
	/* Refused by the driver: a restricted handle also refuses unbound ports (before any hypercall). */
	ioctl_evtchn_bind_unbound_port bu{};
	bu.remote_domain = other;
	ProbeResult unbound = probe(fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &bu);
	if (unbound.ret >= 0)
		unbindError = unbindPort(fd, unbound.ret);
	if (unbound.ret >= 0 || unbound.err != EACCES || !domid || *domid == other)
		return evtchnVerdict(number, other, inter, unbound, unbindError, domid);
	/* Restricted: to the DM's own domain? That one the driver passes on to Xen, which refuses port 0. */
	bi.remote_domain = *domid;
	bi.remote_port = 0;
	ProbeResult own = probe(fd, IOCTL_EVTCHN_BIND_INTERDOMAIN, &bi);
	if (own.ret >= 0)
		unbindError = unbindPort(fd, own.ret);
	return evtchnVerdict(number, other, inter, unbound, unbindError, domid, own);
}

AuditCheck probeGntdev(int fd, int number)
{
	ioctl_gntdev_grant_copy copy{};
	copy.count = 0; /* no segment: no hypercall, no copy */
	copy.segments = nullptr;
	return gntdevVerdict(number, probe(fd, IOCTL_GNTDEV_GRANT_COPY, &copy));
}

AuditCheck probeTap(int fd, int number, std::optional<uint32_t> domid)
{
	struct ifreq ifr {
	};
	if (::ioctl(fd, TUNGETIFF, &ifr) < 0)
		return tapVerdict(number, errnoError(errno, "fd {}", number), domid);
	ifr.ifr_name[IFNAMSIZ - 1] = '\0';
	return tapVerdict(number, std::string(ifr.ifr_name), domid);
}

/* The unix socket path a stolen socket is connected to, if any. */
std::string peerPath(int fd)
{
	sockaddr_un sa{};
	socklen_t len = sizeof(sa);
	if (::getpeername(fd, reinterpret_cast<sockaddr *>(&sa), &len) < 0 || sa.sun_family != AF_UNIX ||
	    len <= offsetof(sockaddr_un, sun_path) || sa.sun_path[0] == '\0')
		return {};
	return std::string(sa.sun_path, strnlen(sa.sun_path, len - offsetof(sockaddr_un, sun_path)));
}

/* The argv of the unit's (first) ExecStart=, as systemd reports it. */
Result<std::vector<std::string>> execStartArgv(SystemdManager &manager, const std::string &unit)
{
	auto path = manager.unitObjectPath(unit);
	if (!path)
		return path.error();
	BusError error;
	sd_bus_message *raw = nullptr;
	int r =
	    sd_bus_get_property(manager.bus(), "org.freedesktop.systemd1", path->c_str(),
				"org.freedesktop.systemd1.Service", "ExecStart", error.get(), &raw, "a(sasbttttuii)");
	MessagePtr reply(raw);
	if (r < 0)
		return Error(error.errnum(r),
			     fmt::format("Failed to read ExecStart of {}: {}", unit, error.describe(r)));
	if ((r = sd_bus_message_enter_container(reply.get(), 'a', "(sasbttttuii)")) <= 0 ||
	    (r = sd_bus_message_enter_container(reply.get(), 'r', "sasbttttuii")) <= 0)
		return errnoError(r < 0 ? -r : ENODATA, "Failed to read ExecStart of {}", unit);
	const char *exe = nullptr;
	char **strv = nullptr;
	if ((r = sd_bus_message_read(reply.get(), "s", &exe)) < 0 ||
	    (r = sd_bus_message_read_strv(reply.get(), &strv)) < 0)
		return errnoError(-r, "Failed to read ExecStart of {}", unit);
	std::vector<std::string> argv;
	for (char **s = strv; s && *s; s++) {
		argv.emplace_back(*s);
		std::free(*s);
	}
	std::free(strv);
	return argv;
}

/* The uid and gid of qemu-dm-exec's --runas: "uid:gid", or a user name (device_model_user) through NSS. */
Status expectRunas(AuditExpectations &expect, const std::string &runas, UserLookup &users)
{
	auto colon = runas.find(':');
	if (colon != std::string::npos) {
		auto uid = parseDecimal(runas.substr(0, colon), UINT32_MAX - 1);
		auto gid = parseDecimal(runas.substr(colon + 1), UINT32_MAX - 1);
		if (!uid || !gid)
			return makeError(EINVAL, "the unit's --runas '{}' is not uid:gid", runas);
		expect.uid = *uid;
		expect.gid = *gid;
		return success();
	}
	auto user = users.byName(runas);
	if (!user)
		return user.error();
	if (!*user)
		return makeError(ENOENT, "the unit's user {} (--runas) does not resolve", runas);
	expect.uid = (*user)->uid;
	expect.gid = (*user)->gid;
	expect.uidSource = fmt::format("device_model_user {}", runas);
	return success();
}

/* The audit itself, in the child. */
Result<ProcessAudit> auditDirect(pid_t pid, int pidfd, const AuditExpectations &given,
				 const std::filesystem::path &procRoot)
{
	const auto base = procRoot / std::to_string(pid);
	const auto host = procRoot / "1";
	auto statusText = readFile(base / "status", { .missingOk = true });
	if (!statusText)
		return statusText.error();
	if (!*statusText)
		return makeError(ESRCH, "process {} is gone", pid);
	auto status = parseProcStatus(**statusText);
	if (!status)
		return status.error().wrap(fmt::format("Failed to parse {}", (base / "status").string()));

	AuditExpectations expect = given;
	if (!expect.domid)
		expect.domid = xenDomidFromArgv(splitCmdline(readOr(base / "cmdline")));

	ProcessAudit a;
	a.pid = pid;
	a.comm = status->name;
	a.domid = expect.domid;
	auto &c = a.checks;
	auto creds = auditCredentials(*status, expect);
	c.insert(c.end(), creds.begin(), creds.end());
	c.push_back(auditCapabilities(*status));
	c.push_back(auditNoNewPrivs(*status));
	c.push_back(auditSeccomp(*status));

	struct stat dmRoot, hostRoot;
	std::optional<bool> same;
	if (::stat((base / "root").c_str(), &dmRoot) == 0 && ::stat((host / "root").c_str(), &hostRoot) == 0)
		same = dmRoot.st_dev == hostRoot.st_dev && dmRoot.st_ino == hostRoot.st_ino;
	c.push_back(auditRoot(same, readLink(base / "root")));
	for (const char *ns : { "mnt", "net", "ipc", "uts" }) {
		bool required = std::string_view(ns) != "net" || expect.privateNetwork;
		c.push_back(auditNamespace(ns, readLink(base / "ns" / ns), readLink(host / "ns" / ns), required,
					   "the unit declares the host network (PrivateNetwork=no)"));
	}
	c.push_back(auditCoreLimit(readOr(base / "limits")));
	c.push_back(auditCgroup(readOr(base / "cgroup"), expect.unit ? expect.domid : std::nullopt, expect.cgroup));

	/* Descriptors: what /proc shows, then steal only what gets probed. */
	std::vector<FdEntry> fds;
	std::error_code ec;
	std::filesystem::directory_iterator it(base / "fd", ec);
	if (ec)
		return makeError(ec.value(), "Failed to list {}: {}", (base / "fd").string(), ec.message());
	for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
		if (ec)
			return makeError(ec.value(), "Failed to list {}: {}", (base / "fd").string(), ec.message());
		std::string n = it->path().filename().string();
		auto num = parseDecimal(n, 1u << 30);
		if (!num)
			continue;
		FdEntry e;
		e.fd = static_cast<int>(*num);
		e.target = readLink(it->path());
		if (e.target.empty())
			continue; /* closed meanwhile */
		e.flags = parseFdinfoFlags(readOr(base / "fdinfo" / n));
		fds.push_back(std::move(e));
	}
	std::sort(fds.begin(), fds.end(), [](const FdEntry &x, const FdEntry &y) { return x.fd < y.fd; });

	std::optional<FdEntry> fd0;
	for (const auto &e : fds)
		if (e.fd == 0)
			fd0 = e;
	c.push_back(auditStdin(fd0));

	bool logs = false, xen = false;
	std::vector<AuditCheck> fdChecks;
	const uint32_t other = expect.domid && *expect.domid == 0 ? 1 : 0;
	for (const auto &e : fds) {
		FdKind kind = classifyFd(e);
		if (kind == FdKind::LogFile) {
			if (e.flags && (*e.flags & O_ACCMODE) == O_RDONLY)
				continue;
			logs = true;
			fdChecks.push_back(auditLogFd(e));
			continue;
		}
		if (kind == FdKind::Other)
			continue;
		UniqueFd fd(pidfdGetfd(pidfd, e.fd));
		if (!fd) {
			int err = errno;
			if (err == EBADF)
				continue; /* closed meanwhile */
			return errnoError(err, "Failed to duplicate fd {} of process {} (pidfd_getfd)", e.fd, pid);
		}
		if (kind == FdKind::Socket) {
			std::string peer = peerPath(fd.get());
			if (isXenstoredSocketPath(peer)) {
				xen = true;
				fdChecks.push_back(
				    xenstoreVerdict(e.fd, fmt::format("a socket connected to {}", peer)));
			}
			continue;
		}
		if (!isStillDevice(fd.get(), e.target)) {
			fdChecks.push_back(
			    AuditCheck{ fmt::format("fd {}", e.fd), AuditVerdict::Fail,
					fmt::format("named {} but not that device when probed", e.target) });
			continue;
		}
		switch (kind) {
		case FdKind::Privcmd:
			xen = true;
			fdChecks.push_back(probePrivcmd(fd.get(), e.fd, expect.domid));
			break;
		case FdKind::Evtchn:
			xen = true;
			fdChecks.push_back(probeEvtchn(fd.get(), e.fd, other, expect.domid));
			break;
		case FdKind::Gntdev:
			xen = true;
			fdChecks.push_back(probeGntdev(fd.get(), e.fd));
			break;
		case FdKind::Gntalloc:
			xen = true;
			fdChecks.push_back(gntallocVerdict(e.fd));
			break;
		case FdKind::Xenbus:
			xen = true;
			fdChecks.push_back(xenstoreVerdict(e.fd, e.target));
			break;
		case FdKind::Hypercall:
			fdChecks.push_back(hypercallBufferInfo(e.fd));
			break;
		case FdKind::Tun:
			fdChecks.push_back(probeTap(fd.get(), e.fd, expect.domid));
			break;
		default:
			break;
		}
	}
	if (!logs)
		c.push_back(AuditCheck{ "log fds", AuditVerdict::Info, "no writable file under /var/log is open" });
	if (!xen)
		c.push_back(noXenFdsInfo());
	c.insert(c.end(), fdChecks.begin(), fdChecks.end());
	return a;
}

json::Value errorToJson(const Error &e)
{
	json::Value o = json::Value::object();
	o.set("errno", json::Value::integer(e.code()));
	o.set("message", json::Value::string(e.message()));
	return o;
}

} /* namespace */

Result<ProcessAudit> auditProcess(pid_t pid, const AuditExpectations &expect, const AuditOptions &options)
{
	UniqueFd pidfd(pidfdOpen(pid));
	if (!pidfd) {
		int e = errno;
		if (e == ESRCH)
			return makeError(ESRCH, "no process {}", pid);
		return errnoError(e, "Failed to open process {} (pidfd_open)", pid);
	}
	int p[2];
	if (::pipe2(p, O_CLOEXEC) < 0)
		return errnoError(errno, "Failed to create a pipe");
	UniqueFd readEnd(p[0]), writeEnd(p[1]);

	pid_t child = ::fork();
	if (child < 0)
		return errnoError(errno, "Failed to fork the audit of process {}", pid);
	if (child == 0) {
		readEnd.reset();
		auto r = auditDirect(pid, pidfd.get(), expect, options.procRoot);
		json::Value out = json::Value::object();
		if (r)
			out.set("audit", processAuditToJson(*r));
		else
			out.set("error", errorToJson(r.error()));
		std::string s = out.serialize();
		const char *d = s.data();
		size_t left = s.size();
		while (left > 0) {
			ssize_t n = ::write(writeEnd.get(), d, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				::_exit(1);
			d += n;
			left -= static_cast<size_t>(n);
		}
		::_exit(0);
	}
	writeEnd.reset();

	DeadlineRead read = readUntilDeadline(readEnd.get(), std::chrono::steady_clock::now() + options.timeout);
	std::string data = std::move(read.data);
	bool timedOut = read.stop == ReadStop::Deadline;
	int wstatus = 0;
	if (timedOut) {
		/* Reap it if it dies within a second; a child stuck in the kernel is left to init, not waited for. */
		(void)::kill(child, SIGKILL);
		for (int i = 0; i < 100 && ::waitpid(child, &wstatus, WNOHANG) == 0; i++)
			::usleep(10000);
	} else {
		while (::waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
		}
	}

	if (timedOut) {
		ProcessAudit a;
		a.pid = pid;
		a.domid = expect.domid;
		a.comm = readOr(options.procRoot / std::to_string(pid) / "comm");
		if (auto nl = a.comm.find('\n'); nl != std::string::npos)
			a.comm.erase(nl);
		a.checks.push_back(AuditCheck{
		    "audit", AuditVerdict::Fail,
		    fmt::format("did not finish within {} ms: the process stalled the probes, the audit is incomplete",
				options.timeout.count()) });
		return a;
	}
	json::ParseLimits limits;
	limits.maxSize = 16 * 1024 * 1024;
	auto v = json::parse(data, limits);
	if (!v)
		return makeError(EIO, "Failed to audit process {}: the audit child died (status {:#x})", pid, wstatus);
	if (const json::Value *err = v->find("error")) {
		const json::Value *code = err->find("errno"), *msg = err->find("message");
		return Error(code && code->asInt64() ? static_cast<int>(*code->asInt64()) : EIO,
			     msg && msg->asString() ? *msg->asString() : "unknown error");
	}
	const json::Value *audit = v->find("audit");
	if (!audit)
		return makeError(EIO, "Failed to audit process {}: no result from the audit child", pid);
	return processAuditFromJson(*audit);
}

Result<AuditReport> auditPid(pid_t pid, const AuditOptions &options)
{
	auto a = auditProcess(pid, AuditExpectations{}, options);
	if (!a)
		return a.error();
	AuditReport report;
	report.target = fmt::format("pid {}", pid);
	report.domid = a->domid;
	report.processes.push_back(std::move(*a));
	return report;
}

Result<AuditReport> auditDmUnit(SystemdManager &manager, uint32_t domid, const Config &config, UserLookup &users,
				const AuditOptions &options)
{
	const std::string unit = dmUnitName(domid);
	auto state = manager.activeState(unit);
	if (!state)
		return state.error().wrap(fmt::format("domain {}", domid));
	if (*state != "active")
		return makeError(ENOENT, "domain {}: {} is not running ({})", domid, unit, *state);

	auto baseUser = users.byName(config.rangeBaseUser);
	if (!baseUser)
		return baseUser.error().wrap(fmt::format("domain {}", domid));
	if (!*baseUser)
		return makeError(ENOENT,
				 "domain {}: the range base user {} does not exist: cannot tell the per-domain uid",
				 domid, config.rangeBaseUser);

	AuditExpectations expect;
	expect.domid = domid;
	expect.uid = (*baseUser)->uid + domid;
	expect.gid = (*baseUser)->gid;
	expect.unit = true;
	/* What qemu-dm decided at start (qemu-dm-exec --runas): device_model_user, or the per-domain uid. */
	if (auto argv = execStartArgv(manager, unit); argv) {
		if (auto runas = runasFromExecStart(*argv)) {
			if (auto s = expectRunas(expect, *runas, users); !s)
				return s.error().wrap(fmt::format("domain {}", domid));
			if (expect.uidSource.empty() && expect.uid != (*baseUser)->uid + domid)
				expect.uidSource = fmt::format("the uid of the unit's --runas {}", *runas);
		}
	} else {
		log::debug("domain {}: {}; holding it to the per-domain uid", domid, argv.error().message());
	}
	auto privateNetwork = manager.unitProperty<bool>(unit, "org.freedesktop.systemd1.Service", "PrivateNetwork");
	expect.privateNetwork = !privateNetwork || *privateNetwork;
	auto cgroup = manager.controlGroup(unit);
	if (cgroup)
		expect.cgroup = *cgroup;

	auto procs = manager.unitProcesses(unit);
	if (!procs)
		return procs.error().wrap(fmt::format("domain {}", domid));
	AuditReport report;
	report.target = unit;
	report.domid = domid;
	for (const auto &p : *procs) {
		auto a = auditProcess(p.pid, expect, options);
		if (!a && a.error().code() == ESRCH)
			continue; /* exited meanwhile */
		if (!a)
			return a.error().wrap(fmt::format("domain {}", domid));
		report.processes.push_back(std::move(*a));
	}
	if (report.processes.empty())
		return makeError(ENOENT, "domain {}: {} has no process to audit", domid, unit);

	/* Never-root (bound to qemu-dm-ready@): the device access ended at readiness, and no grant is stale. */
	const std::string ready = readyUnitName(domid);
	auto bound = manager.unitProperty<std::vector<std::string>>(unit, "org.freedesktop.systemd1.Unit", "BindsTo");
	if (bound && std::find(bound->begin(), bound->end(), ready) != bound->end()) {
		auto readyState = manager.activeState(ready);
		std::string rs = readyState ? *readyState : readyState.error().message();
		report.unitChecks.push_back(
		    rs == "active" ? AuditCheck{ "readiness", AuditVerdict::Pass,
						 fmt::format("{} revoked the device access", ready) }
				   : AuditCheck{ "readiness", AuditVerdict::Fail,
						 fmt::format("{} is {}: the device access did not end", ready, rs) });
		auto rules = manager.deviceAllow(unit);
		if (!rules)
			return rules.error().wrap(fmt::format("domain {}", domid));
		std::vector<std::string> paths;
		for (const auto &r : *rules)
			paths.push_back(r.path);
		report.unitChecks.push_back(auditDeviceAllowAfterReadiness(paths));
		auto grants = auditHostGrants(manager);
		if (!grants)
			return grants.error().wrap(fmt::format("domain {}", domid));
		report.unitChecks.insert(report.unitChecks.end(), grants->begin(), grants->end());
	}
	return report;
}

Result<std::vector<AuditCheck>> auditHostGrants(SystemdManager &manager)
{
	std::vector<NodeGrants> nodes;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator(std::string(kXenDevDir), ec)) {
		std::string path = e.path().string();
		struct stat st;
		if (!isXenNodePath(path) || ::lstat(path.c_str(), &st) < 0 || !S_ISCHR(st.st_mode))
			continue;
		auto acl = listUserAccess(path);
		if (!acl)
			return acl.error();
		NodeGrants n{ path, {} };
		for (const auto &a : *acl)
			n.uids.push_back(a.uid);
		nodes.push_back(std::move(n));
	}
	/* In the window: qemu-dm-grant@N is up (or starting) and qemu-dm-ready@N not yet. */
	std::vector<uid_t> inWindow;
	auto grants = manager.listUnitsByPatterns({ "qemu-dm-grant@*.service" });
	if (!grants)
		return grants.error();
	for (const auto &g : *grants) {
		if (g.activeState != "active" && g.activeState != "activating")
			continue;
		auto domid = domidFromGrantUnitName(g.name);
		if (!domid)
			continue;
		auto readyState = manager.activeState(readyUnitName(*domid));
		if (readyState && *readyState == "active")
			continue;
		auto env = manager.unitProperty<std::vector<std::string>>(
		    dmUnitName(*domid), "org.freedesktop.systemd1.Service", "Environment");
		if (!env)
			continue;
		for (const auto &v : *env)
			if (v.starts_with("QEMU_DM_UID="))
				if (auto u = parseDecimal(std::string_view(v).substr(12), UINT32_MAX - 1))
					inWindow.push_back(*u);
	}
	return auditStaleGrants(nodes, inWindow);
}

} /* namespace qemudm */
