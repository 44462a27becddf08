/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers every test suite shares (as libcamera's test/libtest/): one copy each. */

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "host_policy.h"

namespace qemudm::test {

/*
 * A fresh directory (mkdtemp, mode 0700) named "<parent>/<prefix>-XXXXXX",
 * removed with all it holds when the object goes; path() is empty if it
 * could not be made (the test's first use of it fails).
 */
class TempDir
{
public:
	explicit TempDir(std::string_view prefix = "qemu-dm-test", const std::filesystem::path &parent = "/tmp");
	~TempDir();
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;

	const std::filesystem::path &path() const { return path_; }
	std::string str() const { return path_.string(); }
	explicit operator bool() const { return !path_.empty(); }
	std::filesystem::path operator/(const std::filesystem::path &rel) const { return path_ / rel; }
	/* Write `text` to the file `rel` below the directory, making its parents. */
	void write(const std::filesystem::path &rel, std::string_view text) const;

private:
	std::filesystem::path path_;
};

/* The whole file as bytes; "" if it cannot be read (the test's assertion on the content says why). */
std::string slurp(const std::filesystem::path &path);

/* The value of "Key:" in /proc/PID/status text, without surrounding whitespace; "" if absent. */
std::string procStatusField(std::string_view status, std::string_view key);

/* `s` split at whitespace, as a shell splits unquoted words. */
std::vector<std::string> words(const std::string &s);

/* The values of every property called `name` in `properties`, in order. */
std::vector<std::string> valuesOf(const std::vector<UnitProperty> &properties, std::string_view name);

} /* namespace qemudm::test */
