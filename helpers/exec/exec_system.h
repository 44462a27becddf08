/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * qemu-dm-exec's contact with the system: the user database, /proc, file
 * descriptors, the chroot directory. The chroot decision is pure logic over
 * injected operations (ChrootDirOps) so tests can drive every branch.
 */

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exec_args.h"
#include "result.h"
#include "user_lookup.h"

namespace qemudm {

/* getpwnam_r(): uid and primary gid of a user (NSS, so userdb records too). */
[[nodiscard]] Result<UserId> resolveUserName(const std::string &name);

/*
 * The uid check uses findProcessOfUid() from common/user_lookup.h. Inside a
 * unit with ProtectProc=invisible, other users' processes are hidden: that
 * check is a last line of defence; the C API checks from outside before starting.
 */

/*
 * --never-root: from the text of /proc/self/status, the process is exactly
 * `want` (real, effective, saved and fs uid; the same four gids), has no
 * supplementary group but `want.gid`, and no capability in any set
 * (inheritable, permitted, effective, bounding, ambient). The error names
 * what differs. Pure.
 */
[[nodiscard]] Status checkNeverRootStatus(std::string_view statusText, const UserId &want);
/* checkNeverRootStatus() of this process. */
[[nodiscard]] Status checkNeverRootIdentity(const UserId &want);

/* Fails unless `fd` is an open file descriptor. */
[[nodiscard]] Status checkFdOpen(int fd);
/* Close every descriptor except 0, 1, 2 and `keep` (sorted): close_range(2),
 * or /proc/self/fd where the kernel or the syscall filter refuses it. */
[[nodiscard]] Status closeFdsExcept(const std::vector<int> &keep);
/* Let `fd` survive execve(). */
[[nodiscard]] Status clearCloexec(int fd);

/* Absolute, executable regular file (after symlinks). */
[[nodiscard]] Status checkExecutable(const std::string &path);

struct PathInfo {
	bool exists = false;
	mode_t mode = 0; /* st_mode of lstat(): type and permission bits */
	uid_t uid = 0;
};

struct ChrootDirOps {
	std::function<Result<PathInfo>(const std::string &)> lstat;
	std::function<Status(const std::string &, mode_t)> mkdir;
	std::function<Status(const std::string &, mode_t)> chmod;
	std::function<Result<bool>(const std::string &)> isEmpty;
};

ChrootDirOps systemChrootDirOps();

/* The mode of the chroot directory: root may search it without
 * CAP_DAC_*, nobody else may do anything (libxl's 0000 left QEMU without
 * CAP_DAC_* unable to enter it). */
constexpr mode_t kChrootDirMode = 0100;

/*
 * Make `dir` a usable chroot for QEMU. Its parent must exist, be a real
 * directory owned by root and not writable by group or others. A missing
 * `dir` is created with mode 0100; an existing one must be a real directory,
 * owned by root, not writable by group or others, and empty; its mode is
 * then set to 0100 (libxl creates it 0000, which only CAP_DAC_* can enter).
 * Returns what was done, for the log.
 */
[[nodiscard]] Result<std::string> prepareChrootDir(const std::string &dir, const ChrootDirOps &ops);

} /* namespace qemudm */
