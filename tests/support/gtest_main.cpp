/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* main() of every GoogleTest suite that has none of its own. */

#include <gtest/gtest.h>

int main(int argc, char **argv)
{
	testing::InitGoogleTest(&argc, argv);
	return RUN_ALL_TESTS();
}
