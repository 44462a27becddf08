/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Table-driven tests of rewriteQemuArgv(): what is added for each QEMU
 * flavour and guest type, and which existing arguments are refused.
 */

#include <gtest/gtest.h>

#include <fmt/ranges.h>

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
	/* When values were replaced: the argv after the QEMU path, before the additions, and how many. */
	std::string rewritten = "";
	size_t replacements = 0;
};

const std::string kX = "-xen-domid 5 -no-shutdown -S";
const std::string R = kRoot;
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
	{ "double-dash-spelling", "7.2-xen", GuestType::Hvm, kX + " --runas 131077:997 --xen-domid-restrict",
	  std::string("-chroot ") + kRoot },
	{ "chroot-trailing-slash", "7.2-xen", GuestType::Hvm, kX + " -chroot " + kRoot + "/",
	  "-xen-domid-restrict -runas 131077:997" },
	{ "run-with-async-teardown-kept", "9.1", GuestType::Hvm, kX + " -run-with async-teardown=on", kAdd91 },
	{ "run-with-user-present", "9.1", GuestType::Hvm, kX + " -run-with user=131077:997",
	  std::string("-xen-domid-restrict -run-with chroot=") + kRoot },
	{ "run-with-both-present", "10.0", GuestType::Pv,
	  kX + " -xen-domid-restrict -run-with chroot=" + kRoot + ",user=131077:997", "" },
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

	/* Every user and chroot libxl 4.17 emits under dm_restrict=1, as recorded on a real Xen host. */
	{ "libxl-4.17-hvm", "7.2-xen", GuestType::Hvm,
	  "-xen-domid 5 -no-shutdown -chardev socket,id=libxl-cmd,fd=16,server=on,wait=off -S -mon "
	  "chardev=libxl-cmd,mode=control -chardev "
	  "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-5,server=on,wait=off -mon "
	  "chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -name hvmq -vnc none -display none "
	  "-serial pty -device cirrus-vga,vgamem_mb=8 -boot order=c -net none -xen-domid-restrict -chroot "
	  "/var/run/xen/qemu-root-5 -machine xenfv,suppress-vmdesc=on -m 120 -drive "
	  "file=/var/lib/xenprobe/disk.img,if=ide,index=0,media=disk,format=raw,cache=writeback -runas 131077:997",
	  "", nullptr, true, true, kRoot, false,
	  "-xen-domid 5 -no-shutdown -chardev socket,id=libxl-cmd,fd=16,server=on,wait=off -S -mon "
	  "chardev=libxl-cmd,mode=control -chardev "
	  "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-5,server=on,wait=off -mon "
	  "chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -name hvmq -vnc none -display none "
	  "-serial pty -device cirrus-vga,vgamem_mb=8 -boot order=c -net none -xen-domid-restrict -chroot "
	  "/run/qemu-dm/5/root -machine xenfv,suppress-vmdesc=on -m 120 -drive "
	  "file=/var/lib/xenprobe/disk.img,if=ide,index=0,media=disk,format=raw,cache=writeback -runas 131077:997",
	  1 },
	{ "libxl-4.17-pv-vfb", "7.2-xen", GuestType::Pv,
	  "-xen-domid 5 -no-shutdown -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -S -mon "
	  "chardev=libxl-cmd,mode=control -nodefaults -no-user-config -xen-attach -name pvq -vnc 127.0.0.1:0,to=99 "
	  "-display none -xen-domid-restrict -chroot /var/run/xen/qemu-root-5 -machine xenpv -m 768",
	  "-runas 131077:997", nullptr, true, true, kRoot, false,
	  "-xen-domid 5 -no-shutdown -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -S -mon "
	  "chardev=libxl-cmd,mode=control -nodefaults -no-user-config -xen-attach -name pvq -vnc 127.0.0.1:0,to=99 "
	  "-display none -xen-domid-restrict -chroot /run/qemu-dm/5/root -machine xenpv -m 768",
	  1 },
	{ "libxl-device-model-user", "7.2-xen", GuestType::Hvm,
	  kX + " -xen-domid-restrict -chroot /var/run/xen/qemu-root-5 -runas xen-qemuuser-5", "", nullptr, true, true,
	  kRoot, false, kX + " -xen-domid-restrict -chroot " + R + " -runas 131077:997", 2 },
	{ "libxl-shared-user", "7.2-xen", GuestType::Hvm, kX + " -xen-domid-restrict -runas xen-qemuuser-shared",
	  "-chroot " + R, nullptr, true, true, kRoot, false, kX + " -xen-domid-restrict -runas 131077:997", 1 },
	{ "octal-uid-read-as-qemu-does", "7.2-xen", GuestType::Hvm, kX + " -runas 0400005:01745",
	  "-xen-domid-restrict -chroot " + R },
	{ "hex-uid-read-as-qemu-does", "7.2-xen", GuestType::Hvm, kX + " -runas 0x20005:0x3e5",
	  "-xen-domid-restrict -chroot " + R },
	{ "decimal-with-leading-zero-is-octal", "7.2-xen", GuestType::Hvm, kX + " -runas 0131077:997",
	  "-xen-domid-restrict -chroot " + R, nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },

	{ "upper-hex-uid-read-as-qemu-does", "7.2-xen", GuestType::Hvm, kX + " -runas 0X20005:997",
	  "-xen-domid-restrict -chroot " + R },

	/* Any other user or chroot is replaced by ours, never refused, never kept. A
	 * user name even when it is ours: QEMU would give it its supplementary groups. */
	{ "runas-by-name", "7.2-xen", GuestType::Hvm, kX + " -runas xen-qemuuser-5", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "run-with-user-by-name", "10.0", GuestType::Pv,
	  kX + " -xen-domid-restrict -run-with chroot=" + kRoot + ",user=xen-qemuuser-5", "", nullptr, true, true,
	  kRoot, false, kX + " -xen-domid-restrict -run-with chroot=" + kRoot + ",user=131077:997", 1 },
	{ "numeric-name", "7.2-xen", GuestType::Hvm, kX + " -runas 131077", "-xen-domid-restrict -chroot " + R, nullptr,
	  true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "missing-gid", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:", "-xen-domid-restrict -chroot " + R, nullptr,
	  true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "space-before-uid", "7.2-xen", GuestType::Hvm, kX + " -runas \t131077:997",
	  "-xen-domid-restrict -chroot " + R, nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "negative-uid", "7.2-xen", GuestType::Hvm, kX + " -runas -131077:997", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "uid-wraps-32-bits", "7.2-xen", GuestType::Hvm, kX + " -runas 4295098373:997",
	  "-xen-domid-restrict -chroot " + R, nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "trailing-field", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:997:1", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "other-user", "7.2-xen", GuestType::Hvm, kX + " -runas 131078:997", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "other-user-by-name", "7.2-xen", GuestType::Pv, kX + " -runas xen-qemuuser-6",
	  "-xen-domid-restrict -chroot " + R, nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "other-group", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:998", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "root-uid", "7.2-xen", GuestType::Hvm, kX + " -runas 0:0", "-xen-domid-restrict -chroot " + R, nullptr, true,
	  true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "root-name", "7.2-xen", GuestType::Hvm, kX + " -runas root", "-xen-domid-restrict -chroot " + R, nullptr,
	  true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "root-gid", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:0", "-xen-domid-restrict -chroot " + R, nullptr,
	  true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "root-double-dash", "7.2-xen", GuestType::Hvm, kX + " --runas 0:0", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " --runas 131077:997", 1 },
	{ "root-after-async-teardown", "7.2-xen", GuestType::Hvm, kX + " -async-teardown -runas 0:0",
	  "-xen-domid-restrict -chroot " + R, nullptr, true, true, kRoot, false,
	  kX + " -async-teardown -runas 131077:997", 1 },
	{ "second-runas-replaced", "7.2-xen", GuestType::Hvm, kX + " -runas 131077:997 -runas 131078:997",
	  "-xen-domid-restrict -chroot " + R, nullptr, true, true, kRoot, false,
	  kX + " -runas 131077:997 -runas 131077:997", 1 },
	{ "unknown-user", "7.2-xen", GuestType::Hvm, kX + " -runas nosuchuser", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "garbage-user", "7.2-xen", GuestType::Hvm, kX + " -runas 1:x", "-xen-domid-restrict -chroot " + R, nullptr,
	  true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "signed-uid", "7.2-xen", GuestType::Hvm, kX + " -runas +131077:997", "-xen-domid-restrict -chroot " + R,
	  nullptr, true, true, kRoot, false, kX + " -runas 131077:997", 1 },
	{ "other-chroot", "7.2-xen", GuestType::Hvm, kX + " -chroot /", "-xen-domid-restrict -runas 131077:997",
	  nullptr, true, true, kRoot, false, kX + " -chroot " + R, 1 },
	{ "run-with-root", "9.1", GuestType::Hvm, kX + " -run-with user=0:0,async-teardown=on",
	  "-xen-domid-restrict -run-with chroot=" + R, nullptr, true, true, kRoot, false,
	  kX + " -run-with user=131077:997,async-teardown=on", 1 },
	{ "run-with-other-chroot", "9.1", GuestType::Hvm, kX + " -run-with chroot=/elsewhere,user=131077:997",
	  "-xen-domid-restrict", nullptr, true, true, kRoot, false, kX + " -run-with chroot=" + R + ",user=131077:997",
	  1 },

	/* Refused: another domain, options this QEMU lacks, argvs QEMU would misread. */
	{ "other-domid", "7.2-xen", GuestType::Hvm, "-xen-domid 6", "", "-xen-domid 6 does not match --domid 5" },
	{ "no-domid", "7.2-xen", GuestType::Hvm, "-m 64", "", "has no -xen-domid 5" },
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

	auto plan = rewriteQemuArgv(o, fakeCaps(c.flavour));
	if (c.error) {
		ASSERT_FALSE(plan.ok()) << "expected a refusal";
		EXPECT_NE(plan.error().message().find(c.error), std::string::npos) << plan.error().message();
		return;
	}
	ASSERT_TRUE(plan.ok()) << plan.error().message();
	EXPECT_EQ(plan->added, words(c.added));

	/* Nothing removed or reordered: the original argv (values replaced where told), then the additions. */
	std::vector<std::string> expected = o.qemuArgv;
	if (!c.rewritten.empty())
		expected = words(std::string(kQemu) + " " + c.rewritten);
	EXPECT_EQ(plan->replaced.size(), c.replacements) << fmt::format("{}", fmt::join(plan->replaced, "; "));
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
