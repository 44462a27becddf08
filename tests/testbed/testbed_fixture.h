/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * GoogleTest access to the test bed: one private systemd per test suite.
 *
 *   class Confinement : public qemudm::testbed::TestBedSuite {};
 *   TEST_F(Confinement, X) { auto r = bed().run({"systemctl", "is-system-running"}); ... }
 *
 * The bed boots in SetUpTestSuite() from the build's `meson install --destdir`
 * tree (QEMU_DM_BUILD_ROOT, set by meson test) and stops in TearDownTestSuite().
 * When it cannot boot (not root, no unshare): with CI=true every test fails;
 * otherwise every test is skipped with the reason.
 */

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include "testbed.h"

namespace qemudm::testbed {

/* The stand-in device model (tests/standin), as installed into the bed's /usr. */
inline const std::string kStandin = "/usr/libexec/qemu-dm-tests/dm-standin";

bool ciMode();

class TestBedSuite : public ::testing::Test
{
public:
	static void SetUpTestSuite();
	static void TearDownTestSuite();

protected:
	void SetUp() override;

	static TestBed &bed() { return *bed_; }
	static bool hasBed() { return bed_ != nullptr; }
	/*
	 * In the bed: the range base user as upstream documents it (uid 131072,
	 * its own group, no home, nologin), then `moreCommands` (e.g. more
	 * useradd lines, joined with " && "). A gtest failure if any fails.
	 */
	static void addRangeBaseUser(const std::string &moreCommands = {});
	/* `systemctl show -P PROP UNIT` in the bed: the first line of the value; "<systemctl failed>" if it
	 * could not run, so no assertion on an empty value passes by accident. */
	static std::string show(const std::string &unit, const std::string &prop);
	/* The unit-text-free way to wait: poll until pred() or timeout. */
	static bool waitUntil(const std::function<bool()> &pred,
			      std::chrono::milliseconds timeout = std::chrono::seconds(10));

private:
	static std::unique_ptr<TestBed> bed_;
	static std::string bootError_;
};

} /* namespace qemudm::testbed */
