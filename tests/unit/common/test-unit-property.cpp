/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * tests/support/unit_property: unit-file text -> the D-Bus "(sv)" StartTransientUnit
 * takes. Each test builds a real sd-bus method call, seals it, reads it back
 * and compares name, variant signature and value with what systemd 252
 * expects (src/core/dbus-*.c) and what systemd-run would send.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <systemd/sd-bus.h>

#include "bus_message.h"
#include "unit_property.h"

using namespace qemudm;
using namespace qemudm::test;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

/* Convert one property; the entries it produced, or the error message. */
struct Converted {
	bool ok;
	std::string error;
	std::vector<Entry> entries;
};

Converted convert(std::string_view name, std::string_view value)
{
	Message msg;
	auto r = appendUnitProperty(msg.get(), name, value);
	Converted c{ r.ok(), r.ok() ? "" : r.error().message(), {} };
	c.entries = msg.entries();
	return c;
}

std::vector<Entry> ok(std::string_view name, std::string_view value)
{
	auto c = convert(name, value);
	EXPECT_TRUE(c.ok) << name << "=" << value << ": " << c.error;
	return c.entries;
}

std::string fails(std::string_view name, std::string_view value)
{
	auto c = convert(name, value);
	EXPECT_FALSE(c.ok) << name << "=" << value << " was accepted";
	EXPECT_TRUE(c.entries.empty()) << name << "=" << value << ": a failed conversion appended something";
	return c.error;
}

const std::string kMax = std::to_string(UINT64_MAX);

/* The property set a real Xen 4.17 HVM device model booted with, confined, in the lab (unit-file lines). */
const char *const kRecommended = R"(CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_SYS_CHROOT
NoNewPrivileges=yes
ProtectSystem=strict
ReadOnlyPaths=/run
ReadWritePaths=/run/xen
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
DeviceAllow=/dev/xen/privcmd rw
DeviceAllow=/dev/xen/evtchn rw
DeviceAllow=/dev/xen/hypercall rw
BindPaths=/dev/xen/privcmd /dev/xen/evtchn /dev/xen/hypercall
PrivateIPC=yes
PrivateNetwork=yes
IPAddressDeny=any
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service @setuid @chown chroot
SystemCallFilter=~@privileged @resources @mount @debug @module @reboot @swap @raw-io @cpu-emulation @obsolete @clock @keyring @memlock
SystemCallFilter=chroot setuid setgroups
LimitFSIZE=262144
LimitCORE=0
LimitMSGQUEUE=0
LimitLOCKS=0
LimitMEMLOCK=0
TasksMax=64
KeyringMode=private
UMask=0077
SuccessExitStatus=SIGKILL
)";

} /* namespace */

TEST(UnitProperty, RecommendedSetConvertsAsSystemdExpects)
{
	Message msg;
	std::istringstream is(kRecommended);
	for (std::string line; std::getline(is, line);) {
		auto assignment = parseUnitPropertyAssignment(line);
		ASSERT_TRUE(assignment.ok()) << line;
		ASSERT_TRUE(isKnownUnitProperty(assignment->name)) << line;
		auto r = appendUnitProperty(msg.get(), assignment->name, assignment->value);
		ASSERT_TRUE(r.ok()) << line << ": " << r.error().message();
	}
	const std::string v4any = "(2,0x00000000,0)";
	const std::string v6any = "(10,0x00000000000000000000000000000000,0)";
	EXPECT_THAT(
	    msg.entries(),
	    ElementsAre(Entry{ "CapabilityBoundingSet", "t", std::to_string((1u << 7) | (1u << 6) | (1u << 18)) },
			Entry{ "NoNewPrivileges", "b", "true" }, Entry{ "ProtectSystem", "s", "strict" },
			Entry{ "ReadOnlyPaths", "as", "[/run]" }, Entry{ "ReadWritePaths", "as", "[/run/xen]" },
			Entry{ "ProtectHome", "s", "yes" }, Entry{ "PrivateTmp", "b", "true" },
			Entry{ "PrivateDevices", "b", "true" },
			Entry{ "DeviceAllow", "a(ss)", "[(/dev/xen/privcmd,rw)]" },
			Entry{ "DeviceAllow", "a(ss)", "[(/dev/xen/evtchn,rw)]" },
			Entry{ "DeviceAllow", "a(ss)", "[(/dev/xen/hypercall,rw)]" },
			Entry{ "BindPaths", "a(ssbt)",
			       "[(/dev/xen/privcmd,/dev/xen/privcmd,false,16384),"
			       "(/dev/xen/evtchn,/dev/xen/evtchn,false,16384),"
			       "(/dev/xen/hypercall,/dev/xen/hypercall,false,16384)]" },
			Entry{ "PrivateIPC", "b", "true" }, Entry{ "PrivateNetwork", "b", "true" },
			Entry{ "IPAddressDeny", "a(iayu)", "[" + v4any + "," + v6any + "]" },
			Entry{ "ProtectHostname", "b", "true" }, Entry{ "ProtectClock", "b", "true" },
			Entry{ "ProtectKernelTunables", "b", "true" }, Entry{ "ProtectKernelModules", "b", "true" },
			Entry{ "ProtectKernelLogs", "b", "true" }, Entry{ "ProtectControlGroups", "b", "true" },
			Entry{ "ProtectProc", "s", "invisible" }, Entry{ "ProcSubset", "s", "pid" },
			Entry{ "RestrictAddressFamilies", "(bas)", "(true,[AF_UNIX])" },
			Entry{ "RestrictNamespaces", "t", "0" }, Entry{ "LockPersonality", "b", "true" },
			Entry{ "MemoryDenyWriteExecute", "b", "true" }, Entry{ "RestrictRealtime", "b", "true" },
			Entry{ "RestrictSUIDSGID", "b", "true" }, Entry{ "SystemCallArchitectures", "as", "[native]" },
			Entry{ "SystemCallFilter", "(bas)", "(true,[@system-service,@setuid,@chown,chroot])" },
			Entry{ "SystemCallFilter", "(bas)",
			       "(false,[@privileged,@resources,@mount,@debug,@module,@reboot,@swap,@raw-io,"
			       "@cpu-emulation,@obsolete,@clock,@keyring,@memlock])" },
			Entry{ "SystemCallFilter", "(bas)", "(true,[chroot,setuid,setgroups])" },
			Entry{ "LimitFSIZE", "t", "262144" }, Entry{ "LimitFSIZESoft", "t", "262144" },
			Entry{ "LimitCORE", "t", "0" }, Entry{ "LimitCORESoft", "t", "0" },
			Entry{ "LimitMSGQUEUE", "t", "0" }, Entry{ "LimitMSGQUEUESoft", "t", "0" },
			Entry{ "LimitLOCKS", "t", "0" }, Entry{ "LimitLOCKSSoft", "t", "0" },
			Entry{ "LimitMEMLOCK", "t", "0" }, Entry{ "LimitMEMLOCKSoft", "t", "0" },
			Entry{ "TasksMax", "t", "64" }, Entry{ "KeyringMode", "s", "private" },
			Entry{ "UMask", "u", "63" }, Entry{ "SuccessExitStatus", "(aiai)", "([],[9])" }));
}

TEST(UnitProperty, UnknownPropertyIsAClearError)
{
	EXPECT_FALSE(isKnownUnitProperty("Frobnicate"));
	EXPECT_FALSE(isKnownUnitProperty("protectsystem"));
	EXPECT_EQ(fails("Frobnicate", "1"), "Unknown unit property 'Frobnicate'");
	EXPECT_EQ(fails("", "1"), "Unknown unit property ''");
}

TEST(UnitProperty, InvalidValueNamesPropertyValueAndExpectation)
{
	EXPECT_THAT(fails("ProtectSystem", "bogus"),
		    HasSubstr("Invalid value 'bogus' for ProtectSystem=: expected one of full, strict, or a boolean"));
	EXPECT_THAT(fails("NoNewPrivileges", "maybe"),
		    HasSubstr("Invalid value 'maybe' for NoNewPrivileges=: expected a boolean"));
	EXPECT_THAT(fails("TimeoutStopSec", "soon"),
		    HasSubstr("Invalid value 'soon' for TimeoutStopSec=: expected a time span"));
}

TEST(UnitProperty, FailedConversionLeavesMessageUnchanged)
{
	Message msg;
	EXPECT_FALSE(appendUnitProperty(msg.get(), "BindPaths", "/ok relative").ok());
	EXPECT_FALSE(appendUnitProperty(msg.get(), "LimitNOFILE", "10:5").ok());
	EXPECT_TRUE(appendUnitProperty(msg.get(), "PrivateTmp", "yes").ok());
	EXPECT_THAT(msg.entries(), ElementsAre(Entry{ "PrivateTmp", "b", "true" }));
}

TEST(UnitProperty, KnownPropertiesListIsSortedAndCoversTheBrief)
{
	auto names = knownUnitProperties();
	EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
	for (const char *n : { "Description",
			       "Slice",
			       "User",
			       "Group",
			       "ExecStart",
			       "Environment",
			       "WorkingDirectory",
			       "RuntimeDirectory",
			       "RuntimeDirectoryMode",
			       "StandardInput",
			       "StandardOutput",
			       "StandardError",
			       "SyslogIdentifier",
			       "LogExtraFields",
			       "LogRateLimitIntervalUSec",
			       "LogRateLimitIntervalSec",
			       "LogRateLimitBurst",
			       "CollectMode",
			       "KillMode",
			       "KillSignal",
			       "TimeoutStopSec",
			       "SendSIGKILL",
			       "SuccessExitStatus",
			       "Type",
			       "RemainAfterExit",
			       "TasksMax",
			       "MemoryMax",
			       "CPUWeight",
			       "LimitFSIZE",
			       "LimitCORE",
			       "LimitMSGQUEUE",
			       "LimitLOCKS",
			       "LimitMEMLOCK",
			       "LimitNOFILE",
			       "LimitNPROC",
			       "LimitAS",
			       "BindPaths",
			       "BindReadOnlyPaths",
			       "ReadOnlyPaths",
			       "ReadWritePaths",
			       "InaccessiblePaths",
			       "DeviceAllow",
			       "CapabilityBoundingSet",
			       "AmbientCapabilities",
			       "SystemCallFilter",
			       "SystemCallArchitectures",
			       "SystemCallErrorNumber",
			       "RestrictAddressFamilies",
			       "RestrictNamespaces",
			       "ProtectSystem",
			       "ProtectHome",
			       "ProtectProc",
			       "ProcSubset",
			       "KeyringMode",
			       "UMask",
			       "IPAddressDeny",
			       "IPAddressAllow",
			       "PrivateTmp",
			       "MountAPIVFS",
			       "NoNewPrivileges",
			       "DevicePolicy" })
		EXPECT_TRUE(isKnownUnitProperty(n)) << n;
}

TEST(UnitProperty, ParseAssignment)
{
	auto a = parseUnitPropertyAssignment("Environment=A=1 B=2");
	ASSERT_TRUE(a.ok());
	EXPECT_EQ(a->name, "Environment");
	EXPECT_EQ(a->value, "A=1 B=2");
	auto empty = parseUnitPropertyAssignment("DeviceAllow=");
	ASSERT_TRUE(empty.ok());
	EXPECT_EQ(empty->value, "");
	EXPECT_FALSE(parseUnitPropertyAssignment("NoEquals").ok());
	EXPECT_FALSE(parseUnitPropertyAssignment("=value").ok());
}

TEST(UnitProperty, PlainStrings)
{
	EXPECT_THAT(ok("Description", "QEMU device model for domain 5"),
		    ElementsAre(Entry{ "Description", "s", "QEMU device model for domain 5" }));
	EXPECT_THAT(ok("User", "xen-qemuuser-5"), ElementsAre(Entry{ "User", "s", "xen-qemuuser-5" }));
	EXPECT_THAT(ok("Group", "xen-qemuuser-range-base"),
		    ElementsAre(Entry{ "Group", "s", "xen-qemuuser-range-base" }));
	EXPECT_THAT(ok("WorkingDirectory", "-/var/lib/xen"),
		    ElementsAre(Entry{ "WorkingDirectory", "s", "-/var/lib/xen" }));
	EXPECT_THAT(ok("SyslogIdentifier", "qemu-dm-5"), ElementsAre(Entry{ "SyslogIdentifier", "s", "qemu-dm-5" }));
}

TEST(UnitProperty, Slice)
{
	EXPECT_THAT(ok("Slice", "qemu-dm.slice"), ElementsAre(Entry{ "Slice", "s", "qemu-dm.slice" }));
	EXPECT_THAT(fails("Slice", "qemu-dm"), HasSubstr("expected a slice unit name"));
	EXPECT_THAT(fails("Slice", ".slice"), HasSubstr("expected a slice unit name"));
}

TEST(UnitProperty, Enumerations)
{
	EXPECT_THAT(ok("CollectMode", "inactive-or-failed"),
		    ElementsAre(Entry{ "CollectMode", "s", "inactive-or-failed" }));
	EXPECT_THAT(fails("CollectMode", "always"), HasSubstr("expected one of inactive, inactive-or-failed"));
	EXPECT_THAT(ok("KillMode", "mixed"), ElementsAre(Entry{ "KillMode", "s", "mixed" }));
	EXPECT_THAT(fails("KillMode", "all"), HasSubstr("for KillMode="));
	EXPECT_THAT(ok("Type", "oneshot"), ElementsAre(Entry{ "Type", "s", "oneshot" }));
	EXPECT_THAT(ok("Type", "exec"), ElementsAre(Entry{ "Type", "s", "exec" }));
	EXPECT_THAT(fails("Type", "daemon"), HasSubstr("expected one of simple, exec, forking"));
	for (const char *v : { "yes", "no", "full", "strict", "true" })
		EXPECT_THAT(ok("ProtectSystem", v), ElementsAre(Entry{ "ProtectSystem", "s", v }));
	for (const char *v : { "yes", "no", "read-only", "tmpfs" })
		EXPECT_THAT(ok("ProtectHome", v), ElementsAre(Entry{ "ProtectHome", "s", v }));
	EXPECT_THAT(fails("ProtectHome", "strict"), HasSubstr("for ProtectHome="));
	for (const char *v : { "noaccess", "invisible", "ptraceable", "default" })
		EXPECT_THAT(ok("ProtectProc", v), ElementsAre(Entry{ "ProtectProc", "s", v }));
	EXPECT_THAT(fails("ProtectProc", "yes"), HasSubstr("for ProtectProc="));
	EXPECT_THAT(ok("ProcSubset", "all"), ElementsAre(Entry{ "ProcSubset", "s", "all" }));
	EXPECT_THAT(fails("ProcSubset", "self"), HasSubstr("expected one of all, pid"));
	EXPECT_THAT(ok("KeyringMode", "shared"), ElementsAre(Entry{ "KeyringMode", "s", "shared" }));
	EXPECT_THAT(fails("KeyringMode", "none"), HasSubstr("for KeyringMode="));
	EXPECT_THAT(ok("DevicePolicy", "closed"), ElementsAre(Entry{ "DevicePolicy", "s", "closed" }));
	EXPECT_THAT(fails("DevicePolicy", "open"), HasSubstr("expected one of auto, closed, strict"));
}

TEST(UnitProperty, Booleans)
{
	for (const char *n :
	     { "PrivateTmp",	    "PrivateDevices",	    "PrivateNetwork",	     "PrivateIPC",
	       "PrivateUsers",	    "PrivateMounts",	    "NoNewPrivileges",	     "MountAPIVFS",
	       "ProtectClock",	    "ProtectHostname",	    "ProtectKernelTunables", "ProtectKernelModules",
	       "ProtectKernelLogs", "ProtectControlGroups", "LockPersonality",	     "MemoryDenyWriteExecute",
	       "RestrictRealtime",  "RestrictSUIDSGID",	    "RemainAfterExit",	     "SendSIGKILL",
	       "DynamicUser" }) {
		EXPECT_THAT(ok(n, "yes"), ElementsAre(Entry{ n, "b", "true" }));
		EXPECT_THAT(ok(n, "off"), ElementsAre(Entry{ n, "b", "false" }));
	}
	EXPECT_THAT(ok("PrivateTmp", "TRUE"), ElementsAre(Entry{ "PrivateTmp", "b", "true" }));
	EXPECT_THAT(ok("PrivateTmp", "0"), ElementsAre(Entry{ "PrivateTmp", "b", "false" }));
	EXPECT_THAT(fails("SendSIGKILL", ""), HasSubstr("expected a boolean"));
}

TEST(UnitProperty, ExecStartFromText)
{
	EXPECT_THAT(ok("ExecStart", "/bin/sleep 300"),
		    ElementsAre(Entry{ "ExecStart", "a(sasb)", "[(/bin/sleep,[/bin/sleep,300],false)]" }));
	EXPECT_THAT(ok("ExecStart", "-/bin/false"),
		    ElementsAre(Entry{ "ExecStart", "a(sasb)", "[(/bin/false,[/bin/false],true)]" }));
	EXPECT_THAT(
	    ok("ExecStart", "@/usr/bin/qemu qemu-dm-5 -name \"dom 5\" 'a b' c\\ d \\x41"),
	    ElementsAre(Entry{ "ExecStart", "a(sasb)", "[(/usr/bin/qemu,[qemu-dm-5,-name,dom 5,a b,c d,A],false)]" }));
	/* Prefixes that need the Ex form upgrade the property, as systemd-run does. */
	EXPECT_THAT(ok("ExecStart", "+/bin/true"),
		    ElementsAre(Entry{ "ExecStartEx", "a(sasas)", "[(/bin/true,[/bin/true],[privileged])]" }));
	EXPECT_THAT(ok("ExecStart", "-:/bin/true"),
		    ElementsAre(Entry{ "ExecStartEx", "a(sasas)",
				       "[(/bin/true,[/bin/true],[ignore-failure,no-env-expand])]" }));
	EXPECT_THAT(ok("ExecStopPost", "/bin/true"),
		    ElementsAre(Entry{ "ExecStopPost", "a(sasb)", "[(/bin/true,[/bin/true],false)]" }));
	/* Empty resets. */
	EXPECT_THAT(ok("ExecStart", ""), ElementsAre(Entry{ "ExecStart", "a(sasb)", "[]" }));
	EXPECT_THAT(fails("ExecStart", "/bin/echo \"unterminated"), HasSubstr("Invalid value"));
	EXPECT_THAT(fails("ExecStart", "@"), HasSubstr("a program path after '@'"));
}

TEST(UnitProperty, ExecStartFromArgv)
{
	Message msg;
	ASSERT_TRUE(appendExecStart(msg.get(), { "/usr/libexec/qemu-dm-exec", "5", "--", "a b", "$X" }).ok());
	ASSERT_TRUE(appendExecStart(msg.get(), { "/bin/true" }, true).ok());
	EXPECT_THAT(msg.entries(),
		    ElementsAre(Entry{ "ExecStart", "a(sasb)",
				       "[(/usr/libexec/qemu-dm-exec,[/usr/libexec/qemu-dm-exec,5,--,a b,$X],false)]" },
				Entry{ "ExecStart", "a(sasb)", "[(/bin/true,[/bin/true],true)]" }));
	Message empty;
	auto r = appendExecStart(empty.get(), {});
	ASSERT_FALSE(r.ok());
	EXPECT_THAT(r.error().message(), HasSubstr("ExecStart"));
}

TEST(UnitProperty, Environment)
{
	EXPECT_THAT(ok("Environment", "A=1 \"B=two words\" C=tab\\tbed"),
		    ElementsAre(Entry{ "Environment", "as", "[A=1,B=two words,C=tab\tbed]" }));
	EXPECT_THAT(ok("Environment", ""), ElementsAre(Entry{ "Environment", "as", "[]" }));
	EXPECT_THAT(fails("Environment", "NOEQUALS"), HasSubstr("VAR=value"));
	EXPECT_THAT(fails("Environment", "=x"), HasSubstr("VAR=value"));
}

TEST(UnitProperty, Directories)
{
	EXPECT_THAT(ok("RuntimeDirectory", "qemu-dm/5 qemu-dm-extra"),
		    ElementsAre(Entry{ "RuntimeDirectory", "as", "[qemu-dm/5,qemu-dm-extra]" }));
	EXPECT_THAT(fails("RuntimeDirectory", "/run/abs"), HasSubstr("relative directory names"));
	EXPECT_THAT(fails("RuntimeDirectory", "a:b"), HasSubstr("relative directory names"));
	EXPECT_THAT(ok("RuntimeDirectoryMode", "0750"), ElementsAre(Entry{ "RuntimeDirectoryMode", "u", "488" }));
	EXPECT_THAT(ok("UMask", "0077"), ElementsAre(Entry{ "UMask", "u", "63" }));
	EXPECT_THAT(ok("UMask", "22"), ElementsAre(Entry{ "UMask", "u", "18" }));
	EXPECT_THAT(fails("UMask", "0088"), HasSubstr("expected an octal access mode"));
	EXPECT_THAT(fails("UMask", "17777"), HasSubstr("expected an octal access mode"));
	EXPECT_THAT(fails("UMask", "-1"), HasSubstr("expected an octal access mode"));
}

TEST(UnitProperty, StandardStreams)
{
	EXPECT_THAT(ok("StandardOutput", "journal"), ElementsAre(Entry{ "StandardOutput", "s", "journal" }));
	EXPECT_THAT(ok("StandardError", "null"), ElementsAre(Entry{ "StandardError", "s", "null" }));
	EXPECT_THAT(ok("StandardInput", "null"), ElementsAre(Entry{ "StandardInput", "s", "null" }));
	EXPECT_THAT(ok("StandardOutput", "file:/var/log/xen/qemu-dm-5.log"),
		    ElementsAre(Entry{ "StandardOutputFile", "s", "/var/log/xen/qemu-dm-5.log" }));
	EXPECT_THAT(ok("StandardError", "append:/var/log/x"),
		    ElementsAre(Entry{ "StandardErrorFileToAppend", "s", "/var/log/x" }));
	EXPECT_THAT(ok("StandardOutput", "truncate:/var/log/x"),
		    ElementsAre(Entry{ "StandardOutputFileToTruncate", "s", "/var/log/x" }));
	EXPECT_THAT(ok("StandardInput", "fd:qmp"), ElementsAre(Entry{ "StandardInputFileDescriptorName", "s", "qmp" }));
	EXPECT_THAT(fails("StandardOutput", "console"), HasSubstr("for StandardOutput="));
	EXPECT_THAT(fails("StandardInput", "journal"), HasSubstr("for StandardInput="));
	EXPECT_THAT(fails("StandardInput", "append:/x"), HasSubstr("for StandardInput="));
	EXPECT_THAT(fails("StandardOutput", "file:relative"), HasSubstr("an absolute path"));

	Message msg;
	ASSERT_TRUE(appendStandardStream(msg.get(), StdStream::Output, "journal").ok());
	EXPECT_THAT(msg.entries(), ElementsAre(Entry{ "StandardOutput", "s", "journal" }));
}

TEST(UnitProperty, StandardFileDescriptors)
{
	UniqueFd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
	ASSERT_TRUE(devNull.isValid());
	Message msg;
	ASSERT_TRUE(appendStandardFileDescriptor(msg.get(), StdStream::Input, devNull.get()).ok());
	ASSERT_TRUE(appendStandardFileDescriptor(msg.get(), StdStream::Output, devNull.get()).ok());
	ASSERT_TRUE(appendStandardFileDescriptor(msg.get(), StdStream::Error, devNull.get()).ok());
	EXPECT_FALSE(appendStandardFileDescriptor(msg.get(), StdStream::Error, -1).ok());
	EXPECT_THAT(msg.entries(), ElementsAre(Entry{ "StandardInputFileDescriptor", "h", "fd" },
					       Entry{ "StandardOutputFileDescriptor", "h", "fd" },
					       Entry{ "StandardErrorFileDescriptor", "h", "fd" }));
}

TEST(UnitProperty, Logging)
{
	EXPECT_THAT(ok("LogExtraFields", "QEMU_DM_DOMID=5"),
		    ElementsAre(Entry{ "LogExtraFields", "aay", "['QEMU_DM_DOMID=5']" }));
	EXPECT_THAT(fails("LogExtraFields", "lower=5"), HasSubstr("FIELD=value"));
	EXPECT_THAT(fails("LogExtraFields", "NOVALUE"), HasSubstr("FIELD=value"));
	EXPECT_THAT(ok("LogRateLimitIntervalSec", "30s"),
		    ElementsAre(Entry{ "LogRateLimitIntervalUSec", "t", "30000000" }));
	EXPECT_THAT(ok("LogRateLimitIntervalSec", "2"),
		    ElementsAre(Entry{ "LogRateLimitIntervalUSec", "t", "2000000" }));
	EXPECT_THAT(ok("LogRateLimitIntervalUSec", "5000"),
		    ElementsAre(Entry{ "LogRateLimitIntervalUSec", "t", "5000" }));
	EXPECT_THAT(ok("LogRateLimitIntervalUSec", "5ms"),
		    ElementsAre(Entry{ "LogRateLimitIntervalUSec", "t", "5000" }));
	EXPECT_THAT(ok("LogRateLimitBurst", "1000"), ElementsAre(Entry{ "LogRateLimitBurst", "u", "1000" }));
	EXPECT_THAT(fails("LogRateLimitBurst", "-1"), HasSubstr("expected an unsigned integer"));
}

TEST(UnitProperty, TimeSpans)
{
	EXPECT_THAT(ok("TimeoutStopSec", "90"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "90000000" }));
	EXPECT_THAT(ok("TimeoutStopSec", "1min 30s"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "90000000" }));
	EXPECT_THAT(ok("TimeoutStopSec", "1min30s"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "90000000" }));
	EXPECT_THAT(ok("TimeoutStopSec", "1.5s"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "1500000" }));
	EXPECT_THAT(ok("TimeoutStopSec", "250ms"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "250000" }));
	EXPECT_THAT(ok("TimeoutStopSec", "2h"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "7200000000" }));
	EXPECT_THAT(ok("TimeoutStopSec", "infinity"), ElementsAre(Entry{ "TimeoutStopUSec", "t", kMax }));
	EXPECT_THAT(ok("TimeoutStopUSec", "1000"), ElementsAre(Entry{ "TimeoutStopUSec", "t", "1000" }));
	EXPECT_THAT(ok("TimeoutSec", "10"), ElementsAre(Entry{ "TimeoutStartUSec", "t", "10000000" },
							Entry{ "TimeoutStopUSec", "t", "10000000" }));
	EXPECT_THAT(fails("TimeoutStopSec", "10 parsecs"), HasSubstr("expected a time span"));
	EXPECT_THAT(fails("TimeoutStopSec", ""), HasSubstr("expected a time span"));
	EXPECT_THAT(fails("TimeoutStopSec", "-5"), HasSubstr("expected a time span"));
}

TEST(UnitProperty, Signals)
{
	EXPECT_THAT(ok("KillSignal", "SIGKILL"), ElementsAre(Entry{ "KillSignal", "i", "9" }));
	EXPECT_THAT(ok("KillSignal", "TERM"), ElementsAre(Entry{ "KillSignal", "i", "15" }));
	EXPECT_THAT(ok("KillSignal", "2"), ElementsAre(Entry{ "KillSignal", "i", "2" }));
	EXPECT_THAT(ok("KillSignal", "SIGRTMIN+4"),
		    ElementsAre(Entry{ "KillSignal", "i", std::to_string(SIGRTMIN + 4) }));
	EXPECT_THAT(ok("FinalKillSignal", "SIGQUIT"), ElementsAre(Entry{ "FinalKillSignal", "i", "3" }));
	EXPECT_THAT(fails("KillSignal", "SIGFOO"), HasSubstr("expected a signal name or number"));
	EXPECT_THAT(fails("KillSignal", "0"), HasSubstr("expected a signal name or number"));
	EXPECT_THAT(fails("KillSignal", "SIGRTMIN-1"), HasSubstr("for KillSignal="));
}

TEST(UnitProperty, ExitStatusSets)
{
	EXPECT_THAT(ok("SuccessExitStatus", "SIGKILL"),
		    ElementsAre(Entry{ "SuccessExitStatus", "(aiai)", "([],[9])" }));
	EXPECT_THAT(ok("SuccessExitStatus", "0 2 SIGTERM KILL 143"),
		    ElementsAre(Entry{ "SuccessExitStatus", "(aiai)", "([0,2,143],[15,9])" }));
	EXPECT_THAT(ok("SuccessExitStatus", ""), ElementsAre(Entry{ "SuccessExitStatus", "(aiai)", "([],[])" }));
	EXPECT_THAT(fails("SuccessExitStatus", "256"), HasSubstr("'256' is neither"));
	EXPECT_THAT(ok("RestartPreventExitStatus", "FAILURE"),
		    ElementsAre(Entry{ "RestartPreventExitStatus", "(aiai)", "([1],[])" }));
}

TEST(UnitProperty, CgroupLimits)
{
	EXPECT_THAT(ok("TasksMax", "64"), ElementsAre(Entry{ "TasksMax", "t", "64" }));
	EXPECT_THAT(ok("TasksMax", "infinity"), ElementsAre(Entry{ "TasksMax", "t", kMax }));
	EXPECT_THAT(ok("TasksMax", "10%"), ElementsAre(Entry{ "TasksMaxScale", "u", "429496730" }));
	EXPECT_THAT(ok("TasksMax", "100%"), ElementsAre(Entry{ "TasksMaxScale", "u", std::to_string(UINT32_MAX) }));
	EXPECT_THAT(fails("TasksMax", "64K"), HasSubstr("a number of tasks, a percentage"));
	EXPECT_THAT(fails("TasksMax", "101%"), HasSubstr("for TasksMax="));
	EXPECT_THAT(ok("MemoryMax", "512M"), ElementsAre(Entry{ "MemoryMax", "t", "536870912" }));
	EXPECT_THAT(ok("MemoryMax", "1G"), ElementsAre(Entry{ "MemoryMax", "t", "1073741824" }));
	EXPECT_THAT(ok("MemoryMax", "1.5K"), ElementsAre(Entry{ "MemoryMax", "t", "1536" }));
	EXPECT_THAT(ok("MemoryMax", "4096"), ElementsAre(Entry{ "MemoryMax", "t", "4096" }));
	EXPECT_THAT(ok("MemoryMax", "infinity"), ElementsAre(Entry{ "MemoryMax", "t", kMax }));
	EXPECT_THAT(ok("MemoryMax", "50%"), ElementsAre(Entry{ "MemoryMaxScale", "u", "2147483648" }));
	EXPECT_THAT(ok("MemoryMax", "12.5%"), ElementsAre(Entry{ "MemoryMaxScale", "u", "536870912" }));
	EXPECT_THAT(ok("MemoryLow", ""), ElementsAre(Entry{ "MemoryLow", "t", "0" }));
	EXPECT_THAT(fails("MemoryMax", "lots"), HasSubstr("expected a size in bytes"));
	EXPECT_THAT(fails("MemoryMax", "-1"), HasSubstr("for MemoryMax="));
	EXPECT_THAT(fails("MemoryMax", "99999999999999999999"), HasSubstr("for MemoryMax="));
}

TEST(UnitProperty, Weights)
{
	EXPECT_THAT(ok("CPUWeight", "100"), ElementsAre(Entry{ "CPUWeight", "t", "100" }));
	EXPECT_THAT(ok("CPUWeight", "idle"), ElementsAre(Entry{ "CPUWeight", "t", "0" }));
	EXPECT_THAT(ok("CPUWeight", ""), ElementsAre(Entry{ "CPUWeight", "t", kMax }));
	EXPECT_THAT(fails("CPUWeight", "0"), HasSubstr("a weight from 1 to 10000"));
	EXPECT_THAT(fails("CPUWeight", "10001"), HasSubstr("a weight from 1 to 10000"));
	EXPECT_THAT(fails("IOWeight", "idle"), HasSubstr("for IOWeight="));
	EXPECT_THAT(ok("CPUQuota", "50%"), ElementsAre(Entry{ "CPUQuotaPerSecUSec", "t", "500000" }));
	EXPECT_THAT(ok("CPUQuota", "200%"), ElementsAre(Entry{ "CPUQuotaPerSecUSec", "t", "2000000" }));
	EXPECT_THAT(fails("CPUQuota", "0%"), HasSubstr("above 0%"));
}

TEST(UnitProperty, ResourceLimits)
{
	EXPECT_THAT(ok("LimitCORE", "0"),
		    ElementsAre(Entry{ "LimitCORE", "t", "0" }, Entry{ "LimitCORESoft", "t", "0" }));
	EXPECT_THAT(ok("LimitNOFILE", "1024:4096"),
		    ElementsAre(Entry{ "LimitNOFILE", "t", "4096" }, Entry{ "LimitNOFILESoft", "t", "1024" }));
	EXPECT_THAT(ok("LimitNOFILE", "1024:infinity"),
		    ElementsAre(Entry{ "LimitNOFILE", "t", kMax }, Entry{ "LimitNOFILESoft", "t", "1024" }));
	EXPECT_THAT(ok("LimitAS", "infinity"),
		    ElementsAre(Entry{ "LimitAS", "t", kMax }, Entry{ "LimitASSoft", "t", kMax }));
	EXPECT_THAT(ok("LimitMEMLOCK", "64K"),
		    ElementsAre(Entry{ "LimitMEMLOCK", "t", "65536" }, Entry{ "LimitMEMLOCKSoft", "t", "65536" }));
	EXPECT_THAT(ok("LimitFSIZE", "1G"), ElementsAre(Entry{ "LimitFSIZE", "t", "1073741824" },
							Entry{ "LimitFSIZESoft", "t", "1073741824" }));
	EXPECT_THAT(ok("LimitNPROC", "64"),
		    ElementsAre(Entry{ "LimitNPROC", "t", "64" }, Entry{ "LimitNPROCSoft", "t", "64" }));
	EXPECT_THAT(ok("LimitLOCKS", "0"),
		    ElementsAre(Entry{ "LimitLOCKS", "t", "0" }, Entry{ "LimitLOCKSSoft", "t", "0" }));
	EXPECT_THAT(ok("LimitMSGQUEUE", "0"),
		    ElementsAre(Entry{ "LimitMSGQUEUE", "t", "0" }, Entry{ "LimitMSGQUEUESoft", "t", "0" }));
	EXPECT_THAT(ok("LimitCPU", "1min"),
		    ElementsAre(Entry{ "LimitCPU", "t", "60" }, Entry{ "LimitCPUSoft", "t", "60" }));
	EXPECT_THAT(ok("LimitNICE", "-5"),
		    ElementsAre(Entry{ "LimitNICE", "t", "25" }, Entry{ "LimitNICESoft", "t", "25" }));
	EXPECT_THAT(fails("LimitNOFILE", "4096:1024"), HasSubstr("a soft limit not above the hard limit"));
	EXPECT_THAT(fails("LimitNOFILE", "1K"), HasSubstr("expected a number"));
	EXPECT_THAT(fails("LimitCORE", ""), HasSubstr("for LimitCORE="));
	EXPECT_THAT(fails("LimitFOO", "1"), "Unknown unit property 'LimitFOO'");
}

TEST(UnitProperty, BindPaths)
{
	EXPECT_THAT(ok("BindPaths", "-/dev/xen/privcmd /srv/a:/srv/b /srv/c:/srv/d:norbind /e:/f:rbind"),
		    ElementsAre(Entry{ "BindPaths", "a(ssbt)",
				       "[(/dev/xen/privcmd,/dev/xen/privcmd,true,16384),(/srv/a,/srv/b,false,16384),"
				       "(/srv/c,/srv/d,false,0),(/e,/f,false,16384)]" }));
	EXPECT_THAT(ok("BindReadOnlyPaths", "/etc/qemu"),
		    ElementsAre(Entry{ "BindReadOnlyPaths", "a(ssbt)", "[(/etc/qemu,/etc/qemu,false,16384)]" }));
	EXPECT_THAT(ok("BindPaths", ""), ElementsAre(Entry{ "BindPaths", "a(ssbt)", "[]" }));
	EXPECT_THAT(fails("BindPaths", "relative"), HasSubstr("with absolute paths"));
	EXPECT_THAT(fails("BindPaths", "/a:/b:bind"), HasSubstr("for BindPaths="));
	EXPECT_THAT(fails("BindPaths", "/a::rbind"), HasSubstr("for BindPaths="));
	EXPECT_THAT(fails("BindPaths", "/a:/b:rbind:x"), HasSubstr("for BindPaths="));
}

TEST(UnitProperty, PathLists)
{
	EXPECT_THAT(ok("ReadWritePaths", "-/var/lib/xen/disk.img /run/xen"),
		    ElementsAre(Entry{ "ReadWritePaths", "as", "[-/var/lib/xen/disk.img,/run/xen]" }));
	EXPECT_THAT(ok("ReadOnlyPaths", "/run"), ElementsAre(Entry{ "ReadOnlyPaths", "as", "[/run]" }));
	EXPECT_THAT(ok("InaccessiblePaths", "-/home \"/srv/with space\""),
		    ElementsAre(Entry{ "InaccessiblePaths", "as", "[-/home,/srv/with space]" }));
	EXPECT_THAT(ok("ReadOnlyPaths", ""), ElementsAre(Entry{ "ReadOnlyPaths", "as", "[]" }));
	EXPECT_THAT(fails("ReadWritePaths", "var/lib"), HasSubstr("absolute paths"));
}

TEST(UnitProperty, DeviceAllow)
{
	EXPECT_THAT(ok("DeviceAllow", "/dev/xen/privcmd rw"),
		    ElementsAre(Entry{ "DeviceAllow", "a(ss)", "[(/dev/xen/privcmd,rw)]" }));
	EXPECT_THAT(ok("DeviceAllow", "/dev/net/tun"),
		    ElementsAre(Entry{ "DeviceAllow", "a(ss)", "[(/dev/net/tun,)]" }));
	EXPECT_THAT(ok("DeviceAllow", "char-pts rwm"),
		    ElementsAre(Entry{ "DeviceAllow", "a(ss)", "[(char-pts,rwm)]" }));
	EXPECT_THAT(ok("DeviceAllow", ""), ElementsAre(Entry{ "DeviceAllow", "a(ss)", "[]" }));
	EXPECT_THAT(fails("DeviceAllow", "/dev/xen/privcmd rwx"), HasSubstr("\"rwm\""));
	EXPECT_THAT(fails("DeviceAllow", "privcmd rw"), HasSubstr("for DeviceAllow="));
}

TEST(UnitProperty, Capabilities)
{
	EXPECT_THAT(
	    ok("CapabilityBoundingSet", "CAP_SETUID cap_setgid CAP_SYS_CHROOT"),
	    ElementsAre(Entry{ "CapabilityBoundingSet", "t", std::to_string((1u << 7) | (1u << 6) | (1u << 18)) }));
	EXPECT_THAT(ok("CapabilityBoundingSet", "~CAP_SYS_ADMIN"),
		    ElementsAre(Entry{ "CapabilityBoundingSet", "t", std::to_string(~(uint64_t(1) << 21)) }));
	EXPECT_THAT(ok("CapabilityBoundingSet", ""), ElementsAre(Entry{ "CapabilityBoundingSet", "t", "0" }));
	EXPECT_THAT(ok("AmbientCapabilities", "CAP_NET_ADMIN"),
		    ElementsAre(Entry{ "AmbientCapabilities", "t", std::to_string(1u << 12) }));
	EXPECT_THAT(ok("CapabilityBoundingSet", "CAP_CHECKPOINT_RESTORE"),
		    ElementsAre(Entry{ "CapabilityBoundingSet", "t", std::to_string(uint64_t(1) << 40) }));
	EXPECT_THAT(fails("CapabilityBoundingSet", "CAP_SETUID CAP_FLY"), HasSubstr("'CAP_FLY' is none"));
}

TEST(UnitProperty, AllowAndDenyLists)
{
	EXPECT_THAT(ok("SystemCallFilter", "@system-service @setuid"),
		    ElementsAre(Entry{ "SystemCallFilter", "(bas)", "(true,[@system-service,@setuid])" }));
	EXPECT_THAT(ok("SystemCallFilter", "~@mount @swap"),
		    ElementsAre(Entry{ "SystemCallFilter", "(bas)", "(false,[@mount,@swap])" }));
	EXPECT_THAT(ok("SystemCallFilter", ""), ElementsAre(Entry{ "SystemCallFilter", "(bas)", "(true,[])" }));
	EXPECT_THAT(ok("RestrictAddressFamilies", "AF_UNIX AF_INET"),
		    ElementsAre(Entry{ "RestrictAddressFamilies", "(bas)", "(true,[AF_UNIX,AF_INET])" }));
	EXPECT_THAT(ok("RestrictAddressFamilies", "~AF_PACKET"),
		    ElementsAre(Entry{ "RestrictAddressFamilies", "(bas)", "(false,[AF_PACKET])" }));
	EXPECT_THAT(ok("SystemCallArchitectures", "native x86"),
		    ElementsAre(Entry{ "SystemCallArchitectures", "as", "[native,x86]" }));
	EXPECT_THAT(fails("SystemCallFilter", "\"unterminated"), HasSubstr("for SystemCallFilter="));
}

TEST(UnitProperty, SystemCallErrorNumber)
{
	EXPECT_THAT(ok("SystemCallErrorNumber", "EPERM"), ElementsAre(Entry{ "SystemCallErrorNumber", "i", "1" }));
	EXPECT_THAT(ok("SystemCallErrorNumber", "ENOSYS"),
		    ElementsAre(Entry{ "SystemCallErrorNumber", "i", std::to_string(ENOSYS) }));
	EXPECT_THAT(ok("SystemCallErrorNumber", "13"), ElementsAre(Entry{ "SystemCallErrorNumber", "i", "13" }));
	EXPECT_THAT(ok("SystemCallErrorNumber", "kill"),
		    ElementsAre(Entry{ "SystemCallErrorNumber", "i", std::to_string(INT_MAX - 1) }));
	EXPECT_THAT(fails("SystemCallErrorNumber", "EWHATEVER"), HasSubstr("an errno name or number"));
	EXPECT_THAT(fails("SystemCallErrorNumber", "4096"), HasSubstr("for SystemCallErrorNumber="));
}

TEST(UnitProperty, RestrictNamespaces)
{
	const uint64_t all =
	    CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWUTS;
	/* The value is the set that stays allowed: yes = none, no = all (observed in systemd 252: 2114060288). */
	EXPECT_EQ(all, 2114060288u);
	EXPECT_THAT(ok("RestrictNamespaces", "yes"), ElementsAre(Entry{ "RestrictNamespaces", "t", "0" }));
	EXPECT_THAT(ok("RestrictNamespaces", "no"),
		    ElementsAre(Entry{ "RestrictNamespaces", "t", std::to_string(all) }));
	EXPECT_THAT(ok("RestrictNamespaces", "net ipc"),
		    ElementsAre(Entry{ "RestrictNamespaces", "t", std::to_string(CLONE_NEWNET | CLONE_NEWIPC) }));
	EXPECT_THAT(ok("RestrictNamespaces", "~user"),
		    ElementsAre(Entry{ "RestrictNamespaces", "t", std::to_string(all & ~uint64_t(CLONE_NEWUSER)) }));
	EXPECT_THAT(fails("RestrictNamespaces", "time"), HasSubstr("for RestrictNamespaces="));
	EXPECT_THAT(fails("RestrictNamespaces", ""), HasSubstr("for RestrictNamespaces="));
}

TEST(UnitProperty, IPAddressAccess)
{
	EXPECT_THAT(ok("IPAddressDeny", "localhost"),
		    ElementsAre(Entry{ "IPAddressDeny", "a(iayu)",
				       "[(2,0x7f000000,8),(10,0x00000000000000000000000000000001,128)]" }));
	EXPECT_THAT(
	    ok("IPAddressAllow", "10.0.0.0/8 192.168.1.1 fe80::/64"),
	    ElementsAre(Entry{ "IPAddressAllow", "a(iayu)",
			       "[(2,0x0a000000,8),(2,0xc0a80101,32),(10,0xfe800000000000000000000000000000,64)]" }));
	EXPECT_THAT(ok("IPAddressAllow", "link-local"),
		    ElementsAre(Entry{ "IPAddressAllow", "a(iayu)",
				       "[(2,0xa9fe0000,16),(10,0xfe800000000000000000000000000000,64)]" }));
	EXPECT_THAT(
	    ok("IPAddressAllow", "localhost 10.1.0.0/16"),
	    ElementsAre(Entry{ "IPAddressAllow", "a(iayu)",
			       "[(2,0x7f000000,8),(10,0x00000000000000000000000000000001,128),(2,0x0a010000,16)]" }));
	EXPECT_THAT(ok("IPAddressDeny", ""), ElementsAre(Entry{ "IPAddressDeny", "a(iayu)", "[]" }));
	EXPECT_THAT(fails("IPAddressDeny", "10.0.0.0/33"), HasSubstr("for IPAddressDeny="));
	EXPECT_THAT(fails("IPAddressDeny", "example.com"), HasSubstr("IP addresses/prefixes"));
}

TEST(UnitProperty, RepeatedLinesAppendOneEntryEach)
{
	Message msg;
	ASSERT_TRUE(appendUnitProperties(msg.get(), { { "SystemCallFilter", "@system-service" },
						      { "SystemCallFilter", "~@mount" },
						      { "BindPaths", "/a" },
						      { "BindPaths", "/b" } })
			.ok());
	auto entries = msg.entries();
	ASSERT_EQ(entries.size(), 4u);
	EXPECT_EQ(entries[0].value, "(true,[@system-service])");
	EXPECT_EQ(entries[1].value, "(false,[@mount])");

	Message bad;
	auto r = appendUnitProperties(bad.get(), { { "PrivateTmp", "yes" }, { "Nope", "1" }, { "PrivateIPC", "yes" } });
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().message(), "Unknown unit property 'Nope'");
}

TEST(UnitProperty, MiscellaneousNumbers)
{
	EXPECT_THAT(ok("OOMScoreAdjust", "-500"), ElementsAre(Entry{ "OOMScoreAdjust", "i", "-500" }));
	EXPECT_THAT(fails("OOMScoreAdjust", "2000"), HasSubstr("an integer from -1000 to 1000"));
	EXPECT_THAT(ok("Nice", "5"), ElementsAre(Entry{ "Nice", "i", "5" }));
	EXPECT_THAT(ok("StartLimitBurst", "3"), ElementsAre(Entry{ "StartLimitBurst", "u", "3" }));
	EXPECT_THAT(ok("After", "network.target xenstored.service"),
		    ElementsAre(Entry{ "After", "as", "[network.target,xenstored.service]" }));
}
