/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host_policy.h"

#include <fmt/format.h>

namespace qemudm {

namespace {

/*
 * The Xen device nodes of a device model (DeviceAllow= and a bind into the
 * private /dev), one list for every caller: the host drop-in (root model), the
 * per-domain plan (never root) and the device grant (xenDeviceNodes()).
 *
 * Root model (what the real HVM DM needed in the Xen 4.17 lab): privcmd and
 * evtchn, and hypercall because without it libxencall falls back to locked
 * memory, which LimitMEMLOCK=0 forbids; QEMU reaches xenstore through
 * xenstored's socket (root's, QEMU is root when it connects). Never-root
 * model (QEMU 7.2 under strace on Xen 4.17): the socket refuses a non-root
 * uid, so libxenstore falls back to /dev/xen/xenbus, needed by every guest
 * type; a PV or PVH DM's qdisk backend also maps the guest's grants through
 * gntdev.
 */
constexpr std::string_view kXenDevicesRoot[] = {
	"/dev/xen/privcmd",
	"/dev/xen/evtchn",
	"/dev/xen/hypercall",
};
constexpr std::string_view kXenDevicesNeverRoot[] = {
	"/dev/xen/privcmd",
	"/dev/xen/evtchn",
	"/dev/xen/hypercall",
	"/dev/xen/xenbus",
};
constexpr std::string_view kXenDevicesNeverRootPv[] = {
	"/dev/xen/gntdev",
};

void add(std::vector<UnitProperty> &v, std::string_view name, std::string value)
{
	v.push_back(UnitProperty{ std::string(name), std::move(value) });
}

std::string sanitize(std::string_view s)
{
	std::string out;
	for (char c : s)
		out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
	return out;
}

} /* namespace */

std::vector<std::string_view> xenDeviceNodes(PrivilegeModel model, GuestType type)
{
	if (model == PrivilegeModel::Root)
		return { std::begin(kXenDevicesRoot), std::end(kXenDevicesRoot) };
	std::vector<std::string_view> v(std::begin(kXenDevicesNeverRoot), std::end(kXenDevicesNeverRoot));
	if (type != GuestType::Hvm)
		v.insert(v.end(), std::begin(kXenDevicesNeverRootPv), std::end(kXenDevicesNeverRootPv));
	return v;
}

bool inViewSkeleton(std::string_view d)
{
	for (std::string_view s : { "bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin",
				    "sys", "tmp", "usr", "var" })
		if (d == s)
			return true;
	return false;
}

std::vector<UnitProperty> buildViewPolicy(PrivilegeModel model)
{
	std::vector<UnitProperty> p;
	/*
	 * The root is an empty skeleton shared by every DM and read-only to them.
	 * Not a per-unit RuntimeDirectory=: under RootDirectory= systemd 252 also
	 * bind-mounts every RuntimeDirectory= into the namespace, recursively and
	 * writable, and a root there would show the view's binds writable again
	 * (the host's /etc/passwd, /usr/lib; found in the lab). The skeleton has
	 * every mount point the view needs, and /etc, /var, /run and the usual
	 * image directories are private tmpfs: systemd creates no mount point in
	 * the shared directory (but for a declared object below another
	 * top-level directory: docs/confinement.md).
	 */
	add(p, "RootDirectory", std::string(kViewRoot));
	/* /proc, /sys (read-only: ProtectKernelTunables=) and the private /dev (PrivateDevices=). */
	add(p, "MountAPIVFS", "yes");
	/* MountAPIVFS= would give a writable, world-writable /run tmpfs: read-only, root's only. */
	/*
	 * /etc, /var and where images usually live (/srv, /opt, /mnt, /media):
	 * private and empty, so the mount points of the binds below and of a
	 * domain's disks are made in them, not in the shared skeleton.
	 */
	add(p, "TemporaryFileSystem",
	    "/run:ro,mode=0755,nosuid,nodev,noexec /etc:ro,mode=0755 /var:ro,mode=0755 /srv:ro,mode=0755 "
	    "/opt:ro,mode=0755 /mnt:ro,mode=0755 /media:ro,mode=0755");
	/*
	 * QEMU, qemu-dm-exec, their libraries, firmware and keymaps. Merged /usr:
	 * the skeleton's /bin, /sbin and /lib* are symlinks into it, as on the
	 * host; one bind for each instead costs a third of the unit's start.
	 */
	add(p, "BindReadOnlyPaths", "/usr");
	/*
	 * Of /etc only what the dynamic loader, glibc's time and user lookups read
	 * (qemu-dm-exec resolves a device_model_user by name): nothing secret.
	 */
	add(p, "BindReadOnlyPaths", "-/etc/ld.so.cache -/etc/localtime -/etc/passwd -/etc/group -/etc/nsswitch.conf");
	/*
	 * xenstored's socket (QEMU talks to xenstore), under both names
	 * libxenstore uses: root's (0755 directory, root-only socket), so only in
	 * the root model. A never-root DM uses /dev/xen/xenbus, granted for its start.
	 */
	if (model == PrivilegeModel::Root)
		add(p, "BindReadOnlyPaths", "-/run/xenstored -/run/xenstored:/var/run/xenstored");
	/* qemu-dm-exec's READY=1 (Type=notify); stdout and stderr are journal streams already open. */
	add(p, "BindReadOnlyPaths", "-/run/systemd/notify");
	/* The unit's own runtime dir: its sockets (libxenstat's QMP) and, in the root model, QEMU's chroot dir. */
	add(p, "BindPaths", "-/run/qemu-dm/%i");
	return p;
}

std::vector<UnitProperty> buildHardeningPolicy(const Config &config)
{
	std::vector<UnitProperty> p;
	const bool neverRoot = config.privilegeModel == PrivilegeModel::NeverRoot;
	/*
	 * One complete line: on the bus a second one replaces the first. Root
	 * model: what QEMU's -runas and -chroot need in its root window. Never
	 * root: the unit runs as the DM's user from exec (User= per domain) and
	 * has no capability at all, nor can it gain one (ambient set empty too).
	 */
	if (neverRoot) {
		add(p, "CapabilityBoundingSet", "");
		add(p, "AmbientCapabilities", "");
	} else {
		add(p, "CapabilityBoundingSet", "CAP_SETUID CAP_SETGID CAP_SYS_CHROOT");
	}
	add(p, "NoNewPrivileges", "yes");
	/*
	 * The allow-list view (docs/confinement.md, "The
	 * allow-list view"): the unit's "/" is an empty directory of its own, and
	 * only what is bound below reaches it. Nothing of /run/xen, /etc, /var,
	 * /srv, /home or any other top-level directory is there unless listed.
	 */
	for (auto &v : buildViewPolicy(config.privilegeModel))
		p.push_back(std::move(v));
	/* The view's root and everything bound read-only stay read-only. */
	add(p, "ProtectSystem", "strict");
	add(p, "ProtectHome", "yes");
	/*
	 * A DM writes no persistent storage but its declared disks (nothing it
	 * leaves can reach the next DM). PrivateTmp='s /tmp and /var/tmp live on the host's disk
	 * (/tmp/systemd-private-*, /var/tmp/systemd-private-*): under the view an
	 * empty read-only directory is bound over both (a bind mount wins over
	 * PrivateTmp='s in systemd 252, and ReadOnlyPaths=/tmp is not applied to
	 * PrivateTmp= under RootDirectory=). Temporary space is a bounded tmpfs
	 * whose pages are charged to the DM's cgroup (MemoryMax=), named by TMPDIR
	 * (QEMU and GLib honour it). PrivateTmp= stays (systemd-analyze security
	 * counts it).
	 */
	add(p, "PrivateTmp", "yes");
	add(p, "BindReadOnlyPaths", fmt::format("{0}:/tmp {0}:/var/tmp", kViewEmpty));
	add(p, "TemporaryFileSystem", fmt::format("{}:mode=1777,size=16M,nosuid,nodev", kDmTmpDir));
	add(p, "Environment", fmt::format("TMPDIR={}", kDmTmpDir));
	add(p, "PrivateDevices", "yes");
	/*
	 * PrivateDevices= binds the host's /dev/shm into the private /dev: one
	 * tmpfs shared by every DM and writable in the root window (one DM could
	 * leave files for the next). Each DM gets its own, bounded and charged to it.
	 */
	add(p, "TemporaryFileSystem", "/dev/shm:mode=1777,size=16M,nosuid,nodev,noexec");
	/*
	 * Root model: the same nodes for every guest type, here. Never root: per
	 * domain (planDmUnit(), by guest type), in the transient unit itself, which
	 * systemd reads before every drop-in: the runtime reset of DeviceAllow= that
	 * ends the grant (system.control/.../50-DeviceAllow.conf) is parsed after it
	 * on daemon-reload, while a line here ('q' sorts after 'D') would add the
	 * nodes again.
	 */
	std::vector<std::string_view> xenDevices;
	if (!neverRoot)
		xenDevices = xenDeviceNodes(config.privilegeModel, GuestType::Hvm);
	for (auto dev : xenDevices)
		add(p, "DeviceAllow", fmt::format("{} rw", dev));
	for (const auto &d : config.extraDevices)
		add(p, "DeviceAllow", fmt::format("{} {}", d.path, d.permissions));
	/* "-": a missing node is no error (a host without Xen, the test bed). */
	for (auto dev : xenDevices)
		add(p, "BindPaths", fmt::format("-{}", dev));
	for (const auto &d : config.extraDevices)
		add(p, "BindPaths", fmt::format("-{}", d.path));
	add(p, "PrivateIPC", "yes");
	add(p, "IPAddressDeny", "any");
	add(p, "ProtectHostname", "yes");
	add(p, "ProtectClock", "yes");
	add(p, "ProtectKernelTunables", "yes");
	add(p, "ProtectKernelModules", "yes");
	add(p, "ProtectKernelLogs", "yes");
	add(p, "ProtectControlGroups", "yes");
	add(p, "ProtectProc", "invisible");
	add(p, "ProcSubset", "pid");
	add(p, "RestrictAddressFamilies", "AF_UNIX");
	add(p, "RestrictNamespaces", "yes");
	add(p, "LockPersonality", "yes");
	add(p, "RestrictRealtime", "yes");
	add(p, "RestrictSUIDSGID", "yes");
	add(p, "KeyringMode", "private");
	add(p, "UMask", "0077");
	/* SysV IPC objects of the DM's user go with the unit (a root model's unit runs as root: no-op). */
	if (neverRoot)
		add(p, "RemoveIPC", "yes");
	/*
	 * Never root: a user namespace that maps only root and the DM's own
	 * uid/gid (1:1, so the host, the Xen nodes' ACLs and the audit see the
	 * real ids); every other uid is nobody inside. Not in the root model:
	 * QEMU's -runas would change to an unmapped uid. Lab: HVM and PV run.
	 */
	if (neverRoot)
		add(p, "PrivateUsers", "yes");
	add(p, "SystemCallArchitectures", "native");
	/*
	 * ~@privileged and ~@mount also remove chroot, setuid and setgroups:
	 * QEMU's -chroot and -runas need them back in the root model. A
	 * never-root DM calls none of them: set*uid and setgroups are killed here
	 * (SIGSYS); set*gid stay in @system-service and meet qemu-dm-exec's
	 * credential filter, pinned to the DM's own gid (EPERM).
	 * seccomp(2) can only restrict the caller further: qemu-dm-exec installs
	 * that filter, and QEMU builds with -sandbox probe it at start.
	 */
	add(p, "SystemCallFilter", neverRoot ? "@system-service" : "@system-service @setuid @chown chroot");
	add(p, "SystemCallFilter",
	    "~@privileged @resources @mount @debug @module @reboot @swap @raw-io @cpu-emulation "
	    "@obsolete @clock @keyring @memlock");
	add(p, "SystemCallFilter", neverRoot ? "seccomp" : "chroot setuid setgroups seccomp");
	return p;
}

std::vector<UnitProperty> buildLimitsPolicy(const Config &config)
{
	std::vector<UnitProperty> p;
	add(p, "LimitCORE", formatLimit(config.limitCore));
	add(p, "LimitFSIZE", formatLimit(config.limitFsize));
	add(p, "LimitMSGQUEUE", formatLimit(config.limitMsgqueue));
	add(p, "LimitLOCKS", formatLimit(config.limitLocks));
	add(p, "LimitMEMLOCK", formatLimit(config.limitMemlock));
	add(p, "TasksMax", formatLimit(config.tasksMax));
	if (config.memoryMax)
		add(p, "MemoryMax", formatLimit(*config.memoryMax));
	if (config.cpuWeight)
		add(p, "CPUWeight", std::to_string(*config.cpuWeight));
	return p;
}

std::vector<UnitProperty> buildServicePolicy(const Config &config)
{
	std::vector<UnitProperty> p;
	add(p, "Slice", std::string(kDmSlice));
	add(p, "KillMode", "control-group");
	/* xl destroy / libxl's reaper SIGKILLs the device model: that is a normal end. */
	add(p, "SuccessExitStatus", "SIGKILL");
	add(p, "LogRateLimitIntervalSec", formatTimespan(config.logRateLimitIntervalUSec));
	add(p, "LogRateLimitBurst", std::to_string(config.logRateLimitBurst));
	return p;
}

std::vector<UnitProperty> buildGrantPolicy(const Config &config)
{
	std::vector<UnitProperty> p;
	if (config.privilegeModel != PrivilegeModel::NeverRoot)
		return p;
	/*
	 * qemu-dm-grant@ grants the uid the unit's Xen nodes before the DM starts
	 * and removes whatever is left when it ends (BindsTo= both ways);
	 * qemu-dm-ready@ (after the DM's READY=1) ends the access once QEMU answers
	 * QMP. BindsTo= here: if either fails, the DM is stopped.
	 */
	add(p, "BindsTo", fmt::format("{} {}", grantUnitName("%i"), readyUnitName("%i")));
	add(p, "After", grantUnitName("%i"));
	return p;
}

std::vector<UnitProperty> buildHostPolicy(const Config &config)
{
	std::vector<UnitProperty> p = buildHardeningPolicy(config);
	for (auto &part : { buildLimitsPolicy(config), buildServicePolicy(config) })
		p.insert(p.end(), part.begin(), part.end());
	return p;
}

BusProperties buildDomainDefaults([[maybe_unused]] const Config &config)
{
	/*
	 * Sent per domain, not as drop-ins (a drop-in would override what the
	 * transient unit says): emulated NICs need the host's network namespace,
	 * and a TCG stand-in DM needs W+X memory for its JIT. Xen's QEMU needs
	 * neither.
	 */
	return { { "PrivateNetwork", true }, { "MemoryDenyWriteExecute", true } };
}

std::vector<PolicyDropIn> buildHostDropIns(const Config &config)
{
	std::vector<PolicyDropIn> dropIns = {
		{ "50-qemu-dm-hardening.conf", {}, buildHardeningPolicy(config) },
		{ "50-qemu-dm-limits.conf", {}, buildLimitsPolicy(config) },
		{ "50-qemu-dm-service.conf",
		  { { "Documentation",
		      "man:qemu-dmctl(1) man:qemu-dm.conf(5) man:qemu-dm-exec(8) man:qemu-dm-generator(8)" } },
		  buildServicePolicy(config) },
	};
	if (auto grant = buildGrantPolicy(config); !grant.empty())
		dropIns.push_back({ "50-qemu-dm-grant.conf", std::move(grant), {} });
	return dropIns;
}

PolicyDropIn buildConfigInvalidDropIn(std::string_view reason)
{
	std::string r = sanitize(reason);

	/* Description= is shown verbatim: escape specifiers, double backslashes (no line continuation). */
	std::string desc;
	for (char c : escapeSpecifiers(fmt::format("qemu-dm REFUSES TO START, invalid configuration: {}", r)))
		desc += c == '\\' ? std::string("\\\\") : std::string(1, c);

	/*
	 * ExecStartPre=: the reason is one double-quoted argument (C escapes
	 * undone by systemd) handed to a fixed script as $1, never part of the
	 * script; ":" turns off systemd's $VAR expansion.
	 */
	std::string arg;
	for (char c : fmt::format("qemu-dm: refusing to start, invalid configuration: {}", r)) {
		if (c == '\\' || c == '"')
			arg += '\\';
		arg += c;
	}
	std::string exec =
	    fmt::format(":/bin/sh -c 'printf \"%%s\\\\n\" \"$1\" >&2; exit 1' qemu-dm \"{}\"", escapeSpecifiers(arg));

	return { "50-qemu-dm-config-invalid.conf", { { "Description", desc } }, { { "ExecStartPre", exec } } };
}

std::string escapeSpecifiers(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (char c : s) {
		if (c == '%')
			out += '%';
		out += c;
	}
	return out;
}

std::string renderDropIn(const PolicyDropIn &dropIn, std::string_view generator, std::string_view sourcePath,
			 const std::vector<std::string> &comments)
{
	std::string out = fmt::format("# Automatically generated by {}\n", generator);
	if (!comments.empty()) {
		out += "#\n";
		for (const auto &c : comments) {
			/* Doubled backslashes: a line must never end in a line continuation. */
			std::string line;
			for (char ch : sanitize(c))
				line += ch == '\\' ? std::string("\\\\") : std::string(1, ch);
			out += line.empty() ? std::string("#\n") : fmt::format("# {}\n", line);
		}
	}
	out += "\n[Unit]\n";
	if (!sourcePath.empty())
		out += fmt::format("SourcePath={}\n", escapeSpecifiers(sanitize(sourcePath)));
	for (const auto &p : dropIn.unit)
		out += fmt::format("{}={}\n", p.name, p.value);
	if (!dropIn.service.empty()) {
		out += "\n[Service]\n";
		for (const auto &p : dropIn.service)
			out += fmt::format("{}={}\n", p.name, p.value);
	}
	return out;
}

} /* namespace qemudm */
