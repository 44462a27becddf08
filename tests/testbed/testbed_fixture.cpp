/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "testbed_fixture.h"

#include <unistd.h>

#include <thread>

namespace qemudm::testbed {

std::unique_ptr<TestBed> TestBedSuite::bed_;
std::string TestBedSuite::bootError_;

bool ciMode()
{
	const char *ci = std::getenv("CI");
	return ci && std::string(ci) == "true";
}

void TestBedSuite::SetUpTestSuite()
{
	bootError_.clear();
	if (::geteuid() != 0) {
		bootError_ = "the test bed needs root (namespaces, mounts, cgroups)";
		return;
	}
	const char *build = std::getenv("QEMU_DM_BUILD_ROOT");
	if (!build) {
		bootError_ = "QEMU_DM_BUILD_ROOT is not set (run through meson test)";
		return;
	}
	auto root = installTree(build);
	if (!root.ok()) {
		bootError_ = root.error().message();
		return;
	}
	Options opts;
	opts.root = *root;
	opts.consoleLog =
	    std::filesystem::path(build) / "meson-logs" /
	    ("testbed-" + std::string(::testing::UnitTest::GetInstance()->current_test_suite()->name()) + ".log");
	auto bed = TestBed::boot(opts);
	if (!bed.ok()) {
		bootError_ = bed.error().message();
		return;
	}
	bed_ = std::move(*bed);
}

void TestBedSuite::TearDownTestSuite()
{
	if (!bed_)
		return;
	auto r = bed_->shutdown();
	bed_.reset();
	EXPECT_TRUE(r.ok()) << r.error().message();
}

void TestBedSuite::SetUp()
{
	if (bed_)
		return;
	if (ciMode())
		FAIL() << "The test bed could not boot (CI=true makes this a failure): " << bootError_;
	GTEST_SKIP() << "The test bed could not boot: " << bootError_;
}

std::string TestBedSuite::show(const std::string &unit, const std::string &prop)
{
	auto r = bed().run({ "systemctl", "show", "-P", prop, unit });
	return r.ok() ? r->out.substr(0, r->out.find('\n')) : "<systemctl failed>";
}

bool TestBedSuite::waitUntil(const std::function<bool()> &pred, std::chrono::milliseconds timeout)
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	while (!pred()) {
		if (std::chrono::steady_clock::now() >= deadline)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return true;
}

void TestBedSuite::addRangeBaseUser(const std::string &moreCommands)
{
	std::string cmd = "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
			  "--uid 131072 --user-group xen-qemuuser-range-base";
	if (!moreCommands.empty())
		cmd += " && " + moreCommands;
	auto r = bed().sh(cmd);
	ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
}

void TestBedSuite::useRootModel(bool on)
{
	const std::string dropIn = "/etc/xen/qemu-dm.conf.d/00-tests-root-model.conf";
	const std::string cmd =
	    on ? "mkdir -p /etc/xen/qemu-dm.conf.d && printf '[Device Model]\\nPrivilegeModel=root\\n' > " + dropIn +
		     " && systemctl daemon-reload"
	       : "rm -f " + dropIn + " && systemctl daemon-reload";
	auto r = bed().sh(cmd);
	ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.error().message());
}

} /* namespace qemudm::testbed */
