/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include "exec_args.h"
#include "test_support.h"

using namespace qemudm;
using namespace qemudm::test;

namespace {

Result<ExecOptions> parse(const std::string &cmdline)
{
	return parseExecArgs(words(cmdline), fakeResolve);
}

} /* namespace */

TEST(ExecDomid, AcceptsOnlyCanonicalDecimalInRange)
{
	EXPECT_EQ(*parseDomid("1"), 1u);
	EXPECT_EQ(*parseDomid("5"), 5u);
	EXPECT_EQ(*parseDomid("32751"), 32751u);
	for (const char *bad : { "0", "32752", "65535", "05", "+5", "-5", " 5", "5 ", "0x5", "", "5a", "99999999999" })
		EXPECT_FALSE(parseDomid(bad).ok()) << bad;
}

TEST(ExecRunas, ParsesUidGidAndNamesButNeverRoot)
{
	EXPECT_EQ(*parseRunas("131077:997", fakeResolve), (UserId{ 131077, 997 }));
	EXPECT_EQ(*parseRunas("xen-qemuuser-5", fakeResolve), (UserId{ 131077, 997 }));

	auto root = parseRunas("0:997", fakeResolve);
	ASSERT_FALSE(root.ok());
	EXPECT_EQ(root.error().code(), EPERM);
	EXPECT_FALSE(parseRunas("131077:0", fakeResolve).ok());
	EXPECT_FALSE(parseRunas("root", fakeResolve).ok());
	EXPECT_FALSE(parseRunas("wheelie", fakeResolve).ok()); /* gid 0 */
	for (const char *bad : { "131077", "131077:", ":997", "131077:997:1", "-1:997", "0131077:997", "4294967295:997",
				 "nobody-here", "a b", "" })
		EXPECT_FALSE(parseRunas(bad, fakeResolve).ok()) << bad;
}

TEST(ExecPaths, RequireNormalisedAbsolutePaths)
{
	EXPECT_TRUE(checkAbsolutePath("/run/qemu-dm/5/root").ok());
	for (const char *bad : { "", "relative", "/", "/a/", "/a//b", "/a/./b", "/a/../b", "./a" })
		EXPECT_FALSE(checkAbsolutePath(bad).ok()) << bad;
}

TEST(ExecOptionsParse, FullCommandLine)
{
	auto o = parse("--domid 5 --type pv --runas 131077:997 --chroot /run/xen/qemu-root-5 --keep-fd 9 "
		       "--keep-fd=4 --no-domain-check --no-restrict --probe-cache none -- "
		       "/usr/libexec/xen-qemu-system-i386 -xen-domid 5 -m 64");
	ASSERT_TRUE(o.ok()) << o.error().message();
	EXPECT_EQ(o->domid, 5u);
	EXPECT_EQ(o->type, GuestType::Pv);
	EXPECT_EQ(o->runas, (UserId{ 131077, 997 }));
	EXPECT_EQ(o->chrootDir, "/run/xen/qemu-root-5");
	EXPECT_FALSE(o->chrootAuto);
	EXPECT_EQ(o->keepFds, (std::vector<int>{ 4, 9 }));
	EXPECT_FALSE(o->domainCheck);
	EXPECT_FALSE(o->restrict);
	EXPECT_EQ(o->probeCache, "");
	EXPECT_EQ(o->qemuArgv, words("/usr/libexec/xen-qemu-system-i386 -xen-domid 5 -m 64"));
}

/*
 * A -runas in QEMU's argv is kept only when QEMU 7.2 reads it as our
 * uid:gid (strtoul base 0); every other form, user names included, becomes
 * ours. The real QEMU's reading of each form: test-exec-real-qemu.cpp.
 */
TEST(ExecRunas, QemuArgvUserIsKeptOnlyAsOurNumericIds)
{
	const auto userAfterRewrite = [](const std::string &given) {
		ExecOptions o;
		o.domid = 5;
		o.runas = { 131077, 997 };
		o.chrootDir = "/run/qemu-dm/5/root";
		o.qemuArgv = { "/usr/libexec/xen-qemu-system-i386", "-xen-domid", "5", "-runas", given };
		auto plan = rewriteQemuArgv(o, fakeCaps("7.2-xen"));
		return plan.ok() ? plan->argv.at(4) : "error: " + plan.error().message();
	};
	for (const char *kept : { "131077:997", "0400005:01745", "0x20005:0x3e5", "0X20005:0X3E5", "0400005:997" })
		EXPECT_EQ(userAfterRewrite(kept), kept);
	for (const char *replaced :
	     { "xen-qemuuser-5",    "xen-qemuuser-6", "root",	     "nosuchuser",   "131077",
	       "0131077:997",	    "131077:",	      ":997",	     "+131077:997",  " 131077:997",
	       "131077: 997",	    "131077:997 ",    "-131077:997", "131077:-997",  "4295098373:997",
	       "131077:4294967295", "0x:997",	      "08:997",	     "131077:997:1", "0:0",
	       "131077:0" })
		EXPECT_EQ(userAfterRewrite(replaced), "131077:997") << replaced;
}

TEST(ExecOptionsParse, Defaults)
{
	auto o = parse("--domid=7 --type=hvm --runas=xen-qemuuser-5 -- /usr/bin/qemu-system-i386");
	ASSERT_TRUE(o.ok()) << o.error().message();
	EXPECT_EQ(o->chrootDir, "/run/qemu-dm/7/root");
	EXPECT_TRUE(o->chrootAuto);
	EXPECT_TRUE(o->domainCheck);
	EXPECT_TRUE(o->restrict);
	EXPECT_EQ(o->probeCache, ""); /* no cache inside a DM's unit: nothing persistent is written there */
	EXPECT_FALSE(o->qemuCaps.has_value());
	EXPECT_TRUE(o->keepFds.empty());
}

TEST(ExecOptionsParse, HelpAndVersionWin)
{
	EXPECT_TRUE(parse("--help")->help);
	EXPECT_TRUE(parse("-h --bogus")->help);
	EXPECT_TRUE(parse("--version")->version);
}

TEST(ExecOptionsParse, RejectsBadCommandLines)
{
	const char *base = "--domid 5 --type hvm --runas 131077:997";
	struct Case {
		std::string cmdline;
		std::string message;
	} cases[] = {
		{ "--type hvm --runas 131077:997 -- /q", "missing --domid" },
		{ "--domid 5 --runas 131077:997 -- /q", "missing --type" },
		{ "--domid 5 --type hvm -- /q", "missing --runas" },
		{ std::string(base), "missing '-- QEMU" },
		{ std::string(base) + " --", "missing '-- QEMU" },
		{ std::string(base) + " -- qemu-system-i386", "absolute path" },
		{ std::string(base) + " --domid 6 -- /q", "given twice" },
		{ "--domid 05 --type hvm --runas 131077:997 -- /q", "invalid domain id" },
		{ "--domid 5 --type hvm2 --runas 131077:997 -- /q", "expected hvm, pv or pvh" },
		{ "--domid 5 --type hvm --runas 0:0 -- /q", "root" },
		/* the one user name rule (dm_names.h), as for qemu-dm.conf's [Users] */
		{ "--domid 5 --type hvm --runas qemu.dm -- /q", "neither UID:GID nor a user name" },
		{ "--domid 5 --type hvm --runas 1abc -- /q", "neither UID:GID nor a user name" },
		{ std::string(base) + " --keep-fd 2 -- /q", "always kept" },
		{ std::string(base) + " --keep-fd 5 --keep-fd 5 -- /q", "given twice" },
		{ std::string(base) + " --keep-fd x -- /q", "--keep-fd" },
		{ std::string(base) + " --chroot relative -- /q", "--chroot" },
		{ std::string(base) + " --chroot / -- /q", "--chroot" },
		{ std::string(base) + " --probe-cache rel -- /q", "--probe-cache" },
		{ std::string(base) + " --dom 5 -- /q", "unknown option '--dom'" },
		{ std::string(base) + " --no-restrict=yes -- /q", "unknown option" },
		{ std::string(base) + " /q", "unexpected argument" },
		{ std::string(base) + " --chroot", "needs a value" },
	};
	for (const Case &c : cases) {
		auto o = parse(c.cmdline);
		ASSERT_FALSE(o.ok()) << c.cmdline;
		EXPECT_NE(o.error().message().find(c.message), std::string::npos)
		    << c.cmdline << " -> " << o.error().message();
	}
}

TEST(ExecOptionsParse, UsageDocumentsEveryOptionAndExitCode)
{
	std::string usage = execUsage();
	for (const char *s :
	     { "--domid", "--type", "--runas", "--chroot", "--keep-fd", "--no-domain-check", "--no-restrict",
	       "--probe-cache", "--verbose", "--help", "--version", "64", "65", "66", "67", "68", "69", "70", "71" })
		EXPECT_NE(usage.find(s), std::string::npos) << s;
}

TEST(QemuOpts, SplitAndEscape)
{
	EXPECT_EQ(splitQemuOpts("user=1:2,chroot=/a,,b"), (std::vector<std::string>{ "user=1:2", "chroot=/a,b" }));
	EXPECT_EQ(splitQemuOpts("async-teardown=on"), (std::vector<std::string>{ "async-teardown=on" }));
	EXPECT_EQ(escapeQemuOptValue("/a,b"), "/a,,b");
}
