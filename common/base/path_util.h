/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Path spelling checks with one implementation each (as systemd's src/basic/path-util.h). */

#include <string_view>

namespace qemudm {

/*
 * An absolute path in its one normal spelling: starts with '/', is not "/"
 * itself, and has no empty, "." or ".." component (so no "//" and no
 * trailing '/'). Which characters a component may hold is the caller's rule.
 */
[[nodiscard]] bool isNormalizedAbsolutePath(std::string_view path);

} /* namespace qemudm */
