/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "user_lookup.h"
#include "test_util.h"

using namespace qemudm;

namespace {

std::string status(uid_t r, uid_t e, uid_t s, uid_t f)
{
	return fmt::format("Name:\tqemu\nPid:\t1\nUid:\t{}\t{}\t{}\t{}\nGid:\t0\t0\t0\t0\n", r, e, s, f);
}

class FakeSystem : public testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		root_ = tmp_.path();
		std::filesystem::create_directories(root_ / "proc");
	}

	void process(int pid, const std::string &text)
	{
		std::filesystem::create_directories(root_ / "proc" / std::to_string(pid));
		std::ofstream(root_ / "proc" / std::to_string(pid) / "status") << text;
	}
	/* Put the processes into a unit's cgroup, as /proc/<pid>/cgroup shows it (hybrid mode). */
	void unit(const std::string &name, const std::vector<int> &pids)
	{
		for (int pid : pids) {
			std::filesystem::create_directories(root_ / "proc" / std::to_string(pid));
			std::ofstream(root_ / "proc" / std::to_string(pid) / "cgroup")
			    << "4:memory:/qemu.slice/qemu-dm.slice/" << name << "\n"
			    << "0::/qemu.slice/qemu-dm.slice/" << name << "\n";
		}
	}
	SystemUserLookup lookup() { return SystemUserLookup(root_ / "proc"); }

	qemudm::test::TempDir tmp_{ "test-lookup" };
	std::filesystem::path root_;
};

} /* namespace */

TEST(ParseStatusUids, ReadsTheUidLine)
{
	EXPECT_EQ(parseStatusUids(status(1, 2, 3, 4)), (std::vector<uid_t>{ 1, 2, 3, 4 }));
	EXPECT_EQ(parseStatusUids("Uid:\t1\t2\t3\n"), std::nullopt);
	EXPECT_EQ(parseStatusUids("Uid:\t1\t2\t3\t4\t5\n"), std::nullopt);
	EXPECT_EQ(parseStatusUids("Uid:\t1\tx\t3\t4\n"), std::nullopt);
	EXPECT_EQ(parseStatusUids("Uid:\t1\t2\t3\t99999999999\n"), std::nullopt);
	EXPECT_EQ(parseStatusUids("Gid:\t1\t2\t3\t4\n"), std::nullopt);
}

TEST_F(FakeSystem, UidHasProcessesChecksEveryUidField)
{
	process(10, status(0, 0, 0, 0));
	process(11, status(0, 0, 131077, 0)); /* saved uid only */
	std::filesystem::create_directories(root_ / "proc" / "self");
	std::filesystem::create_directories(root_ / "proc" / "12"); /* exited meanwhile: no status */
	auto l = lookup();
	EXPECT_TRUE(*l.uidHasProcesses(131077));
	EXPECT_FALSE(*l.uidHasProcesses(131078));
}

TEST_F(FakeSystem, GarbledStatusIsAnError)
{
	process(10, "Uid:\tgarbage\n");
	auto l = lookup();
	auto r = l.uidHasProcesses(1);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EBADMSG);
}

TEST_F(FakeSystem, RunningDmUidsFindsProcessesOfQemuDmUnits)
{
	process(20, status(0, 0, 0, 0));
	process(21, status(131073, 131073, 131073, 131073));
	process(22, status(2000, 2000, 2000, 2000));
	process(23, status(5, 5, 5, 5)); /* not in a qemu-dm unit */
	unit("qemu-dm@1.service", { 20, 21 });
	unit("qemu-dm@2.service", { 22 });
	unit("other.service", { 23 });
	unit("qemu-dm@2.service", { 99 }); /* 99 exited meanwhile: a cgroup file but no status */
	auto l = lookup();
	auto r = l.runningDmUids();
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_EQ(*r, (std::vector<uid_t>{ 0, 2000, 131073 }));
}

TEST_F(FakeSystem, NoDmProcessesMeansNoRunningDms)
{
	auto l = lookup();
	auto r = l.runningDmUids();
	ASSERT_TRUE(r.ok());
	EXPECT_TRUE(r->empty());
}

TEST(SystemUserLookup, ResolvesRootThroughNss)
{
	SystemUserLookup l;
	auto byName = l.byName("root");
	ASSERT_TRUE(byName.ok()) << byName.error().message();
	ASSERT_TRUE(byName->has_value());
	EXPECT_EQ((*byName)->uid, 0u);
	auto byUid = l.byUid(0);
	ASSERT_TRUE(byUid.ok());
	ASSERT_TRUE(byUid->has_value());
	EXPECT_EQ((*byUid)->name, "root");
	auto missing = l.byName("qemu-dm-no-such-user-xyz");
	ASSERT_TRUE(missing.ok());
	EXPECT_FALSE(missing->has_value());
}

TEST(SystemUserLookup, SeesOwnProcess)
{
	SystemUserLookup l;
	auto r = l.uidHasProcesses(::getuid());
	ASSERT_TRUE(r.ok()) << r.error().message();
	EXPECT_TRUE(*r);
}
