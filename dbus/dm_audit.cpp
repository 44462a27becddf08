/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure parts of the audit: parsers, verdicts, the report. The system glue is dm_audit_system.cpp. */

#include "dm_audit.h"

#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "domain.h"
#include "parse_util.h"
#include "string_util.h"

namespace qemudm {

namespace {

constexpr std::string_view kDmSliceName = "qemu-dm.slice";

AuditCheck pass(std::string name, std::string reason)
{
	return AuditCheck{ std::move(name), AuditVerdict::Pass, std::move(reason) };
}

AuditCheck fail(std::string name, std::string reason)
{
	return AuditCheck{ std::move(name), AuditVerdict::Fail, std::move(reason) };
}

AuditCheck warn(std::string name, std::string reason)
{
	return AuditCheck{ std::move(name), AuditVerdict::Warn, std::move(reason) };
}

AuditCheck info(std::string name, std::string reason)
{
	return AuditCheck{ std::move(name), AuditVerdict::Info, std::move(reason) };
}

/* Calls fn(key, value) for each "Key:\tvalue" line. */
template <typename Fn>
void forEachField(std::string_view text, Fn fn)
{
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		size_t colon = line.find(':');
		if (colon == std::string_view::npos)
			continue;
		fn(line.substr(0, colon), trim(line.substr(colon + 1)));
	}
}

/* "131077\t131077\t131077\t131077" -> four numbers. */
bool parseFour(std::string_view s, std::array<uint32_t, 4> &out)
{
	for (size_t i = 0; i < 4; i++) {
		s = trim(s);
		size_t end = s.find_first_of(" \t");
		if (!parseInteger(s.substr(0, end), out[i]))
			return false;
		s = end == std::string_view::npos ? std::string_view{} : s.substr(end);
	}
	return trim(s).empty();
}

std::string describeErrno(int err)
{
	const char *name = strerrorname_np(err);
	return fmt::format("{} ({})", name ? name : std::to_string(err), std::strerror(err));
}

std::string joinIds(const std::array<uint32_t, 4> &ids)
{
	if (std::all_of(ids.begin(), ids.end(), [&](uint32_t v) { return v == ids[0]; }))
		return std::to_string(ids[0]);
	return fmt::format("{}/{}/{}/{}", ids[0], ids[1], ids[2], ids[3]);
}

std::string_view verdictKey(AuditVerdict v)
{
	switch (v) {
	case AuditVerdict::Pass:
		return "pass";
	case AuditVerdict::Warn:
		return "warn";
	case AuditVerdict::Fail:
		return "fail";
	case AuditVerdict::Info:
		return "info";
	}
	return "fail";
}

} /* namespace */

std::string_view auditVerdictName(AuditVerdict verdict)
{
	switch (verdict) {
	case AuditVerdict::Pass:
		return "PASS";
	case AuditVerdict::Warn:
		return "WARN";
	case AuditVerdict::Fail:
		return "FAIL";
	case AuditVerdict::Info:
		return "INFO";
	}
	return "FAIL";
}

/* ---- parsers ---- */

Result<ProcStatus> parseProcStatus(std::string_view text)
{
	ProcStatus st;
	bool uid = false, gid = false, inh = false, prm = false, eff = false, amb = false;
	std::string bad;
	forEachField(text, [&](std::string_view key, std::string_view value) {
		auto hex = [&](uint64_t &out, bool &seen) {
			seen = parseInteger(value, out, 16);
			if (!seen && bad.empty())
				bad = std::string(key);
		};
		if (key == "Name") {
			st.name = std::string(value);
		} else if (key == "Uid") {
			uid = parseFour(value, st.uids);
			if (!uid && bad.empty())
				bad = "Uid";
		} else if (key == "Gid") {
			gid = parseFour(value, st.gids);
			if (!gid && bad.empty())
				bad = "Gid";
		} else if (key == "Groups") {
			st.groups.clear();
			std::string_view rest = value;
			while (!(rest = trim(rest)).empty()) {
				size_t end = rest.find_first_of(" \t");
				uint32_t g;
				if (!parseInteger(rest.substr(0, end), g)) {
					if (bad.empty())
						bad = "Groups";
					break;
				}
				st.groups.push_back(g);
				rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
			}
		} else if (key == "CapInh") {
			hex(st.capInh, inh);
		} else if (key == "CapPrm") {
			hex(st.capPrm, prm);
		} else if (key == "CapEff") {
			hex(st.capEff, eff);
		} else if (key == "CapBnd") {
			bool seen;
			hex(st.capBnd, seen);
		} else if (key == "CapAmb") {
			hex(st.capAmb, amb);
		} else if (key == "NoNewPrivs") {
			if (!parseInteger(value, st.noNewPrivs) && bad.empty())
				bad = "NoNewPrivs";
		} else if (key == "Seccomp") {
			if (!parseInteger(value, st.seccomp) && bad.empty())
				bad = "Seccomp";
		}
	});
	if (!bad.empty())
		return makeError(EBADMSG, "malformed {}: line", bad);
	if (!uid || !gid)
		return makeError(EBADMSG, "no {}: line", uid ? "Gid" : "Uid");
	if (!inh || !prm || !eff || !amb)
		return makeError(EBADMSG, "no CapInh/CapPrm/CapEff/CapAmb lines");
	return st;
}

std::optional<std::pair<std::string, std::string>> parseCoreLimit(std::string_view text)
{
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		constexpr std::string_view key = "Max core file size";
		if (!line.starts_with(key))
			continue;
		std::string_view rest = trim(line.substr(key.size()));
		size_t a = rest.find_first_of(" \t");
		if (a == std::string_view::npos)
			return std::nullopt;
		std::string soft(rest.substr(0, a));
		rest = trim(rest.substr(a));
		size_t b = rest.find_first_of(" \t");
		std::string hard(rest.substr(0, b));
		if (soft.empty() || hard.empty())
			return std::nullopt;
		return std::make_pair(soft, hard);
	}
	return std::nullopt;
}

std::optional<std::string> parseUnifiedCgroup(std::string_view text)
{
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		if (line.starts_with("0::"))
			return std::string(line.substr(3));
	}
	return std::nullopt;
}

std::optional<int> parseFdinfoFlags(std::string_view text)
{
	std::optional<int> flags;
	forEachField(text, [&](std::string_view key, std::string_view value) {
		int v;
		if (key == "flags" && parseInteger(value, v, 8))
			flags = v;
	});
	return flags;
}

std::vector<std::string> splitCmdline(std::string_view cmdline)
{
	std::vector<std::string> argv;
	while (!cmdline.empty()) {
		size_t nul = cmdline.find('\0');
		argv.emplace_back(cmdline.substr(0, nul));
		if (nul == std::string_view::npos)
			break;
		cmdline.remove_prefix(nul + 1);
	}
	return argv;
}

std::optional<uint32_t> xenDomidFromArgv(const std::vector<std::string> &argv)
{
	for (size_t i = 1; i + 1 < argv.size(); i++) {
		if (argv[i] != "-xen-domid" && argv[i] != "--xen-domid")
			continue;
		uint32_t d;
		if (parseInteger(std::string_view(argv[i + 1]), d) && d <= kMaxDomid)
			return d;
		return std::nullopt;
	}
	return std::nullopt;
}

std::optional<std::string> runasFromExecStart(const std::vector<std::string> &argv)
{
	for (size_t i = 1; i + 1 < argv.size(); i++) {
		if (argv[i] == "--")
			break;
		if (argv[i] == "--runas")
			return argv[i + 1];
	}
	return std::nullopt;
}

bool isDomainTapName(std::string_view name, uint32_t domid)
{
	std::string prefix = fmt::format("vif{}.", domid);
	if (!name.starts_with(prefix))
		return false;
	name.remove_prefix(prefix.size());
	if (name.ends_with("-emu"))
		name.remove_suffix(4);
	return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/* ---- verdicts: /proc ---- */

std::vector<AuditCheck> auditCredentials(const ProcStatus &st, const AuditExpectations &expect)
{
	std::vector<AuditCheck> out;
	const std::string source = !expect.uidSource.empty()
				       ? expect.uidSource
				       : fmt::format("the per-domain uid of domain {}", expect.domid.value_or(0));
	auto differs = [](const std::array<uint32_t, 4> &ids, uint32_t want) {
		return std::any_of(ids.begin(), ids.end(), [&](uint32_t v) { return v != want; });
	};
	const bool anyRootUid = std::find(st.uids.begin(), st.uids.end(), 0u) != st.uids.end();
	if (anyRootUid)
		out.push_back(
		    fail("uids", fmt::format("real/effective/saved/fs uid {}/{}/{}/{}: the process can act as root",
					     st.uids[0], st.uids[1], st.uids[2], st.uids[3])));
	else if (expect.uid && differs(st.uids, *expect.uid))
		out.push_back(
		    fail("uids", fmt::format("uid {} is not {} ({})", joinIds(st.uids), *expect.uid, source)));
	else if (expect.uid)
		out.push_back(
		    pass("uids", fmt::format("real/effective/saved/fs uid {}: {}", joinIds(st.uids), source)));
	else
		out.push_back(pass("uids", fmt::format("real/effective/saved/fs uid {}, not root", joinIds(st.uids))));

	const bool anyRootGid = std::find(st.gids.begin(), st.gids.end(), 0u) != st.gids.end();
	const bool rootGroup = std::find(st.groups.begin(), st.groups.end(), 0u) != st.groups.end();
	if (anyRootGid || rootGroup)
		out.push_back(fail("gids", fmt::format("gid {}{}: the process has root's group", joinIds(st.gids),
						       rootGroup ? ", supplementary group 0" : "")));
	else if (expect.gid && differs(st.gids, *expect.gid))
		out.push_back(fail(
		    "gids", fmt::format("gid {} is not {}, the gid qemu-dm chose", joinIds(st.gids), *expect.gid)));
	else
		out.push_back(
		    pass("gids", fmt::format("gid {}{}, supplementary groups [{}], none is 0", joinIds(st.gids),
					     expect.gid ? " (the gid qemu-dm chose)" : "", fmt::join(st.groups, " "))));
	return out;
}

AuditCheck auditCapabilities(const ProcStatus &st)
{
	if (st.capPrm == 0 && st.capEff == 0 && st.capInh == 0 && st.capAmb == 0)
		return pass("capabilities", "CapPrm, CapEff, CapInh and CapAmb are 0");
	return fail("capabilities", fmt::format("CapPrm {:016x} CapEff {:016x} CapInh {:016x} CapAmb {:016x}: "
						"the process holds capabilities",
						st.capPrm, st.capEff, st.capInh, st.capAmb));
}

AuditCheck auditNoNewPrivs(const ProcStatus &st)
{
	if (st.noNewPrivs == 1)
		return pass("NoNewPrivs", "1: execve() cannot gain privileges (setuid binaries, file capabilities)");
	if (st.noNewPrivs < 0)
		return fail("NoNewPrivs", "/proc/PID/status has no NoNewPrivs line");
	return fail("NoNewPrivs",
		    fmt::format("{}: an execve() of a setuid binary would gain privileges", st.noNewPrivs));
}

AuditCheck auditSeccomp(const ProcStatus &st)
{
	if (st.seccomp == 2)
		return pass("seccomp", "2: a system call filter is loaded");
	if (st.seccomp < 0)
		return fail("seccomp", "/proc/PID/status has no Seccomp line");
	return fail("seccomp", fmt::format("{}: no system call filter ({})", st.seccomp,
					   st.seccomp == 0 ? "disabled" : "strict mode, not a filter"));
}

AuditCheck auditRoot(std::optional<bool> sameAsHost, const std::string &root)
{
	if (!sameAsHost)
		return fail("root directory", "cannot compare: /proc/PID/root or /proc/1/root could not be read");
	if (*sameAsHost)
		return fail("root directory", "the process's root is the host's / (no chroot)");
	return pass("root directory", fmt::format("chrooted: the process's root is {}", root.empty() ? "?" : root));
}

AuditCheck auditNamespace(std::string_view ns, const std::string &dmLink, const std::string &hostLink, bool required,
			  std::string_view whyNotRequired)
{
	static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
		{ "mnt", "mount namespace" },
		{ "net", "network namespace" },
		{ "ipc", "IPC namespace" },
		{ "uts", "UTS namespace" },
	};
	std::string name = fmt::format("{} namespace", ns);
	for (const auto &[k, v] : kNames)
		if (k == ns)
			name = std::string(v);
	if (dmLink.empty() || hostLink.empty())
		return fail(name, fmt::format("cannot compare: /proc/PID/ns/{} or PID 1's could not be read", ns));
	if (dmLink != hostLink)
		return pass(name, fmt::format("{}, not the host's {}", dmLink, hostLink));
	if (!required)
		return info(name, fmt::format("the host's ({}): {}", dmLink, whyNotRequired));
	return fail(name, fmt::format("the host's ({})", dmLink));
}

AuditCheck auditCoreLimit(std::string_view limitsText)
{
	auto core = parseCoreLimit(limitsText);
	if (!core)
		return fail("RLIMIT_CORE", "/proc/PID/limits has no readable \"Max core file size\" line");
	if (core->first == "0" && core->second == "0")
		return pass("RLIMIT_CORE", "0 (soft and hard): no core dumps of guest memory");
	return fail("RLIMIT_CORE", fmt::format("soft {}, hard {}: the process can dump core (guest memory)",
					       core->first, core->second));
}

AuditCheck auditCgroup(std::string_view cgroupText, std::optional<uint32_t> expectDomid, std::string_view unitCgroup)
{
	auto path = parseUnifiedCgroup(cgroupText);
	if (!path)
		return expectDomid ? fail("cgroup", "no cgroup v2 (0::) line in /proc/PID/cgroup")
				   : info("cgroup", "no cgroup v2 (0::) line in /proc/PID/cgroup");
	if (!expectDomid)
		return info("cgroup", fmt::format("{} (not a qemu-dm unit: not checked)", *path));
	const std::string suffix = fmt::format("/{}/{}", kDmSliceName, dmUnitName(*expectDomid));
	const std::string want = unitCgroup.empty() ? "/qemu.slice" + suffix : std::string(unitCgroup);
	if (*path == want && want.ends_with(suffix))
		return pass("cgroup", fmt::format("{}: reaped with the unit", *path));
	if (!want.ends_with(suffix))
		return fail("cgroup", fmt::format("the unit's cgroup is {}, not in {}", want, suffix.substr(1)));
	return fail("cgroup", fmt::format("{}, not {}: the process escaped the unit's cgroup", *path, want));
}

/* ---- verdicts: descriptors ---- */

FdKind classifyFd(const FdEntry &e)
{
	const std::string &t = e.target;
	if (t == "/dev/xen/privcmd")
		return FdKind::Privcmd;
	if (t == "/dev/xen/evtchn")
		return FdKind::Evtchn;
	if (t == "/dev/xen/gntdev")
		return FdKind::Gntdev;
	if (t == "/dev/xen/gntalloc")
		return FdKind::Gntalloc;
	if (t == "/dev/xen/xenbus" || t == "/dev/xen/xenbus_backend")
		return FdKind::Xenbus;
	if (t == "/dev/xen/hypercall")
		return FdKind::Hypercall;
	if (t == "/dev/net/tun")
		return FdKind::Tun;
	if (t.starts_with("socket:["))
		return FdKind::Socket;
	if (t.starts_with("/var/log/"))
		return FdKind::LogFile;
	return FdKind::Other;
}

AuditCheck auditStdin(const std::optional<FdEntry> &fd0)
{
	if (!fd0)
		return pass("fd 0", "closed");
	if (!fd0->flags)
		return fail("fd 0", fmt::format("{}: its open flags could not be read", fd0->target));
	if ((*fd0->flags & O_ACCMODE) == O_RDONLY)
		return pass("fd 0", fmt::format("{}, read-only", fd0->target));
	return fail("fd 0", fmt::format("{} is open for writing (flags {:o})", fd0->target, *fd0->flags));
}

AuditCheck auditLogFd(const FdEntry &e)
{
	std::string name = fmt::format("log fd {}", e.fd);
	if (!e.flags)
		return fail(name, fmt::format("{}: its open flags could not be read", e.target));
	int acc = *e.flags & O_ACCMODE;
	if (acc == O_RDONLY)
		return pass(name, fmt::format("{}, read-only", e.target));
	if (acc == O_WRONLY && (*e.flags & O_APPEND))
		return pass(name, fmt::format("{}, append-only (O_WRONLY|O_APPEND)", e.target));
	return fail(name, fmt::format("{} is open {}{}: the DM can rewrite its log", e.target,
				      acc == O_RDWR ? "read-write" : "write-only",
				      (*e.flags & O_APPEND) ? "" : " without O_APPEND"));
}

AuditCheck privcmdVerdict(int fd, const ProbeResult &r, std::optional<uint32_t> domid,
			  const std::optional<ProbeResult> &sameDomain)
{
	std::string name = fmt::format("privcmd fd {}", fd);
	if (r.ret >= 0)
		return fail(name,
			    fmt::format("a xen_version hypercall succeeded (Xen {}.{}): unrestricted, it can make "
					"any hypercall as dom0",
					r.ret >> 16, r.ret & 0xffff));
	if (r.err != EPERM)
		return fail(name, fmt::format("the xen_version probe failed with {}: not shown to be restricted",
					      describeErrno(r.err)));
	if (!domid || !sameDomain)
		return pass(name, "refused a xen_version hypercall (EPERM): restricted to one domain (the DM's "
				  "domain is unknown: which one was not checked)");
	if (sameDomain->ret >= 0)
		return pass(name,
			    fmt::format("refused a xen_version hypercall (EPERM): restricted to domain {}", *domid));
	if (sameDomain->err == EINVAL)
		return fail(name, fmt::format("restricted, but to another domain than {}: it can map that domain's "
					      "memory",
					      *domid));
	return fail(name,
		    fmt::format("restricted, but checking its domain failed with {}", describeErrno(sameDomain->err)));
}

AuditCheck evtchnVerdict(int fd, uint32_t other, const ProbeResult &inter, const std::optional<ProbeResult> &unbound,
			 int unbindError, std::optional<uint32_t> domid, const std::optional<ProbeResult> &ownDomain)
{
	std::string name = fmt::format("evtchn fd {}", fd);
	std::string undo = unbindError ? fmt::format(" (unbinding it again failed: {})", describeErrno(unbindError))
				       : std::string(" (unbound again)");
	if (inter.ret >= 0)
		return fail(name, fmt::format("bound port {} to domain {}{}: unrestricted", inter.ret, other, undo));
	if (inter.err != EACCES)
		return fail(name, fmt::format("the driver let a bind to domain {} through to Xen ({}): not restricted "
					      "to the DM's domain",
					      other, describeErrno(inter.err)));
	if (!unbound)
		return fail(name,
			    fmt::format("refused a bind to domain {}, but the unbound-port probe did not run", other));
	if (unbound->ret >= 0)
		return fail(name, fmt::format("allocated unbound port {} for domain {}{}: not restricted", unbound->ret,
					      other, undo));
	if (unbound->err != EACCES)
		return fail(name, fmt::format("refused a bind to domain {}, but the unbound-port probe failed with {}",
					      other, describeErrno(unbound->err)));
	const std::string refused = fmt::format("refused binding to domain {} and unbound ports (EACCES)", other);
	if (!domid || *domid == other || !ownDomain)
		return pass(name, refused + ": restricted (the DM's domain is unknown: which one was not checked)");
	if (ownDomain->ret < 0 && ownDomain->err == EACCES)
		return fail(name, fmt::format("{}, but a bind to domain {} too: restricted to another domain", refused,
					      *domid));
	return pass(name, fmt::format("{}, passed a bind to domain {} on to Xen: restricted to domain {}{}", refused,
				      *domid, *domid, ownDomain->ret >= 0 ? undo : ""));
}

AuditCheck gntdevVerdict(int fd, const ProbeResult &r)
{
	std::string name = fmt::format("gntdev fd {}", fd);
	if (r.ret >= 0)
		return fail(name,
			    "a live grant device (it accepts grant copies): gntdev cannot be restricted, a restricted "
			    "handle is /dev/null; this one can map grants of any domain");
	return fail(name, fmt::format("open on /dev/xen/gntdev (a grant-copy probe failed with {}); gntdev cannot be "
				      "restricted, a restricted handle is /dev/null",
				      describeErrno(r.err)));
}

AuditCheck gntallocVerdict(int fd)
{
	return fail(
	    fmt::format("gntalloc fd {}", fd),
	    "open on /dev/xen/gntalloc: it can grant this process's pages to any domain; neither the driver nor "
	    "-xen-domid-restrict restricts it");
}

AuditCheck xenstoreVerdict(int fd, std::string_view what)
{
	return warn(fmt::format("xenstore fd {}", fd),
		    fmt::format("{}: a xenstore connection with dom0's permissions (-xen-domid-restrict replaces it "
				"with /dev/null)",
				what));
}

AuditCheck hypercallBufferInfo(int fd)
{
	return info(fmt::format("hypercall fd {}", fd),
		    "/dev/xen/hypercall: libxencall's buffer device, no privilege of its own");
}

AuditCheck tapVerdict(int fd, const Result<std::string> &ifname, std::optional<uint32_t> domid)
{
	std::string name = fmt::format("tap fd {}", fd);
	if (!ifname)
		return fail(name, fmt::format("/dev/net/tun: TUNGETIFF failed: {}", ifname.error().message()));
	if (!domid)
		return info(name, fmt::format("interface {}; the DM's domain is unknown, not checked", *ifname));
	if (isDomainTapName(*ifname, *domid))
		return pass(name, fmt::format("interface {}: domain {}'s own", *ifname, *domid));
	return fail(name,
		    fmt::format("interface {} is not one of domain {}'s (vif{}.N[-emu])", *ifname, *domid, *domid));
}

AuditCheck noXenFdsInfo()
{
	return info("Xen fds",
		    "no Xen fds (no privcmd, evtchn, gntdev, gntalloc or xenbus descriptor): nothing to probe");
}

bool isXenstoredSocketPath(std::string_view path)
{
	return path.starts_with("/run/xenstored/socket") || path.starts_with("/var/run/xenstored/socket");
}

/* ---- the report ---- */

AuditCheck auditDeviceAllowAfterReadiness(const std::vector<std::string> &paths)
{
	std::vector<std::string> xen;
	for (const auto &p : paths)
		if (p.starts_with("/dev/xen"))
			xen.push_back(p);
	if (xen.empty())
		return { "device access", AuditVerdict::Pass,
			 "the unit's DeviceAllow= names no Xen node after readiness (revoked)" };
	return { "device access", AuditVerdict::Fail,
		 fmt::format("the unit may still open {} after readiness (DeviceAllow=)", fmt::join(xen, ", ")) };
}

std::vector<AuditCheck> auditStaleGrants(const std::vector<NodeGrants> &nodes, const std::vector<uid_t> &inWindow)
{
	std::vector<AuditCheck> out;
	for (const auto &n : nodes) {
		std::vector<std::string> stale, window;
		for (uid_t u : n.uids)
			(std::find(inWindow.begin(), inWindow.end(), u) == inWindow.end() ? stale : window)
			    .push_back(std::to_string(u));
		if (!stale.empty())
			out.push_back(
			    { fmt::format("grant {}", n.path), AuditVerdict::Fail,
			      fmt::format("stale ACL entr{} for uid {}: no device model of {} is in its start",
					  stale.size() == 1 ? "y" : "ies", fmt::join(stale, ", "),
					  stale.size() == 1 ? "it" : "them") });
		else if (!window.empty())
			out.push_back({ fmt::format("grant {}", n.path), AuditVerdict::Info,
					fmt::format("uid {} in its start window (granted until QEMU answers QMP)",
						    fmt::join(window, ", ")) });
	}
	if (out.empty())
		out.push_back({ "grants", AuditVerdict::Pass, "no ACL entry for any uid on the Xen nodes" });
	return out;
}

bool auditFailed(const AuditReport &report)
{
	for (const auto &c : report.unitChecks)
		if (c.verdict == AuditVerdict::Fail)
			return true;
	for (const auto &p : report.processes)
		for (const auto &c : p.checks)
			if (c.verdict == AuditVerdict::Fail)
				return true;
	return false;
}

int auditExitCode(const AuditReport &report)
{
	return auditFailed(report) ? kAuditExitFail : kAuditExitPass;
}

std::string formatAudit(const AuditReport &report)
{
	std::string out = fmt::format("Audit of {}", report.target);
	if (report.domid)
		out += fmt::format(" (domain {})", *report.domid);
	out += fmt::format(": {} process{}\n", report.processes.size(), report.processes.size() == 1 ? "" : "es");
	unsigned counts[4] = {};
	if (!report.unitChecks.empty()) {
		out += "unit and host\n";
		size_t width = 0;
		for (const auto &c : report.unitChecks)
			width = std::max(width, c.name.size());
		for (const auto &c : report.unitChecks) {
			out += fmt::format("  {}  {:<{}} : {}\n", auditVerdictName(c.verdict), c.name, width, c.reason);
			counts[static_cast<int>(c.verdict)]++;
		}
	}
	for (const auto &p : report.processes) {
		out += fmt::format("pid {} ({})\n", p.pid, p.comm);
		size_t width = 0;
		for (const auto &c : p.checks)
			width = std::max(width, c.name.size());
		for (const auto &c : p.checks) {
			out += fmt::format("  {}  {:<{}} : {}\n", auditVerdictName(c.verdict), c.name, width, c.reason);
			counts[static_cast<int>(c.verdict)]++;
		}
	}
	const unsigned passed = counts[static_cast<int>(AuditVerdict::Pass)];
	const unsigned warned = counts[static_cast<int>(AuditVerdict::Warn)];
	const unsigned failed = counts[static_cast<int>(AuditVerdict::Fail)];
	const unsigned infos = counts[static_cast<int>(AuditVerdict::Info)];
	out += fmt::format("Result: {} ({} passed, {} failed, {} warning{}, {} not checked)\n",
			   failed ? "FAIL" : "PASS", passed, failed, warned, warned == 1 ? "" : "s", infos);
	return out;
}

json::Value processAuditToJson(const ProcessAudit &audit)
{
	json::Value checks = json::Value::array();
	for (const auto &c : audit.checks) {
		json::Value o = json::Value::object();
		o.set("name", json::Value::string(c.name));
		o.set("verdict", json::Value::string(std::string(verdictKey(c.verdict))));
		o.set("reason", json::Value::string(c.reason));
		checks.append(std::move(o));
	}
	json::Value p = json::Value::object();
	p.set("pid", json::Value::integer(audit.pid));
	p.set("comm", json::Value::string(audit.comm));
	p.set("domid", audit.domid ? json::Value::unsignedInteger(*audit.domid) : json::Value::null());
	p.set("checks", std::move(checks));
	return p;
}

Result<ProcessAudit> processAuditFromJson(const json::Value &v)
{
	const json::Value *pid = v.find("pid"), *comm = v.find("comm"), *checks = v.find("checks");
	if (!v.isObject() || !pid || !pid->asInt64() || !comm || !comm->asString() || !checks || !checks->isArray())
		return makeError(EBADMSG, "malformed process audit");
	ProcessAudit a;
	a.pid = static_cast<pid_t>(*pid->asInt64());
	a.comm = *comm->asString();
	if (const json::Value *d = v.find("domid"); d && !d->isNull()) {
		if (!d->asUint32() || *d->asUint32() > kMaxDomid)
			return makeError(EBADMSG, "malformed domid in a process audit");
		a.domid = *d->asUint32();
	}
	for (const auto &c : checks->items()) {
		const json::Value *n = c.find("name"), *vd = c.find("verdict"), *r = c.find("reason");
		if (!n || !n->asString() || !vd || !vd->asString() || !r || !r->asString())
			return makeError(EBADMSG, "malformed check in a process audit");
		AuditCheck check{ *n->asString(), AuditVerdict::Fail, *r->asString() };
		bool known = false;
		for (AuditVerdict x :
		     { AuditVerdict::Pass, AuditVerdict::Warn, AuditVerdict::Fail, AuditVerdict::Info })
			if (verdictKey(x) == *vd->asString()) {
				check.verdict = x;
				known = true;
			}
		if (!known)
			return makeError(EBADMSG, "unknown verdict '{}' in a process audit", *vd->asString());
		a.checks.push_back(std::move(check));
	}
	return a;
}

json::Value auditToJson(const AuditReport &report)
{
	json::Value o = json::Value::object();
	o.set("target", json::Value::string(report.target));
	o.set("domid", report.domid ? json::Value::unsignedInteger(*report.domid) : json::Value::null());
	o.set("result", json::Value::string(auditFailed(report) ? "fail" : "pass"));
	if (!report.unitChecks.empty()) {
		ProcessAudit unit;
		unit.checks = report.unitChecks;
		o.set("unit_checks", *processAuditToJson(unit).find("checks"));
	}
	json::Value procs = json::Value::array();
	for (const auto &p : report.processes)
		procs.append(processAuditToJson(p));
	o.set("processes", std::move(procs));
	return o;
}

} /* namespace qemudm */
