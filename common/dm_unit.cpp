/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_unit.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "declared_path.h"
#include "dm_names.h"
#include "host_policy.h"

namespace qemudm {

std::string qemuDmExecPath()
{
	if (const char *e = std::getenv("QEMU_DM_EXEC"); e && *e)
		return e;
	return std::string(PKGLIBEXECDIR) + "/qemu-dm-exec";
}

std::string libxenstatSocketPath(uint32_t domid)
{
	return fmt::format("/run/qemu-dm/{}/qmp-libxenstat", domid);
}

std::vector<DmUnitPlan::HostLink> moveLibxenstatSocket(uint32_t domid, std::vector<std::string> &qemuArgv)
{
	std::vector<DmUnitPlan::HostLink> links;
	for (size_t i = 1; i < qemuArgv.size(); i++) {
		if (qemuArgv[i - 1] != "-chardev" && qemuArgv[i - 1] != "--chardev")
			continue;
		/* libxl's value has no ",," escapes: split on ','. */
		std::vector<std::string> parts;
		std::string_view v = qemuArgv[i];
		for (size_t pos = 0;;) {
			size_t comma = v.find(',', pos);
			parts.emplace_back(v.substr(pos, comma == std::string_view::npos ? comma : comma - pos));
			if (comma == std::string_view::npos)
				break;
			pos = comma + 1;
		}
		if (parts.empty() || parts[0] != "socket" ||
		    std::find(parts.begin(), parts.end(), "id=libxenstat-cmd") == parts.end())
			continue;
		for (auto &part : parts) {
			std::string path = part.starts_with("path=") ? part.substr(5) : std::string();
			if (path != fmt::format("/var/run/xen/qmp-libxenstat-{}", domid) &&
			    path != fmt::format("/run/xen/qmp-libxenstat-{}", domid))
				continue;
			part = "path=" + libxenstatSocketPath(domid);
			links.push_back({ path, libxenstatSocketPath(domid) });
		}
		std::string joined;
		for (size_t k = 0; k < parts.size(); k++)
			joined += (k ? "," : "") + parts[k];
		qemuArgv[i] = joined;
	}
	return links;
}

Result<DmUnitPlan> planDmUnit(const Config &config, const DmRequest &req, UserLookup &lookup)
{
	const uint32_t domid = req.domid;
	if (domid < 1 || domid > kMaxDomid)
		return makeError(EINVAL, "domain {}: invalid domain id, expected 1 to {}", domid, kMaxDomid);
	if (req.qemuArgv.empty())
		return makeError(EINVAL, "domain {}: no device model command line given", domid);
	const std::string &qemu = req.qemuArgv[0];
	if (qemu.empty() || qemu[0] != '/')
		return makeError(EINVAL, "domain {}: the device model '{}' must be an absolute path", domid, qemu);
	if (::access(qemu.c_str(), X_OK) < 0)
		return errnoError(errno, "domain {}: device model {}", domid, qemu);
	if (req.qmpFdTarget >= 0 && req.qmpFdTarget < 3)
		return makeError(EINVAL, "domain {}: the QMP fd must be handed to QEMU as fd 3 or higher", domid);
	std::vector<FdDecl> fds = req.fds;
	if (req.qmpFdTarget >= 3)
		fds.insert(fds.begin(), FdDecl{ req.qmpFdTarget, ChannelFdKind::Socket });
	if (Status s = checkFdDecls(fds); !s)
		return s.error().wrap(fmt::format("domain {}: the fds for QEMU", domid));
	if (!req.consoleLimit.empty() &&
	    (req.consoleLimit.size() > 19 || req.consoleLimit.find_first_not_of("0123456789") != std::string::npos))
		return makeError(EINVAL, "domain {}: XEN_QEMU_CONSOLE_LIMIT '{}' is not a decimal number", domid,
				 req.consoleLimit);

	if (!req.name.empty())
		if (auto s = checkDomainName(domid, req.name); !s)
			return s.error();
	for (const auto &tap : req.taps)
		if (auto s = checkTapName(domid, tap); !s)
			return s.error();
	if (!req.deviceModelUser.empty())
		if (auto s = checkDeviceModelUserName(domid, req.deviceModelUser); !s)
			return s.error();

	DmUserRequest ureq;
	ureq.domid = domid;
	ureq.deviceModelUser = req.deviceModelUser;
	ureq.dmRestrict = req.restrict;
	auto identity = resolveDmIdentity(config, ureq, lookup);
	if (!identity)
		return identity.error().wrap(fmt::format("domain {}", domid));
	if (identity->runsAsRoot())
		return makeError(EPERM,
				 "domain {}: refusing to run a device model as root: restriction is off and no "
				 "device_model_user is set (qemu-dm never runs a DM as root)",
				 domid);

	DmUnitPlan plan;
	plan.domid = domid;
	plan.unit = dmUnitName(domid);
	plan.identity = *identity;
	plan.warnings = identity->warnings;
	auto &p = plan.properties;
	auto add = [&p](std::string name, std::string value) { p.push_back({ std::move(name), std::move(value) }); };

	std::string name = req.name.empty() ? std::string() : fmt::format(" ({})", req.name);
	add("Description", escapeSpecifiers(fmt::format("Xen device model for domain {}{}", domid, name)));
	add("Slice", std::string(kDmSlice));
	/*
	 * Readiness without timers: qemu-dm-exec sends READY=1 right before it
	 * execs QEMU, after every check, so the start job's result is the answer
	 * (DESIGN.md "Readiness"). The probe of an uncached QEMU took 3.6-9.4 s
	 * in a TCG dom0: the start timeout leaves room for that.
	 */
	add("Type", "notify");
	add("NotifyAccess", "main");
	add("TimeoutStartSec", "60s");
	add("CollectMode", "inactive-or-failed");
	/* `xl destroy` SIGKILLs; a DM ignoring SIGTERM is SIGKILLed after this (qemu-dmctl stop --timeout). */
	add("TimeoutStopSec", "30s");
	add("SyslogIdentifier", fmt::format("qemu-dm-{}", domid));
	add("LogExtraFields", fmt::format("XEN_DOMID={}", domid));
	if (!req.name.empty())
		add("LogExtraFields", fmt::format("XEN_DOMAIN_NAME={}", req.name));
	add("Environment", fmt::format("XEN_DOMAIN_ID={}", domid));
	/* The uid this DM will run as, before QEMU drops to it: runningDmUids() reads it (uid policy). */
	add("Environment", fmt::format("QEMU_DM_UID={}", identity->uid));
	/* The one variable of the caller's environment QEMU gets (libxl sets it for QEMU). */
	if (!req.consoleLimit.empty())
		add("Environment", fmt::format("XEN_QEMU_CONSOLE_LIMIT={}", req.consoleLimit));
	add("StandardOutput", "journal");
	add("StandardError", "journal");
	add("RuntimeDirectory", fmt::format("qemu-dm/{}", domid));
	add("RuntimeDirectoryMode", "0700");

	for (auto &d : buildDomainDefaults(config)) {
		if (d.name == "PrivateNetwork" && (!req.taps.empty() || req.vncLocalhost))
			d.value = "no";
		if (d.name == "MemoryDenyWriteExecute" && req.allowWriteExecute)
			d.value = "no";
		p.push_back(d);
	}
	if (req.allowWriteExecute) {
		/*
		 * TCG stand-ins also call set_mempolicy(2) (@resources, denied by the
		 * host filter, which a per-domain line cannot re-allow): let denied
		 * calls fail with EPERM instead of killing the stand-in.
		 */
		add("SystemCallErrorNumber", "EPERM");
	}

	for (const auto &disk : req.disks) {
		if (auto o = checkDeclaredObject(domid, "disk", disk.path, DeclaredKind::Disk); !o)
			return o.error();
		/* Bound into the allow-list view (host_policy.h), where nothing else of the host is. */
		add(disk.readOnly ? "BindReadOnlyPaths" : "BindPaths", disk.path);
	}
	for (const auto &path : req.paths) {
		if (auto o = checkDeclaredObject(domid, "path", path.path, DeclaredKind::Path); !o)
			return o.error();
		add(path.writable ? "BindPaths" : "BindReadOnlyPaths", path.path);
	}
	for (const auto &dev : req.devices) {
		if (auto o = checkDeclaredObject(domid, "device", dev.path, DeclaredKind::Device); !o)
			return o.error();
		if (dev.permissions.empty() || dev.permissions.find_first_not_of("rwm") != std::string::npos)
			return makeError(EINVAL, "domain {}: device {}: permissions '{}' are not a subset of rwm",
					 domid, dev.path, dev.permissions);
		add("DeviceAllow", fmt::format("{} {}", dev.path, dev.permissions));
		add("BindPaths", dev.path);
	}
	if (!req.taps.empty()) {
		/* QEMU creates the tap itself (TUNSETIFF) before dropping privileges. */
		add("DeviceAllow", "/dev/net/tun rw");
		add("BindPaths", "/dev/net/tun");
		/* Unit-file semantics: this line is OR'ed with the host drop-in's bounding set. */
		add("CapabilityBoundingSet", "CAP_NET_ADMIN");
		plan.warnings.push_back(fmt::format("domain {}: emulated NICs need the host network namespace "
						    "and CAP_NET_ADMIN until QEMU drops privileges",
						    domid));
	}

	if (req.vncLocalhost) {
		/*
		 * dom0's VNC clients connect to 127.0.0.1:5900+N, so QEMU listens in the
		 * host's network namespace (PrivateNetwork=no above). Allow-lists merge
		 * with the host drop-in's AF_UNIX, and IPAddressAllow= wins over its
		 * IPAddressDeny=any: IP traffic with localhost only, nothing else.
		 */
		add("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6");
		add("IPAddressAllow", "localhost");
		add("IPAddressDeny", "any");
	}

	/*
	 * The view holds /usr: a qemu-dm-exec ($QEMU_DM_EXEC) or QEMU outside it
	 * (a build tree, /opt) is bound in read-only, the file alone.
	 */
	for (const std::string &prog : { qemuDmExecPath(), qemu }) {
		if (prog.starts_with("/usr/"))
			continue;
		if (auto s = checkDeclaredPathSpelling(domid, "program", prog); !s)
			return s.error();
		add("BindReadOnlyPaths", prog);
	}

	/*
	 * A bind outside the view's skeleton (a disk in /srv) needs mount points
	 * below a top-level directory the skeleton lacks: a private read-only
	 * tmpfs there holds them (only the top-level name is made in the shared
	 * skeleton, once).
	 */
	std::vector<std::string> tops;
	for (const auto &prop : p) {
		if (prop.name != "BindPaths" && prop.name != "BindReadOnlyPaths")
			continue;
		std::string_view v = prop.value;
		size_t slash = v.find('/', 1);
		if (slash == std::string_view::npos)
			continue; /* a file directly in /: its mount point is made in the skeleton */
		std::string top(v.substr(1, slash - 1));
		if (!inViewSkeleton(top) && std::find(tops.begin(), tops.end(), top) == tops.end())
			tops.push_back(top);
	}
	for (const auto &top : tops)
		add("TemporaryFileSystem", fmt::format("/{}:ro,mode=0755", top));

	auto &e = plan.execStart;
	e = { qemuDmExecPath(), "--domid",	std::to_string(domid), "--type", std::string(guestTypeName(req.type)),
	      "--runas",	identity->runas };
	if (!req.domainCheck)
		e.push_back("--no-domain-check");
	bool restrict = req.restrict.value_or(config.restrictByDefault);
	if (!restrict)
		e.push_back("--no-restrict");
	for (const FdDecl &d : fds) {
		e.push_back("--fd");
		e.push_back(d.toString());
	}
	e.push_back("--");
	std::vector<std::string> qemuArgv = req.qemuArgv;
	plan.hostLinks = moveLibxenstatSocket(domid, qemuArgv);
	e.insert(e.end(), qemuArgv.begin(), qemuArgv.end());
	return plan;
}

std::string quoteArgument(const std::string &arg)
{
	std::string out;
	bool plain = !arg.empty() && arg != ";";
	for (unsigned char c : arg) {
		if (c == '%' || c == '$') {
			/* "%%": a specifier otherwise; "$$": environment expansion otherwise. */
			out += char(c);
			out += char(c);
			continue;
		}
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    std::string_view("@+=:,./_-").find(char(c)) != std::string_view::npos;
		plain &= safe;
		switch (c) {
		case '"':
			out += "\\\"";
			break;
		case '\\':
			out += "\\\\";
			break;
		case '\n':
			out += "\\n";
			break;
		case '\t':
			out += "\\t";
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				out += fmt::format("\\x{:02x}", c);
			else
				out += char(c);
		}
	}
	return plain ? out : "\"" + out + "\"";
}

std::string formatPlan(const DmUnitPlan &plan)
{
	std::string out;
	for (const auto &[name, value] : plan.properties)
		out += fmt::format("{}={}\n", name, value);
	out += "ExecStart=";
	for (size_t i = 0; i < plan.execStart.size(); i++) {
		if (i)
			out += ' ';
		out += quoteArgument(plan.execStart[i]);
	}
	out += "\n";
	return out;
}

} /* namespace qemudm */
