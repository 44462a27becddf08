/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "build_config.h"
#include "config.h"
#include "test_util.h"

using namespace qemudm;
using qemudm::test::TempDir;

namespace {

Result<Config> parse(std::string_view text)
{
	Config c;
	auto r = parseConfigText(text, "test.conf", c);
	if (!r)
		return r.error();
	return c;
}

} /* namespace */

TEST(ConfigDefaults, MatchTheDocumentedValues)
{
	Config c;
	EXPECT_EQ(c.rangeBaseUser, "xen-qemuuser-range-base");
	EXPECT_EQ(c.sharedUser, "xen-qemuuser-shared");
	EXPECT_TRUE(c.restrictByDefault);
	EXPECT_EQ(c.defaultQemu, QEMU_DM_DEFAULT_QEMU);
	EXPECT_EQ(c.limitCore, Limit(0));
	EXPECT_EQ(c.limitFsize, std::nullopt);
	EXPECT_EQ(c.limitMsgqueue, Limit(0));
	EXPECT_EQ(c.limitLocks, Limit(0));
	EXPECT_EQ(c.limitMemlock, Limit(0));
	EXPECT_EQ(c.tasksMax, Limit(128));
	EXPECT_FALSE(c.memoryMax.has_value());
	EXPECT_FALSE(c.cpuWeight.has_value());
	EXPECT_TRUE(c.extraDevices.empty());
	EXPECT_EQ(c.logRateLimitIntervalUSec, 30000000u);
	EXPECT_EQ(c.logRateLimitBurst, 1000u);
	EXPECT_EQ(c.sourcePath, QEMU_DM_CONFIG_FILE);
}

TEST(ConfigParse, AcceptsEveryKey)
{
	auto c = parse(R"(# comment
; another comment

[Users]
RangeBaseUser = qemu-base
SharedUser=qemu_shared

[Device Model]
Restrict=no
Qemu=/usr/bin/qemu-system-i386

[Limits]
LimitCORE=1K
LimitFSIZE=256K
LimitMSGQUEUE=2
LimitLOCKS=infinity
LimitMEMLOCK=1M
TasksMax=infinity
MemoryMax=2G
CPUWeight=50

[Devices]
DeviceAllow=/dev/net/tun
DeviceAllow=/dev/dri/renderD128 r

[Logging]
LogRateLimitIntervalSec=1min 30s
LogRateLimitBurst=0
)");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->rangeBaseUser, "qemu-base");
	EXPECT_EQ(c->sharedUser, "qemu_shared");
	EXPECT_FALSE(c->restrictByDefault);
	EXPECT_EQ(c->defaultQemu, "/usr/bin/qemu-system-i386");
	EXPECT_EQ(c->limitCore, Limit(1024));
	EXPECT_EQ(c->limitFsize, Limit(262144));
	EXPECT_EQ(c->limitMsgqueue, Limit(2));
	EXPECT_EQ(c->limitLocks, std::nullopt);
	EXPECT_EQ(c->limitMemlock, Limit(1048576));
	EXPECT_EQ(c->tasksMax, std::nullopt);
	ASSERT_TRUE(c->memoryMax.has_value());
	EXPECT_EQ(*c->memoryMax, Limit(2ULL << 30));
	EXPECT_EQ(c->cpuWeight, std::optional<uint64_t>(50));
	ASSERT_EQ(c->extraDevices.size(), 2u);
	EXPECT_EQ(c->extraDevices[0], (DeviceNode{ "/dev/net/tun", "rw" }));
	EXPECT_EQ(c->extraDevices[1], (DeviceNode{ "/dev/dri/renderD128", "r" }));
	EXPECT_EQ(c->logRateLimitIntervalUSec, 90000000u);
	EXPECT_EQ(c->logRateLimitBurst, 0u);
}

TEST(ConfigParse, LaterAssignmentsWinAndEmptyResets)
{
	auto c = parse("[Limits]\nTasksMax=10\nTasksMax=20\nMemoryMax=1G\nMemoryMax=\n"
		       "[Devices]\nDeviceAllow=/dev/a\nDeviceAllow=\nDeviceAllow=/dev/b mwr\nDeviceAllow=/dev/b w\n"
		       "[Limits]\nLimitCORE=5\nLimitCORE=\n");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->tasksMax, Limit(20));
	EXPECT_FALSE(c->memoryMax.has_value());
	EXPECT_EQ(c->limitCore, Limit(0));
	ASSERT_EQ(c->extraDevices.size(), 1u);
	EXPECT_EQ(c->extraDevices[0], (DeviceNode{ "/dev/b", "w" }));
}

/* Issue 10, class 4: ForbiddenUsers= accumulates, without duplicates; empty resets. */
TEST(ConfigParse, ForbiddenUsersAccumulateAndEmptyResets)
{
	auto c = parse("[Users]\nForbiddenUsers=backup  www-data\nForbiddenUsers=\nForbiddenUsers=postgres\t"
		       "mail\nForbiddenUsers=mail _apt\n");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->forbiddenUsers, (std::vector<std::string>{ "postgres", "mail", "_apt" }));
	EXPECT_TRUE(Config().forbiddenUsers.empty());
}

TEST(ConfigParse, PrivilegeModel)
{
	EXPECT_EQ(Config().privilegeModel, PrivilegeModel::NeverRoot);
	auto c = parse("[Device Model]\nPrivilegeModel=root\n");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->privilegeModel, PrivilegeModel::Root);
	c = parse("[Device Model]\nPrivilegeModel=never-root\n");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->privilegeModel, PrivilegeModel::NeverRoot);
	EXPECT_EQ(privilegeModelName(c->privilegeModel), "never-root");
	c = parse("[Device Model]\nPrivilegeModel=never-root\nPrivilegeModel=root\n");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->privilegeModel, PrivilegeModel::Root);
	EXPECT_EQ(privilegeModelName(c->privilegeModel), "root");
	for (const char *bad : { "neverroot", "Root", "never-root root" }) {
		c = parse(std::string("[Device Model]\nPrivilegeModel=") + bad + "\n");
		ASSERT_FALSE(c.ok()) << bad;
		EXPECT_NE(c.error().message().find(":2: "), std::string::npos) << c.error().message();
	}
}

TEST(ConfigParse, BooleansAndTimespans)
{
	for (auto [text, expected] : std::vector<std::pair<std::string, bool>>{ { "yes", true },
										{ "true", true },
										{ "on", true },
										{ "1", true },
										{ "no", false },
										{ "false", false },
										{ "off", false },
										{ "0", false } }) {
		auto c = parse("[Device Model]\nRestrict=" + text + "\n");
		ASSERT_TRUE(c.ok()) << text;
		EXPECT_EQ(c->restrictByDefault, expected) << text;
	}
	for (auto [text, usec] : std::vector<std::pair<std::string, uint64_t>>{ { "0", 0 },
										{ "5", 5000000 },
										{ "5s", 5000000 },
										{ "5sec", 5000000 },
										{ "250ms", 250000 },
										{ "7us", 7 },
										{ "2min", 120000000 },
										{ "1h", 3600000000ULL },
										{ "1h 1m 1s 1ms", 3661001000ULL } }) {
		auto c = parse("[Logging]\nLogRateLimitIntervalSec=" + text + "\n");
		ASSERT_TRUE(c.ok()) << text;
		EXPECT_EQ(c->logRateLimitIntervalUSec, usec) << text;
	}
}

/* Values read as in unit files (parse_util.h, systemd's grammar). */
TEST(ConfigParse, ValuesReadAsInUnitFiles)
{
	auto c = parse("[Device Model]\nRestrict=N\n[Limits]\nLimitCORE=1.5K\nMemoryMax=1G 512M\n"
		       "[Logging]\nLogRateLimitIntervalSec=2.5min\n");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_FALSE(c->restrictByDefault);
	EXPECT_EQ(c->limitCore, Limit(1536));
	EXPECT_EQ(*c->memoryMax, Limit((1ULL << 30) + (512ULL << 20)));
	EXPECT_EQ(c->logRateLimitIntervalUSec, 150000000u);
	EXPECT_FALSE(parse("[Logging]\nLogRateLimitIntervalSec=infinity\n").ok());
}

TEST(ConfigFormat, LimitsAndTimespans)
{
	EXPECT_EQ(formatLimit(std::nullopt), "infinity");
	EXPECT_EQ(formatLimit(262144), "262144");
	EXPECT_EQ(formatTimespan(0), "0");
	EXPECT_EQ(formatTimespan(30000000), "30s");
	EXPECT_EQ(formatTimespan(90000000), "90s");
	EXPECT_EQ(formatTimespan(120000000), "2min");
	EXPECT_EQ(formatTimespan(7200000000ULL), "2h");
	EXPECT_EQ(formatTimespan(250000), "250ms");
	EXPECT_EQ(formatTimespan(7), "7us");
}

struct BadCase {
	const char *name;
	const char *text;
	const char *message;
};

class ConfigParseErrors : public testing::TestWithParam<BadCase>
{
};

TEST_P(ConfigParseErrors, NameFileLineAndExpectation)
{
	auto c = parse(GetParam().text);
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().code(), EINVAL);
	EXPECT_EQ(c.error().message(), GetParam().message);
}

constexpr const char *kSize = "a size in bytes (optionally with K, M, G, T, P or E) or 'infinity'";

INSTANTIATE_TEST_SUITE_P(
    All, ConfigParseErrors,
    testing::Values(
	BadCase{ "ForbiddenUsersBadName", "[Users]\nForbiddenUsers=backup 1bad\n",
		 "test.conf:2: Invalid value 'backup 1bad' for ForbiddenUsers=, expected user names separated by "
		 "spaces" },
	BadCase{ "NoEquals", "[Limits]\nTasksMax\n",
		 "test.conf:2: Invalid line 'TasksMax', expected '[Section]' or 'Key=Value'" },
	BadCase{ "EmptyKey", "[Limits]\n = 5\n",
		 "test.conf:2: Invalid line '= 5', expected '[Section]' or 'Key=Value'" },
	BadCase{ "BadHeader", "[Limits\n", "test.conf:1: Invalid section header '[Limits', expected '[Name]'" },
	BadCase{ "EmptyHeader", "[]\n", "test.conf:1: Invalid section header '[]', expected '[Name]'" },
	BadCase{ "UnknownSection", "\n[Network]\n",
		 "test.conf:2: Unknown section [Network], expected one of [Users], [Device Model], [Limits], "
		 "[Devices], [Logging]" },
	BadCase{ "SectionIsCaseSensitive", "[limits]\n",
		 "test.conf:1: Unknown section [limits], expected one of [Users], [Device Model], [Limits], "
		 "[Devices], [Logging]" },
	BadCase{ "KeyOutsideSection", "TasksMax=5\n",
		 "test.conf:1: Key 'TasksMax' outside of any section, expected a [Section] first" },
	BadCase{ "UnknownKey", "[Limits]\nLimitNPROC=5\n",
		 "test.conf:2: Unknown key 'LimitNPROC' in section [Limits]" },
	BadCase{ "KeyInWrongSection", "[Users]\nTasksMax=5\n",
		 "test.conf:2: Unknown key 'TasksMax' in section [Users], it belongs in [Limits]" },
	BadCase{ "ControlCharacter", "[Limits]\nTasksMax=5\x01\n", "test.conf:2: Invalid control character 0x01" },
	BadCase{ "TasksMaxWord", "[Limits]\n\n\n\n\n\n\n\n\n\nTasksMax=x\n",
		 "test.conf:11: Invalid value 'x' for TasksMax=, expected a number or 'infinity'" },
	BadCase{ "TasksMaxZero", "[Limits]\nTasksMax=0\n",
		 "test.conf:2: Invalid value '0' for TasksMax=, expected a number or 'infinity'" },
	BadCase{ "TasksMaxNegative", "[Limits]\nTasksMax=-1\n",
		 "test.conf:2: Invalid value '-1' for TasksMax=, expected a number or 'infinity'" },
	BadCase{ "LimitBadSuffix", "[Limits]\nLimitFSIZE=10KB\n",
		 "test.conf:2: Invalid value '10KB' for LimitFSIZE=, expected a size in bytes (optionally with "
		 "K, M, G, T, P or E) or 'infinity'" },
	BadCase{ "LimitOverflow", "[Limits]\nLimitCORE=99999999999999999999E\n",
		 "test.conf:2: Invalid value '99999999999999999999E' for LimitCORE=, expected a size in bytes "
		 "(optionally with K, M, G, T, P or E) or 'infinity'" },
	BadCase{ "LimitShiftOverflow", "[Limits]\nLimitMEMLOCK=16E\n",
		 "test.conf:2: Invalid value '16E' for LimitMEMLOCK=, expected a size in bytes (optionally "
		 "with K, M, G, T, P or E) or 'infinity'" },
	BadCase{ "MemoryMaxPercent", "[Limits]\nMemoryMax=50%\n",
		 "test.conf:2: Invalid value '50%' for MemoryMax=, expected a size in bytes (optionally with K, "
		 "M, G, T, P or E) or 'infinity'" },
	BadCase{ "CPUWeightRange", "[Limits]\nCPUWeight=10001\n",
		 "test.conf:2: Invalid value '10001' for CPUWeight=, expected a number between 1 and 10000" },
	BadCase{ "CPUWeightZero", "[Limits]\nCPUWeight=0\n",
		 "test.conf:2: Invalid value '0' for CPUWeight=, expected a number between 1 and 10000" },
	BadCase{ "Bool", "[Device Model]\nRestrict=maybe\n",
		 "test.conf:2: Invalid value 'maybe' for Restrict=, expected a boolean (yes or no)" },
	BadCase{ "QemuRelative", "[Device Model]\nQemu=qemu\n",
		 "test.conf:2: Invalid value 'qemu' for Qemu=, expected an absolute, normalised path" },
	BadCase{ "QemuDotDot", "[Device Model]\nQemu=/usr/../bin/qemu\n",
		 "test.conf:2: Invalid value '/usr/../bin/qemu' for Qemu=, expected an absolute, normalised path" },
	BadCase{ "QemuSpace", "[Device Model]\nQemu=/usr/my qemu\n",
		 "test.conf:2: Invalid value '/usr/my qemu' for Qemu=, expected an absolute, normalised path" },
	BadCase{ "UserName", "[Users]\nRangeBaseUser=1abc\n",
		 "test.conf:2: Invalid value '1abc' for RangeBaseUser=, expected a user name" },
	BadCase{ "SharedUserName", "[Users]\nSharedUser=a:b\n",
		 "test.conf:2: Invalid value 'a:b' for SharedUser=, expected a user name" },
	BadCase{ "SharedUserDot", "[Users]\nSharedUser=qemu.dm\n",
		 "test.conf:2: Invalid value 'qemu.dm' for SharedUser=, expected a user name" },
	BadCase{ "DeviceOutsideDev", "[Devices]\nDeviceAllow=/etc/passwd\n",
		 "test.conf:2: Invalid value '/etc/passwd' for DeviceAllow=, expected a device node below /dev/ "
		 "(plain characters only), optionally followed by permissions from 'rwm'" },
	BadCase{ "DeviceClass", "[Devices]\nDeviceAllow=char-pts rw\n",
		 "test.conf:2: Invalid value 'char-pts rw' for DeviceAllow=, expected a device node below /dev/ "
		 "(plain characters only), optionally followed by permissions from 'rwm'" },
	BadCase{ "DeviceBadPerms", "[Devices]\nDeviceAllow=/dev/net/tun rx\n",
		 "test.conf:2: Invalid value '/dev/net/tun rx' for DeviceAllow=, expected a device node below "
		 "/dev/ (plain characters only), optionally followed by permissions from 'rwm'" },
	BadCase{ "DeviceDupPerms", "[Devices]\nDeviceAllow=/dev/net/tun rr\n",
		 "test.conf:2: Invalid value '/dev/net/tun rr' for DeviceAllow=, expected a device node below "
		 "/dev/ (plain characters only), optionally followed by permissions from 'rwm'" },
	BadCase{ "DeviceEscapes", "[Devices]\nDeviceAllow=/dev/../etc/shadow\n",
		 "test.conf:2: Invalid value '/dev/../etc/shadow' for DeviceAllow=, expected a device node below "
		 "/dev/ (plain characters only), optionally followed by permissions from 'rwm'" },
	BadCase{ "DevicePercent", "[Devices]\nDeviceAllow=/dev/%n\n",
		 "test.conf:2: Invalid value '/dev/%n' for DeviceAllow=, expected a device node below "
		 "/dev/ (plain characters only), optionally followed by permissions from 'rwm'" },
	BadCase{ "Timespan", "[Logging]\nLogRateLimitIntervalSec=soon\n",
		 "test.conf:2: Invalid value 'soon' for LogRateLimitIntervalSec=, expected a time span such as "
		 "'30s', '1min' or '0'" },
	BadCase{ "TimespanUnit", "[Logging]\nLogRateLimitIntervalSec=5 parsecs\n",
		 "test.conf:2: Invalid value '5 parsecs' for LogRateLimitIntervalSec=, expected a time span such "
		 "as '30s', '1min' or '0'" },
	BadCase{ "Burst", "[Logging]\nLogRateLimitBurst=4294967296\n",
		 "test.conf:2: Invalid value '4294967296' for LogRateLimitBurst=, expected a number" }),
    [](const testing::TestParamInfo<BadCase> &p) { return std::string(p.param.name); });

TEST(ConfigLoad, MissingFileAndDirectoryGiveDefaults)
{
	TempDir d;
	auto c = loadConfig(d.path() / "none.conf", d.path() / "none.conf.d");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->tasksMax, Limit(128));
	EXPECT_EQ(c->sourcePath, d.path() / "none.conf");
	EXPECT_TRUE(c->filesRead.empty());
}

TEST(ConfigLoad, DropinsAreSortedAndLaterFilesWin)
{
	TempDir d;
	d.write("main.conf", "[Limits]\nTasksMax=10\nLimitCORE=1\n");
	d.write("main.conf.d/20-b.conf", "[Limits]\nTasksMax=30\n");
	d.write("main.conf.d/10-a.conf", "[Limits]\nTasksMax=20\nLimitCORE=2\n");
	d.write("main.conf.d/30-c.conf.dpkg-old", "garbage\n");
	d.write("main.conf.d/.40-hidden.conf", "garbage\n");
	auto c = loadConfig(d.path() / "main.conf", d.path() / "main.conf.d");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->tasksMax, Limit(30));
	EXPECT_EQ(c->limitCore, Limit(2));
	ASSERT_EQ(c->filesRead.size(), 3u);
	EXPECT_EQ(c->filesRead[1].filename(), "10-a.conf");
	EXPECT_EQ(c->filesRead[2].filename(), "20-b.conf");
}

TEST(ConfigLoad, ErrorsInDropinsNameTheDropin)
{
	TempDir d;
	d.write("main.conf.d/10-a.conf", "[Limits]\n\nTasksMax=lots\n");
	auto c = loadConfig(d.path() / "main.conf", d.path() / "main.conf.d");
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().message(), (d.path() / "main.conf.d/10-a.conf").string() +
					   ":3: Invalid value 'lots' for TasksMax=, expected a number or 'infinity'");
}

TEST(ConfigLoad, DevNullMasksADropin)
{
	TempDir d;
	std::filesystem::create_directories(d.path() / "main.conf.d");
	std::filesystem::create_symlink("/dev/null", d.path() / "main.conf.d/10-a.conf");
	auto c = loadConfig(d.path() / "main.conf", d.path() / "main.conf.d");
	ASSERT_TRUE(c.ok()) << c.error().message();
}

TEST(ConfigLoad, NonRegularDropinIsAnError)
{
	TempDir d;
	std::filesystem::create_directories(d.path() / "main.conf.d/10-a.conf");
	auto c = loadConfig(d.path() / "main.conf", d.path() / "main.conf.d");
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().message(), fmt::format("Failed to read {}: not a regular file but a directory",
						   (d.path() / "main.conf.d/10-a.conf").string()));
}

TEST(ConfigLoad, DirectoryAsMainFileIsAnError)
{
	TempDir d;
	auto c = loadConfig(d.path(), d.path() / "none.d");
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().message(),
		  fmt::format("Failed to read {}: not a regular file but a directory", d.path().string()));
}

TEST(ConfigLoad, TooLargeFileIsRefused)
{
	TempDir d;
	d.write("main.conf", std::string(1024 * 1024 + 1, '#'));
	auto c = loadConfig(d.path() / "main.conf", d.path() / "none.d");
	ASSERT_FALSE(c.ok());
	EXPECT_EQ(c.error().code(), EFBIG);
}

TEST(ConfigLoad, DefaultConfigHonoursEnvironment)
{
	TempDir d;
	d.write("x.conf", "[Limits]\nTasksMax=77\n");
	d.write("x.d/a.conf", "[Limits]\nLimitCORE=1\n");
	::setenv("QEMU_DM_CONFIG", (d.path() / "x.conf").c_str(), 1);
	::setenv("QEMU_DM_CONFIG_DIR", (d.path() / "x.d").c_str(), 1);
	auto c = loadDefaultConfig();
	::unsetenv("QEMU_DM_CONFIG");
	::unsetenv("QEMU_DM_CONFIG_DIR");
	ASSERT_TRUE(c.ok()) << c.error().message();
	EXPECT_EQ(c->tasksMax, Limit(77));
	EXPECT_EQ(c->limitCore, Limit(1));
	EXPECT_EQ(defaultConfigFile(), QEMU_DM_CONFIG_FILE);
	EXPECT_EQ(defaultConfigDir(), QEMU_DM_CONFIG_DIR);
}
