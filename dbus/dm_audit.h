/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `qemu-dmctl audit`: is a running device model really deprivileged?
 *
 * What upstream's depriv-fd-checker does with descriptors stolen from the DM
 * (tools/tests/depriv in Xen 4.17), plus what /proc says about the process,
 * for every process of qemu-dm@<domid>.service (or one PID). Each check is
 * one line: a name, a verdict and one sentence of reason.
 *
 *   uids, gids          real/effective/saved/fs ids and groups not 0; for a unit
 *                       the per-domain uid (range base + domid) and the base's group
 *   capabilities        CapPrm, CapEff, CapInh, CapAmb all 0
 *   NoNewPrivs, seccomp NoNewPrivs 1, Seccomp 2 (filter mode)
 *   root directory      /proc/PID/root is not PID 1's root
 *   * namespace         mnt, ipc, uts (and net unless the unit declares the host
 *                       network) differ from PID 1's
 *   RLIMIT_CORE         soft and hard 0
 *   cgroup              a unit's processes are in its cgroup, .../qemu-dm.slice/qemu-dm@<domid>.service
 *   fd 0                not writable
 *   log fd N            a writable file under /var/log is O_WRONLY|O_APPEND
 *   privcmd fd N        IOCTL_PRIVCMD_HYPERCALL(xen_version) is refused (EPERM):
 *                       the kernel refuses every hypercall on a restricted handle;
 *                       then RESTRICT(the DM's domid) is accepted (same domain)
 *   evtchn fd N         IOCTL_EVTCHN_BIND_INTERDOMAIN to another domain and
 *                       IOCTL_EVTCHN_BIND_UNBOUND_PORT are refused (EACCES), a
 *                       bind to the DM's own domain is not (Xen refuses port 0)
 *   gntdev fd N         fails whenever open: gntdev has no restriction; a restricted
 *                       libxengnttab handle is /dev/null (a count-0 grant copy shows
 *                       the descriptor is live)
 *   gntalloc fd N       fails whenever open: no restriction exists for it at all
 *   xenstore fd N       WARN: /dev/xen/xenbus or a socket connected to xenstored
 *   tap fd N            TUNGETIFF names one of the domain's own interfaces (vif<domid>.*)
 *   Xen fds             INFO when there is none: nothing was probed
 *
 * Verdicts: PASS and FAIL are verdicts; WARN is a finding that does not fail
 * the audit; INFO reports what was not checked (and why). Probes never leave a
 * side effect on the DM: a probe that bound an event channel unbinds it, and the
 * domain checks run only on handles already shown restricted.
 *
 * The pure parts (parsers, verdicts, formatting) are separate from the system
 * glue (auditProcess, auditDmUnit) so tests can drive them with text.
 */

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "json.h"
#include "result.h"
#include "user_lookup.h"

namespace qemudm {

class SystemdManager;

enum class AuditVerdict {
	Pass,
	Warn,
	Fail,
	Info,
};

/* "PASS", "WARN", "FAIL", "INFO". */
std::string_view auditVerdictName(AuditVerdict verdict);

struct AuditCheck {
	std::string name; /* short and stable: "uids", "privcmd fd 5" */
	AuditVerdict verdict = AuditVerdict::Fail;
	std::string reason; /* one sentence */

	bool operator==(const AuditCheck &) const = default;
};

struct ProcessAudit {
	pid_t pid = 0;
	std::string comm;
	/* The domain it was held to: the unit's, else the -xen-domid of its command line. */
	std::optional<uint32_t> domid;
	std::vector<AuditCheck> checks;
};

struct AuditReport {
	std::string target; /* "qemu-dm@5.service" or "pid 1234" */
	std::optional<uint32_t> domid;
	/* Checks of the unit and of the host, not of one process (never-root: the device grant). */
	std::vector<AuditCheck> unitChecks;
	std::vector<ProcessAudit> processes;
};

/* What one process is held to. */
struct AuditExpectations {
	/* The domain the DM serves: the unit's, else -xen-domid of its command line. */
	std::optional<uint32_t> domid;
	/* For a unit: the uid and gid qemu-dm chose for it (its ExecStart's --runas), else range base + domid. */
	std::optional<uid_t> uid;
	std::optional<gid_t> gid;
	/* Where uid comes from, for the reason; empty: "the per-domain uid of domain <domid>". */
	std::string uidSource;
	/* For a unit: its processes must be in qemu-dm.slice/qemu-dm@<domid>.service. */
	bool unit = false;
	/* The unit's ControlGroup as systemd reports it; empty: /qemu.slice/qemu-dm.slice/qemu-dm@<domid>.service. */
	std::string cgroup;
	/* False when the unit declares the host network (PrivateNetwork=no, emulated NICs). */
	bool privateNetwork = true;
};

/* ---- pure parts: parsers ---- */

/* The fields of /proc/PID/status the audit reads. */
struct ProcStatus {
	std::string name;
	std::array<uint32_t, 4> uids{}; /* real, effective, saved, fs */
	std::array<uint32_t, 4> gids{};
	std::vector<uint32_t> groups;
	uint64_t capInh = 0, capPrm = 0, capEff = 0, capBnd = 0, capAmb = 0;
	int noNewPrivs = -1; /* -1: the line is missing */
	int seccomp = -1;
};

/* Strict: Uid, Gid and the Cap* lines must be there and well formed. */
[[nodiscard]] Result<ProcStatus> parseProcStatus(std::string_view text);

/* The "Max core file size" soft and hard values of /proc/PID/limits ("0", "unlimited"). */
std::optional<std::pair<std::string, std::string>> parseCoreLimit(std::string_view limitsText);

/* The cgroup v2 path ("0::/qemu-dm.slice/qemu-dm@5.service") of /proc/PID/cgroup. */
std::optional<std::string> parseUnifiedCgroup(std::string_view cgroupText);

/* The octal "flags:" of /proc/PID/fdinfo/N. */
std::optional<int> parseFdinfoFlags(std::string_view fdinfoText);

/* NUL-separated /proc/PID/cmdline into an argv. */
std::vector<std::string> splitCmdline(std::string_view cmdline);

/* The N of "-xen-domid N" (QEMU's Xen DM option); std::nullopt if absent or not a number <= 0x7FEF. */
std::optional<uint32_t> xenDomidFromArgv(const std::vector<std::string> &argv);

/* The value of qemu-dm-exec's --runas in an ExecStart argv ("131077:997" or a user name). */
std::optional<std::string> runasFromExecStart(const std::vector<std::string> &argv);

/* libxl's names for a domain's taps: vif<domid>.<n> and vif<domid>.<n>-emu. */
bool isDomainTapName(std::string_view ifname, uint32_t domid);

/* ---- pure parts: verdicts ---- */

std::vector<AuditCheck> auditCredentials(const ProcStatus &status, const AuditExpectations &expect);
AuditCheck auditCapabilities(const ProcStatus &status);
AuditCheck auditNoNewPrivs(const ProcStatus &status);
AuditCheck auditSeccomp(const ProcStatus &status);
/* sameAsHost: /proc/PID/root is the same directory as PID 1's (nullopt: could not compare); `root` is its readlink. */
AuditCheck auditRoot(std::optional<bool> sameAsHost, const std::string &root);
/* `ns` is "mnt", "net", "ipc" or "uts"; the links read "mnt:[4026531840]". */
AuditCheck auditNamespace(std::string_view ns, const std::string &dmLink, const std::string &hostLink, bool required,
			  std::string_view whyNotRequired = {});
AuditCheck auditCoreLimit(std::string_view limitsText);
/*
 * expectDomid: the unit's domain; std::nullopt: report the cgroup only (INFO).
 * The path must be unitCgroup (systemd's ControlGroup of the unit) and end in
 * /qemu-dm.slice/qemu-dm@<domid>.service; without unitCgroup it must be
 * /qemu.slice/qemu-dm.slice/qemu-dm@<domid>.service (qemu-dm.slice nests in qemu.slice).
 */
AuditCheck auditCgroup(std::string_view cgroupText, std::optional<uint32_t> expectDomid,
		       std::string_view unitCgroup = {});

/* One descriptor of the DM, as /proc shows it (nothing stolen yet). */
struct FdEntry {
	int fd = -1;
	std::string target; /* readlink /proc/PID/fd/N: "/dev/xen/privcmd", "socket:[123]" */
	std::optional<int> flags;
};

enum class FdKind {
	Privcmd,
	Evtchn,
	Gntdev,
	Gntalloc,  /* /dev/xen/gntalloc: libxengntshr, never restricted */
	Xenbus,	   /* /dev/xen/xenbus or xenbus_backend */
	Hypercall, /* /dev/xen/hypercall: libxencall's buffer device */
	Tun,
	Socket,
	LogFile, /* a file under /var/log/ */
	Other,
};

FdKind classifyFd(const FdEntry &entry);

/* fd 0 absent (std::nullopt) passes: it cannot be written. */
AuditCheck auditStdin(const std::optional<FdEntry> &fd0);
/* A LogFile fd: PASS read-only or O_WRONLY|O_APPEND, FAIL otherwise. */
AuditCheck auditLogFd(const FdEntry &entry);

/* What a probe ioctl returned: ret >= 0, or -1 and err. */
struct ProbeResult {
	long ret = -1;
	int err = 0;
};

/*
 * IOCTL_PRIVCMD_HYPERCALL(__HYPERVISOR_xen_version, XENVER_version); only when
 * that was refused with EPERM (the handle is restricted) and the DM's domain is
 * known, `sameDomain` is IOCTL_PRIVCMD_RESTRICT(domid): the kernel accepts it on
 * a handle restricted to that domain and changes nothing, EINVAL means another.
 */
AuditCheck privcmdVerdict(int fd, const ProbeResult &hypercall, std::optional<uint32_t> domid = {},
			  const std::optional<ProbeResult> &sameDomain = {});
/*
 * IOCTL_EVTCHN_BIND_INTERDOMAIN(otherDomid, port 0), then (only if that was
 * refused) IOCTL_EVTCHN_BIND_UNBOUND_PORT(otherDomid), then (only if both were
 * refused and the DM's domain is known) `ownDomain`:
 * IOCTL_EVTCHN_BIND_INTERDOMAIN(domid, port 0), which a handle restricted to
 * that domain passes on to Xen (which refuses port 0) and one restricted to
 * another refuses with EACCES. `unbindError`: errno of unbinding a port a
 * probe bound (0: none needed or it worked).
 */
AuditCheck evtchnVerdict(int fd, uint32_t otherDomid, const ProbeResult &interdomain,
			 const std::optional<ProbeResult> &unbound, int unbindError = 0,
			 std::optional<uint32_t> domid = {}, const std::optional<ProbeResult> &ownDomain = {});
/* IOCTL_GNTDEV_GRANT_COPY with no segments. */
AuditCheck gntdevVerdict(int fd, const ProbeResult &grantCopy);
/* Any open /dev/xen/gntalloc: the driver has no restriction and libxentoolcore does not neuter it. */
AuditCheck gntallocVerdict(int fd);
/* `what`: "/dev/xen/xenbus" or "a socket connected to /run/xenstored/socket". */
AuditCheck xenstoreVerdict(int fd, std::string_view what);
AuditCheck hypercallBufferInfo(int fd);
/* TUNGETIFF's interface name, or the errno it failed with. */
AuditCheck tapVerdict(int fd, const Result<std::string> &ifname, std::optional<uint32_t> domid);
/* The line for a DM with no privcmd/evtchn/gntdev/xenbus fd. */
AuditCheck noXenFdsInfo();

/* True for xenstored's socket paths (/run/xenstored/socket, /var/run/xenstored/socket_ro...). */
bool isXenstoredSocketPath(std::string_view path);

/* ---- pure parts: the never-root device grant (dev_grant.h) ---- */

/* The named-user ACL entries of one Xen node. */
struct NodeGrants {
	std::string path;
	std::vector<uid_t> uids;
};

/* After readiness the unit's DeviceAllow= names no /dev/xen node (qemu-dm-ready@ reset it). */
AuditCheck auditDeviceAllowAfterReadiness(const std::vector<std::string> &deviceAllowPaths);
/*
 * No stale grant: every named-user entry on a Xen node belongs to a uid whose
 * DM is in its start window (`inWindow`: granted, not yet revoked). One check
 * per node with an entry; one PASS "grants" line when there is none.
 */
std::vector<AuditCheck> auditStaleGrants(const std::vector<NodeGrants> &nodes, const std::vector<uid_t> &inWindow);

/* ---- pure parts: the report ---- */

bool auditFailed(const AuditReport &report);

/* Exit codes of `qemu-dmctl audit` (docs/audit.md). */
constexpr int kAuditExitPass = 0;      /* every check passed (WARN and INFO do not fail) */
constexpr int kAuditExitFail = 1;      /* at least one check failed */
constexpr int kAuditExitCannotRun = 2; /* usage error, or the audit could not run */
int auditExitCode(const AuditReport &report);

/*
 *   Audit of qemu-dm@5.service (domain 5): 1 process
 *   pid 812 (qemu-system-i38)
 *     PASS  uids              : ...
 *   Result: PASS (17 passed, 0 failed, 1 warning, 2 not checked)
 */
std::string formatAudit(const AuditReport &report);

/* {"target":..,"domid":5,"result":"pass","processes":[{"pid":..,"comm":..,"checks":[{"name","verdict","reason"}]}]} */
json::Value auditToJson(const AuditReport &report);
json::Value processAuditToJson(const ProcessAudit &audit);
[[nodiscard]] Result<ProcessAudit> processAuditFromJson(const json::Value &value);

/* ---- system glue ---- */

struct AuditOptions {
	std::filesystem::path procRoot = "/proc";
	/* The whole audit of one process is bounded: a hostile DM must not hang the caller. */
	std::chrono::milliseconds timeout{ 10000 };
};

/*
 * Audit one process: /proc, then its descriptors through pidfd_open +
 * pidfd_getfd. Without expect.domid, the domain comes from its -xen-domid. Runs in a forked child bounded by options.timeout (a child that
 * does not answer in time is killed and the audit gets a FAIL "audit" line).
 * Errors (the audit could not run): no such process, pidfd_getfd refused.
 */
[[nodiscard]] Result<ProcessAudit> auditProcess(pid_t pid, const AuditExpectations &expect,
						const AuditOptions &options = {});

/*
 * `qemu-dmctl audit --pid PID`: one process, its domain from its -xen-domid
 * (read in the bounded child: reading a process's cmdline takes its mmap lock).
 */
[[nodiscard]] Result<AuditReport> auditPid(pid_t pid, const AuditOptions &options = {});

/*
 * `qemu-dmctl audit DOMID`: every process of qemu-dm@<domid>.service, held to
 * the uid qemu-dm chose for the unit: the --runas of its ExecStart (a
 * device_model_user name is resolved through `users`), else the per-domain
 * uid of `config`'s range base user. Errors: the unit
 * is not running, the range base user does not resolve, systemd cannot be asked.
 */
[[nodiscard]] Result<AuditReport> auditDmUnit(SystemdManager &manager, uint32_t domid, const Config &config,
					      UserLookup &users, const AuditOptions &options = {});

/*
 * The host's device grants: the named-user entries on every node of
 * /dev/xen (dev_grant.h) against the uids of DMs in their start window (the
 * QEMU_DM_UID= of qemu-dm@ units whose qemu-dm-grant@ is up and whose
 * qemu-dm-ready@ is not yet). `qemu-dmctl audit grants`, and part of a
 * never-root unit's audit.
 */
[[nodiscard]] Result<std::vector<AuditCheck>> auditHostGrants(SystemdManager &manager);

} /* namespace qemudm */
