/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dmRequestFromQemuArgv() against the QEMU command lines stock libxl 4.17
 * built on a real Xen host under dm_restrict=1 (HVM and PV).
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "libxl_argv.h"
#include "test_util.h"

using namespace qemudm;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr const char *kQemu = "/usr/libexec/xen-qemu-system-i386";

using qemudm::test::words;

const std::string kHvm =
    "-xen-domid 3 -no-shutdown -chardev socket,id=libxl-cmd,fd=16,server=on,wait=off -S "
    "-mon chardev=libxl-cmd,mode=control "
    "-chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-3,server=on,wait=off "
    "-mon chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -name hvmq "
    "-vnc none -display none -serial pty -device cirrus-vga,vgamem_mb=8 -boot order=c -net none "
    "-xen-domid-restrict -chroot /var/run/xen/qemu-root-3 -machine xenfv,suppress-vmdesc=on -m 120 "
    "-drive file=/var/lib/xenprobe/disk.img,if=ide,index=0,media=disk,format=raw,cache=writeback "
    "-runas 131075:997";

const std::string kPv = "-xen-domid 1 -no-shutdown -chardev socket,id=libxl-cmd,fd=14,server=on,wait=off -S "
			"-mon chardev=libxl-cmd,mode=control "
			"-chardev socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-1,server=on,wait=off "
			"-mon chardev=libxenstat-cmd,mode=control -nodefaults -no-user-config -xen-attach -name pvq "
			"-vnc 127.0.0.1:0,to=99 -display none -xen-domid-restrict -chroot /var/run/xen/qemu-root-1 "
			"-machine xenpv -m 768";

} /* namespace */

TEST(LibxlArgv, Hvm417)
{
	auto r = dmRequestFromQemuArgv(words(kHvm), kQemu);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->domid, 3u);
	EXPECT_EQ(r->name, "hvmq");
	EXPECT_EQ(r->type, GuestType::Hvm);
	EXPECT_EQ(r->restrict, std::optional<bool>(true));
	EXPECT_EQ(r->deviceModelUser, ""); /* -runas UID:GID is libxl's range user: ours */
	EXPECT_EQ(r->qmpFdTarget, 16);
	ASSERT_EQ(r->disks.size(), 1u);
	EXPECT_EQ(r->disks[0].path, "/var/lib/xenprobe/disk.img");
	EXPECT_FALSE(r->disks[0].readOnly);
	EXPECT_FALSE(r->vncLocalhost);
	EXPECT_TRUE(r->taps.empty());
	EXPECT_TRUE(r->domainCheck);
	/* QEMU's argv is passed on unchanged, behind the configured QEMU. */
	std::vector<std::string> expected = { kQemu };
	for (const auto &w : words(kHvm))
		expected.push_back(w);
	EXPECT_EQ(r->qemuArgv, expected);
}

TEST(LibxlArgv, LibxenstatSocketMovesIntoTheRuntimeDir)
{
	/* What libxl passes, for every caller (shim, C API): QEMU creates the socket in its own runtime dir. */
	auto argv = words(kHvm);
	auto links = moveLibxenstatSocket(3, argv);
	std::vector<std::string> expected = words(kHvm);
	for (auto &w : expected)
		if (w == "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-3,server=on,wait=off")
			w = "socket,id=libxenstat-cmd,path=/run/qemu-dm/3/qmp-libxenstat,server=on,wait=off";
	EXPECT_EQ(argv, expected);
	ASSERT_EQ(links.size(), 1u);
	EXPECT_EQ(links[0].path, "/var/run/xen/qmp-libxenstat-3");
	EXPECT_EQ(links[0].target, "/run/qemu-dm/3/qmp-libxenstat");
	EXPECT_EQ(libxenstatSocketPath(3), "/run/qemu-dm/3/qmp-libxenstat");

	/* Another domain's path, another id, a path of the caller's choosing: left alone, no link. */
	for (const char *chardev : { "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-4,server=on,wait=off",
				     "socket,id=other,path=/var/run/xen/qmp-libxenstat-3,server=on,wait=off",
				     "socket,id=libxenstat-cmd,path=/run/qemu-dm/3/mine,server=on,wait=off" }) {
		std::vector<std::string> a = { "-xen-domid", "3", "-chardev", chardev };
		EXPECT_TRUE(moveLibxenstatSocket(3, a).empty()) << chardev;
		EXPECT_EQ(a[3], chardev);
	}
	/* /run/xen, where /var/run/xen points, is libxl's path too. */
	std::vector<std::string> a = { "-chardev",
				       "socket,id=libxenstat-cmd,path=/run/xen/qmp-libxenstat-3,server=on" };
	ASSERT_EQ(moveLibxenstatSocket(3, a).size(), 1u);
	EXPECT_EQ(a[1], "socket,id=libxenstat-cmd,path=/run/qemu-dm/3/qmp-libxenstat,server=on");
}

TEST(LibxlArgv, PvWithVfb417)
{
	auto r = dmRequestFromQemuArgv(words(kPv), kQemu);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->domid, 1u);
	EXPECT_EQ(r->name, "pvq");
	EXPECT_EQ(r->type, GuestType::Pv);
	EXPECT_EQ(r->qmpFdTarget, 14);
	EXPECT_TRUE(r->vncLocalhost);
	EXPECT_TRUE(r->disks.empty()); /* PV qdisk images live in xenstore */
}

TEST(LibxlArgv, DeviceModelUserNicsCdromAndRestore)
{
	auto r = dmRequestFromQemuArgv(
	    words("-xen-domid 7 -name guest=web,debug-threads=on -runas xen-qemuuser-shared -machine pc,accel=xen "
		  "-netdev type=tap,id=net0,ifname=vif7.0-emu,br=xenbr0,script=no,downscript=no "
		  "-device rtl8139,id=nic0,netdev=net0,mac=00:16:3e:00:00:01 -net tap,ifname=vif7.1-emu,script=no "
		  "-drive file=/srv/iso/d.iso,if=ide,index=2,media=cdrom,format=raw "
		  "-drive if=ide,index=3,media=cdrom -incoming file:/var/lib/xen/qemu-resume.7 --vnc [::1]:3"),
	    kQemu);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->name, "web");
	EXPECT_EQ(r->type, GuestType::Hvm);
	EXPECT_EQ(r->restrict, std::nullopt); /* no -xen-domid-restrict: the host's default */
	EXPECT_EQ(r->deviceModelUser, "xen-qemuuser-shared");
	EXPECT_EQ(r->taps, (std::vector<std::string>{ "vif7.0-emu", "vif7.1-emu" }));
	ASSERT_EQ(r->disks.size(), 1u);
	EXPECT_EQ(r->disks[0].path, "/srv/iso/d.iso");
	EXPECT_TRUE(r->disks[0].readOnly);
	ASSERT_EQ(r->paths.size(), 1u);
	EXPECT_EQ(r->paths[0].path, "/var/lib/xen/qemu-resume.7");
	EXPECT_TRUE(r->vncLocalhost);
	EXPECT_EQ(r->qmpFdTarget, -1);
}

TEST(LibxlArgv, RefusesWhatCannotBeConfined)
{
	struct Case {
		std::string argv, error;
	};
	const Case cases[] = {
		{ "-m 64", "no -xen-domid" },
		{ "-xen-domid 0", "-xen-domid" },
		{ "-xen-domid 5 -xen-domid 6", "given twice" },
		{ "-xen-domid 5 -vnc 0.0.0.0:0", "domain 5: -vnc 0.0.0.0:0 listens beyond localhost" },
		{ "-xen-domid 5 -vnc :1", "beyond localhost" },
		{ "-xen-domid 5 -chardev socket,id=other,fd=9", "only for libxl's QMP socket" },
		{ "-xen-domid 5 -chardev socket,id=libxl-cmd,fd=1", "not a descriptor of 3 or more" },
		{ "-xen-domid 5 -chardev socket,id=libxl-cmd,fd=9 -chardev socket,id=libxl-cmd,fd=10",
		  "more than one" },
		{ "-xen-domid 5 -netdev tap,id=n,fd=12", "cannot be handed over" },
		{ "-xen-domid 5 -netdev bridge,id=n,br=xenbr0", "only tap networking" },
		{ "-xen-domid 5 -netdev tap,id=n", "names no ifname" },
		{ "-xen-domid 5 -name", "has no value" },
	};
	for (const auto &c : cases) {
		auto r = dmRequestFromQemuArgv(words(c.argv), kQemu);
		ASSERT_FALSE(r.ok()) << c.argv;
		EXPECT_THAT(r.error().message(), HasSubstr(c.error)) << c.argv;
	}
}

TEST(LibxlArgv, UnknownFlagsDoNotSwallowTheNextOption)
{
	auto r = dmRequestFromQemuArgv(words("-some-new-flag -xen-domid 9 -xen-attach -name x"), kQemu);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->domid, 9u);
	EXPECT_EQ(r->name, "x");
}

TEST(LibxlArgv, RestoreFromAnFdLibxlOpened)
{
	/* libxl 4.17 (libxl_dm.c, saved_state): "-incoming fd:N", N the saved state it opened. */
	auto r = dmRequestFromQemuArgv(words(kHvm + " -incoming fd:19"), kQemu);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(r->qmpFdTarget, 16);
	EXPECT_EQ(r->argvFds, (std::vector<int>{ 19 }));
	EXPECT_TRUE(r->paths.empty()) << "an fd is not a path to declare";
	/* Later libxl: -add-fd fd=N,set=S and -incoming file:/dev/fdset/S. */
	auto later = dmRequestFromQemuArgv(
	    words(kHvm + " -add-fd fd=21,set=1,opaque=saved_state -incoming file:/dev/fdset/1"), kQemu);
	ASSERT_TRUE(later.ok()) << later.error().message();
	EXPECT_EQ(later->argvFds, (std::vector<int>{ 21 }));
	EXPECT_TRUE(later->paths.empty());

	auto err = [](const std::string &extra) {
		auto e = dmRequestFromQemuArgv(words(kHvm + extra), kQemu);
		return e ? std::string("ok") : e.error().message();
	};
	EXPECT_EQ(err(" -incoming fd:16"), "domain 3: QEMU's argv names fd 16 twice");
	EXPECT_EQ(err(" -incoming fd:19 -add-fd fd=19,set=2"), "domain 3: QEMU's argv names fd 19 twice");
	EXPECT_EQ(err(" -incoming fd:2"), "domain 3: -incoming fd:2: fd '2' is not a descriptor of 3 or more");
	EXPECT_EQ(err(" -incoming fd:x"), "domain 3: -incoming fd:x: fd 'x' is not a descriptor of 3 or more");
	EXPECT_EQ(err(" -incoming fd:1024"), "domain 3: -incoming fd:1024: fd '1024' is not a descriptor of 3 or more");
	EXPECT_EQ(err(" -add-fd set=1,fd=1"), "domain 3: -add-fd set=1,fd=1: fd '1' is not a descriptor of 3 or more");
}

TEST(LibxlArgv, DisksBecomeFdSets)
{
	std::vector<std::string> argv = words(kHvm + " -incoming fd:19");
	argv.insert(argv.begin(), kQemu);
	const std::string disk = "/var/lib/xenprobe/disk.img";
	auto p = planDriveFds(argv, { disk }, {}, std::vector<int>{ 16, 19 });
	ASSERT_TRUE(p.ok()) << p.error().message();
	ASSERT_EQ(p->drives.size(), 1u);
	const DriveFd &d = p->drives[0];
	EXPECT_EQ(d.path, disk);
	EXPECT_FALSE(d.readOnly);
	EXPECT_EQ(d.fdset, 0);
	EXPECT_EQ(d.readWriteTarget, 20); /* above every number in use */
	EXPECT_EQ(d.readOnlyTarget, 21);
	std::string joined;
	for (const auto &a : p->argv)
		joined += a + " ";
	EXPECT_THAT(
	    joined,
	    HasSubstr(
		"-add-fd fd=20,set=0,opaque=qemu-dm:" + disk + " -add-fd fd=21,set=0,opaque=qemu-dm:" + disk +
		" -drive file=/dev/fdset/0,if=ide,index=0,media=disk,format=raw,cache=writeback,auto-read-only=off "));
	EXPECT_THAT(joined, Not(HasSubstr("file=" + disk)));
	EXPECT_EQ(p->argv.size(), argv.size() + 4);
	EXPECT_EQ(p->argv[0], kQemu);

	/* The rewritten argv still reads as the same domain, with its fds and no disk path. */
	std::vector<std::string> rest(p->argv.begin() + 1, p->argv.end());
	auto r = dmRequestFromQemuArgv(rest, kQemu);
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_TRUE(r->disks.empty());
	EXPECT_EQ(r->argvFds, (std::vector<int>{ 20, 21, 19 })); /* in argv order */

	/* A caller's own auto-read-only= stays as it is. */
	auto own = planDriveFds({ kQemu, "-drive", "file=/srv/a.img,auto-read-only=on" }, { "/srv/a.img" }, {},
				std::vector<int>{});
	ASSERT_TRUE(own.ok());
	EXPECT_EQ(own->argv.back(), "file=/dev/fdset/0,auto-read-only=on");

	/* Idempotent: nothing names the path any more. */
	auto again = planDriveFds(p->argv, { disk }, {}, std::vector<int>{ 16, 19, 20, 21 });
	ASSERT_TRUE(again.ok());
	EXPECT_TRUE(again->drives.empty());
	EXPECT_EQ(again->argv, p->argv);
}

TEST(LibxlArgv, ReadOnlyDisksGetOneReadOnlyFdAndSetsDoNotCollide)
{
	std::vector<std::string> argv = { kQemu,
					  "-xen-domid",
					  "4",
					  "-add-fd",
					  "fd=30,set=7",
					  "-drive",
					  "file=/srv/a,,b.iso,if=ide,index=2,readonly=on,media=cdrom",
					  "-drive",
					  "file=/srv/ro.img,if=ide,index=1",
					  "-drive",
					  "file=/srv/other.img,if=ide,index=3" };
	auto p = planDriveFds(argv, { "/srv/a,b.iso", "/srv/ro.img" }, { "/srv/ro.img" }, std::vector<int>{ 30 });
	ASSERT_TRUE(p.ok()) << p.error().message();
	ASSERT_EQ(p->drives.size(), 2u);
	EXPECT_TRUE(p->drives[0].readOnly); /* media=cdrom */
	EXPECT_EQ(p->drives[0].fdset, 8);
	EXPECT_EQ(p->drives[0].readWriteTarget, -1);
	EXPECT_EQ(p->drives[0].readOnlyTarget, 31);
	EXPECT_TRUE(p->drives[1].readOnly); /* declared read-only */
	EXPECT_EQ(p->drives[1].fdset, 9);
	EXPECT_EQ(p->drives[1].readOnlyTarget, 32);
	EXPECT_EQ(p->argv, (std::vector<std::string>{ kQemu, "-xen-domid", "4", "-add-fd", "fd=30,set=7", "-add-fd",
						      "fd=31,set=8,opaque=qemu-dm:/srv/a,,b.iso", "-drive",
						      "file=/dev/fdset/8,if=ide,index=2,readonly=on,media=cdrom",
						      "-add-fd", "fd=32,set=9,opaque=qemu-dm:/srv/ro.img", "-drive",
						      "file=/dev/fdset/9,if=ide,index=1", "-drive",
						      "file=/srv/other.img,if=ide,index=3" }));

	auto full = planDriveFds(argv, { "/srv/ro.img" }, {}, std::vector<int>{ 1023 });
	ASSERT_FALSE(full.ok());
	EXPECT_THAT(full.error().message(), HasSubstr("no fd numbers below 1024"));
}
