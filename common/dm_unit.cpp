/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_unit.h"

#include <linux/capability.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/ranges.h>

#include "declared_path.h"
#include "dev_grant.h"
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
	/* Each argument reaches QEMU exactly as given, also as systemd shows and re-reads it (bus_property.h). */
	for (size_t i = 0; i < req.qemuArgv.size(); i++)
		if (auto s = checkExecArgument(req.qemuArgv[i]); !s)
			return s.error().wrap(fmt::format("domain {}: refusing QEMU argument {}", domid, i));

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

	const bool neverRoot = config.privilegeModel == PrivilegeModel::NeverRoot;
	if (neverRoot && !identity->killByUid)
		return makeError(EPERM,
				 "domain {}: refusing the shared user {} under PrivilegeModel=never-root: the DM's "
				 "uid is granted the Xen nodes for its start, and no other DM may hold it "
				 "(create the range base user {})",
				 domid, identity->runas, config.rangeBaseUser);
	if (neverRoot && !req.taps.empty())
		return makeError(EPERM,
				 "domain {}: emulated NICs ({}) need QEMU to create the tap with CAP_NET_ADMIN, "
				 "which a device model never has under PrivilegeModel=never-root "
				 "(PrivilegeModel=root in qemu-dm.conf serves them)",
				 domid, fmt::join(req.taps, " "));

	DmUnitPlan plan;
	plan.domid = domid;
	plan.unit = dmUnitName(domid);
	plan.identity = *identity;
	plan.warnings = identity->warnings;
	auto &p = plan.properties;
	auto add = [&p](std::string name, BusValue value) { p.push_back({ std::move(name), std::move(value) }); };
	auto str = [](std::string s) { return BusValue(std::move(s)); };

	std::string name = req.name.empty() ? std::string() : fmt::format(" ({})", req.name);
	add("Description", str(fmt::format("Xen device model for domain {}{}", domid, name)));
	add("Slice", str(std::string(kDmSlice)));
	/*
	 * Readiness without timers: qemu-dm-exec sends READY=1 right before it
	 * execs QEMU, after every check, so the start job's result is the answer
	 * (no polling, no sleep). The probe of an uncached QEMU took 3.6-9.4 s
	 * in a TCG dom0 (lab): the start timeout leaves room for that.
	 */
	add("Type", str("notify"));
	add("NotifyAccess", str("main"));
	add("TimeoutStartUSec", Usec{ 60000000 });
	add("CollectMode", str("inactive-or-failed"));
	/* `xl destroy` SIGKILLs; a DM ignoring SIGTERM is SIGKILLed after this (qemu-dmctl stop --timeout). */
	add("TimeoutStopUSec", Usec{ 30000000 });
	add("SyslogIdentifier", str(fmt::format("qemu-dm-{}", domid)));
	add("LogExtraFields", JournalFields{ { fmt::format("XEN_DOMID={}", domid) } });
	if (!req.name.empty())
		add("LogExtraFields", JournalFields{ { fmt::format("XEN_DOMAIN_NAME={}", req.name) } });
	add("Environment", Strings{ { fmt::format("XEN_DOMAIN_ID={}", domid) } });
	/* The uid this DM will run as, before QEMU drops to it: runningDmUids() reads it (uid policy). */
	add("Environment", Strings{ { fmt::format("QEMU_DM_UID={}", identity->uid) } });
	/* The one variable of the caller's environment QEMU gets (libxl sets it for QEMU). */
	if (!req.consoleLimit.empty())
		add("Environment", Strings{ { fmt::format("XEN_QEMU_CONSOLE_LIMIT={}", req.consoleLimit) } });
	if (neverRoot) {
		/*
		 * The unit runs as the DM's user from exec: systemd resolves it
		 * through NSS (qemu-dm-userdb answers for xen-qemuuser-<domid> while
		 * this unit is loaded, docs/userdb.md). The range's user gets its
		 * per-domain group (uid_policy.h); a device_model_user its primary
		 * group, which systemd takes from its record.
		 */
		if (req.deviceModelUser.empty()) {
			add("User", str(perDomainUserName(domid)));
			add("Group", str(perDomainUserName(domid)));
		} else {
			add("User", str(req.deviceModelUser));
		}
	}
	add("StandardOutput", str("journal"));
	add("StandardError", str("journal"));
	add("RuntimeDirectory", Strings{ { fmt::format("qemu-dm/{}", domid) } });
	add("RuntimeDirectoryMode", FileMode{ 0700 });

	for (auto &d : buildDomainDefaults(config)) {
		if (d.name == "PrivateNetwork" && (!req.taps.empty() || req.vncLocalhost))
			d.value = false;
		if (d.name == "MemoryDenyWriteExecute" && req.allowWriteExecute)
			d.value = false;
		p.push_back(d);
	}
	if (req.allowWriteExecute) {
		/*
		 * TCG stand-ins also call set_mempolicy(2) (@resources, denied by the
		 * host filter, which a per-domain line cannot re-allow): let denied
		 * calls fail with EPERM instead of killing the stand-in.
		 */
		add("SystemCallErrorNumber", ErrnoNumber{ EPERM });
	}

	/*
	 * Never root: the Xen nodes of this guest type, per domain (host_policy.h,
	 * xenDeviceNodes(); in the root model they are the host drop-in's). "-": a
	 * host without Xen (the test bed) has none.
	 */
	if (neverRoot)
		for (auto dev : xenDeviceNodes(config.privilegeModel, req.type)) {
			add("DeviceAllow", DeviceRules{ { { std::string(dev), "rw" } } });
			add("BindPaths", BindPaths{ { { std::string(dev), std::string(dev), true } } });
		}

	for (const auto &disk : req.disks) {
		if (auto o = checkDeclaredObject(domid, "disk", disk.path, DeclaredKind::Disk); !o)
			return o.error();
		/* Bound into the allow-list view (host_policy.h), where nothing else of the host is. */
		if (!disk.viaFd)
			add(disk.readOnly ? "BindReadOnlyPaths" : "BindPaths",
			    BindPaths{ { { disk.path, disk.path } } });
	}
	for (const auto &path : req.paths) {
		if (auto o = checkDeclaredObject(domid, "path", path.path, DeclaredKind::Path); !o)
			return o.error();
		add(path.writable ? "BindPaths" : "BindReadOnlyPaths", BindPaths{ { { path.path, path.path } } });
	}
	for (const auto &dev : req.devices) {
		if (auto o = checkDeclaredObject(domid, "device", dev.path, DeclaredKind::Device); !o)
			return o.error();
		if (dev.permissions.empty() || dev.permissions.find_first_not_of("rwm") != std::string::npos)
			return makeError(EINVAL, "domain {}: device {}: permissions '{}' are not a subset of rwm",
					 domid, dev.path, dev.permissions);
		add("DeviceAllow", DeviceRules{ { { dev.path, dev.permissions } } });
		add("BindPaths", BindPaths{ { { dev.path, dev.path } } });
	}
	if (!req.taps.empty()) {
		/* QEMU creates the tap itself (TUNSETIFF) before dropping privileges. */
		add("DeviceAllow", DeviceRules{ { { "/dev/net/tun", "rw" } } });
		add("BindPaths", BindPaths{ { { "/dev/net/tun", "/dev/net/tun" } } });
		/* Unit-file semantics: this line is OR'ed with the host drop-in's bounding set. */
		add("CapabilityBoundingSet", Capabilities{ { CAP_NET_ADMIN } });
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
		add("RestrictAddressFamilies", AddressFamilies{ true, { "AF_UNIX", "AF_INET", "AF_INET6" } });
		add("IPAddressAllow", ipLocalhost());
		add("IPAddressDeny", ipAny());
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
		add("BindReadOnlyPaths", BindPaths{ { { prog, prog } } });
	}

	auto &e = plan.execStart;
	e = { qemuDmExecPath(), "--domid", std::to_string(domid), "--type", std::string(guestTypeName(req.type)) };
	if (neverRoot) {
		/* It already is that user: it checks so, and gives QEMU no -runas/-chroot. */
		e.push_back("--never-root");
		e.push_back("--runas");
		e.push_back(fmt::format("{}:{}", identity->uid, identity->gid));
	} else {
		e.push_back("--runas");
		e.push_back(identity->runas);
	}
	if (!req.domainCheck)
		e.push_back("--no-domain-check");
	bool restrict = req.restrict.value_or(config.restrictByDefault);
	if (!restrict)
		e.push_back("--no-restrict");
	if (config.privilegeModel == PrivilegeModel::NeverRoot)
		e.push_back("--ready-qmp");
	for (const FdDecl &d : fds) {
		e.push_back("--fd");
		e.push_back(d.toString());
	}
	e.push_back("--");
	std::vector<std::string> qemuArgv = req.qemuArgv;
	plan.hostLinks = moveLibxenstatSocket(domid, qemuArgv);
	e.insert(e.end(), qemuArgv.begin(), qemuArgv.end());
	for (const auto &prop : plan.properties)
		if (auto s = checkBusProperty(prop); !s)
			return s.error().wrap(fmt::format("domain {}", domid));
	return plan;
}

BusProperty execStartProperty(const DmUnitPlan &plan)
{
	return { "ExecStart", ExecArgv{ plan.execStart } };
}

std::string formatPlan(const DmUnitPlan &plan)
{
	std::string out;
	for (const auto &p : plan.properties)
		out += formatBusProperty(p) + "\n";
	out += formatBusProperty(execStartProperty(plan)) + "\n";
	return out;
}

} /* namespace qemudm */
