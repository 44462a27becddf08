/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "host_policy.h"
#include "test_util.h"

using namespace qemudm;

namespace {

using qemudm::test::valuesOf;

size_t indexOf(const std::vector<UnitProperty> &p, std::string_view name, std::string_view value)
{
	for (size_t i = 0; i < p.size(); i++)
		if (p[i].name == name && p[i].value == value)
			return i;
	return SIZE_MAX;
}

/* The root privilege model, whose set the lab proved first (never-root's: test-never-root.cpp). */
Config rootModel()
{
	Config c;
	c.privilegeModel = PrivilegeModel::Root;
	return c;
}

} /* namespace */

TEST(HostPolicy, DefaultsAreTheLabsRecommendedSet)
{
	auto p = buildHostPolicy(rootModel());
	/* The proven set (xen-lab-dm/guest/props/recommended.props), minus what we change on purpose. */
	const std::vector<UnitProperty> expected = {
		{ "CapabilityBoundingSet", "CAP_SETUID CAP_SETGID CAP_SYS_CHROOT" },
		{ "NoNewPrivileges", "yes" },
		/* The allow-list view. */
		{ "RootDirectory", std::string(QEMU_DM_VIEW_ROOT) },
		{ "MountAPIVFS", "yes" },
		{ "TemporaryFileSystem", "/run:ro,mode=0755,nosuid,nodev,noexec /etc:ro,mode=0755 /var:ro,mode=0755 "
					 "/srv:ro,mode=0755 /opt:ro,mode=0755 /mnt:ro,mode=0755 /media:ro,mode=0755" },
		{ "BindReadOnlyPaths", "/usr" },
		{ "BindReadOnlyPaths",
		  "-/etc/ld.so.cache -/etc/localtime -/etc/passwd -/etc/group -/etc/nsswitch.conf" },
		{ "BindReadOnlyPaths", "-/run/xenstored -/run/xenstored:/var/run/xenstored" },
		{ "BindReadOnlyPaths", "-/run/systemd/notify" },
		{ "BindPaths", "-/run/qemu-dm/%i" },
		{ "ProtectSystem", "strict" },
		{ "ProtectHome", "yes" },
		/* No persistent storage, bounded tmpfs as TMPDIR. */
		{ "PrivateTmp", "yes" },
		{ "BindReadOnlyPaths", fmt::format("{0}:/tmp {0}:/var/tmp", QEMU_DM_VIEW_EMPTY) },
		{ "TemporaryFileSystem", "/tmp/qemu-dm:mode=1777,size=16M,nosuid,nodev" },
		{ "Environment", "TMPDIR=/tmp/qemu-dm" },
		{ "PrivateDevices", "yes" },
		{ "TemporaryFileSystem", "/dev/shm:mode=1777,size=16M,nosuid,nodev,noexec" },
		{ "DeviceAllow", "/dev/xen/privcmd rw" },
		{ "DeviceAllow", "/dev/xen/evtchn rw" },
		{ "DeviceAllow", "/dev/xen/hypercall rw" },
		{ "BindPaths", "-/dev/xen/privcmd" },
		{ "BindPaths", "-/dev/xen/evtchn" },
		{ "BindPaths", "-/dev/xen/hypercall" },
		{ "PrivateIPC", "yes" },
		{ "IPAddressDeny", "any" },
		{ "ProtectHostname", "yes" },
		{ "ProtectClock", "yes" },
		{ "ProtectKernelTunables", "yes" },
		{ "ProtectKernelModules", "yes" },
		{ "ProtectKernelLogs", "yes" },
		{ "ProtectControlGroups", "yes" },
		{ "ProtectProc", "invisible" },
		{ "ProcSubset", "pid" },
		{ "RestrictAddressFamilies", "AF_UNIX" },
		{ "RestrictNamespaces", "yes" },
		{ "LockPersonality", "yes" },
		{ "RestrictRealtime", "yes" },
		{ "RestrictSUIDSGID", "yes" },
		{ "KeyringMode", "private" },
		{ "UMask", "0077" },
		{ "SystemCallArchitectures", "native" },
		{ "SystemCallFilter", "@system-service @setuid @chown chroot" },
		{ "SystemCallFilter", "~@privileged @resources @mount @debug @module @reboot @swap @raw-io "
				      "@cpu-emulation @obsolete @clock @keyring @memlock" },
		{ "SystemCallFilter", "chroot setuid setgroups seccomp" },
		{ "LimitCORE", "0" },
		{ "LimitFSIZE", "infinity" },
		{ "LimitMSGQUEUE", "0" },
		{ "LimitLOCKS", "0" },
		{ "LimitMEMLOCK", "0" },
		{ "TasksMax", "128" },
		{ "Slice", "qemu-dm.slice" },
		{ "KillMode", "control-group" },
		{ "SuccessExitStatus", "SIGKILL" },
		{ "LogRateLimitIntervalSec", "30s" },
		{ "LogRateLimitBurst", "1000" },
	};
	EXPECT_EQ(p, expected);
}

TEST(HostPolicy, OneCompleteCapabilityBoundingSetLine)
{
	Config c;
	c.extraDevices = { { "/dev/net/tun", "rw" } };
	EXPECT_EQ(valuesOf(buildHostPolicy(c), "CapabilityBoundingSet").size(), 1u);
}

TEST(HostPolicy, ReallowLineComesAfterTheDenyLine)
{
	auto p = buildHostPolicy(rootModel());
	auto filters = valuesOf(p, "SystemCallFilter");
	ASSERT_EQ(filters.size(), 3u);
	EXPECT_TRUE(filters[1].starts_with("~"));
	EXPECT_EQ(filters[2], "chroot setuid setgroups seccomp");
}

TEST(HostPolicy, TheViewSharesNothingBetweenDomains)
{
	auto p = buildHostPolicy(Config());
	/* Nothing of /run/xen (shared by every domain) and no deny list: the view is an allow-list. */
	for (const auto &x : p) {
		EXPECT_EQ(x.value.find("/run/xen/"), std::string::npos) << x.name << "=" << x.value;
		EXPECT_FALSE(x.value.ends_with("/run/xen")) << x.name << "=" << x.value;
		EXPECT_NE(x.name, "ReadWritePaths") << x.value;
		EXPECT_NE(x.name, "InaccessiblePaths") << x.value;
		/* systemd 252 mounts a RuntimeDirectory= writable into a RootDirectory= view: never the root's. */
		EXPECT_NE(x.name, "RuntimeDirectory") << x.value;
	}
	EXPECT_EQ(valuesOf(p, "RootDirectory"), (std::vector<std::string>{ QEMU_DM_VIEW_ROOT }));
	/* Every writable bind of the host policy is the domain's own (%i) or a device node. */
	for (const auto &b : valuesOf(p, "BindPaths"))
		EXPECT_TRUE(b.starts_with("-/dev/") || b == "-/run/qemu-dm/%i") << b;
	/* The root directory comes before everything bound below it. */
	EXPECT_LT(indexOf(p, "RootDirectory", QEMU_DM_VIEW_ROOT),
		  indexOf(p, "BindReadOnlyPaths", "/usr -/bin -/sbin -/lib -/lib64 -/lib32 -/libx32"));
	EXPECT_TRUE(inViewSkeleton("var"));
	EXPECT_FALSE(inViewSkeleton("srv"));
}

TEST(HostPolicy, ExtraDevicesAddDeviceAllowAndBindPaths)
{
	Config c = rootModel();
	c.extraDevices = { { "/dev/net/tun", "rw" }, { "/dev/dri/renderD128", "r" } };
	auto p = buildHardeningPolicy(c);
	EXPECT_EQ(valuesOf(p, "DeviceAllow"),
		  (std::vector<std::string>{ "/dev/xen/privcmd rw", "/dev/xen/evtchn rw", "/dev/xen/hypercall rw",
					     "/dev/net/tun rw", "/dev/dri/renderD128 r" }));
	EXPECT_EQ(valuesOf(p, "BindPaths"),
		  (std::vector<std::string>{ "-/run/qemu-dm/%i", "-/dev/xen/privcmd", "-/dev/xen/evtchn",
					     "-/dev/xen/hypercall", "-/dev/net/tun", "-/dev/dri/renderD128" }));
}

TEST(HostPolicy, LimitsFollowTheConfig)
{
	Config c;
	c.limitFsize = 262144;
	c.tasksMax = std::nullopt;
	c.memoryMax = Limit(1ULL << 30);
	c.cpuWeight = 50;
	c.limitCore = std::nullopt;
	auto p = buildLimitsPolicy(c);
	EXPECT_EQ(p, (std::vector<UnitProperty>{ { "LimitCORE", "infinity" },
						 { "LimitFSIZE", "262144" },
						 { "LimitMSGQUEUE", "0" },
						 { "LimitLOCKS", "0" },
						 { "LimitMEMLOCK", "0" },
						 { "TasksMax", "infinity" },
						 { "MemoryMax", "1073741824" },
						 { "CPUWeight", "50" } }));
	c.memoryMax = Limit(std::nullopt);
	EXPECT_EQ(valuesOf(buildLimitsPolicy(c), "MemoryMax"), (std::vector<std::string>{ "infinity" }));
}

TEST(HostPolicy, LoggingFollowsTheConfig)
{
	Config c;
	c.logRateLimitIntervalUSec = 0;
	c.logRateLimitBurst = 5;
	auto p = buildServicePolicy(c);
	EXPECT_EQ(valuesOf(p, "LogRateLimitIntervalSec"), (std::vector<std::string>{ "0" }));
	EXPECT_EQ(valuesOf(p, "LogRateLimitBurst"), (std::vector<std::string>{ "5" }));
}

TEST(HostPolicy, NoPropertyTheDomainMayRelaxIsInTheHostSet)
{
	auto host = buildHostPolicy(Config());
	for (const auto &d : buildDomainDefaults(Config()))
		EXPECT_TRUE(valuesOf(host, d.name).empty()) << d.name;
	EXPECT_EQ(buildDomainDefaults(Config()),
		  (BusProperties{ { "PrivateNetwork", true }, { "MemoryDenyWriteExecute", true } }));
}

TEST(HostPolicy, DropInsPartitionTheHostSet)
{
	Config c;
	std::vector<UnitProperty> all;
	std::vector<std::string> names;
	for (const auto &d : buildHostDropIns(c)) {
		names.push_back(d.fileName);
		all.insert(all.end(), d.service.begin(), d.service.end());
	}
	EXPECT_EQ(names, (std::vector<std::string>{ "50-qemu-dm-hardening.conf", "50-qemu-dm-limits.conf",
						    "50-qemu-dm-service.conf", "50-qemu-dm-grant.conf" }));
	EXPECT_EQ(all, buildHostPolicy(c));
	names.clear();
	for (const auto &d : buildHostDropIns(rootModel()))
		names.push_back(d.fileName);
	EXPECT_EQ(names, (std::vector<std::string>{ "50-qemu-dm-hardening.conf", "50-qemu-dm-limits.conf",
						    "50-qemu-dm-service.conf" }));
}

TEST(HostPolicy, EscapeSpecifiers)
{
	EXPECT_EQ(escapeSpecifiers("100% %n %%"), "100%% %%n %%%%");
	EXPECT_EQ(escapeSpecifiers("plain"), "plain");
}

TEST(HostPolicy, ConfigInvalidDropInEscapesTheReason)
{
	auto d = buildConfigInvalidDropIn("/etc/x.conf:3: Invalid value '5%\"\\' for Y=\x01");
	EXPECT_EQ(d.fileName, "50-qemu-dm-config-invalid.conf");
	ASSERT_EQ(d.unit.size(), 1u);
	EXPECT_EQ(d.unit[0].name, "Description");
	EXPECT_EQ(d.unit[0].value,
		  "qemu-dm REFUSES TO START, invalid configuration: /etc/x.conf:3: Invalid value '5%%\"\\\\' for Y=?");
	ASSERT_EQ(d.service.size(), 1u);
	EXPECT_EQ(d.service[0].name, "ExecStartPre");
	EXPECT_EQ(d.service[0].value,
		  ":/bin/sh -c 'printf \"%%s\\\\n\" \"$1\" >&2; exit 1' qemu-dm \"qemu-dm: refusing to start, invalid "
		  "configuration: /etc/x.conf:3: Invalid value '5%%\\\"\\\\' for Y=?\"");
}

TEST(HostPolicy, RenderDropIn)
{
	PolicyDropIn d{ "50-x.conf", { { "Documentation", "man:x(5)" } }, { { "A", "1" }, { "B", "2" } } };
	EXPECT_EQ(renderDropIn(d, "gen", "/etc/x%.conf", { "line one", "", "bad\nline", "ends in \\" }),
		  "# Automatically generated by gen\n"
		  "#\n"
		  "# line one\n"
		  "#\n"
		  "# bad?line\n"
		  "# ends in \\\\\n"
		  "\n[Unit]\n"
		  "SourcePath=/etc/x%%.conf\n"
		  "Documentation=man:x(5)\n"
		  "\n[Service]\n"
		  "A=1\n"
		  "B=2\n");
}
