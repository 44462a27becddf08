/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Device access with a lifetime (the never-root model, PrivilegeModel=never-root
 * of qemu-dm.conf(5)): named-user
 * POSIX ACL entries "u:<uid>:rw" on the Xen device nodes, which are root 0600,
 * so that a device model running as its own uid from exec can open them until
 * QEMU has restricted its handles. qemu-dm-grant adds them before the DM
 * starts and removes them at readiness and when the unit ends
 * (docs/confinement.md, "Never root": the grant).
 *
 * With libacl (acl_get_file/acl_set_file, acl_calc_mask): the entry list is
 * read, changed and written as one ACL, the mask is recomputed, and the
 * format of the system.posix_acl_access xattr stays libacl's business.
 *
 * Concurrent DM starts read-modify-write the same ACL (/dev/xen/privcmd of
 * every domain): every change is made under GrantLock, one host-wide flock,
 * else one start's write can drop another's entry (a missing grant) or bring
 * back a removed one (a stale grant).
 *
 * Nodes are opened O_PATH|O_NOFOLLOW and changed through /proc/self/fd: a
 * symbolic link is never followed and the node that was checked is the one
 * changed. Only character devices and (for tests) regular files are accepted.
 */

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "result.h"
#include "unique_fd.h"

namespace qemudm {

/* Where the Xen nodes live; qemu-dm-grant grants nothing outside it. */
inline constexpr std::string_view kXenDevDir = "/dev/xen";
/* The host-wide lock file of every ACL change (created 0600 by root). */
inline constexpr std::string_view kGrantLockPath = "/run/qemu-dm/grant.lock";

/*
 * The QMP monitor qemu-dm-exec adds for qemu-dm itself in the never-root
 * model (--ready-qmp): qemu-dm-grant's `ready` waits for QEMU to answer there.
 * In the unit's runtime dir, which the DM owns: qemu-dm-grant connects to the
 * socket it finds there without following a link.
 */
std::string readyQmpSocketPath(uint32_t domid);

/* `path` is kXenDevDir/<name> with a plain name (no '/', not "." or ".."). */
bool isXenNodePath(std::string_view path);

/* One host-wide exclusive flock, held while the object lives. */
class GrantLock final
{
public:
	/* Open (create 0600, no symlink) `path` and wait for the lock. */
	[[nodiscard]] static Result<GrantLock> acquire(const std::string &path = std::string(kGrantLockPath));

private:
	explicit GrantLock(UniqueFd fd) : fd_(std::move(fd)) {}
	UniqueFd fd_;
};

/* The named-user entries of a node's access ACL. */
struct AclUserEntry {
	uid_t uid = 0;
	bool read = false, write = false;

	bool operator==(const AclUserEntry &) const = default;
};

/*
 * Add (or widen to) "u:<uid>:rw" on `path` and recompute the mask. Refuses
 * uid 0, symbolic links and anything but a character device or regular file.
 * Callers hold a GrantLock.
 */
[[nodiscard]] Status grantUserAccess(const std::string &path, uid_t uid);

/*
 * Remove the entry of `uid` from `path`, recomputing the mask. Idempotent:
 * true when an entry was removed, false when there was none (or the node is
 * gone: nothing can be granted on it). Callers hold a GrantLock.
 */
[[nodiscard]] Result<bool> revokeUserAccess(const std::string &path, uid_t uid);

/* The named-user entries on `path` (empty: a plain mode, or no node). */
[[nodiscard]] Result<std::vector<AclUserEntry>> listUserAccess(const std::string &path);

/* Whether the file system of `path` stores POSIX ACLs (getxattr, nothing changed). */
[[nodiscard]] Result<bool> supportsPosixAcl(const std::string &path);

/*
 * Success when the never-root model can grant on `dir` (kXenDevDir, or /dev
 * while it does not exist); else EOPNOTSUPP naming the reason and the fix
 * (PrivilegeModel=root), never a fallback to the other model.
 */
[[nodiscard]] Status requireDeviceGrant(const std::string &dir = std::string(kXenDevDir));

} /* namespace qemudm */
