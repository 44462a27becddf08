/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_unit.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "host_policy.h"

namespace qemudm {

namespace {

Status checkPath(uint32_t domid, std::string_view what, const std::string &path, bool wantChar = false)
{
	if (path.empty() || path[0] != '/')
		return makeError(EINVAL, "domain {}: {} '{}' is not an absolute path", domid, what, path);
	if (path.find("/../") != std::string::npos || path.ends_with("/..") ||
	    path.find_first_of("\n\"'\\%") != std::string::npos)
		return makeError(EINVAL, "domain {}: {} '{}' contains characters qemu-dm does not accept", domid, what,
				 path);
	struct stat st;
	if (::stat(path.c_str(), &st) < 0)
		return errnoError(errno, "domain {}: {} {}", domid, what, path);
	if (wantChar && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return makeError(EINVAL, "domain {}: {} {} is not a device node", domid, what, path);
	return success();
}

} /* namespace */

std::string qemuDmExecPath()
{
	if (const char *e = std::getenv("QEMU_DM_EXEC"); e && *e)
		return e;
	return std::string(PKGLIBEXECDIR) + "/qemu-dm-exec";
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
	if (!req.name.empty()) {
		if (req.name.find_first_of("\n\"'\\ %") != std::string::npos)
			return makeError(EINVAL,
					 "domain {}: the domain name '{}' contains characters qemu-dm does not accept",
					 domid, req.name);
		add("LogExtraFields", fmt::format("XEN_DOMAIN_NAME={}", req.name));
	}
	add("Environment", fmt::format("XEN_DOMAIN_ID={}", domid));
	/* The uid this DM will run as, before QEMU drops to it: runningDmUids() reads it (uid policy). */
	add("Environment", fmt::format("QEMU_DM_UID={}", identity->uid));
	add("StandardOutput", "journal");
	add("StandardError", "journal");
	add("RuntimeDirectory", fmt::format("qemu-dm/{}", domid));
	add("RuntimeDirectoryMode", "0700");
	add("CacheDirectory", "qemu-dm/probe");
	add("CacheDirectoryMode", "0700");

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
		if (auto s = checkPath(domid, "disk", disk.path); !s)
			return s.error();
		add(disk.readOnly ? "ReadOnlyPaths" : "ReadWritePaths", disk.path);
	}
	for (const auto &path : req.paths) {
		if (auto s = checkPath(domid, "path", path.path); !s)
			return s.error();
		add(path.writable ? "ReadWritePaths" : "ReadOnlyPaths", path.path);
	}
	for (const auto &dev : req.devices) {
		if (auto s = checkPath(domid, "device", dev.path, true); !s)
			return s.error();
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

	auto &e = plan.execStart;
	e = { qemuDmExecPath(), "--domid",	std::to_string(domid), "--type", std::string(guestTypeName(req.type)),
	      "--runas",	identity->runas };
	if (!req.domainCheck)
		e.push_back("--no-domain-check");
	bool restrict = req.restrict.value_or(config.restrictByDefault);
	if (!restrict)
		e.push_back("--no-restrict");
	if (req.qmpFdTarget >= 3) {
		e.push_back("--stdin-fd");
		e.push_back(std::to_string(req.qmpFdTarget));
	}
	e.push_back("--");
	e.insert(e.end(), req.qemuArgv.begin(), req.qemuArgv.end());
	return plan;
}

std::string quoteArgument(const std::string &arg)
{
	if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
						  "@%+=:,./_-") == std::string::npos)
		return arg;
	std::string out = "'";
	for (char c : arg) {
		if (c == '\'')
			out += "'\\''";
		else
			out += c;
	}
	return out + "'";
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
