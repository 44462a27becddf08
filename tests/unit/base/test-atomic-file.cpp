/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "atomic_file.h"
#include "test_util.h"

using namespace qemudm;

namespace {

class AtomicFileTest : public testing::Test
{
protected:
	void SetUp() override
	{
		ASSERT_TRUE(tmp_) << "could not make a directory below /tmp";
		dir_ = tmp_.path();
	}

	std::vector<std::string> entries() const
	{
		std::vector<std::string> v;
		for (const auto &e : std::filesystem::directory_iterator(dir_))
			v.push_back(e.path().filename().string());
		std::sort(v.begin(), v.end());
		return v;
	}
	std::string read(const std::string &name) const { return test::slurp(dir_ / name); }

	qemudm::test::TempDir tmp_{ "test-atomic" };
	std::filesystem::path dir_;
};

} /* namespace */

TEST_F(AtomicFileTest, WritesAndRenamesIntoPlace)
{
	auto f = AtomicFile::create(dir_, "a.conf");
	ASSERT_TRUE(f.ok()) << f.error().message();
	ASSERT_TRUE(f->write("hello\n").ok());
	EXPECT_EQ(entries().size(), 1u);
	EXPECT_TRUE(entries()[0].starts_with(".#a.conf"));
	ASSERT_TRUE(f->commit().ok());
	EXPECT_EQ(entries(), std::vector<std::string>{ "a.conf" });
	EXPECT_EQ(read("a.conf"), "hello\n");
	struct stat st;
	ASSERT_EQ(::stat((dir_ / "a.conf").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST_F(AtomicFileTest, NeverReplacesAnExistingFile)
{
	ASSERT_TRUE(writeFileAtomic(dir_, "a.conf", "first\n").ok());
	auto r = writeFileAtomic(dir_, "a.conf", "second\n");
	ASSERT_FALSE(r.ok());
	EXPECT_EQ(r.error().code(), EEXIST);
	EXPECT_EQ(r.error().message(),
		  "Failed to create " + (dir_ / "a.conf").string() + ": file exists (duplicate entry?)");
	EXPECT_EQ(read("a.conf"), "first\n");
	EXPECT_EQ(entries(), std::vector<std::string>{ "a.conf" }); /* the temporary file is gone */
}

TEST_F(AtomicFileTest, UncommittedFileLeavesNothing)
{
	{
		auto f = AtomicFile::create(dir_, "a.conf");
		ASSERT_TRUE(f.ok());
		ASSERT_TRUE(f->write("partial").ok());
	}
	EXPECT_TRUE(entries().empty());
}

TEST_F(AtomicFileTest, RefusesBadNamesAndMissingDirectories)
{
	EXPECT_EQ(AtomicFile::create(dir_, "a/b").error().code(), EINVAL);
	EXPECT_EQ(AtomicFile::create(dir_, "..").error().code(), EINVAL);
	EXPECT_EQ(AtomicFile::create(dir_ / "missing", "a").error().code(), ENOENT);
}

TEST_F(AtomicFileTest, WriteAfterCommitFails)
{
	auto f = AtomicFile::create(dir_, "a.conf");
	ASSERT_TRUE(f.ok());
	ASSERT_TRUE(f->commit().ok());
	EXPECT_EQ(f->write("x").error().code(), EBADF);
	EXPECT_EQ(f->commit().error().code(), EBADF);
}
