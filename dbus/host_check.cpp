/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host_check.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <systemd/sd-bus.h>

#include "c_ptr.h"
#include "dev_grant.h"
#include "domain.h"
#include "log.h"
#include "file_util.h"
#include "systemd_bus.h"
#include "uid_policy.h"
#include "string_util.h"

namespace qemudm {

namespace {

CheckResult pass(std::string name, std::string detail)
{
	return CheckResult{ std::move(name), CheckLevel::Pass, std::move(detail), {} };
}

CheckResult warn(std::string name, std::string detail, std::string hint)
{
	return CheckResult{ std::move(name), CheckLevel::Warn, std::move(detail), std::move(hint) };
}

CheckResult fail(std::string name, std::string detail, std::string hint)
{
	return CheckResult{ std::move(name), CheckLevel::Fail, std::move(detail), std::move(hint) };
}

/* "/dev/xen/privcmd" below env.devRoot. */
std::filesystem::path underDev(const HostCheckEnv &env, const std::string &devPath)
{
	std::filesystem::path p(devPath);
	return env.devRoot / p.lexically_relative("/dev");
}

/* Decorates a lookup so resolveDmIdentity() checks only the range itself:
 * no uid is taken, nothing runs. Clashes and userdb are the next check's job. */
class RangeOnlyLookup final : public UserLookup
{
public:
	explicit RangeOnlyLookup(UserLookup &inner) : inner_(inner) {}
	Result<std::optional<PasswdEntry>> byName(const std::string &name) override { return inner_.byName(name); }
	Result<std::optional<PasswdEntry>> byUid(uid_t) override { return std::optional<PasswdEntry>(); }
	Result<bool> uidHasProcesses(uid_t) override { return false; }
	Result<std::vector<uid_t>> runningDmUids() override { return std::vector<uid_t>(); }

private:
	UserLookup &inner_;
};

struct SystemdFeature {
	unsigned version;
	const char *what;
};

/* What the generated policy and the transient units rely on, by the systemd release that brought it. */
constexpr SystemdFeature kSystemdFeatures[] = {
	{ 242, "ProtectHostname=" },
	{ 244, "ProtectKernelLogs=" },
	{ 245, "ProtectClock=" },
	{ 245, "userdb (nss-systemd asking qemu-dm-userdb for xen-qemuuser-<domid>)" },
	{ 247, "ProtectProc= and ProcSubset=" },
	{ 248, "PrivateIPC=" },
};

constexpr const char *kBootXenHint = "qemu-dm runs device models for Xen domains: boot this host as a Xen dom0 "
				     "(Debian: install xen-system-amd64 and choose the Xen entry in GRUB)";

} /* namespace */

std::string_view checkLevelName(CheckLevel level)
{
	switch (level) {
	case CheckLevel::Pass:
		return "PASS";
	case CheckLevel::Warn:
		return "WARN";
	case CheckLevel::Fail:
		return "FAIL";
	}
	return "FAIL";
}

/* ---- Xen ---- */

CheckResult checkHypervisor(const HostCheckEnv &env)
{
	const std::string name = "Xen hypervisor";
	auto typePath = env.hypervisorDir / "type";
	auto type = readFile(typePath, { .missingOk = true });
	if (!type)
		return fail(name, fmt::format("Not running under Xen: {}", type.error().message()), kBootXenHint);
	if (!*type)
		return fail(name, fmt::format("Not running under Xen: {} does not exist", typePath.string()),
			    kBootXenHint);
	std::string_view t = trim(**type);
	if (t != "xen")
		return fail(name, fmt::format("Not running under Xen: the hypervisor is \"{}\"", t), kBootXenHint);

	/* xenfs, where mounted, tells dom0 from a guest. */
	auto caps = readFile(env.procRoot / "xen" / "capabilities", { .missingOk = true });
	if (caps && *caps && (**caps).find("control_d") == std::string::npos)
		return fail(name, "Running in a Xen guest (domU), not in dom0",
			    "Device models run in dom0 (or a driver domain with a toolstack): install qemu-dm there");
	return pass(name, "Running under Xen");
}

CheckResult checkXenDevice(const Config &config, const HostCheckEnv &env, std::string_view node)
{
	const std::string devPath = fmt::format("/dev/xen/{}", node);
	const std::string name = devPath;
	auto path = underDev(env, devPath);
	const bool hypercall = node == "hypercall";

	struct stat st;
	if (::stat(path.c_str(), &st) < 0) {
		int e = errno;
		if (e != ENOENT && e != ENOTDIR)
			return fail(name, errnoError(e, "Failed to stat {}", path.string()).message(),
				    "Run the check as root");
		if (hypercall) {
			/* Seen on Xen 4.17: without the node libxencall falls back to locked memory. */
			std::string detail = fmt::format(
			    "Missing: without it libxencall falls back to locked memory for hypercall buffers, "
			    "which LimitMEMLOCK={} {}",
			    formatLimit(config.limitMemlock),
			    config.limitMemlock == Limit(0) ? "forbids: device models cannot make hypercalls"
							    : "allows, at the cost of locked memory per device model");
			std::string hint = "The node comes with the xen-privcmd module (Linux >= 4.18): "
					   "modprobe xen-privcmd, and check that this is a Xen dom0";
			if (config.limitMemlock == Limit(0))
				return fail(name, std::move(detail), std::move(hint));
			return warn(name, std::move(detail), std::move(hint));
		}
		std::string module = node == "evtchn" ? "xen-evtchn" : "xen-privcmd";
		return fail(name, "Missing: device models cannot reach Xen without it",
			    fmt::format("Is this a Xen dom0? The node comes with the {} module (modprobe {}); "
					"Xen's init scripts (xencommons) load it",
					module, module));
	}
	if (!S_ISCHR(st.st_mode))
		return fail(name, fmt::format("{} exists but is not a character device", path.string()),
			    "Remove it and reload the Xen drivers, or reboot");
	return pass(name, "Character device present");
}

Result<std::optional<std::string>> findXenstored(const std::filesystem::path &procRoot,
						 const std::filesystem::path &socket)
{
	std::error_code ec;
	std::filesystem::directory_iterator it(procRoot, ec);
	if (ec)
		return makeError(ec.value(), "Failed to list {}: {}", procRoot.string(), ec.message());
	for (const auto &entry : it) {
		std::string pid = entry.path().filename().string();
		if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
			continue;
		auto comm = readFile(entry.path() / "comm", { .missingOk = true });
		if (!comm || !*comm)
			continue; /* exited meanwhile, or hidden: not ours to judge */
		std::string_view c = trim(**comm);
		if (c == "xenstored" || c == "oxenstored")
			return std::optional<std::string>(fmt::format("process {} ({})", pid, c));
	}

	struct stat st;
	if (::stat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
		return std::optional<std::string>(fmt::format("socket {}", socket.string()));
	return std::optional<std::string>();
}

CheckResult checkXenstored(const HostCheckEnv &env)
{
	const std::string name = "xenstored";
	const std::string hint = "Start xenstored with the Xen toolstack services (Debian: service xen start; "
				 "upstream's units: systemctl start xenstored.service)";
	if (!env.findXenstored)
		return fail(name, "Cannot look for xenstored (no probe configured)", hint);
	auto found = env.findXenstored();
	if (!found)
		return fail(name, found.error().wrap("Failed to look for xenstored").message(), hint);
	if (!*found)
		return fail(
		    name,
		    fmt::format("Not running: no xenstored or oxenstored process, no socket {}", kXenstoredSocket),
		    hint);
	return pass(name, fmt::format("Running ({})", **found));
}

/* ---- systemd ---- */

std::optional<unsigned> parseSystemdVersion(std::string_view version)
{
	version = trim(version);
	if (!version.empty() && (version.front() == 'v' || version.front() == 'V'))
		version.remove_prefix(1);
	unsigned n = 0;
	size_t digits = 0;
	for (char c : version) {
		if (c < '0' || c > '9')
			break;
		if (n > 100000)
			return std::nullopt;
		n = n * 10 + static_cast<unsigned>(c - '0');
		digits++;
	}
	if (digits == 0)
		return std::nullopt;
	return n;
}

CheckResult checkSystemdVersion(const HostCheckEnv &env)
{
	const std::string name = "systemd version";
	const std::string busHint = "qemu-dm starts device models through systemd (PID 1): run the check as root "
				    "on a host booted with systemd";
	if (!env.systemdVersion)
		return fail(name, "Cannot ask systemd for its version (no probe configured)", busHint);
	auto v = env.systemdVersion();
	if (!v)
		return fail(name, v.error().message(), busHint);
	auto n = parseSystemdVersion(*v);
	if (!n)
		return fail(name, fmt::format("Cannot parse systemd's version \"{}\"", *v),
			    "Report this as a bug of qemu-dm, with the output of systemctl --version");

	std::vector<std::string> missing;
	for (const auto &f : kSystemdFeatures)
		if (*n < f.version)
			missing.push_back(fmt::format("{} ({})", f.what, f.version));
	if (*n < kMinSystemdVersion)
		return fail(name,
			    fmt::format("systemd {} lacks what device model confinement relies on: {}", *n,
					fmt::join(missing, ", ")),
			    fmt::format("Upgrade systemd to {} or later (Debian 12 ships {})", kTestedSystemdVersion,
					kTestedSystemdVersion));
	if (*n < kTestedSystemdVersion)
		return warn(name,
			    fmt::format("systemd {} has every feature qemu-dm uses, but qemu-dm is verified on {}", *n,
					kTestedSystemdVersion),
			    fmt::format("Upgrade systemd to {} or later, or test confinement with "
					"systemd-analyze security qemu-dm@<domid>",
					kTestedSystemdVersion));
	return pass(name, fmt::format("systemd {}", *v));
}

CheckResult checkCgroupHierarchy(const HostCheckEnv &env)
{
	const std::string name = "cgroup hierarchy";
	const std::string bootHint = "Boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line "
				     "(the default of Debian 12)";
	if (!env.filesystemType)
		return fail(name, "Cannot determine the cgroup hierarchy (no probe configured)", bootHint);
	auto root = env.filesystemType(env.cgroupRoot);
	if (!root)
		return fail(name, root.error().message(), "Is /sys/fs/cgroup mounted? systemd mounts it at boot");
	if (*root == CGROUP2_SUPER_MAGIC)
		return pass(name, fmt::format("Unified (cgroup v2) at {}", env.cgroupRoot.string()));
	if (*root == TMPFS_MAGIC) {
		auto unified = env.filesystemType(env.cgroupRoot / "unified");
		if (unified && *unified == CGROUP2_SUPER_MAGIC)
			return warn(name,
				    "Hybrid: systemd tracks device models in the unified hierarchy, but TasksMax= "
				    "and MemoryMax= are enforced through the cgroup v1 pids and memory controllers",
				    bootHint);
		return fail(name,
			    "Legacy (cgroup v1 only): systemd cannot reliably tell when a device model's cgroup "
			    "is empty, and qemu-dm relies on the unified hierarchy to track and reap device models",
			    bootHint);
	}
	return fail(name,
		    fmt::format("{} is neither cgroup2 nor tmpfs (filesystem type 0x{:x})", env.cgroupRoot.string(),
				static_cast<uint64_t>(*root)),
		    bootHint);
}

/* ---- NSS and users ---- */

std::vector<std::string> nsswitchServices(std::string_view text, std::string_view database)
{
	std::vector<std::string> services;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
		if (size_t hash = line.find('#'); hash != std::string_view::npos)
			line = line.substr(0, hash);
		line = trim(line);
		size_t colon = line.find(':');
		if (colon == std::string_view::npos || trim(line.substr(0, colon)) != database)
			continue;
		std::string_view rest = line.substr(colon + 1);
		/* Tokens: service names and bracketed action groups (which may hold spaces). */
		size_t i = 0;
		while (i < rest.size()) {
			while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i])))
				i++;
			if (i >= rest.size())
				break;
			size_t start = i;
			if (rest[i] == '[') {
				size_t end = rest.find(']', i);
				i = end == std::string_view::npos ? rest.size() : end + 1;
			} else {
				while (i < rest.size() && !std::isspace(static_cast<unsigned char>(rest[i])) &&
				       rest[i] != '[')
					i++;
			}
			services.emplace_back(rest.substr(start, i - start));
		}
	}
	return services;
}

CheckResult checkNsswitch(const HostCheckEnv &env)
{
	const std::string name = "NSS";
	const std::string path = env.nsswitchConf.string();
	const std::string hint = fmt::format("Install libnss-systemd and list systemd on the passwd: and group: "
					     "lines of {}, e.g. \"passwd: files systemd\"",
					     path);
	auto text = readFile(env.nsswitchConf, { .missingOk = true });
	if (!text)
		return fail(name, text.error().message(), hint);
	if (!*text)
		return fail(name,
			    fmt::format("{} does not exist: glibc then uses files only, and the device model "
					"users xen-qemuuser-<domid> do not resolve",
					path),
			    hint);

	std::vector<std::string> problems;
	for (std::string_view db : { "passwd", "group" }) {
		auto services = nsswitchServices(**text, db);
		bool returned = false; /* a [NOTFOUND=return] before systemd hides it */
		bool found = false;
		for (const std::string &s : services) {
			if (s == "systemd") {
				found = true;
				break;
			}
			if (!s.empty() && s.front() == '[') {
				std::string lower(s);
				std::transform(lower.begin(), lower.end(), lower.begin(),
					       [](unsigned char c) { return std::tolower(c); });
				lower.erase(std::remove(lower.begin(), lower.end(), ' '), lower.end());
				if (lower.find("notfound=return") != std::string::npos &&
				    lower.find("!notfound") == std::string::npos)
					returned = true;
			}
		}
		if (!found)
			problems.push_back(fmt::format("the {} line does not list systemd", db));
		else if (returned)
			problems.push_back(fmt::format("the {} line returns on NOTFOUND before systemd", db));
	}
	if (!problems.empty())
		return fail(name,
			    fmt::format("{}: {}; User= of a device model unit fails (216/GROUP, 217/USER) "
					"because its uid does not resolve",
					path, fmt::join(problems, ", ")),
			    hint);
	return pass(name, fmt::format("{} lists systemd for passwd and group", path));
}

CheckResult checkRangeBaseUser(const Config &config, UserLookup &users)
{
	const std::string name = "Range base user";
	const std::string &b = config.rangeBaseUser;
	auto pw = users.byName(b);
	if (!pw)
		return fail(name, pw.error().wrap(fmt::format("Failed to look up {}", b)).message(),
			    "Check the NSS configuration (getent passwd " + b + ")");
	if (!*pw)
		return fail(name, fmt::format("User {} does not exist: device models cannot get a uid of their own", b),
			    fmt::format("Create it with a uid that is a multiple of 65536 and a group of its own, "
					"e.g. useradd --system --no-create-home --uid 131072 --user-group "
					"--shell /usr/sbin/nologin {}, or set RangeBaseUser= in [Users] of {}",
					b, config.sourcePath.string()));

	/* The one implementation of the UID policy decides; only the range is examined here. */
	RangeOnlyLookup rangeOnly(users);
	DmUserRequest request;
	request.domid = 1;
	request.dmRestrict = true;
	auto id = resolveDmIdentity(config, request, rangeOnly);
	if (!id)
		return fail(name, id.error().message(),
			    fmt::format("Give {} a uid (a multiple of 65536, e.g. 131072) and a primary group that "
					"are not 0 and leave room for {} uids below 4294967294",
					b, kUidRangeSize));

	uint64_t first = (*pw)->uid;
	std::string detail = fmt::format("{} is uid {} (gid {}): device models run as uids {}..{}", b, first,
					 (*pw)->gid, first + 1, first + kMaxDomid);
	if (!id->warnings.empty())
		return warn(
		    name, fmt::format("{}; {}", detail, fmt::join(id->warnings, "; ")),
		    fmt::format("Renumber {} to a multiple of 65536 (e.g. 131072) while no device model runs", b));
	return pass(name, detail);
}

CheckResult checkUserDatabase(const Config &config, UserLookup &users, const HostCheckEnv &env)
{
	const std::string name = "User database";
	const std::string expected = perDomainUserName(1);
	const std::string hint = "Start qemu-dm's user database: systemctl enable --now qemu-dm-userdb.socket";
	auto base = users.byName(config.rangeBaseUser);
	if (!base || !*base)
		return fail(name,
			    fmt::format("Cannot check: the range base user {} is missing or cannot be looked up",
					config.rangeBaseUser),
			    "Fix the range base user first");
	uint64_t want = static_cast<uint64_t>((*base)->uid) + 1;
	if (want > UINT32_MAX - 1)
		return fail(name, fmt::format("Cannot check: the range of {} overflows", config.rangeBaseUser),
			    "Fix the range base user first");
	uid_t uid = static_cast<uid_t>(want);
	std::error_code ec;
	bool loaded = dmUnitLoaded(1, env.transientUnitDir.string());
	auto pw = users.byUid(uid);
	if (!pw)
		return fail(name, pw.error().wrap(fmt::format("Failed to look up uid {}", uid)).message(), hint);
	if (*pw && (*pw)->name != expected)
		return fail(
		    name,
		    fmt::format("uid {} ({} + 1) is user {}, not {}: the range overlaps an existing user", uid,
				config.rangeBaseUser, (*pw)->name, expected),
		    fmt::format("Move {} to a free range, or renumber user {}", config.rangeBaseUser, (*pw)->name));
	if (loaded && !*pw)
		return fail(name,
			    fmt::format("uid {} ({} + 1) does not resolve although {} is loaded: ps and systemctl "
					"status cannot name its device model",
					uid, config.rangeBaseUser, dmUnitName(1)),
			    hint + "; then getent passwd " + expected + " must print it");
	if (!loaded && *pw)
		return fail(name,
			    fmt::format("uid {} ({} + 1) resolves to {} although no device model of domain 1 is "
					"loaded: stock libxl refuses to start dm_restrict guests then",
					uid, config.rangeBaseUser, expected),
			    fmt::format("Remove the {} entry from the other user databases (/etc/passwd, /run/userdb)",
					expected));
	if (!std::filesystem::exists(env.userdbSocket, ec))
		return fail(
		    name, fmt::format("{} does not exist: per-domain users cannot resolve", env.userdbSocket.string()),
		    hint);
	if (loaded)
		return pass(name, fmt::format("uid {} resolves to {} ({} is loaded)", uid, expected, dmUnitName(1)));
	return pass(name, fmt::format("uid {} is free while domain 1 has no device model; {} answers while it has", uid,
				      env.userdbSocket.string()));
}

CheckResult checkSharedUser(const Config &config, UserLookup &users)
{
	const std::string name = "Shared user";
	const std::string &s = config.sharedUser;
	auto pw = users.byName(s);
	if (!pw)
		return warn(name, pw.error().wrap(fmt::format("Failed to look up {}", s)).message(),
			    "Check the NSS configuration (getent passwd " + s + ")");
	auto base = users.byName(config.rangeBaseUser);
	bool haveBase = base && *base;
	if (!*pw) {
		if (haveBase)
			return pass(name, fmt::format("{} does not exist (not needed: {} gives every device model "
						      "a uid of its own)",
						      s, config.rangeBaseUser));
		return warn(name,
			    fmt::format("Neither {} nor {} exists: restricted device models cannot start", s,
					config.rangeBaseUser),
			    "Create the range base user (see above)");
	}
	if ((*pw)->uid == 0 || (*pw)->gid == 0)
		return warn(name,
			    fmt::format("{} has uid {} and gid {}: qemu-dm refuses to run device models as it", s,
					(*pw)->uid, (*pw)->gid),
			    fmt::format("Give {} a uid and primary group other than 0, or remove it", s));
	if (!haveBase)
		return warn(name,
			    fmt::format("{} (uid {}) is in use because {} is missing: every device model shares one "
					"uid and a compromised one can reach the others",
					s, (*pw)->uid, config.rangeBaseUser),
			    "Create the range base user (see above)");
	return pass(name,
		    fmt::format("{} exists (uid {}); unused while {} exists", s, (*pw)->uid, config.rangeBaseUser));
}

/* ---- QEMU ---- */

std::vector<CheckResult> checkQemu(const Config &config, const HostCheckEnv &env)
{
	const std::string &qemu = config.defaultQemu;
	const std::string installHint = fmt::format(
	    "Install Debian's Xen device model (apt install qemu-system-xen) or set Qemu= in [Device Model] of {}",
	    config.sourcePath.string());
	std::vector<CheckResult> out;
	const std::string bin = "QEMU binary";

	if (qemu.empty() || qemu.front() != '/') {
		out.push_back(
		    fail(bin, fmt::format("The configured QEMU \"{}\" is not an absolute path", qemu), installHint));
		return out;
	}
	struct stat st;
	if (::stat(qemu.c_str(), &st) < 0) {
		int e = errno;
		out.push_back(fail(bin, errnoError(e, "{}", qemu).message(), installHint));
		return out;
	}
	if (!S_ISREG(st.st_mode) || ::access(qemu.c_str(), X_OK) < 0) {
		out.push_back(fail(bin, fmt::format("{} is not an executable file", qemu),
				   fmt::format("chmod 0755 {}, or point Qemu= at the device model", qemu)));
		return out;
	}
	if (!env.probeQemu) {
		out.push_back(fail(bin, fmt::format("Cannot probe {} (no probe configured)", qemu), installHint));
		return out;
	}
	auto probed = env.probeQemu(qemu);
	if (!probed) {
		out.push_back(fail(bin, probed.error().wrap(fmt::format("Failed to probe {}", qemu)).message(),
				   fmt::format("Run {} -version by hand to see why", qemu)));
		return out;
	}
	const QemuCaps &caps = *probed;
	const std::string version = caps.version.toString();
	out.push_back(pass(bin, fmt::format("{}: QEMU {}", qemu, version)));

	const std::string accelName = "QEMU Xen accelerator";
	std::string accels = caps.accelerators.empty() ? "none" : fmt::format("{}", fmt::join(caps.accelerators, ", "));
	if (caps.hasAccelerator("xen"))
		out.push_back(pass(accelName, fmt::format("accelerators: {}", accels)));
	else
		out.push_back(fail(accelName,
				   fmt::format("{} is not a Xen device model (accelerators: {})", qemu, accels),
				   installHint));

	const std::string restrictName = "QEMU -xen-domid-restrict";
	if (caps.xenDomidRestrict())
		out.push_back(pass(restrictName, "Supported: the device model's Xen handles are restricted to its "
						 "domain"));
	else if (caps.help.has("xen-domid-restrict"))
		out.push_back(fail(restrictName,
				   "Listed, but unusable without the Xen accelerator: the device model could "
				   "reach every domain",
				   installHint));
	else
		out.push_back(fail(restrictName,
				   fmt::format("QEMU {} lacks it: the device model could reach every domain", version),
				   installHint));

	const std::string dropName = "QEMU privilege drop";
	std::string userHow = caps.runWithUser() ? "-run-with user=" : caps.runas() ? "-runas" : "";
	std::string chrootHow = caps.runWithChroot() ? "-run-with chroot=" : caps.chroot() ? "-chroot" : "";
	if (!userHow.empty() && !chrootHow.empty())
		out.push_back(pass(dropName, fmt::format("{} and {}", userHow, chrootHow)));
	else {
		std::vector<std::string> lacks;
		if (userHow.empty())
			lacks.push_back("-runas / -run-with user=");
		if (chrootHow.empty())
			lacks.push_back("-chroot / -run-with chroot=");
		out.push_back(fail(dropName,
				   fmt::format("QEMU {} has no {}: the device model would keep running as root",
					       version, fmt::join(lacks, " and no ")),
				   installHint));
	}

	const std::string sandboxName = "QEMU -sandbox";
	if (caps.sandbox)
		out.push_back(pass(sandboxName, "Built with seccomp; systemd's SystemCallFilter= is a second layer"));
	else
		out.push_back(warn(sandboxName,
				   "Not built with seccomp: systemd's SystemCallFilter= is the only seccomp layer",
				   "Informational: Debian 12's Xen QEMU has no -sandbox; qemu-dm's units filter system "
				   "calls either way"));
	return out;
}

std::vector<CheckResult> checkExtraDevices(const Config &config, const HostCheckEnv &env)
{
	std::vector<CheckResult> out;
	for (const DeviceNode &d : config.extraDevices) {
		std::string name = "Device " + d.path;
		auto path = underDev(env, d.path);
		struct stat st;
		if (::stat(path.c_str(), &st) < 0) {
			int e = errno;
			out.push_back(
			    warn(name,
				 errnoError(e, "DeviceAllow={} {} names a node device models will not get", d.path,
					    d.permissions)
				     .message(),
				 fmt::format("Load the driver that creates {}, or remove it from [Devices] of {}",
					     d.path, config.sourcePath.string())));
			continue;
		}
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
			out.push_back(warn(name, fmt::format("{} is not a device node", d.path),
					   fmt::format("Remove it from [Devices] of {}", config.sourcePath.string())));
			continue;
		}
		out.push_back(pass(name, fmt::format("{} device, allowed \"{}\"",
						     S_ISCHR(st.st_mode) ? "Character" : "Block", d.permissions)));
	}
	return out;
}

/* ---- the report ---- */

std::vector<CheckResult> checkDeviceGrant(const Config &config, const HostCheckEnv &env)
{
	std::vector<CheckResult> r;
	if (config.privilegeModel != PrivilegeModel::NeverRoot)
		return r;
	const std::string dev = env.devRoot.string();
	auto acl = supportsPosixAcl(dev);
	if (!acl)
		r.push_back(fail("POSIX ACLs on /dev", acl.error().message(), "Is /dev mounted (devtmpfs)?"));
	else if (*acl)
		r.push_back(pass(
		    "POSIX ACLs on /dev",
		    fmt::format("{} stores POSIX ACLs: a DM's uid can be granted the Xen nodes for its start", dev)));
	else
		r.push_back(fail("POSIX ACLs on /dev",
				 fmt::format("{} stores no POSIX ACLs: a never-root DM's uid cannot be granted the Xen "
					     "nodes (root 0600)",
					     dev),
				 "Use a kernel built with CONFIG_TMPFS_POSIX_ACL=y (devtmpfs is tmpfs), or "
				 "PrivilegeModel=root"));

	const std::string name = "Device control";
	auto root =
	    env.filesystemType ? env.filesystemType(env.cgroupRoot) : Result<int64_t>(makeError(ENOSYS, "no probe"));
	if (root && *root == CGROUP2_SUPER_MAGIC)
		r.push_back(pass(name, "cgroup v2 BPF device programs: DeviceAllow= is enforced, and its reset at "
				       "readiness takes effect at once"));
	else if (root && *root == TMPFS_MAGIC && env.filesystemType(env.cgroupRoot / "devices") &&
		 *env.filesystemType(env.cgroupRoot / "devices") != CGROUP2_SUPER_MAGIC)
		r.push_back(warn(name,
				 "cgroup v1 devices controller: DeviceAllow= and its reset are enforced there (as in "
				 "qemu-dm's test bed), the unified hierarchy's BPF programs are not used",
				 "Boot with systemd.unified_cgroup_hierarchy=1 (the default of Debian 12)"));
	else
		r.push_back(fail(name,
				 root ? "No cgroup device control found: DeviceAllow= would not be enforced"
				      : root.error().message(),
				 "Boot with systemd.unified_cgroup_hierarchy=1 (the default of Debian 12)"));
	return r;
}

std::vector<CheckResult> runHostChecks(const Config &config, HostCheckEnv &env)
{
	if (!env.users)
		env.users = std::make_shared<SystemUserLookup>();
	UserLookup &users = *env.users;

	std::vector<CheckResult> r;
	r.push_back(checkHypervisor(env));
	for (std::string_view node : { "privcmd", "evtchn", "hypercall" })
		r.push_back(checkXenDevice(config, env, node));
	r.push_back(checkXenstored(env));
	r.push_back(checkSystemdVersion(env));
	r.push_back(checkCgroupHierarchy(env));
	r.push_back(checkNsswitch(env));
	r.push_back(checkRangeBaseUser(config, users));
	r.push_back(checkUserDatabase(config, users, env));
	r.push_back(checkSharedUser(config, users));
	for (auto &c : checkQemu(config, env))
		r.push_back(std::move(c));
	for (auto &c : checkExtraDevices(config, env))
		r.push_back(std::move(c));
	for (auto &c : checkDeviceGrant(config, env))
		r.push_back(std::move(c));
	for (const auto &c : r)
		log::debug("check {}: {} {}", c.name, checkLevelName(c.level), c.detail);
	return r;
}

CheckLevel worstCheckLevel(const std::vector<CheckResult> &results)
{
	CheckLevel worst = CheckLevel::Pass;
	for (const auto &c : results)
		if (static_cast<int>(c.level) > static_cast<int>(worst))
			worst = c.level;
	return worst;
}

int hostCheckExitCode(const std::vector<CheckResult> &results)
{
	switch (worstCheckLevel(results)) {
	case CheckLevel::Pass:
		return kHostCheckExitPass;
	case CheckLevel::Warn:
		return kHostCheckExitWarn;
	case CheckLevel::Fail:
		return kHostCheckExitFail;
	}
	return kHostCheckExitFail;
}

std::string formatHostChecks(const std::vector<CheckResult> &results)
{
	size_t width = 0;
	for (const auto &c : results)
		width = std::max(width, c.name.size());
	std::string out;
	for (const auto &c : results) {
		out += fmt::format("{}  {:<{}} : {}\n", checkLevelName(c.level), c.name, width, c.detail);
		if (!c.hint.empty() && c.level != CheckLevel::Pass)
			out += fmt::format("      hint: {}\n", c.hint);
	}
	return out;
}

/* ---- the real system ---- */

namespace {

Result<std::string> systemdVersionFromBus()
{
	auto manager = SystemdManager::connect();
	if (!manager)
		return manager.error().wrap("Failed to connect to systemd");
	BusError error;
	char *raw = nullptr;
	int r = sd_bus_get_property_string(manager->bus(), "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
					   "org.freedesktop.systemd1.Manager", "Version", error.get(), &raw);
	MallocPtr<char> version(raw);
	if (r < 0)
		return makeError(error.errnum(r), "Failed to read systemd's version over {}: {}", manager->address(),
				 error.describe(r));
	return std::string(version ? version.get() : "");
}

Result<int64_t> statfsType(const std::filesystem::path &path)
{
	struct statfs sfs;
	if (::statfs(path.c_str(), &sfs) < 0)
		return errnoError(errno, "Failed to statfs {}", path.string());
	return static_cast<int64_t>(sfs.f_type);
}

} /* namespace */

HostCheckEnv systemHostCheckEnv()
{
	HostCheckEnv env;
	env.users = std::make_shared<SystemUserLookup>();
	env.probeQemu = [](const std::string &qemu) -> Result<QemuCaps> {
		QemuProbeOptions options; /* no cache: look at the binary as it is now */
		auto p = probeQemu(qemu, options);
		if (!p)
			return p.error();
		return std::move(p->caps);
	};
	env.systemdVersion = systemdVersionFromBus;
	env.filesystemType = statfsType;
	std::filesystem::path procRoot = env.procRoot;
	env.findXenstored = [procRoot]() { return findXenstored(procRoot, kXenstoredSocket); };
	return env;
}

} /* namespace qemudm */
