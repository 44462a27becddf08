/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include "result.h"
#include "unique_fd.h"

#include <fcntl.h>

using namespace qemudm;

namespace {

Result<int> parsePositive(int v)
{
	if (v <= 0)
		return makeError(EINVAL, "Value {} is not positive", v);
	return v;
}

} /* namespace */

TEST(Result, HoldsValueOnSuccess)
{
	auto r = parsePositive(5);
	ASSERT_TRUE(r.ok());
	EXPECT_EQ(*r, 5);
}

TEST(Result, HoldsErrnoAndMessageOnFailure)
{
	auto r = parsePositive(-1);
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EINVAL);
	EXPECT_EQ(r.error().message(), "Value -1 is not positive");
	EXPECT_EQ(r.error().wrap("Failed to parse").message(), "Failed to parse: Value -1 is not positive");
}

TEST(Result, NegativeErrnoIsNormalised)
{
	Error e(-ENOENT, "x");
	EXPECT_EQ(e.code(), ENOENT);
	EXPECT_EQ(errnoError(-EACCES, "Failed to open {}", "/x").message(), "Failed to open /x: Permission denied");
}

TEST(UniqueFd, ClosesOnDestructionAndMoves)
{
	int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
	ASSERT_GE(raw, 0);
	{
		UniqueFd a(raw);
		UniqueFd b(std::move(a));
		EXPECT_FALSE(a.isValid());
		EXPECT_EQ(b.get(), raw);
	}
	EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
	EXPECT_EQ(errno, EBADF);
}
