/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The host readiness report behind `qemu-dmctl check`, in the spirit of
 * libvirt's virt-host-validate: one line per check, PASS, WARN or FAIL,
 * with a hint for the administrator on WARN and FAIL.
 *
 * What is checked, in this order:
 *   Xen hypervisor      /sys/hypervisor/type is "xen" (and not a domU)   FAIL
 *   /dev/xen/privcmd    exists, character device                        FAIL
 *   /dev/xen/evtchn     exists, character device                        FAIL
 *   /dev/xen/hypercall  exists, character device      FAIL if LimitMEMLOCK=0, else WARN
 *   xenstored           a xenstored/oxenstored process, or its socket    FAIL
 *   systemd version     >= 252 PASS, 248..251 WARN, older FAIL
 *   cgroup hierarchy    unified PASS, hybrid WARN, legacy FAIL
 *   NSS                 "systemd" on the passwd and group lines          FAIL
 *   Range base user     exists, not uid/gid 0, range fits   FAIL; base % 65536 != 0 WARN
 *   User database       uid base+1 resolves to xen-qemuuser-1 while the
 *                       unit of domain 1 is loaded, else not at all, and
 *                       qemu-dm-userdb's socket exists                   FAIL
 *   Shared user         informational                                   WARN at most
 *   QEMU binary         exists, executable, can be probed               FAIL
 *   QEMU Xen accelerator, QEMU -xen-domid-restrict, QEMU privilege drop  FAIL
 *   QEMU -sandbox       not built with seccomp                          WARN
 *   Device <path>       each [Devices] DeviceAllow= node exists          WARN
 *   never-root only (PrivilegeModel=never-root, the device grant with a lifetime):
 *   POSIX ACLs on /dev  the file system of /dev stores ACLs (devtmpfs:
 *                       CONFIG_TMPFS_POSIX_ACL)                          FAIL
 *   Device control      cgroup v2 BPF device programs PASS; cgroup v1
 *                       devices controller WARN; none FAIL
 *
 * Every place that touches the system is a seam in HostCheckEnv, so the
 * checks run against fake roots in tests. Library code: logs at debug level
 * only; results are values, never Errors.
 */

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "domain.h"
#include "qemu_probe.h"
#include "result.h"
#include "user_lookup.h"

namespace qemudm {

enum class CheckLevel {
	Pass,
	Warn,
	Fail,
};

/* "PASS", "WARN", "FAIL". */
std::string_view checkLevelName(CheckLevel level);

struct CheckResult {
	std::string name; /* short and stable, e.g. "cgroup hierarchy" */
	CheckLevel level = CheckLevel::Fail;
	std::string detail; /* what was found, one sentence */
	std::string hint;   /* what to do about it; empty on PASS */

	bool operator==(const CheckResult &) const = default;
};

/* Everything the checks read from the system. systemHostCheckEnv() gives the real one. */
struct HostCheckEnv {
	std::filesystem::path nsswitchConf = "/etc/nsswitch.conf";
	std::filesystem::path devRoot = "/dev"; /* /dev/xen/... and [Devices] nodes are looked up below it */
	std::filesystem::path procRoot = "/proc";
	std::filesystem::path cgroupRoot = "/sys/fs/cgroup";
	std::filesystem::path hypervisorDir = "/sys/hypervisor";
	std::filesystem::path transientUnitDir = std::string(kTransientUnitDir);
	std::filesystem::path userdbSocket = std::string(kUserdbSocket);

	/* NSS lookups of the range base, shared and per-domain users. Null: a SystemUserLookup. */
	std::shared_ptr<UserLookup> users;
	/* Probe of the QEMU binary at an absolute path (the binary is known to exist and be executable). */
	std::function<Result<QemuCaps>(const std::string &qemu)> probeQemu;
	/* systemd's version string as PID 1 reports it ("252.39-1~deb12u2"). */
	std::function<Result<std::string>()> systemdVersion;
	/* f_type of statfs(2) on a path (CGROUP2_SUPER_MAGIC, TMPFS_MAGIC, ...). */
	std::function<Result<int64_t>(const std::filesystem::path &)> filesystemType;
	/* How xenstored was found ("process 812 (oxenstored)"), std::nullopt if it was not. */
	std::function<Result<std::optional<std::string>>()> findXenstored;
};

/*
 * The real system: the paths above, SystemUserLookup, probeQemu() without a
 * cache, the Version property of org.freedesktop.systemd1.Manager over
 * SystemdManager::connect(), statfs(2), findXenstored(procRoot, kXenstoredSocket).
 */
HostCheckEnv systemHostCheckEnv();

/* Run every check, in the order listed at the top of this file. Never fails; never throws on bad input. */
std::vector<CheckResult> runHostChecks(const Config &config, HostCheckEnv &env);

/*
 * The report, one line per check, names padded so the colons line up:
 *   "PASS  Xen hypervisor  : running under Xen\n"
 *   "FAIL  xenstored       : no xenstored process ...\n"
 *   "      hint: start ...\n"
 * Ends with a newline (empty for no results).
 */
std::string formatHostChecks(const std::vector<CheckResult> &results);

/* The exit code of `qemu-dmctl check`: it follows the worst result. */
constexpr int kHostCheckExitPass = 0; /* every check passed (or no check ran) */
constexpr int kHostCheckExitWarn = 1; /* the worst result is a warning */
constexpr int kHostCheckExitFail = 2; /* at least one check failed */
int hostCheckExitCode(const std::vector<CheckResult> &results);

/* The worst level of `results`; Pass for none. */
CheckLevel worstCheckLevel(const std::vector<CheckResult> &results);

/* ---- building blocks, exposed for tests and for callers that want one check ---- */

constexpr const char *kXenstoredSocket = "/run/xenstored/socket";
/* The systemd version qemu-dm is verified on; older ones pass with a warning down to kMinSystemdVersion. */
constexpr unsigned kTestedSystemdVersion = 252;
constexpr unsigned kMinSystemdVersion = 248;

CheckResult checkHypervisor(const HostCheckEnv &env);
/* `node` is "privcmd", "evtchn" or "hypercall" (the latter's level depends on config.limitMemlock). */
CheckResult checkXenDevice(const Config &config, const HostCheckEnv &env, std::string_view node);
CheckResult checkXenstored(const HostCheckEnv &env);
CheckResult checkSystemdVersion(const HostCheckEnv &env);
CheckResult checkCgroupHierarchy(const HostCheckEnv &env);
CheckResult checkNsswitch(const HostCheckEnv &env);
CheckResult checkRangeBaseUser(const Config &config, UserLookup &users);
CheckResult checkUserDatabase(const Config &config, UserLookup &users, const HostCheckEnv &env);
CheckResult checkSharedUser(const Config &config, UserLookup &users);
/* "QEMU binary", then (if it could be probed) the Xen accelerator, -xen-domid-restrict, privilege drop, -sandbox. */
std::vector<CheckResult> checkQemu(const Config &config, const HostCheckEnv &env);
/* One line per [Devices] DeviceAllow= node; none if there are none. */
std::vector<CheckResult> checkExtraDevices(const Config &config, const HostCheckEnv &env);

/* The never-root device grant's needs (POSIX ACLs on /dev, cgroup device control); none in the root model. */
std::vector<CheckResult> checkDeviceGrant(const Config &config, const HostCheckEnv &env);

/* "252.39-1~deb12u2" -> 252, "v255" -> 255; std::nullopt if there is no leading number. */
std::optional<unsigned> parseSystemdVersion(std::string_view version);

/* The services nsswitch.conf text lists for `database` ("passwd"), action items like [NOTFOUND=return] kept. */
std::vector<std::string> nsswitchServices(std::string_view text, std::string_view database);

/* A process whose comm is xenstored or oxenstored below procRoot, else the socket if it is one. */
[[nodiscard]] Result<std::optional<std::string>> findXenstored(const std::filesystem::path &procRoot,
							       const std::filesystem::path &socket);

} /* namespace qemudm */
