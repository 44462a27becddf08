/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * main() of the integration suites: like gtest_main, but a run in which any
 * test was skipped exits 77, so `meson test` reports SKIP instead of counting
 * skipped tests as passed. (With CI=true a bed that cannot boot fails.)
 */

#include <gtest/gtest.h>

int main(int argc, char **argv)
{
	::testing::InitGoogleTest(&argc, argv);
	int r = RUN_ALL_TESTS();
	const auto *unit = ::testing::UnitTest::GetInstance();
	if (r == 0 && unit->skipped_test_count() > 0)
		return 77;
	return r;
}
