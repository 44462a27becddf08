/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * qemu-dm-exec's last step before execv(): a seccomp filter that lets the
 * credential-changing syscalls reach only this DM's own uid and gid
 * (docs/confinement.md, "Credential filter"). In the root window QEMU holds
 * CAP_SETUID for -runas; without the filter it could become any uid, e.g.
 * another domain's DM user.
 */

#include <sys/types.h>

#include <string>
#include <vector>

#include "result.h"

namespace qemudm {

/* One credential syscall: its first `idArgs` arguments must each be exactly `id`
 * (a uid_t/gid_t, zero-extended as glibc passes it); anything else fails with EPERM. */
struct CredentialRule {
	std::string syscall;
	unsigned idArgs = 0; /* 0: not checked (setgroups) */
	unsigned id = 0;
	bool denyAll = false; /* every call fails with EPERM, whatever its arguments */
};

/*
 * The rule table for a DM that runs as uid:gid: setuid, setreuid, setresuid,
 * setfsuid with every uid argument the DM's uid; setgid, setregid, setresgid,
 * setfsgid with its gid; setgroups unchecked (seccomp cannot read the list).
 * -1 ("unchanged") is refused too: libseccomp cannot allow two values of one
 * argument without a conflicting rule, and QEMU's -runas never passes it.
 * The 32-bit variants (setuid32 ...) exist only for other ABIs, which the
 * filter refuses whole (as SystemCallArchitectures=native does).
 */
[[nodiscard]] std::vector<CredentialRule> credentialRules(uid_t uid, gid_t gid);

/*
 * Never root (qemu-dm-exec --never-root): the DM already is uid:gid and never
 * changes credentials. The same pins, and setgroups(2) fails whatever its list.
 */
[[nodiscard]] std::vector<CredentialRule> neverRootCredentialRules(uid_t uid, gid_t gid);

/* Install the filter on the calling thread (inherited across execve()).
 * Fails closed: an error means QEMU must not run. */
[[nodiscard]] Status installCredentialFilter(const std::vector<CredentialRule> &rules);
/* The same with credentialRules(uid, gid). */
[[nodiscard]] Status installCredentialFilter(uid_t uid, gid_t gid);

} /* namespace qemudm */
