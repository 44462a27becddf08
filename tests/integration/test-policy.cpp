/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Issue 3 end to end, in a real (private) systemd: the installed generator's
 * drop-ins reach transient qemu-dm@ units, a broken config fails closed with
 * the reason visible, per-domain users resolve through the userdb service,
 * and the generated output passes `systemd-analyze verify`.
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testbed_fixture.h"

using namespace qemudm;
using namespace qemudm::testbed;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr const char *kGenDir = "/run/systemd/generator/qemu-dm@.service.d";

class PolicyTest : public TestBedSuite
{
protected:
	static void SetUpTestSuite()
	{
		TestBedSuite::SetUpTestSuite();
		if (!haveBed())
			return;
		/* The range base user, as an administrator creates it (in the bed's /etc overlay). */
		auto r = bed().sh("useradd --system --no-create-home --home-dir /nonexistent "
				  "--shell /usr/sbin/nologin --uid 131072 --user-group xen-qemuuser-range-base");
		ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
	}

	void TearDown() override
	{
		if (haveBed()) {
			(void)bed().sh("rm -f /etc/xen/qemu-dm.conf; systemctl daemon-reload; "
				       "systemctl stop 'qemu-dm@*' 2>/dev/null; systemctl reset-failed 'qemu-dm@*' "
				       "2>/dev/null; true");
		}
	}

	static bool haveBed() { return hasBed(); }

	CommandResult mustRun(const std::vector<std::string> &argv)
	{
		auto r = bed().run(argv);
		EXPECT_TRUE(r.ok()) << r.error().message();
		return r.ok() ? *r : CommandResult{};
	}

	CommandResult mustSh(const std::string &script)
	{
		auto r = bed().sh(script);
		EXPECT_TRUE(r.ok()) << r.error().message();
		return r.ok() ? *r : CommandResult{};
	}
};

} /* namespace */

TEST_F(PolicyTest, GeneratorDropInsApplyToTransientUnits)
{
	auto ls = mustSh(std::string("ls ") + kGenDir);
	ASSERT_TRUE(ls.ok()) << "the generator wrote no drop-ins: " << ls.err;
	EXPECT_THAT(ls.out, HasSubstr("50-qemu-dm-hardening.conf"));
	EXPECT_THAT(ls.out, Not(HasSubstr("config-invalid")));
	EXPECT_FALSE(mustSh("test -e /run/systemd/generator/qemu-dm@.service").ok())
	    << "a template file would block transient instances";

	auto start = mustRun({ "systemd-run", "-q", "--unit=qemu-dm@5.service", "/bin/sleep", "300" });
	ASSERT_TRUE(start.ok()) << start.err;
	std::string dropIns = show("qemu-dm@5.service", "DropInPaths");
	EXPECT_THAT(dropIns, HasSubstr(std::string(kGenDir) + "/50-qemu-dm-hardening.conf"));
	EXPECT_EQ(show("qemu-dm@5.service", "ProtectSystem"), "strict");
	EXPECT_EQ(show("qemu-dm@5.service", "NoNewPrivileges"), "yes");
	EXPECT_EQ(show("qemu-dm@5.service", "LimitCORE"), "0");
	EXPECT_EQ(show("qemu-dm@5.service", "Slice"), "qemu-dm.slice");
	EXPECT_THAT(
	    show("qemu-dm@5.service", "CapabilityBoundingSet"),
	    ::testing::AllOf(HasSubstr("cap_setuid"), HasSubstr("cap_sys_chroot"), Not(HasSubstr("cap_sys_admin"))));
	EXPECT_EQ(show("qemu-dm@5.service", "ActiveState"), "active");
	EXPECT_THAT(show("qemu-dm@5.service", "ControlGroup"), HasSubstr("qemu-dm.slice/qemu-dm@5.service"));
}

TEST_F(PolicyTest, GeneratedOutputPassesSystemdAnalyzeVerify)
{
	/* verify needs a fragment: give it a throwaway template next to a copy of the drop-ins. */
	auto r = mustSh(std::string("set -e; d=$(mktemp -d); cp -r ") + kGenDir +
			" \"$d/\"; printf '[Service]\\nExecStart=/bin/true\\n' > \"$d/qemu-dm@.service\"; "
			"cp /usr/lib/systemd/system/qemu-dm.slice \"$d/\"; "
			"SYSTEMD_UNIT_PATH=\"$d:\" systemd-analyze verify --man=no \"$d/qemu-dm@5.service\" 2>&1; "
			"rm -rf \"$d\"");
	EXPECT_TRUE(r.ok()) << r.out << r.err;
	EXPECT_THAT(r.out, Not(HasSubstr("Unknown key"))) << r.out;
	EXPECT_THAT(r.out, Not(HasSubstr("Failed to parse"))) << r.out;
}

TEST_F(PolicyTest, BrokenConfigFailsClosedWithTheReasonVisible)
{
	ASSERT_TRUE(bed().writeFile("/etc/xen/qemu-dm.conf", "[Limits]\nTasksMax=lots\n").ok());
	ASSERT_TRUE(mustRun({ "systemctl", "daemon-reload" }).ok());

	auto ls = mustSh(std::string("ls ") + kGenDir);
	EXPECT_THAT(ls.out, HasSubstr("config-invalid"));

	auto start = mustRun({ "systemd-run", "-q", "--unit=qemu-dm@7.service", "/bin/sleep", "300" });
	/* The unit must not be running, whatever systemd-run returned. */
	EXPECT_TRUE(waitUntil([&] { return show("qemu-dm@7.service", "ActiveState") != "activating"; }));
	EXPECT_NE(show("qemu-dm@7.service", "ActiveState"), "active");
	EXPECT_EQ(mustSh("pgrep -x sleep").out, "") << "the DM's payload ran despite the broken config";

	auto status = mustRun({ "systemctl", "status", "--no-pager", "-l", "qemu-dm@7.service" });
	EXPECT_THAT(status.out, HasSubstr("/etc/xen/qemu-dm.conf:2")) << status.out;
	EXPECT_THAT(bed().journal("qemu-dm@7.service"), HasSubstr("TasksMax"));

	/* Fixing the config and reloading lets device models start again. */
	ASSERT_TRUE(
	    mustSh(
		"rm /etc/xen/qemu-dm.conf && systemctl daemon-reload && systemctl reset-failed qemu-dm@7.service; true")
		.ok());
	auto again = mustRun({ "systemd-run", "-q", "--unit=qemu-dm@8.service", "/bin/sleep", "300" });
	EXPECT_TRUE(again.ok()) << again.err;
	EXPECT_EQ(show("qemu-dm@8.service", "ActiveState"), "active");
}

TEST_F(PolicyTest, PerDomainUsersResolveOnlyWhileTheirUnitIsLoaded)
{
	/* Before the DM unit exists: nothing resolves, so stock libxl's clash check passes (it refuses a uid that has a name). */
	EXPECT_FALSE(mustRun({ "getent", "passwd", "xen-qemuuser-5" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "passwd", "131077" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "group", "131077" }).ok());

	/* While it runs: by name and by number. */
	auto start = mustRun({ "systemd-run", "-q", "--unit=qemu-dm@5.service", "/bin/sleep", "302" });
	ASSERT_TRUE(start.ok()) << start.err;
	auto byName = mustRun({ "getent", "passwd", "xen-qemuuser-5" });
	auto byUid = mustRun({ "getent", "passwd", "131077" });
	ASSERT_TRUE(byName.ok()) << "xen-qemuuser-5 does not resolve: " << byName.err;
	ASSERT_TRUE(byUid.ok());
	EXPECT_EQ(byName.out, byUid.out);
	EXPECT_THAT(byName.out, ::testing::StartsWith("xen-qemuuser-5:x:131077:"));
	EXPECT_TRUE(mustRun({ "getent", "group", "xen-qemuuser-5" }).ok());
	/* Its gid (the base user's primary group) resolves too. */
	std::string gid = mustSh("getent passwd xen-qemuuser-5 | cut -d: -f4").out;
	gid = gid.substr(0, gid.find('\n'));
	EXPECT_TRUE(mustRun({ "getent", "group", gid }).ok()) << "gid " << gid << " does not resolve";
	/* Another domain does not. */
	EXPECT_FALSE(mustRun({ "getent", "passwd", "xen-qemuuser-6" }).ok());

	/* After stop (the unit is garbage-collected): gone. */
	ASSERT_TRUE(mustRun({ "systemctl", "stop", "qemu-dm@5.service" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "passwd", "xen-qemuuser-5" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "passwd", "131077" }).ok());

	/* A failed unit is still loaded: its user resolves until reset-failed. */
	ASSERT_TRUE(
	    mustRun({ "systemd-run", "-q", "--unit=qemu-dm@6.service", "-p", "CollectMode=inactive", "/bin/false" })
		.ok());
	EXPECT_TRUE(waitUntil([&] { return show("qemu-dm@6.service", "ActiveState") == "failed"; }));
	EXPECT_TRUE(mustRun({ "getent", "passwd", "xen-qemuuser-6" }).ok());
	ASSERT_TRUE(mustRun({ "systemctl", "reset-failed", "qemu-dm@6.service" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "passwd", "xen-qemuuser-6" }).ok());

	/* The highest domid resolves while loaded; one past the range never does. */
	ASSERT_TRUE(mustRun({ "systemd-run", "-q", "--unit=qemu-dm@32751.service", "/bin/sleep", "303" }).ok());
	ASSERT_TRUE(mustRun({ "systemd-run", "-q", "--unit=qemu-dm@32752.service", "/bin/sleep", "304" }).ok());
	EXPECT_TRUE(mustRun({ "getent", "passwd", "xen-qemuuser-32751" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "passwd", "xen-qemuuser-32752" }).ok());
	EXPECT_FALSE(mustRun({ "getent", "passwd", std::to_string(131072 + 32752) }).ok());
	(void)mustRun({ "systemctl", "stop", "qemu-dm@32751.service", "qemu-dm@32752.service" });
}

TEST_F(PolicyTest, ProcessToolsShowTheDomainUsersName)
{
	auto start = mustRun(
	    { "systemd-run", "-q", "--unit=qemu-dm@9.service", "-p", "User=xen-qemuuser-9", "/bin/sleep", "301" });
	ASSERT_TRUE(start.ok()) << start.err;
	/* The job finishes at fork; wait for the exec'd payload itself. */
	std::string user;
	EXPECT_TRUE(waitUntil([&] {
		user = mustSh("ps -o user:20= -C sleep").out;
		return !user.empty();
	})) << bed().journal("qemu-dm@9.service");
	EXPECT_THAT(user, HasSubstr("xen-qemuuser-9"));
	auto status = mustRun({ "systemctl", "status", "--no-pager", "qemu-dm@9.service" });
	EXPECT_THAT(status.out, HasSubstr("qemu-dm.slice"));
}

TEST_F(PolicyTest, UserdbServiceIsHardened)
{
	auto r = mustSh("systemd-analyze security --no-pager qemu-dm-userdb.service | tail -1");
	std::string line = r.out;
	auto pos = line.find(": ");
	ASSERT_NE(pos, std::string::npos) << line;
	double score = std::stod(line.substr(pos + 2));
	EXPECT_LE(score, 2.5) << line;
}

TEST_F(PolicyTest, UserdbFollowsTheConfiguredRangeBaseUser)
{
	ASSERT_TRUE(mustSh("useradd --system --no-create-home --uid 196608 --user-group xen-dm-base").ok());
	ASSERT_TRUE(bed().writeFile("/etc/xen/qemu-dm.conf", "[Users]\nRangeBaseUser=xen-dm-base\n").ok());
	/* The service reads the configuration when it starts (socket activation, exit on idle). */
	ASSERT_TRUE(mustRun({ "systemctl", "restart", "qemu-dm-userdb.service" }).ok());
	ASSERT_TRUE(mustRun({ "systemd-run", "-q", "--unit=qemu-dm@5.service", "/bin/sleep", "305" }).ok());
	auto r = mustRun({ "getent", "passwd", "xen-qemuuser-5" });
	EXPECT_THAT(r.out, ::testing::StartsWith("xen-qemuuser-5:x:196613:")) << r.out << r.err;
	ASSERT_TRUE(mustSh("rm /etc/xen/qemu-dm.conf && systemctl restart qemu-dm-userdb.service").ok());
	EXPECT_THAT(mustRun({ "getent", "passwd", "xen-qemuuser-5" }).out,
		    ::testing::StartsWith("xen-qemuuser-5:x:131077:"));
	(void)mustRun({ "systemctl", "stop", "qemu-dm@5.service" });
}
