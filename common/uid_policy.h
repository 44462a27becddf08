/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Which user a device model runs as: the one implementation of the UID
 * policy that the generator, the C API and qemu-dmctl all call.
 *
 * Upstream order (libxl__domain_get_device_model_uid, reference
 * xen-dm-restrict.md §3):
 *   1. device_model_user, if given (even with dm_restrict off), by name;
 *   2. dm_restrict off: root, no -runas;
 *   3. range base user's uid + domid, gid = the base user's primary group
 *      (PrivilegeModel=never-root: gid = uid, the per-domain group);
 *   4. the shared user, with a warning;
 *   5. refuse.
 * Plus what upstream misses: gid 0, a range that overflows or covers the
 * special uids 65534/65535/(uid_t)-2/(uid_t)-1, a base uid of 0, a
 * device_model_user already used by a running device model, and a computed
 * uid that still owns processes (domid reuse). A base that is not a
 * multiple of 65536 is a warning.
 *
 * device_model_user is one device model's own user, never an account shared
 * with anything else:
 * refused (EPERM) when it is nobody or a special uid, a system user (uid <=
 * SYS_UID_MAX of /etc/login.defs, UserLookup::systemUidMax), the SharedUser=,
 * listed in ForbiddenUsers= (by name, or sharing the uid of one that is), or
 * when its uid lies in another domain's slot of the range (base + M, M !=
 * domid; M = 0 is the range base user). The error says why; callers prefix the domain.
 */

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "domain.h" /* kMaxDomid, perDomainUserName */
#include "result.h"
#include "user_lookup.h"

namespace qemudm {

struct DmUserRequest {
	uint32_t domid = 0;
	/* xl.cfg device_model_user=; empty: not given. */
	std::string deviceModelUser;
	/* xl.cfg dm_restrict=; std::nullopt: Config::restrictByDefault. */
	std::optional<bool> dmRestrict;
};

struct DmIdentity {
	uid_t uid = 0;
	gid_t gid = 0;
	/* QEMU's -runas / -run-with user= argument: "uid:gid" or a user name; empty: root. */
	std::string runas;
	/* Upstream's kill_by_uid: the uid belongs to this device model alone. */
	bool killByUid = false;
	/* Non-fatal problems the caller should log, one message each. */
	std::vector<std::string> warnings;

	bool runsAsRoot() const { return runas.empty(); }
};

/*
 * Decide the identity of the device model for `request`. Refusals are
 * Errors (EINVAL, ENOENT, EBUSY, ERANGE) with a message for the
 * administrator; lookup failures are passed on with context.
 */
[[nodiscard]] Result<DmIdentity> resolveDmIdentity(const Config &config, const DmUserRequest &request,
						   UserLookup &lookup);

} /* namespace qemudm */
