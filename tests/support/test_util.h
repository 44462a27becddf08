/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers every test suite shares (as libcamera's test/libtest/): one copy each. */

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "host_policy.h"

namespace qemudm::test {

/* The whole file as bytes; "" if it cannot be read (the test's assertion on the content says why). */
std::string slurp(const std::filesystem::path &path);

/* The value of "Key:" in /proc/PID/status text, without surrounding whitespace; "" if absent. */
std::string procStatusField(std::string_view status, std::string_view key);

/* `s` split at whitespace, as a shell splits unquoted words. */
std::vector<std::string> words(const std::string &s);

/* The values of every property called `name` in `properties`, in order. */
std::vector<std::string> valuesOf(const std::vector<UnitProperty> &properties, std::string_view name);

} /* namespace qemudm::test */
