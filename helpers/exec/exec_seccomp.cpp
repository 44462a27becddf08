/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "exec_seccomp.h"

#include <cerrno>

#include <seccomp.h>

#include "c_ptr.h"

namespace qemudm {

namespace {

using SeccompPtr = CPtr<void, seccomp_release>;

} /* namespace */

std::vector<CredentialRule> credentialRules(uid_t uid, gid_t gid)
{
	const unsigned u = uid, g = gid;
	return {
		{ "setuid", 1, u },
		{ "setreuid", 2, u },
		{ "setresuid", 3, u },
		{ "setfsuid", 1, u },
		{ "setgid", 1, g },
		{ "setregid", 2, g },
		{ "setresgid", 3, g },
		{ "setfsgid", 1, g },
		/* QEMU's -runas uid:gid calls setgroups(1, [gid]); the list is out of seccomp's reach. */
		{ "setgroups", 0, 0 },
	};
}

std::vector<CredentialRule> neverRootCredentialRules(uid_t uid, gid_t gid)
{
	auto rules = credentialRules(uid, gid);
	for (CredentialRule &r : rules)
		if (r.syscall == "setgroups")
			r.denyAll = true;
	return rules;
}

Status installCredentialFilter(const std::vector<CredentialRule> &rules)
{
	SeccompPtr ctx(seccomp_init(SCMP_ACT_ALLOW));
	if (!ctx)
		return makeError(ENOMEM, "Failed to create the credential seccomp filter");
	/* SystemCallArchitectures=native already refuses other ABIs (and their setuid32 ...); so does this. */
	int r = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
	if (r < 0)
		return errnoError(-r, "Failed to set the credential filter's action for other architectures");

	for (const CredentialRule &rule : rules) {
		int nr = seccomp_syscall_resolve_name(rule.syscall.c_str());
		if (nr == __NR_SCMP_ERROR)
			return makeError(ENOSYS, "Failed to resolve syscall {} for the credential filter",
					 rule.syscall);
		if (rule.denyAll) {
			r = seccomp_rule_add_exact(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
			if (r < 0)
				return errnoError(-r, "Failed to add the credential filter's rule for {}",
						  rule.syscall);
			continue;
		}
		/* One EPERM rule per argument (rules of one syscall are ORed): any argument not the id fails. */
		for (unsigned i = 0; i < rule.idArgs; i++) {
			r = seccomp_rule_add_exact(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 1,
						   SCMP_CMP64(i, SCMP_CMP_NE, rule.id));
			if (r < 0)
				return errnoError(-r, "Failed to add the credential filter's rule for {}",
						  rule.syscall);
		}
	}
	r = seccomp_load(ctx.get());
	if (r < 0)
		return errnoError(-r, "Failed to load the credential seccomp filter");
	return success();
}

Status installCredentialFilter(uid_t uid, gid_t gid)
{
	return installCredentialFilter(credentialRules(uid, gid));
}

} /* namespace qemudm */
