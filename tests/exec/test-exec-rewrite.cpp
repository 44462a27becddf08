/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Table-driven tests of rewriteQemuArgv(): what is added for each QEMU
 * flavour and guest type, and which existing arguments are refused.
 */

#include <gtest/gtest.h>

#include "exec_args.h"
#include "test_support.h"

using namespace qemudm;
using namespace qemudm::test;

namespace {

constexpr const char *kQemu = "/usr/libexec/xen-qemu-system-i386";
constexpr const char *kRoot = "/run/qemu-dm/5/root";

struct RewriteCase {
	const char *name;
	const char *flavour;
	GuestType type;
	std::string argv;	     /* after the QEMU path */
	std::string added;	     /* expected additions; ignored when error is set */
	const char *error = nullptr; /* expected substring of the refusal */
	bool restrict = true;
	bool domainCheck = true;
	const char *chroot = kRoot;
	bool warns = false;
};

const std::string kX = "-xen-domid 5 -no-shutdown -S";
const std::string kAdd72 = std::string("-xen-domid-restrict -runas 131077:997 -chroot ") + kRoot;
const std::string kAdd81 = std::string("-xen-domid-restrict -runas 131077:997 -run-with chroot=") + kRoot;
const std::string kAdd91 = std::string("-xen-domid-restrict -run-with user=131077:997,chroot=") + kRoot;

const RewriteCase kCases[] = {
	/* What gets added, per flavour and guest type (PV too: libxl forgets -runas there). */
	{ "hvm-7.2", "7.2-xen", GuestType::Hvm, kX + " -machine xenfv -m 64", kAdd72 },
	{ "pv-7.2", "7.2-xen", GuestType::Pv, kX + " -machine xenpv -m 64", kAdd72 },
	{ "pvh-7.2", "7.2-xen", GuestType::Pvh, kX + " -machine xenpvh", kAdd72 },
	{ "hvm-8.1", "8.1", GuestType::Hvm, kX, kAdd81 },
	{ "pv-9.0", "9.0", GuestType::Pv, kX + " -machine xenpv", kAdd81 },
	{ "hvm-9.1", "9.1", GuestType::Hvm, kX, kAdd91 },
	{ "pv-9.1", "9.1", GuestType::Pv, kX + " -machine xenpv", kAdd91 },
	{ "pvh-10.0", "10.0", GuestType::Pvh, kX, kAdd91 },
	{ "disk-image-positional", "7.2-xen", GuestType::Hvm, kX + " /srv/disk.img", kAdd72 },

	/* Already present and right: kept, nothing duplicated. */
	{ "libxl-hvm-complete", "7.2-xen", GuestType::Hvm,
	  kX + " -xen-domid-restrict -chroot " + kRoot + " -runas 131077:997", "" },
	{ "runas-by-name", "7.2-xen", GuestType::Hvm, kX + " -runas xen-qemuuser-5",
	  std::string("-xen-domid-restrict -chroot ") + kRoot },
	{ "double-dash-spelling", "7.2-xen", GuestType::Hvm, kX + " --runas 131077:997 --xen-domid-restrict",
	  std::string("-chroot ") + kRoot },
	{ "chroot-trailing-slash", "7.2-xen", GuestType::Hvm, kX + " -chroot " + kRoot + "/",
	  "-xen-domid-restrict -runas 131077:997" },
	{ "run-with-async-teardown-kept", "9.1", GuestType::Hvm, kX + " -run-with async-teardown=on", kAdd91 },
	{ "run-with-user-present", "9.1", GuestType::Hvm, kX + " -run-with user=131077:997",
	  std::string("-xen-domid-restrict -run-with chroot=") + kRoot },
	{ "run-with-both-present", "10.0", GuestType::Pv,
	  kX + " -xen-domid-restrict -run-with chroot=" + kRoot + ",user=xen-qemuuser-5", "" },
	{ "chroot-with-comma-escaped", "9.1", GuestType::Hvm, kX,
	  "-xen-domid-restrict -run-with user=131077:997,chroot=/run/a,,b", nullptr, true, true, "/run/a,b" },
	{ "no-restrict", "7.2-xen", GuestType::Hvm, kX, std::string("-runas 131077:997 -chroot ") + kRoot, nullptr,
	  false },
	{ "no-restrict-keeps-given-restrict", "7.2-xen", GuestType::Hvm, kX + " -xen-domid-restrict",
	  std::string("-runas 131077:997 -chroot ") + kRoot, nullptr, false },

	/* The stand-in DM (TCG QEMU lists -xen-domid-restrict but has no Xen accelerator). */
	{ "stand-in-skips-restrict", "7.2-tcg", GuestType::Hvm, "-machine pc -m 64 -display none",
	  std::string("-runas 131077:997 -chroot ") + kRoot, nullptr, true, false, kRoot, true },
	{ "stand-in-no-restrict", "7.2-tcg", GuestType::Hvm, "-machine pc",
	  std::string("-runas 131077:997 -chroot ") + kRoot, nullptr, false, false },
	{ "tcg-as-real-dm-refused", "7.2-tcg", GuestType::Hvm, kX, "", "does not support -xen-domid-restrict" },
	{ "tcg-given-restrict-refused", "7.2-tcg", GuestType::Hvm, "-xen-domid-restrict", "",
	  "does not support (no Xen accelerator)", true, false },
	{ "stand-in-xen-domid-must-match", "7.2-tcg", GuestType::Hvm, "-xen-domid 6", "", "does not match", true,
	  false },

	/* Conflicts: refused, never rewritten. */
	{ "other-domid", "7.2-xen", GuestType::Hvm, "-xen-domid 6", "", "-xen-domid 6 does not match --domid 5" },
	{ "no-domid", "7.2-xen", GuestType::Hvm, "-m 64", "", "has no -xen-domid 5" },
	{ "other-user", "7.2-xen", GuestType::Hvm, kX + " -runas 131078:997", "",
	  "-runas 131078:997 conflicts with --runas 131077:997" },
	{ "other-user-by-name", "7.2-xen", GuestType::Pv, kX + " -runas xen-qemuuser-6", "", "conflicts with --runas" },
	{ "other-group", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:998", "", "conflicts with --runas" },
	{ "root-uid", "7.2-xen", GuestType::Hvm, kX + " -runas 0:0", "",
	  "-runas 0:0 would run the device model as root" },
	{ "root-name", "7.2-xen", GuestType::Hvm, kX + " -runas root", "", "as root" },
	{ "root-gid", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:0", "", "as root" },
	{ "root-double-dash", "7.2-xen", GuestType::Hvm, kX + " --runas 0:0", "", "as root" },
	{ "root-after-async-teardown", "7.2-xen", GuestType::Hvm, kX + " -async-teardown -runas 0:0", "", "as root" },
	{ "second-runas-conflicts", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:997 -runas 131078:997", "",
	  "conflicts" },
	{ "unknown-user", "7.2-xen", GuestType::Hvm, kX + " -runas nosuchuser", "",
	  "cannot interpret -runas nosuchuser" },
	{ "garbage-user", "7.2-xen", GuestType::Hvm, kX + " -runas 1:x", "", "cannot interpret" },
	{ "other-chroot", "7.2-xen", GuestType::Hvm, kX + " -chroot /var/run/xen/qemu-root-5", "",
	  "-chroot /var/run/xen/qemu-root-5 conflicts with the chroot directory /run/qemu-dm/5/root" },
	{ "run-with-root", "9.1", GuestType::Hvm, kX + " -run-with user=0:0", "", "as root" },
	{ "run-with-other-chroot", "9.1", GuestType::Hvm, kX + " -run-with chroot=/elsewhere", "", "conflicts" },
	{ "chroot-gone-in-9.0", "9.0", GuestType::Hvm, kX + " -chroot " + kRoot, "", "-chroot, which" },
	{ "runas-gone-in-10.0", "10.0", GuestType::Hvm, kX + " -runas 131077:997", "", "-runas, which" },
	{ "run-with-user-not-in-9.0", "9.0", GuestType::Hvm, kX + " -run-with user=131077:997", "",
	  "has no -run-with user=" },
	{ "run-with-not-in-7.2", "7.2-xen", GuestType::Hvm, kX + " -run-with chroot=/x", "", "-run-with, which" },
	{ "ambiguous-value", "7.2-xen", GuestType::Hvm, kX + " -name -runas", "", "ambiguous" },
	{ "ambiguous-value-2", "7.2-xen", GuestType::Hvm, kX + " -m --chroot /x", "", "ambiguous" },
	{ "missing-value", "7.2-xen", GuestType::Hvm, kX + " -runas", "", "has no value" },
};

class Rewrite : public ::testing::TestWithParam<RewriteCase>
{
};

TEST_P(Rewrite, AddsOrRefuses)
{
	const RewriteCase &c = GetParam();
	ExecOptions o;
	o.domid = 5;
	o.type = c.type;
	o.runas = { 131077, 997 };
	o.chrootDir = c.chroot;
	o.restrict = c.restrict;
	o.domainCheck = c.domainCheck;
	o.qemuArgv = words(std::string(kQemu) + " " + c.argv);

	auto plan = rewriteQemuArgv(o, fakeCaps(c.flavour), fakeResolve);
	if (c.error) {
		ASSERT_FALSE(plan.ok()) << "expected a refusal";
		EXPECT_NE(plan.error().message().find(c.error), std::string::npos) << plan.error().message();
		return;
	}
	ASSERT_TRUE(plan.ok()) << plan.error().message();
	EXPECT_EQ(plan->added, words(c.added));

	/* Nothing removed or reordered: the original argv, then the additions. */
	std::vector<std::string> expected = o.qemuArgv;
	for (const std::string &a : words(c.added))
		expected.push_back(a);
	EXPECT_EQ(plan->argv, expected);
	EXPECT_EQ(!plan->warnings.empty(), c.warns);
}

INSTANTIATE_TEST_SUITE_P(Table, Rewrite, ::testing::ValuesIn(kCases),
			 [](const ::testing::TestParamInfo<RewriteCase> &param) {
				 std::string n = param.param.name;
				 for (char &ch : n)
					 if (!isalnum(static_cast<unsigned char>(ch)))
						 ch = '_';
				 return n;
			 });

} /* namespace */
