/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "uid_policy.h"

#include <algorithm>

#include <fmt/format.h>

#include "log.h"

namespace qemudm {

namespace {

/* The highest uid we hand out: (uid_t)-1 is "invalid" and (uid_t)-2 the 32-bit "nobody". */
constexpr uint64_t kLastUsableUid = 4294967293ULL;

struct SpecialUid {
	uint64_t uid;
	const char *what;
};
constexpr SpecialUid kSpecialUids[] = {
	{ 65534, "nobody" },
	{ 65535, "the 16-bit invalid uid" },
};

Status checkNotRoot(const std::string &who, const PasswdEntry &pw, std::string_view role)
{
	if (pw.uid == 0)
		return makeError(EINVAL, "{} {} is uid 0 (root), refusing to run the device model as root", role, who);
	if (pw.gid == 0)
		return makeError(EINVAL,
				 "{} {} has primary group gid 0 (root), refusing to run the device model with gid 0",
				 role, who);
	return success();
}

/*
 * device_model_user is one device model's own user: not a
 * shared account (nobody, the overflow uids, a system user, the shared user,
 * one listed in ForbiddenUsers=), and not a uid of another domain's slot in
 * the range (base + M, M != domid; M = 0 is the range base user itself).
 */
Status checkOwnUser(const Config &config, const DmUserRequest &request, const PasswdEntry &pw, UserLookup &lookup)
{
	auto refuse = [&](const std::string &why) {
		/* Callers name the domain ("domain 5: ..."), as for every policy error. */
		return makeError(EPERM,
				 "Refusing device_model_user {} (uid {}): {}; a device model needs a user of its own",
				 pw.name, pw.uid, why);
	};

	if (pw.name == "nobody")
		return refuse("it is the shared unprivileged user nobody");
	for (const auto &s : kSpecialUids)
		if (pw.uid == s.uid)
			return refuse(fmt::format("uid {} is {}", s.uid, s.what));
	if (static_cast<uint64_t>(pw.uid) > kLastUsableUid)
		return refuse(fmt::format("uid {} is reserved", pw.uid));

	auto sysMax = lookup.systemUidMax();
	if (!sysMax)
		return sysMax.error().wrap("Failed to read the system uid limit");
	if (pw.uid <= *sysMax)
		return refuse(fmt::format("it is a system user (uid <= SYS_UID_MAX {} of /etc/login.defs), shared "
					  "with the service it belongs to",
					  *sysMax));

	/* The shared user and every forbidden one, by name and by uid (an alias is the same account). */
	struct Listed {
		const std::string &name;
		std::string_view why;
	};
	std::vector<Listed> listed = { { config.sharedUser, "SharedUser=, the user every device model shares" } };
	for (const auto &f : config.forbiddenUsers)
		listed.push_back({ f, "listed in ForbiddenUsers=" });
	for (const auto &l : listed) {
		if (l.name == pw.name)
			return refuse(fmt::format("it is {}", l.why));
		auto other = lookup.byName(l.name);
		if (!other)
			return other.error().wrap(fmt::format("Failed to look up {}", l.name));
		if (*other && (*other)->uid == pw.uid)
			return refuse(fmt::format("its uid is that of {}, {}", l.name, l.why));
	}

	auto base = lookup.byName(config.rangeBaseUser);
	if (!base)
		return base.error().wrap(fmt::format("Failed to look up range base user {}", config.rangeBaseUser));
	if (*base && (*base)->uid > 0) {
		uint64_t first = (*base)->uid;
		uint64_t uid = pw.uid;
		uint64_t slot = uid - first;
		/* Slot 0 is the range base user: never a device model's own, not even dom0's. */
		if (uid >= first && uid <= first + kMaxDomid && (slot == 0 || slot != request.domid)) {
			if (slot == 0)
				return refuse(fmt::format("it is the range base user {} (the slot of domain 0)",
							  config.rangeBaseUser));
			return refuse(fmt::format("uid {} is the slot of domain {} in the range of {} ({} + {})", uid,
						  slot, config.rangeBaseUser, first, slot));
		}
	}
	return success();
}

Result<DmIdentity> byDeviceModelUser(const Config &config, const DmUserRequest &request, UserLookup &lookup)
{
	const std::string &name = request.deviceModelUser;
	auto pw = lookup.byName(name);
	if (!pw)
		return pw.error().wrap(fmt::format("Failed to look up device_model_user {}", name));
	if (!*pw)
		return makeError(ENOENT, "Could not find device_model_user {}", name);
	if (auto r = checkNotRoot(name, **pw, "device_model_user"); !r)
		return r.error();
	if (auto r = checkOwnUser(config, request, **pw, lookup); !r)
		return r.error();

	auto running = lookup.runningDmUids();
	if (!running)
		return running.error().wrap("Failed to list the users of running device models");
	if (std::find(running->begin(), running->end(), (*pw)->uid) != running->end())
		return makeError(EBUSY,
				 "device_model_user {} (uid {}) is already used by a running device model, "
				 "every domain needs a user of its own",
				 name, (*pw)->uid);

	DmIdentity id;
	id.uid = (*pw)->uid;
	id.gid = (*pw)->gid;
	id.runas = name;
	id.killByUid = true;
	log::debug("Domain {}: device model runs as device_model_user {} (uid {})", request.domid, name, id.uid);
	return id;
}

Result<DmIdentity> byRange(const Config &config, const DmUserRequest &request, const PasswdEntry &base,
			   UserLookup &lookup)
{
	const std::string &b = config.rangeBaseUser;
	if (request.domid == 0)
		return makeError(EINVAL, "Domain id 0 has no uid in the range of {}, expected a domid between 1 and {}",
				 b, kMaxDomid);
	if (base.uid == 0)
		return makeError(EINVAL,
				 "Range base user {} is uid 0 (root), refusing: the range would cover system users", b);
	if (base.gid == 0)
		return makeError(
		    EINVAL,
		    "Range base user {} has primary group gid 0 (root), refusing to run device models with gid 0", b);

	uint64_t first = base.uid;
	uint64_t last = first + kMaxDomid;
	if (last > kLastUsableUid)
		return makeError(ERANGE,
				 "Range base user {} has uid {}: the range {}..{} overflows the uid space "
				 "(the last usable uid is {})",
				 b, first, first, last, kLastUsableUid);
	for (const auto &s : kSpecialUids)
		if (first <= s.uid && s.uid <= last)
			return makeError(
			    ERANGE, "Range base user {} has uid {}: the range {}..{} contains the special uid {} ({})",
			    b, first, first, last, s.uid, s.what);

	DmIdentity id;
	if (first % 65536 != 0)
		id.warnings.push_back(
		    fmt::format("Range base user {} has uid {}, which is not a multiple of 65536; "
				"container tools may read the upper 16 bits of a uid as a container id",
				b, first));

	uid_t uid = static_cast<uid_t>(first + request.domid);
	auto clash = lookup.byUid(uid);
	if (!clash)
		return clash.error().wrap(fmt::format("Failed to look up uid {}", uid));
	/* Our own userdb service names base + domid "xen-qemuuser-<domid>": that is no clash. */
	if (*clash && (*clash)->name != perDomainUserName(request.domid))
		return makeError(EEXIST, "Wanted to use uid {} ({} + {}) but that is user {}", uid, b, request.domid,
				 (*clash)->name);

	auto busy = lookup.uidHasProcesses(uid);
	if (!busy)
		return busy.error().wrap(fmt::format("Failed to check the processes of uid {}", uid));
	if (*busy)
		return makeError(EBUSY,
				 "uid {} for domain {} still owns processes (a device model of an earlier "
				 "domain {} may still be running)",
				 uid, request.domid, request.domid);

	id.uid = uid;
	/*
	 * Root model: upstream's gid, the range base user's group, shared by
	 * every DM. Never root: the per-domain group xen-qemuuser-<domid> (gid =
	 * uid, served with the user by qemu-dm-userdb), so that no two DMs share
	 * a gid either: nothing one DM's group may read or write is another's.
	 */
	id.gid = config.privilegeModel == PrivilegeModel::NeverRoot ? static_cast<gid_t>(uid) : base.gid;
	id.runas = fmt::format("{}:{}", id.uid, id.gid);
	id.killByUid = true;
	log::debug("Domain {}: device model runs as uid {} ({} + {})", request.domid, uid, b, request.domid);
	return id;
}

Result<DmIdentity> byShared(const Config &config, const DmUserRequest &request, UserLookup &lookup)
{
	const std::string &s = config.sharedUser;
	auto pw = lookup.byName(s);
	if (!pw)
		return pw.error().wrap(fmt::format("Failed to look up shared user {}", s));
	if (!*pw)
		return makeError(
		    ENOENT,
		    "Could not find user {} or range base user {}, cannot restrict the device model of domain {}", s,
		    config.rangeBaseUser, request.domid);
	if (auto r = checkNotRoot(s, **pw, "Shared user"); !r)
		return r.error();

	DmIdentity id;
	id.uid = (*pw)->uid;
	id.gid = (*pw)->gid;
	id.runas = s;
	id.killByUid = false; /* every device model shares it: never kill by uid */
	id.warnings.push_back(fmt::format("Could not find user {}, falling back to shared user {}: "
					  "all device models share one uid",
					  config.rangeBaseUser, s));
	return id;
}

} /* namespace */

Result<DmIdentity> resolveDmIdentity(const Config &config, const DmUserRequest &request, UserLookup &lookup)
{
	if (request.domid > kMaxDomid)
		return makeError(EINVAL, "Domain id {} is out of range, expected 0..{}", request.domid, kMaxDomid);

	if (!request.deviceModelUser.empty())
		return byDeviceModelUser(config, request, lookup);

	if (!request.dmRestrict.value_or(config.restrictByDefault)) {
		log::debug("Domain {}: dm_restrict disabled, starting QEMU as root", request.domid);
		return DmIdentity{};
	}

	auto base = lookup.byName(config.rangeBaseUser);
	if (!base)
		return base.error().wrap(fmt::format("Failed to look up range base user {}", config.rangeBaseUser));
	if (*base)
		return byRange(config, request, **base, lookup);
	return byShared(config, request, lookup);
}

} /* namespace qemudm */
