/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Facts about Xen domains that every part of qemu-dm shares: the domid range,
 * guest types, the per-domain user and unit names. One definition here; the
 * generator, the C API, the CLI, qemu-dm-exec and the userdb service use it.
 */

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace qemudm {

/* Domids 1..32751: DOMID_FIRST_RESERVED is 0x7FF0 = 32752; dom0 never gets a DM. */
constexpr uint32_t kMaxDomid = 32751;
constexpr uint32_t kUidRangeSize = kMaxDomid + 1;

/* "xen-qemuuser-<domid>", the name of the per-domain DM user (and group). */
constexpr std::string_view kDomainUserPrefix = "xen-qemuuser-";

enum class GuestType {
	Hvm,
	Pv,
	Pvh,
};

std::string_view guestTypeName(GuestType type);
[[nodiscard]] Result<GuestType> parseGuestType(std::string_view s);

/* Strict decimal: no sign, no leading zeros, no spaces, value <= max. */
[[nodiscard]] Result<uint32_t> parseDecimal(std::string_view s, uint32_t max);
/* A domid 1..kMaxDomid, strictly decimal. */
[[nodiscard]] Result<uint32_t> parseDomid(std::string_view s);

std::string perDomainUserName(uint32_t domid);
/* "xen-qemuuser-5" -> 5; nullopt unless exactly prefix + a valid strict domid. */
std::optional<uint32_t> domidFromUserName(std::string_view name);

/* "qemu-dm@5.service". */
std::string dmUnitName(uint32_t domid);
/* Never-root: "qemu-dm-grant@5.service" (grants and revokes), "qemu-dm-ready@5.service" (ends the grant at QMP). */
std::string grantUnitName(uint32_t domid);
std::string readyUnitName(uint32_t domid);
/* The same with a specifier as the instance, for drop-ins of qemu-dm@.service: grantUnitName("%i"). */
std::string grantUnitName(std::string_view instance);
std::string readyUnitName(std::string_view instance);
/* "qemu-dm@5.service" -> 5. */
std::optional<uint32_t> domidFromUnitName(std::string_view unit);
/* "qemu-dm-grant@5.service" -> 5. */
std::optional<uint32_t> domidFromGrantUnitName(std::string_view unit);

/*
 * Where systemd keeps the unit file of a transient unit while it is loaded
 * (activating, active, deactivating or failed): written by StartTransientUnit
 * before the first process starts, removed when the unit is garbage-collected
 * (verified in the test bed, systemd 252). Every DM unit is transient.
 */
constexpr std::string_view kTransientUnitDir = "/run/systemd/transient";

/* The socket of qemu-dm-userdb (its userdb service name is the file name). */
constexpr std::string_view kUserdbSocket = "/run/systemd/userdb/org.xenproject.QemuDm";

/* Whether qemu-dm@<domid>.service is loaded: one stat() of its transient unit file in `dir`. */
bool dmUnitLoaded(uint32_t domid, std::string_view dir = kTransientUnitDir);

} /* namespace qemudm */
