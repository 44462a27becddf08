/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The names a caller gives for one domain, each with a documented alphabet
 * and length (docs/confinement.md, "Declared values"). Anything else is
 * refused with one error naming the domain, so a name means one thing in a
 * unit property, a journal field, `systemctl status` and QEMU's argv, and no
 * control character reaches a terminal.
 *
 *   domain name         1..64 bytes of A-Z a-z 0-9 . _ + @ -, not starting with '-' or '.'
 *   tap interface       1..15 bytes (IFNAMSIZ - 1) of A-Z a-z 0-9 . _ -, not starting with '-'
 *                       or '.'
 *   device_model_user   1..31 bytes, [A-Za-z_][A-Za-z0-9_-]* (a portable user name)
 */

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"

namespace qemudm {

constexpr size_t kMaxDomainNameLength = 64;
constexpr size_t kMaxTapNameLength = 15;
constexpr size_t kMaxUserNameLength = 31;

[[nodiscard]] Status checkDomainName(uint32_t domid, std::string_view name);
[[nodiscard]] Status checkTapName(uint32_t domid, std::string_view name);
[[nodiscard]] Status checkDeviceModelUserName(uint32_t domid, std::string_view name);

/* `s` for an error message: bytes outside printable ASCII as \xNN, so nothing reaches a terminal raw. */
std::string printable(std::string_view s);

} /* namespace qemudm */
