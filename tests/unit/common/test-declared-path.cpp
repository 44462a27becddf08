/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * Issue 10, class 2 ("a disk is a disk"): checkDeclaredObject() against a
 * real file system tree (a private directory standing in for "/").
 */

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "declared_path.h"
#include "test_util.h"

using namespace qemudm;
using ::testing::HasSubstr;

namespace {

class DeclaredPath : public ::testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		root_ = tmp_.str();
		mkdir("srv");
		file("srv/a.img");
	}

	void mkdir(const std::string &rel, mode_t mode = 0755)
	{
		std::filesystem::create_directories(root_ + "/" + rel);
		ASSERT_EQ(::chmod((root_ + "/" + rel).c_str(), mode), 0);
	}
	void file(const std::string &rel) { std::ofstream(root_ + "/" + rel) << "disk"; }

	Result<DeclaredObject> check(const std::string &path, DeclaredKind kind = DeclaredKind::Disk)
	{
		return checkDeclaredObject(5, "disk", path, kind, root_);
	}
	void expectRefused(const std::string &path, const std::string &reason, DeclaredKind kind = DeclaredKind::Disk)
	{
		auto r = check(path, kind);
		ASSERT_FALSE(r.ok()) << path << " was accepted";
		EXPECT_THAT(r.error().message(), HasSubstr("domain 5: disk")) << path;
		EXPECT_THAT(r.error().message(), HasSubstr(reason)) << path;
	}

	qemudm::test::TempDir tmp_{ "qemu-dm-declared" };
	std::string root_;
};

} /* namespace */

TEST_F(DeclaredPath, RegularFileIsAcceptedWithItsIdentity)
{
	auto r = check("/srv/a.img");
	ASSERT_TRUE(r.ok()) << r.error().message();
	struct stat st;
	ASSERT_EQ(::stat((root_ + "/srv/a.img").c_str(), &st), 0);
	EXPECT_EQ(r->dev, st.st_dev);
	EXPECT_EQ(r->ino, st.st_ino);
}

TEST_F(DeclaredPath, ImagesBelowVarLibAreAccepted)
{
	mkdir("var/lib/xen/images");
	file("var/lib/xen/images/web.img");
	auto r = check("/var/lib/xen/images/web.img");
	EXPECT_TRUE(r.ok()) << r.error().message();
}

TEST_F(DeclaredPath, SpellingThatCouldMeanMoreThanOneThingIsRefused)
{
	for (const char *p :
	     { "/srv/a.img /etc/shadow", "/srv/a:/etc", "/srv/$HOME", "/srv/${X}", "/srv/%h", "/srv/a\nb", "/srv/a\tb",
	       "/srv/\"a\"", "/srv/'a'", "/srv/a\\b", "/srv/-a", "/srv/\x1b[2J" })
		expectRefused(p, "characters qemu-dm does not accept");
	for (const char *p : { "/srv/../etc/shadow", "/srv/./a.img", "//srv/a.img", "/srv/", "/srv//a.img" })
		expectRefused(p, "not a normal path");
	expectRefused("srv/a.img", "not an absolute path");
	expectRefused("-/srv/a.img", "not an absolute path");
	expectRefused("/", "root directory");
	expectRefused("/" + std::string(kMaxDeclaredPathLength, 'a'), "longer than");
}

TEST_F(DeclaredPath, SystemLocationsAreRefused)
{
	for (const char *p :
	     { "/etc", "/etc/shadow", "/usr/bin/sudo", "/run/xen/qmp-libxl-6", "/run/systemd/private", "/proc/1/mem",
	       "/sys/kernel/notes", "/root/.ssh/id_rsa", "/boot/vmlinuz", "/var/lib/systemd/random-seed",
	       "/var/lib/dpkg/status", "/var/log/syslog", "/var/lib/qemu-dm/x", "/var/cache/qemu-dm/probe/x" })
		expectRefused(p, "system location");
}

TEST_F(DeclaredPath, SymlinksAnywhereAreRefused)
{
	ASSERT_EQ(::symlink("/etc/shadow", (root_ + "/srv/shadow.img").c_str()), 0);
	expectRefused("/srv/shadow.img", "/srv/shadow.img is a symbolic link");
	ASSERT_EQ(::symlink("srv", (root_ + "/images").c_str()), 0);
	expectRefused("/images/a.img", "/images is a symbolic link");
}

TEST_F(DeclaredPath, DirectoriesAndOtherNonDisksAreRefused)
{
	mkdir("srv/dir");
	expectRefused("/srv/dir", "is a directory, not a regular file or block device");
	ASSERT_EQ(::mkfifo((root_ + "/srv/fifo").c_str(), 0600), 0);
	expectRefused("/srv/fifo", "is a FIFO");
	expectRefused("/srv/a.img/x", "/srv/a.img is not a directory");
	expectRefused("/srv/missing.img", "No such file or directory");
	/* A device node declared as a device must be one. */
	expectRefused("/srv/a.img", "not a character or block device", DeclaredKind::Device);
}

TEST_F(DeclaredPath, WorldWritableParentsAreRefused)
{
	mkdir("tmp", 01777);
	file("tmp/d.img");
	expectRefused("/tmp/d.img", "its directory /tmp is writable by every user");
	mkdir("srv/open/deep", 0755);
	ASSERT_EQ(::chmod((root_ + "/srv/open").c_str(), 0777), 0);
	file("srv/open/deep/d.img");
	expectRefused("/srv/open/deep/d.img", "its directory /srv/open is writable by every user");
}

TEST_F(DeclaredPath, ParentsSomeoneElseCouldRenameInAreRefused)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root to chown a directory to another user";
	mkdir("srv/alice");
	file("srv/alice/d.img");
	ASSERT_EQ(::chown((root_ + "/srv/alice").c_str(), 1000, 1000), 0);
	expectRefused("/srv/alice/d.img", "its directory /srv/alice belongs to uid 1000");
	mkdir("srv/team", 0775);
	file("srv/team/d.img");
	ASSERT_EQ(::chown((root_ + "/srv/team").c_str(), 0, 1000), 0);
	expectRefused("/srv/team/d.img", "its directory /srv/team is writable by group 1000");
	ASSERT_EQ(::chown((root_ + "/srv/team").c_str(), 0, 0), 0);
	EXPECT_TRUE(check("/srv/team/d.img").ok());
}

TEST_F(DeclaredPath, HardLinkedAndSetuidFilesAreRefused)
{
	ASSERT_EQ(::link((root_ + "/srv/a.img").c_str(), (root_ + "/srv/b.img").c_str()), 0);
	expectRefused("/srv/b.img", "hard links");
	file("srv/s.img");
	ASSERT_EQ(::chmod((root_ + "/srv/s.img").c_str(), 04644), 0);
	expectRefused("/srv/s.img", "set-uid");
}

TEST(DeclaredPathHost, DevOnlyGivesDeviceNodesOfTheDeclaredKind)
{
	/* The real /dev: a character device is no disk, /dev/mem never a device. */
	auto null = checkDeclaredObject(5, "disk", "/dev/null", DeclaredKind::Disk);
	ASSERT_FALSE(null.ok());
	EXPECT_THAT(null.error().message(), HasSubstr("is a character device, not a regular file or block device"));
	auto mem = checkDeclaredObject(5, "device", "/dev/mem", DeclaredKind::Device);
	ASSERT_FALSE(mem.ok());
	EXPECT_THAT(mem.error().message(), HasSubstr("never handed to a device model"));
	auto ok = checkDeclaredObject(5, "device", "/dev/null", DeclaredKind::Device);
	EXPECT_TRUE(ok.ok()) << ok.error().message();
}

TEST_F(DeclaredPath, OpenGivesTheCheckedObjectInTheAskedMode)
{
	for (int flags : { O_RDONLY, O_RDWR }) {
		auto o = openDeclaredObject(5, "disk", "/srv/a.img", DeclaredKind::Disk, flags, root_);
		ASSERT_TRUE(o.ok()) << o.error().message();
		struct stat st;
		ASSERT_EQ(::fstat(o->fd.get(), &st), 0);
		EXPECT_EQ(st.st_ino, o->object.ino);
		EXPECT_EQ(::fcntl(o->fd.get(), F_GETFL) & O_ACCMODE, flags);
		EXPECT_TRUE(::fcntl(o->fd.get(), F_GETFD) & FD_CLOEXEC);
		char buf[4] = {};
		EXPECT_EQ(::pread(o->fd.get(), buf, 4, 0), 4);
		EXPECT_EQ(std::string(buf, 4), "disk");
	}
	/* The rule applies as for a check: a symlink to a file outside is refused, not opened. */
	ASSERT_EQ(::symlink("/etc/shadow", (root_ + "/srv/shadow.img").c_str()), 0);
	auto l = openDeclaredObject(5, "disk", "/srv/shadow.img", DeclaredKind::Disk, O_RDONLY, root_);
	ASSERT_FALSE(l.ok());
	EXPECT_THAT(l.error().message(), HasSubstr("is a symbolic link"));
	mkdir("srv/dir");
	auto d = openDeclaredObject(5, "disk", "/srv/dir", DeclaredKind::Disk, O_RDONLY, root_);
	ASSERT_FALSE(d.ok());
	EXPECT_THAT(d.error().message(), HasSubstr("is a directory"));
	auto bad = openDeclaredObject(5, "disk", "/srv/a.img", DeclaredKind::Disk, O_RDWR | O_CREAT, root_);
	ASSERT_FALSE(bad.ok());
	EXPECT_THAT(bad.error().message(), HasSubstr("invalid open flags"));
	auto dev = openDeclaredObject(5, "device", "/srv/a.img", DeclaredKind::Device, O_RDONLY, root_);
	ASSERT_FALSE(dev.ok());
}
