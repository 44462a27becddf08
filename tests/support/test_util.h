/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Small helpers every test suite shares (as libcamera's test/libtest/): one copy each. */

#include <filesystem>
#include <string>
#include <string_view>

namespace qemudm::test {

/* The whole file as bytes; "" if it cannot be read (the test's assertion on the content says why). */
std::string slurp(const std::filesystem::path &path);

/* The value of "Key:" in /proc/PID/status text, without surrounding whitespace; "" if absent. */
std::string procStatusField(std::string_view status, std::string_view key);

} /* namespace qemudm::test */
