/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "result.h"

namespace qemudm {

/*
 * Read a whole small text file. std::nullopt when it does not exist (ENOENT,
 * ENOTDIR), or vanished with its process (ESRCH, for /proc); an Error otherwise.
 */
[[nodiscard]] Result<std::optional<std::string>> readTextFile(const std::filesystem::path &path);

} /* namespace qemudm */
