/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "dev_grant.h"
#include "host_policy.h"
#include "test_util.h"

using namespace qemudm;

namespace {

/* Files in a tmpfs (/dev/shm), the file system the Xen nodes live on (devtmpfs is one). */
class DevGrantTest : public testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /dev/shm";
		dir_ = tmp_.str();
		auto acl = supportsPosixAcl(dir_);
		ASSERT_TRUE(acl) << acl.error().message();
		if (!*acl)
			GTEST_SKIP() << "/dev/shm stores no POSIX ACLs (CONFIG_TMPFS_POSIX_ACL)";
		node_ = dir_ + "/privcmd";
		int fd = ::open(node_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		ASSERT_GE(fd, 0);
		::close(fd);
		lock_ = dir_ + "/grant.lock";
	}

	std::vector<AclUserEntry> entries(const std::string &path) const
	{
		auto l = listUserAccess(path);
		EXPECT_TRUE(l) << l.error().message();
		return l ? *l : std::vector<AclUserEntry>{};
	}
	mode_t mode(const std::string &path) const
	{
		struct stat st {
		};
		EXPECT_EQ(::stat(path.c_str(), &st), 0);
		return st.st_mode & 07777;
	}

	qemudm::test::TempDir tmp_{ "test-dev-grant", "/dev/shm" };
	std::string dir_, node_, lock_;
};

TEST_F(DevGrantTest, GrantAddsOneReadWriteEntryAndTheMask)
{
	EXPECT_TRUE(entries(node_).empty());
	ASSERT_TRUE(grantUserAccess(node_, 131077));
	EXPECT_EQ(entries(node_), (std::vector<AclUserEntry>{ { 131077, true, true } }));
	/* The group bits of the mode show the mask: rw, recomputed from the entry. */
	EXPECT_EQ(mode(node_), 0660u);
	/* Idempotent: a second grant leaves one entry. */
	ASSERT_TRUE(grantUserAccess(node_, 131077));
	EXPECT_EQ(entries(node_).size(), 1u);
}

TEST_F(DevGrantTest, RevokeRemovesOnlyThatUidAndRecomputesTheMask)
{
	ASSERT_TRUE(grantUserAccess(node_, 131077));
	ASSERT_TRUE(grantUserAccess(node_, 131078));
	auto r = revokeUserAccess(node_, 131077);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_TRUE(*r);
	EXPECT_EQ(entries(node_), (std::vector<AclUserEntry>{ { 131078, true, true } }));
	r = revokeUserAccess(node_, 131078);
	ASSERT_TRUE(r && *r);
	EXPECT_TRUE(entries(node_).empty());
	/* No entry left: the mask is the owning group's bits again (none). */
	EXPECT_EQ(mode(node_), 0600u);
}

TEST_F(DevGrantTest, RevokeIsIdempotent)
{
	auto r = revokeUserAccess(node_, 131077);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_FALSE(*r);
	/* A node that is gone holds no grant. */
	r = revokeUserAccess(dir_ + "/gone", 131077);
	ASSERT_TRUE(r) << r.error().message();
	EXPECT_FALSE(*r);
	EXPECT_TRUE(entries(dir_ + "/gone").empty());
}

TEST_F(DevGrantTest, RefusesRootSymlinksAndDirectories)
{
	auto s = grantUserAccess(node_, 0);
	ASSERT_FALSE(s);
	EXPECT_EQ(s.error().code(), EPERM);
	EXPECT_TRUE(entries(node_).empty());

	std::string link = dir_ + "/link";
	ASSERT_EQ(::symlink(node_.c_str(), link.c_str()), 0);
	s = grantUserAccess(link, 131077);
	ASSERT_FALSE(s);
	EXPECT_NE(s.error().message().find(link), std::string::npos) << s.error().message();
	EXPECT_TRUE(entries(node_).empty()) << "the link's target was changed";
	EXPECT_FALSE(revokeUserAccess(link, 131077));

	s = grantUserAccess(dir_, 131077);
	ASSERT_FALSE(s);
	EXPECT_EQ(s.error().code(), EPERM);
}

TEST_F(DevGrantTest, ConcurrentChangesUnderTheLockLoseNothing)
{
	/* Eight "DM starts" read-modify-write the same ACL; each ends with its grant in place. */
	constexpr int kProcs = 8, kRounds = 25;
	std::vector<pid_t> pids;
	for (int i = 0; i < kProcs; i++) {
		pid_t pid = ::fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			uid_t uid = 131073 + i;
			for (int k = 0; k < kRounds; k++) {
				auto lock = GrantLock::acquire(lock_);
				if (!lock || !grantUserAccess(node_, uid))
					::_exit(1);
				if (k + 1 < kRounds && !revokeUserAccess(node_, uid))
					::_exit(1);
			}
			::_exit(0);
		}
		pids.push_back(pid);
	}
	for (pid_t pid : pids) {
		int st = 0;
		ASSERT_EQ(::waitpid(pid, &st, 0), pid);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	auto e = entries(node_);
	ASSERT_EQ(e.size(), static_cast<size_t>(kProcs));
	for (int i = 0; i < kProcs; i++)
		EXPECT_NE(std::find(e.begin(), e.end(), AclUserEntry{ static_cast<uid_t>(131073 + i), true, true }),
			  e.end());
	/* And concurrent revocations leave none. */
	pids.clear();
	for (int i = 0; i < kProcs; i++) {
		pid_t pid = ::fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			auto lock = GrantLock::acquire(lock_);
			::_exit(lock && revokeUserAccess(node_, 131073 + i) ? 0 : 1);
		}
		pids.push_back(pid);
	}
	for (pid_t pid : pids) {
		int st = 0;
		ASSERT_EQ(::waitpid(pid, &st, 0), pid);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	EXPECT_TRUE(entries(node_).empty());
}

TEST_F(DevGrantTest, LockRefusesASymlink)
{
	std::string link = dir_ + "/lock-link";
	ASSERT_EQ(::symlink(node_.c_str(), link.c_str()), 0);
	EXPECT_FALSE(GrantLock::acquire(link));
}

TEST(DevGrantNodes, XenNodePaths)
{
	EXPECT_TRUE(isXenNodePath("/dev/xen/privcmd"));
	EXPECT_FALSE(isXenNodePath("/dev/xen/"));
	EXPECT_FALSE(isXenNodePath("/dev/xen"));
	EXPECT_FALSE(isXenNodePath("/dev/xenbus"));
	EXPECT_FALSE(isXenNodePath("/dev/xen/../sda"));
	EXPECT_FALSE(isXenNodePath("/dev/xen/.."));
	EXPECT_FALSE(isXenNodePath("/dev/xen/a/b"));
	EXPECT_FALSE(isXenNodePath("/dev/net/tun"));
	/* Every node the core grants (host_policy.h) is one qemu-dm-grant accepts. */
	for (auto type : { GuestType::Hvm, GuestType::Pv, GuestType::Pvh })
		for (auto n : xenDeviceNodes(PrivilegeModel::NeverRoot, type))
			EXPECT_TRUE(isXenNodePath(n)) << n;
}

} /* namespace */
