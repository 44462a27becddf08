/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-grant: the device grant of a never-root device model, with a
 * lifetime (docs/confinement.md, "Never root": the grant).
 *
 * Run as root by two units qemu-dm@<domid>.service is bound to (units/; the
 * generator's 50-qemu-dm-grant.conf, never-root model only):
 *   qemu-dm-grant@N  ExecStart=    grant N   u:<uid>:rw on the DM unit's Xen nodes,
 *                                            before the DM starts (After=)
 *                    ExecStopPost= revoke N  remove whatever is left, whenever the
 *                                            DM ends (BindsTo=)
 *   qemu-dm-ready@N  ExecStart=    ready N   after the DM's READY=1: wait until QEMU
 *                                            answers QMP (its handles are restricted
 *                                            by then), reset the DM's DeviceAllow= at
 *                                            runtime, remove the ACL entries
 * Not ExecStartPre=+ of the DM: in systemd 252 a '+' command still gets the
 * unit's RootDirectory=/BindPaths=/TemporaryFileSystem= (the allow-list view,
 * without the host's /dev or systemd's bus). qemu-dm's start (qemu-dmctl, the
 * C API, the shim) returns once qemu-dm-ready@N is up; a failure or timeout
 * there stops the DM (BindsTo=). The caller is not involved otherwise: its
 * crash leaves nothing behind.
 *
 * Trust: the uid comes from the unit's Environment= QEMU_DM_UID (set by the
 * core; checked against User= when that is set), the nodes from the /dev/xen
 * entries of its DeviceAllow=, both read from systemd over the bus: nothing
 * the DM can write. uid 0 and anything outside /dev/xen are refused.
 */

#include <fcntl.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "dev_grant.h"
#include "domain.h"
#include "log.h"
#include "qmp_client.h"
#include "systemd_bus.h"
#include "unique_fd.h"

using namespace qemudm;

namespace {

constexpr std::string_view kUsage = "Usage: qemu-dm-grant grant|ready|revoke DOMID\n";

struct Unit {
	uint32_t domid = 0;
	std::string name;
	uid_t uid = 0;
};

uint64_t monotonicUsec()
{
	struct timespec ts {
	};
	(void)::clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

/*
 * The DM's uid as root set it: QEMU_DM_UID= of the unit's environment, and
 * (checkUser: before granting) its User= if set. Removing an entry needs no
 * lookup: revoke works while the user database no longer answers.
 */
Result<uid_t> dmUid(SystemdManager &systemd, const Unit &unit, bool checkUser)
{
	auto env = systemd.unitProperty<std::vector<std::string>>(unit.name, "org.freedesktop.systemd1.Service",
								  "Environment");
	if (!env)
		return env.error();
	std::optional<uint32_t> uid;
	for (const auto &e : *env) {
		if (!e.starts_with("QEMU_DM_UID="))
			continue;
		auto v = parseDecimal(std::string_view(e).substr(12), UINT32_MAX - 1);
		if (!v)
			return v.error().wrap(fmt::format("domain {}: QEMU_DM_UID= of {}", unit.domid, unit.name));
		uid = *v;
	}
	if (!uid)
		return makeError(ENOENT, "domain {}: {} has no QEMU_DM_UID= (not a unit qemu-dm started)", unit.domid,
				 unit.name);
	if (*uid == 0)
		return makeError(EPERM, "domain {}: refusing to grant Xen device access to uid 0", unit.domid);

	if (!checkUser)
		return static_cast<uid_t>(*uid);
	auto user = systemd.user(unit.name);
	if (!user)
		return user.error();
	if (!user->empty()) {
		uid_t u;
		if (auto n = parseDecimal(*user, UINT32_MAX - 1); n) {
			u = *n;
		} else {
			struct passwd pw, *res = nullptr;
			std::vector<char> buf(16384);
			int r = ::getpwnam_r(user->c_str(), &pw, buf.data(), buf.size(), &res);
			if (!res)
				return r ? errnoError(r, "domain {}: failed to look up User={}", unit.domid, *user)
					 : makeError(ENOENT, "domain {}: User={} does not resolve", unit.domid, *user);
			u = pw.pw_uid;
		}
		if (u != *uid)
			return makeError(EPERM, "domain {}: User={} is uid {}, not QEMU_DM_UID={}", unit.domid, *user,
					 u, *uid);
	}
	return static_cast<uid_t>(*uid);
}

/* Every character device in /dev/xen (what `ready` and `revoke` clean: the list DeviceAllow had is gone by then). */
std::vector<std::string> allXenNodes()
{
	std::vector<std::string> nodes;
	std::error_code ec;
	for (const auto &e : std::filesystem::directory_iterator(std::string(kXenDevDir), ec)) {
		std::string p = e.path().string();
		struct stat st;
		if (isXenNodePath(p) && ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode))
			nodes.push_back(p);
	}
	return nodes;
}

/* The host-wide lock of every ACL change; /run/qemu-dm may not exist before the first DM's RuntimeDirectory=. */
Result<GrantLock> lockGrants()
{
	if (::mkdir("/run/qemu-dm", 0755) < 0 && errno != EEXIST)
		return errnoError(errno, "Failed to create /run/qemu-dm");
	return GrantLock::acquire();
}

Status removeGrants(const Unit &unit, unsigned *removed = nullptr)
{
	auto lock = lockGrants();
	if (!lock)
		return lock.error();
	unsigned n = 0;
	for (const auto &node : allXenNodes()) {
		auto r = revokeUserAccess(node, unit.uid);
		if (!r)
			return r.error().wrap(
			    fmt::format("domain {}: failed to revoke uid {}'s access", unit.domid, unit.uid));
		n += *r ? 1 : 0;
	}
	if (removed)
		*removed = n;
	return success();
}

Status grant(SystemdManager &systemd, const Unit &unit)
{
	auto rules = systemd.deviceAllow(unit.name);
	if (!rules)
		return rules.error();
	std::vector<std::string> nodes;
	for (const auto &rule : *rules) {
		if (!rule.path.starts_with("/dev/xen"))
			continue; /* not a Xen node: the DM gets it by DeviceAllow= alone, as in the root model */
		if (!isXenNodePath(rule.path))
			return makeError(EPERM, "domain {}: refusing DeviceAllow={}: not a node in {}", unit.domid,
					 rule.path, kXenDevDir);
		struct stat st;
		if (::lstat(rule.path.c_str(), &st) < 0) {
			if (errno == ENOENT) {
				log::info("domain {}: {} does not exist, not granted", unit.domid, rule.path);
				continue;
			}
			return errnoError(errno, "domain {}: failed to stat {}", unit.domid, rule.path);
		}
		if (!S_ISCHR(st.st_mode))
			return makeError(EPERM, "domain {}: refusing {}: not a character device", unit.domid,
					 rule.path);
		nodes.push_back(rule.path);
	}

	auto lock = lockGrants();
	if (!lock)
		return lock.error();
	for (const auto &node : nodes) {
		if (Status s = grantUserAccess(node, unit.uid); !s) {
			for (const auto &n : nodes)
				(void)revokeUserAccess(n, unit.uid);
			return s.error().wrap(fmt::format("domain {}", unit.domid));
		}
	}
	log::info("domain {}: granted uid {} rw on {} Xen node(s) until QEMU has restricted its handles", unit.domid,
		  unit.uid, nodes.size());
	return success();
}

/* Connect to the socket at `path` itself, never through a link the DM put there. */
Result<UniqueFd> connectNoFollow(const std::string &path)
{
	UniqueFd node(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
	if (!node)
		return errnoError(errno, "Failed to open {}", path);
	struct stat st;
	if (::fstat(node.get(), &st) < 0)
		return errnoError(errno, "Failed to stat {}", path);
	if (!S_ISSOCK(st.st_mode))
		return makeError(EPERM, "Refusing {}: not a socket", path);
	UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	if (!s)
		return errnoError(errno, "Failed to create a socket");
	struct sockaddr_un sa {
	};
	sa.sun_family = AF_UNIX;
	std::string via = fmt::format("/proc/self/fd/{}", node.get());
	std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", via.c_str());
	if (::connect(s.get(), reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)) < 0)
		return errnoError(errno, "Failed to connect to {}", path);
	return s;
}

Status ready(SystemdManager &systemd, const Unit &unit)
{
	const uint64_t t0 = monotonicUsec();
	/* A start of this step after the DM is gone (e.g. a caller joining late) fails at once. */
	auto state = systemd.activeState(unit.name);
	if (!state)
		return state.error();
	if (*state != "active" && *state != "activating")
		return makeError(ESRCH, "domain {}: {} is {}, nothing to revoke", unit.domid, unit.name, *state);
	/* Bounded by the start timeout: systemd stops this step (and fails the start) then; this is a backstop. */
	auto timeout =
	    systemd.unitProperty<uint64_t>(unit.name, "org.freedesktop.systemd1.Service", "TimeoutStartUSec");
	uint64_t limit = timeout && *timeout > 0 && *timeout < UINT64_MAX ? *timeout : 90000000u;
	const std::string socket = readyQmpSocketPath(unit.domid);
	std::string status, last = "no answer yet";
	unsigned tries = 0;
	while (monotonicUsec() - t0 < limit) {
		tries++;
		auto fd = connectNoFollow(socket);
		if (fd) {
			QmpLimits limits;
			limits.timeout = std::chrono::milliseconds(2000);
			auto qmp = QmpClient::adopt(std::move(*fd), limits);
			if (qmp) {
				auto st = qmp->execute("query-status");
				if (st && st->isObject()) {
					const json::Value *v = st->find("status");
					status = v && v->isString() ? *v->asString() : "?";
					break;
				}
				last = st ? "query-status without a status" : st.error().message();
			} else {
				last = qmp.error().message();
			}
		} else {
			last = fd.error().message();
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	if (status.empty())
		return makeError(ETIMEDOUT, "domain {}: QEMU did not answer QMP on {} within the start timeout ({})",
				 unit.domid, socket, last);
	const uint64_t tQmp = monotonicUsec();

	/* DeviceAllow= without the Xen nodes: a reset, then what else the unit had (a tap's /dev/net/tun). */
	auto rules = systemd.deviceAllow(unit.name);
	if (!rules)
		return rules.error();
	std::vector<DeviceRule> keep;
	for (const auto &rule : *rules)
		if (!rule.path.starts_with("/dev/xen"))
			keep.push_back(rule);
	if (Status s = systemd.replaceDeviceAllow(unit.name, true, keep); !s)
		return s.error().wrap(fmt::format("domain {}: failed to revoke the unit's device access", unit.domid));
	const uint64_t tCgroup = monotonicUsec();
	unsigned removed = 0;
	if (Status s = removeGrants(unit, &removed); !s)
		return s;
	const uint64_t tAcl = monotonicUsec();

	/* Check what was done, as audit does. */
	rules = systemd.deviceAllow(unit.name);
	if (!rules)
		return rules.error();
	for (const auto &rule : *rules)
		if (rule.path.starts_with("/dev/xen"))
			return makeError(EIO, "domain {}: DeviceAllow={} is still there after the reset", unit.domid,
					 rule.path);

	auto execStart = systemd.unitProperty<uint64_t>(unit.name, "org.freedesktop.systemd1.Service",
							"ExecMainStartTimestampMonotonic");
	std::string sinceExec = execStart && *execStart > 0 && *execStart <= tAcl
				    ? fmt::format("{} ms after the DM's exec, ", (tAcl - *execStart) / 1000)
				    : std::string();
	log::info("domain {}: QEMU answered QMP ({}, after {} tries, {} ms); Xen device access revoked: "
		  "DeviceAllow= reset in {} ms, {} ACL entr{} of uid {} removed in {} ms ({}{} ms in this step)",
		  unit.domid, status, tries, (tQmp - t0) / 1000, (tCgroup - tQmp) / 1000, removed,
		  removed == 1 ? "y" : "ies", unit.uid, (tAcl - tCgroup) / 1000, sinceExec, (tAcl - t0) / 1000);
	return success();
}

Status revoke(const Unit &unit)
{
	unsigned removed = 0;
	if (Status s = removeGrants(unit, &removed); !s)
		return s;
	if (removed)
		log::info("domain {}: removed {} ACL entr{} of uid {} left on Xen nodes", unit.domid, removed,
			  removed == 1 ? "y" : "ies", unit.uid);
	return success();
}

} /* namespace */

int main(int argc, char **argv)
{
	log::setup("qemu-dm-grant");
	if (argc != 3) {
		std::fputs(kUsage.data(), stderr);
		return 2;
	}
	std::string_view verb = argv[1];
	if (verb != "grant" && verb != "ready" && verb != "revoke") {
		std::fputs(kUsage.data(), stderr);
		return 2;
	}
	auto domid = parseDomid(argv[2]);
	if (!domid) {
		log::error(domid.error().wrap("Failed to parse the domain id"));
		return EXIT_FAILURE;
	}
	if (::geteuid() != 0) {
		log::error("domain {}: qemu-dm-grant must run as root", *domid);
		return EXIT_FAILURE;
	}
	Unit unit;
	unit.domid = *domid;
	unit.name = dmUnitName(*domid);

	auto systemd = SystemdManager::connect();
	if (!systemd) {
		log::error(systemd.error().wrap(fmt::format("domain {}: failed to connect to systemd", unit.domid)));
		return EXIT_FAILURE;
	}
	auto uid = dmUid(*systemd, unit, verb == "grant");
	if (!uid) {
		log::error(uid.error());
		return EXIT_FAILURE;
	}
	unit.uid = *uid;

	Status s = verb == "grant" ? grant(*systemd, unit) : verb == "ready" ? ready(*systemd, unit) : revoke(unit);
	if (!s) {
		log::error(s.error());
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
