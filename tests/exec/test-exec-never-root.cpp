/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-exec --never-root: its command line, the QEMU argv it
 * makes (libxl's -runas/-chroot removed, nothing added), the identity check
 * it makes of itself, and its credential rules.
 */

#include <gtest/gtest.h>

#include <fmt/ranges.h>

#include "exec_args.h"
#include "exec_seccomp.h"
#include "exec_system.h"
#include "test_support.h"

using namespace qemudm;
using namespace qemudm::test;

namespace {

constexpr const char *kQemu = "/usr/libexec/xen-qemu-system-i386";

struct Case {
	const char *name;
	const char *flavour;
	std::string argv;   /* after the QEMU path */
	std::string want;   /* the argv after the QEMU path, all additions included */
	size_t removed = 0; /* how many removals are reported */
	const char *error = nullptr;
};

const std::string kX = "-xen-domid 5 -no-shutdown";

const Case kCases[] = {
	/* libxl 4.17's HVM argv under dm_restrict=1: -runas and -chroot go, the restriction stays. */
	{ "libxl-hvm", "7.2-xen", kX + " -xen-domid-restrict -chroot /var/run/xen/qemu-root-5 -runas 131077:995 -m 64",
	  kX + " -xen-domid-restrict -m 64", 2 },
	{ "missing-restrict-added", "7.2-xen", kX + " -runas xen-qemuuser-5", kX + " -xen-domid-restrict", 1 },
	{ "nothing-to-remove", "7.2-xen", kX, kX + " -xen-domid-restrict", 0 },
	{ "double-dash", "7.2-xen", kX + " --runas 0:0 --chroot /", kX + " -xen-domid-restrict", 2 },
	{ "root-user-removed", "7.2-xen", kX + " -runas 0:0", kX + " -xen-domid-restrict", 1 },
	{ "run-with-both-removed", "9.1", kX + " -run-with user=131077:995,chroot=/x", kX + " -xen-domid-restrict", 2 },
	{ "run-with-other-keys-kept", "9.1", kX + " -run-with async-teardown=on,user=0:0,chroot=/a,,b",
	  kX + " -run-with async-teardown=on -xen-domid-restrict", 2 },
	{ "positional-after", "7.2-xen", kX + " -runas 1:1 /srv/disk.img", kX + " /srv/disk.img -xen-domid-restrict",
	  1 },
	/* The rest of the checks hold as in the root model. */
	{ "other-domid", "7.2-xen", "-xen-domid 6 -runas 1:1", "", 0, "does not match --domid 5" },
	{ "ambiguous", "7.2-xen", kX + " -name -runas", "", 0, "ambiguous" },
};

class NeverRootRewrite : public ::testing::TestWithParam<Case>
{
};

TEST_P(NeverRootRewrite, RemovesTheUserAndChrootAndAddsNone)
{
	const Case &c = GetParam();
	ExecOptions o;
	o.domid = 5;
	o.type = GuestType::Hvm;
	o.runas = { 131077, 131077 };
	o.neverRoot = true;
	o.qemuArgv = words(std::string(kQemu) + " " + c.argv);
	auto plan = rewriteQemuArgv(o, fakeCaps(c.flavour));
	if (c.error) {
		ASSERT_FALSE(plan.ok());
		EXPECT_NE(plan.error().message().find(c.error), std::string::npos) << plan.error().message();
		return;
	}
	ASSERT_TRUE(plan.ok()) << plan.error().message();
	EXPECT_EQ(plan->argv, words(std::string(kQemu) + " " + c.want));
	EXPECT_EQ(plan->removed.size(), c.removed) << fmt::format("{}", fmt::join(plan->removed, "; "));
	EXPECT_TRUE(plan->replaced.empty());
	for (const std::string &a : plan->added)
		EXPECT_TRUE(a == "-xen-domid-restrict") << a;
}

INSTANTIATE_TEST_SUITE_P(Table, NeverRootRewrite, ::testing::ValuesIn(kCases),
			 [](const ::testing::TestParamInfo<Case> &param) {
				 std::string n = param.param.name;
				 for (char &ch : n)
					 if (!isalnum(static_cast<unsigned char>(ch)))
						 ch = '_';
				 return n;
			 });

TEST(NeverRootArgs, FlagParsedAndNoChroot)
{
	auto o =
	    parseExecArgs(words("--domid 5 --type hvm --never-root --runas 131077:131077 -- /bin/true"), fakeResolve);
	ASSERT_TRUE(o.ok()) << o.error().message();
	EXPECT_TRUE(o->neverRoot);
	EXPECT_TRUE(o->chrootDir.empty());
	EXPECT_EQ(o->runas, (UserId{ 131077, 131077 }));
	auto bad = parseExecArgs(
	    words("--domid 5 --type hvm --never-root --runas 131077:131077 --chroot /run/x -- /bin/true"), fakeResolve);
	ASSERT_FALSE(bad.ok());
	EXPECT_NE(bad.error().message().find("no chroot"), std::string::npos) << bad.error().message();
	/* Never root, never uid 0 either. */
	EXPECT_FALSE(
	    parseExecArgs(words("--domid 5 --type hvm --never-root --runas 0:0 -- /bin/true"), fakeResolve).ok());
	EXPECT_FALSE(parseExecArgs(words("--domid 5 --type hvm --never-root -- /bin/true"), fakeResolve).ok());
}

std::string status(const std::string &uid, const std::string &gid, const std::string &groups,
		   const std::string &capBnd = "0000000000000000", const std::string &capEff = "0000000000000000")
{
	return fmt::format("Name:\tqemu-dm-exec\nUid:\t{0}\nGid:\t{1}\nFDSize:\t64\nGroups:\t{2}\n"
			   "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t{4}\n"
			   "CapBnd:\t{3}\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n",
			   uid, gid, groups, capBnd, capEff);
}

TEST(NeverRootIdentity, ExactlyTheUserAndNoCapability)
{
	const UserId me{ 131077, 131077 };
	const std::string u = "131077\t131077\t131077\t131077", g = u;
	EXPECT_TRUE(checkNeverRootStatus(status(u, g, ""), me).ok());
	EXPECT_TRUE(checkNeverRootStatus(status(u, g, "131077 "), me).ok());

	auto refused = [&](const std::string &text, const char *what) {
		Status s = checkNeverRootStatus(text, me);
		ASSERT_FALSE(s.ok()) << what;
		EXPECT_NE(s.error().message().find(what), std::string::npos) << s.error().message();
	};
	refused(status("0\t0\t0\t0", g, ""), "running as uid 0 0 0 0, not 131077");
	refused(status("131077\t131077\t0\t131077", g, ""), "running as uid");
	refused(status(u, "131077\t995\t131077\t131077", ""), "running as gid");
	refused(status(u, g, "131077 6"), "supplementary groups [131077 6]");
	refused(status(u, g, "", "00000000000000c0"), "CapBnd 00000000000000c0");
	refused(status(u, g, "", "0000000000000000", "0000000000000001"), "CapEff");
	refused("Uid:\t131077\t131077\t131077\t131077\n", "lacks");
	refused(status(u, g, "") + "CapAmb:\tzz\n", "unreadable CapAmb");
}

TEST(NeverRootIdentity, ThisTestIsNotANeverRootDm)
{
	/* The real reader: this test runs as root (or as some user with other ids than these). */
	EXPECT_FALSE(checkNeverRootIdentity(UserId{ 131077, 131077 }).ok());
}

TEST(NeverRootCredentialRules, SamePinsAndSetgroupsDenied)
{
	auto rules = neverRootCredentialRules(131077, 131077);
	auto root = credentialRules(131077, 131077);
	ASSERT_EQ(rules.size(), root.size());
	for (size_t i = 0; i < rules.size(); i++) {
		EXPECT_EQ(rules[i].syscall, root[i].syscall);
		EXPECT_EQ(rules[i].idArgs, root[i].idArgs);
		EXPECT_EQ(rules[i].id, root[i].id);
		EXPECT_EQ(rules[i].denyAll, rules[i].syscall == "setgroups") << rules[i].syscall;
		EXPECT_FALSE(root[i].denyAll) << root[i].syscall;
	}
}

} /* namespace */
