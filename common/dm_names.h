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

/*
 * The one user name rule, for every name qemu-dm takes from a file or a
 * command line (qemu-dm.conf's [Users], qemu-dm-exec --runas, a declared
 * device_model_user): systemd's valid_user_group_name() in its strict mode,
 * [A-Za-z_][A-Za-z0-9_-]*, 1..31 bytes (utmp's UT_NAMESIZE - 1). That is the
 * rule systemd applies to the users it creates itself, every name qemu-dm
 * makes or looks up (xen-qemuuser-<domid>, xen-qemuuser-range-base,
 * xen-qemuuser-shared, the names qemu-dm-userdb answers for) passes it, and
 * none of them can be read as a number, an option, a "user.group" or
 * "user:group" pair, or a path.
 */
[[nodiscard]] bool validUserName(std::string_view name);

[[nodiscard]] Status checkDomainName(uint32_t domid, std::string_view name);
[[nodiscard]] Status checkTapName(uint32_t domid, std::string_view name);
[[nodiscard]] Status checkDeviceModelUserName(uint32_t domid, std::string_view name);

} /* namespace qemudm */
