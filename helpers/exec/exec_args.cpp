/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "exec_args.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>
#include <optional>

#include <fmt/ranges.h>

#include "dev_grant.h"
#include "dm_names.h"
#include "path_util.h"

namespace qemudm {

namespace {

bool allDigits(std::string_view s)
{
	return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/* Lenient unsigned parse for values found in a QEMU argv (QEMU accepts leading zeros). */
std::optional<uint32_t> parseQemuUnsigned(std::string_view s)
{
	uint32_t v = 0;
	if (!allDigits(s))
		return std::nullopt;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size())
		return std::nullopt;
	return v;
}

/*
 * One id of "-runas UID:GID" read the way QEMU 7.2 reads it (os-posix.c:
 * qemu_strtoul(..., 0)): "0x1f" is hex, "0400005" octal, else decimal.
 * Signs and spaces, which strtoul would also take, are not interpreted.
 */
std::optional<uint32_t> parseQemuId(std::string_view s)
{
	int base = 10;
	if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s.remove_prefix(2);
	} else if (s.size() > 1 && s[0] == '0') {
		base = 8;
		s.remove_prefix(1);
	}
	uint32_t v = 0;
	if (s.empty() || s[0] == '+' || s[0] == '-')
		return std::nullopt;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
	if (ec != std::errc() || p != s.data() + s.size() || v == UINT32_MAX)
		return std::nullopt;
	return v;
}

/* The options qemu-dm-exec manages, and whether each takes an argument. These
 * override the help-derived table, which they must never depend on. */
const std::map<std::string, bool, std::less<>> kManagedOptions = {
	{ "xen-domid", true }, { "xen-domid-restrict", false },
	{ "runas", true },     { "chroot", true },
	{ "run-with", true },  { "sandbox", true },
};

std::optional<std::string_view> optionName(std::string_view token)
{
	if (token.size() < 2 || token[0] != '-')
		return std::nullopt;
	std::string_view name = token.substr(token[1] == '-' ? 2 : 1);
	if (name.empty())
		return std::nullopt;
	return name;
}

bool isManagedSpelling(std::string_view token)
{
	auto name = optionName(token);
	return name && kManagedOptions.count(*name);
}

std::string normalisedDir(std::string_view path)
{
	while (path.size() > 1 && path.back() == '/')
		path.remove_suffix(1);
	return std::string(path);
}

struct Occurrence {
	std::string option; /* as spelled, e.g. "-runas" */
	std::string name;   /* "runas" */
	std::string value;
	size_t valueIndex = 0; /* index of the value in argv; 0: no value */
};

} /* namespace */

std::string UserId::toString() const
{
	return fmt::format("{}:{}", uid, gid);
}

Result<UserId> parseRunas(std::string_view s, const UserResolver &resolve)
{
	UserId id;
	size_t colon = s.find(':');
	if (colon != std::string_view::npos) {
		constexpr uint32_t maxId = UINT32_MAX - 1; /* (uid_t)-1 means "unchanged" */
		auto uid = parseDecimal(s.substr(0, colon), maxId);
		auto gid = parseDecimal(s.substr(colon + 1), maxId);
		if (!uid || !gid)
			return makeError(EINVAL, "'{}' is not UID:GID with decimal ids", s);
		id = { *uid, *gid };
	} else {
		if (!validUserName(s))
			return makeError(EINVAL, "'{}' is neither UID:GID nor a user name", s);
		auto r = resolve(std::string(s));
		if (!r)
			return r.error();
		id = *r;
	}
	if (id.uid == 0)
		return makeError(EPERM, "'{}' is root (uid 0); the device model never runs as root", s);
	if (id.gid == 0)
		return makeError(EPERM, "'{}' has gid 0 (root's group); the device model never runs in it", s);
	return id;
}

Status checkAbsolutePath(std::string_view path)
{
	if (path.empty() || path[0] != '/')
		return makeError(EINVAL, "'{}' is not an absolute path", path);
	if (path == "/")
		return makeError(EINVAL, "'/' is not allowed here");
	if (path.back() == '/')
		return makeError(EINVAL, "'{}' ends with '/'", path);
	if (path.find_first_of(std::string_view("\0\n", 2)) != std::string_view::npos)
		return makeError(EINVAL, "path contains a control character");
	if (!isNormalizedAbsolutePath(path))
		return makeError(EINVAL, "'{}' is not a normalised path", path);
	return success();
}

std::string defaultChrootDir(uint32_t domid)
{
	return fmt::format("{}/{}/root", kRuntimeRoot, domid);
}

std::string execUsage()
{
	return fmt::format("Usage: qemu-dm-exec [OPTIONS] -- QEMU [QEMU-ARGS...]\n"
			   "\n"
			   "Check a Xen domain, make sure the QEMU device model's argv carries the\n"
			   "Xen restriction and privilege-drop arguments, close stray file\n"
			   "descriptors and execute QEMU. Runs as the ExecStart= of qemu-dm@DOMID.service.\n"
			   "\n"
			   "Options:\n"
			   "  --domid N               domain id the device model serves (1-{})\n"
			   "  --type hvm|pv|pvh       guest type\n"
			   "  --runas UID:GID|USER    user QEMU drops to (never uid or gid 0)\n"
			   "  --chroot DIR|auto       empty root-owned directory QEMU chroots into\n"
			   "                          (default: auto = {}/DOMID/root)\n"
			   "  --keep-fd N             keep file descriptor N (>= 3) open for QEMU;\n"
			   "                          repeatable. 0, 1 and 2 are always kept\n"
			   "  --stdin-fd N            hand the unit's stdin (e.g. libxl's QMP socket)\n"
			   "                          to QEMU as fd N (>= 3); stdin becomes /dev/null\n"
			   "  --fd N:KIND             stdin is the fd channel; it carries an fd for\n"
			   "                          QEMU's fd N (>= 3), KIND socket, pipe or file;\n"
			   "                          repeatable; stdin becomes /dev/null\n"
			   "  --no-domain-check       skip the Xen domain check (stand-in device\n"
			   "                          models without Xen only)\n"
			   "  --no-restrict           do not add -xen-domid-restrict\n"
			   "  --never-root            the unit already runs as the --runas user\n"
			   "                          (User=/Group=) with no capabilities: check\n"
			   "                          that, remove QEMU's -runas/-chroot, add none\n"
			   "  --ready-qmp             add a QMP monitor of qemu-dm's own in the runtime\n"
			   "                          dir (never-root: qemu-dm-grant waits for it)\n"
			   "  --qemu-caps CAPS        what QEMU can do, probed by the caller (qemu-dm's\n"
			   "                          core library); used only if QEMU is still the\n"
			   "                          binary that was probed, else QEMU is probed again\n"
			   "  --probe-cache DIR|none  read-only QEMU probe cache (default: none)\n"
			   "  -v, --verbose           log debug messages\n"
			   "  -h, --help              show this help\n"
			   "      --version           show the version\n"
			   "\n"
			   "Exit status:\n"
			   "  64  usage error, or QEMU is not an absolute path to an executable\n"
			   "  65  the domain does not exist, is dying or is shut down\n"
			   "  66  the Xen control interface cannot be opened (no hypervisor?)\n"
			   "  67  the device model's uid already owns processes\n"
			   "  68  probing QEMU failed, or QEMU's argv conflicts with the options\n"
			   "  69  the chroot directory is unusable\n"
			   "  70  executing QEMU failed\n"
			   "  71  other system error\n"
			   "  72  the fd channel: an fd missing, undeclared or not of its declared kind\n"
			   "  73  the credential seccomp filter could not be installed\n"
			   "  74  --never-root: not running as exactly the --runas user and group,\n"
			   "      or holding a capability\n"
			   "On success qemu-dm-exec does not return: QEMU replaces it.\n"
			   "See docs/qemu-dm-exec.md.\n",
			   kMaxDomid, kRuntimeRoot);
}

Result<ExecOptions> parseExecArgs(const std::vector<std::string> &args, const UserResolver &resolve)
{
	ExecOptions o;
	bool haveDomid = false, haveType = false, haveRunas = false, haveChroot = false, haveCache = false,
	     haveCaps = false, haveDashes = false;
	std::string chrootArg = "auto";

	size_t i = 0;
	for (; i < args.size(); i++) {
		std::string_view arg = args[i];
		if (arg == "--") {
			haveDashes = true;
			i++;
			break;
		}
		if (arg == "-h" || arg == "--help") {
			o.help = true;
			return o;
		}
		if (arg == "--version") {
			o.version = true;
			return o;
		}
		if (arg == "-v" || arg == "--verbose") {
			o.verbose = true;
			continue;
		}
		if (arg == "--no-domain-check") {
			o.domainCheck = false;
			continue;
		}
		if (arg == "--no-restrict") {
			o.restrict = false;
			continue;
		}
		if (arg == "--never-root") {
			o.neverRoot = true;
			continue;
		}
		if (arg == "--ready-qmp") {
			o.readyQmp = true;
			continue;
		}
		if (arg.substr(0, 2) != "--")
			return makeError(EINVAL, "unexpected argument '{}' (the QEMU command line goes after '--')",
					 arg);

		/* Options with a value: "--name VALUE" or "--name=VALUE", names matched exactly. */
		std::string_view name = arg;
		std::string value;
		size_t eq = arg.find('=');
		if (eq != std::string_view::npos) {
			name = arg.substr(0, eq);
			value = std::string(arg.substr(eq + 1));
		}
		static constexpr std::string_view withValue[] = { "--domid",	"--type",      "--runas",
								  "--chroot",	"--keep-fd",   "--probe-cache",
								  "--stdin-fd", "--qemu-caps", "--fd" };
		if (std::find(std::begin(withValue), std::end(withValue), name) == std::end(withValue))
			return makeError(EINVAL, "unknown option '{}'", name);
		if (eq == std::string_view::npos) {
			if (i + 1 >= args.size())
				return makeError(EINVAL, "option '{}' needs a value", name);
			value = args[++i];
		}

		auto once = [&](bool &seen) -> Status {
			if (seen)
				return makeError(EINVAL, "option '{}' given twice", name);
			seen = true;
			return success();
		};
		Status s = success();
		if (name == "--domid") {
			if (!(s = once(haveDomid)))
				return s.error();
			auto d = parseDomid(value);
			if (!d)
				return d.error().wrap("--domid");
			o.domid = *d;
		} else if (name == "--type") {
			if (!(s = once(haveType)))
				return s.error();
			auto t = parseGuestType(value);
			if (!t)
				return t.error().wrap("--type");
			o.type = *t;
		} else if (name == "--runas") {
			if (!(s = once(haveRunas)))
				return s.error();
			o.runasSpec = value;
		} else if (name == "--chroot") {
			if (!(s = once(haveChroot)))
				return s.error();
			chrootArg = value;
		} else if (name == "--keep-fd") {
			auto fd = parseDecimal(value, INT_MAX);
			if (!fd)
				return fd.error().wrap("--keep-fd");
			if (*fd < 3)
				return makeError(EINVAL, "--keep-fd {}: descriptors 0, 1 and 2 are always kept", *fd);
			int n = static_cast<int>(*fd);
			if (std::find(o.keepFds.begin(), o.keepFds.end(), n) != o.keepFds.end())
				return makeError(EINVAL, "--keep-fd {} given twice", n);
			o.keepFds.push_back(n);
		} else if (name == "--stdin-fd") {
			if (o.stdinFd >= 0)
				return makeError(EINVAL, "--stdin-fd given twice");
			auto fd = parseDecimal(value, 1023);
			if (!fd)
				return fd.error().wrap("--stdin-fd");
			if (*fd < 3)
				return makeError(EINVAL, "--stdin-fd {}: expected a descriptor number of 3 or more",
						 *fd);
			o.stdinFd = static_cast<int>(*fd);
		} else if (name == "--fd") {
			auto d = parseFdDecl(value);
			if (!d)
				return d.error().wrap("--fd");
			o.fds.push_back(*d);
			if (!(s = checkFdDecls(o.fds)))
				return s.error().wrap("--fd");
		} else if (name == "--qemu-caps") {
			if (!(s = once(haveCaps)))
				return s.error();
			auto c = decodeQemuCaps(value);
			if (!c)
				return c.error().wrap("--qemu-caps");
			o.qemuCaps = std::move(*c);
		} else if (name == "--probe-cache") {
			if (!(s = once(haveCache)))
				return s.error();
			if (value == "none") {
				o.probeCache.clear();
			} else {
				Status p = checkAbsolutePath(value);
				if (!p)
					return p.error().wrap("--probe-cache");
				o.probeCache = value;
			}
		}
	}

	if (!haveDomid)
		return makeError(EINVAL, "missing --domid");
	if (!haveType)
		return makeError(EINVAL, "missing --type");
	if (!haveRunas)
		return makeError(EINVAL, "missing --runas");
	if (!haveDashes || i >= args.size())
		return makeError(EINVAL, "missing '-- QEMU [QEMU-ARGS...]'");

	o.qemuArgv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
	Status q = checkAbsolutePath(o.qemuArgv[0]);
	if (!q)
		return q.error().wrap("QEMU must be given by absolute path (no PATH search)");

	auto runas = parseRunas(o.runasSpec, resolve);
	if (!runas)
		return runas.error().wrap("--runas");
	o.runas = *runas;

	if (o.neverRoot) {
		if (haveChroot)
			return makeError(EINVAL, "--chroot: a --never-root device model has no chroot");
		o.chrootAuto = false;
	} else if (chrootArg == "auto") {
		o.chrootAuto = true;
		o.chrootDir = defaultChrootDir(o.domid);
	} else {
		Status c = checkAbsolutePath(chrootArg);
		if (!c)
			return c.error().wrap("--chroot");
		o.chrootAuto = false;
		o.chrootDir = chrootArg;
	}

	if (o.stdinFd >= 0 && !o.fds.empty())
		return makeError(EINVAL, "--stdin-fd and --fd both use stdin: give one of them");
	for (const FdDecl &d : o.fds)
		if (std::find(o.keepFds.begin(), o.keepFds.end(), d.target) != o.keepFds.end())
			return makeError(EINVAL, "--fd {} is also a --keep-fd", d.target);
	std::sort(o.keepFds.begin(), o.keepFds.end());
	return o;
}

std::vector<std::string> splitQemuOpts(std::string_view value)
{
	std::vector<std::string> parts(1);
	for (size_t i = 0; i < value.size(); i++) {
		if (value[i] == ',') {
			if (i + 1 < value.size() && value[i + 1] == ',') {
				parts.back() += ',';
				i++;
			} else {
				parts.emplace_back();
			}
		} else {
			parts.back() += value[i];
		}
	}
	return parts;
}

std::string escapeQemuOptValue(std::string_view value)
{
	std::string out;
	for (char c : value) {
		out += c;
		if (c == ',')
			out += ',';
	}
	return out;
}

namespace {

/* --ready-qmp: served by QEMU's main loop, which runs only after -xen-domid-restrict (never-root readiness). */
void appendReadyQmp(const ExecOptions &options, QemuArgvPlan &plan)
{
	if (!options.readyQmp)
		return;
	plan.added.push_back("-chardev");
	plan.added.push_back(fmt::format("socket,id=qemu-dm-ready,path={},server=on,wait=off",
					 escapeQemuOptValue(readyQmpSocketPath(options.domid))));
	plan.added.push_back("-mon");
	plan.added.push_back("chardev=qemu-dm-ready,mode=control");
}

/* Walk the argv the way QEMU does, so that a value is never taken for an option: the managed ones. */
Result<std::vector<Occurrence>> findManaged(const std::vector<std::string> &argv, const QemuCaps &caps)
{
	std::vector<Occurrence> found;
	for (size_t i = 1; i < argv.size(); i++) {
		auto name = optionName(argv[i]);
		if (!name)
			continue; /* positional (a disk image) */
		bool takesArg = false;
		if (auto m = kManagedOptions.find(*name); m != kManagedOptions.end())
			takesArg = m->second;
		else if (auto h = caps.help.options.find(*name); h != caps.help.options.end())
			takesArg = h->second;
		/* else: not in -help; assume no argument and let QEMU judge it. */

		Occurrence occ{ argv[i], std::string(*name), {} };
		if (takesArg) {
			if (i + 1 >= argv.size())
				return makeError(EINVAL, "QEMU option {} has no value", argv[i]);
			occ.value = argv[++i];
			occ.valueIndex = i;
			if (isManagedSpelling(occ.value))
				return makeError(EINVAL, "ambiguous QEMU argv: '{}' is the value of {}", occ.value,
						 occ.option);
		}
		if (kManagedOptions.count(occ.name))
			found.push_back(std::move(occ));
	}
	return found;
}

/*
 * Never root: every -runas and -chroot (with its value) and every user= and
 * chroot= key of -run-with (the whole option when no other key is left) goes.
 */
Status removePrivilegeDrop(std::vector<std::string> &argv, std::vector<std::string> &removed, const QemuCaps &caps)
{
	auto found = findManaged(argv, caps);
	if (!found)
		return found.error();
	/* From the end, so the indexes of earlier occurrences stay right. */
	for (auto o = found->rbegin(); o != found->rend(); ++o) {
		auto at = argv.begin() + static_cast<std::ptrdiff_t>(o->valueIndex);
		if (o->name == "runas" || o->name == "chroot") {
			removed.push_back(fmt::format("{} {}", o->option, o->value));
			argv.erase(at - 1, at + 1);
		} else if (o->name == "run-with") {
			std::vector<std::string> kept;
			bool changed = false;
			for (const std::string &kv : splitQemuOpts(o->value)) {
				std::string key = kv.substr(0, kv.find('='));
				if (key == "user" || key == "chroot") {
					removed.push_back(fmt::format("{} {}", o->option, kv));
					changed = true;
					continue;
				}
				size_t eq = kv.find('=');
				kept.push_back(eq == std::string::npos
						   ? escapeQemuOptValue(kv)
						   : kv.substr(0, eq + 1) + escapeQemuOptValue(kv.substr(eq + 1)));
			}
			if (kept.empty())
				argv.erase(at - 1, at + 1);
			else if (changed)
				*at = fmt::format("{}", fmt::join(kept, ","));
		}
	}
	std::reverse(removed.begin(), removed.end());
	return success();
}

} /* namespace */

Result<QemuArgvPlan> rewriteQemuArgv(const ExecOptions &options, const QemuCaps &caps)
{
	/* 0. Never root: the DM already is its user; none of the caller's user or chroot options stays. */
	std::vector<std::string> argv = options.qemuArgv;
	std::vector<std::string> removed;
	if (options.neverRoot)
		if (Status s = removePrivilegeDrop(argv, removed, caps); !s)
			return s.error();
	const std::string &qemu = argv.at(0);

	/* 1. Walk the argv the way QEMU does, so that a value is never taken for an option. */
	auto walked = findManaged(argv, caps);
	if (!walked)
		return walked.error();
	const std::vector<Occurrence> &found = *walked;

	QemuArgvPlan plan;
	plan.argv = argv;
	plan.removed = std::move(removed);

	/* 2. -xen-domid must name our domain. */
	bool haveDomid = false;
	for (const Occurrence &o : found) {
		if (o.name != "xen-domid")
			continue;
		auto d = parseQemuUnsigned(o.value);
		if (!d || *d != options.domid)
			return makeError(EINVAL, "{} {} does not match --domid {}", o.option, o.value, options.domid);
		haveDomid = true;
	}
	if (!haveDomid && options.domainCheck)
		return makeError(EINVAL, "QEMU argv has no -xen-domid {}", options.domid);

	/* 3. -xen-domid-restrict. */
	bool haveRestrict =
	    std::any_of(found.begin(), found.end(), [](const Occurrence &o) { return o.name == "xen-domid-restrict"; });
	if (haveRestrict && !caps.xenDomidRestrict())
		return makeError(
		    ENOTSUP, "QEMU argv has -xen-domid-restrict, which {} does not support (no Xen accelerator)", qemu);
	if (options.restrict && !haveRestrict) {
		if (caps.xenDomidRestrict()) {
			plan.added.push_back("-xen-domid-restrict");
		} else if (!options.domainCheck) {
			plan.warnings.push_back(
			    fmt::format("{} has no Xen accelerator, so it cannot restrict Xen handles; not adding "
					"-xen-domid-restrict for this stand-in device model",
					qemu));
		} else {
			return makeError(ENOTSUP,
					 "{} does not support -xen-domid-restrict (no Xen accelerator); refusing to "
					 "run an unrestricted device model",
					 qemu);
		}
	}

	/*
	 * 4. The user and the chroot: every -runas, -chroot and -run-with
	 * user=/chroot= QEMU would act on must be ours. One that is (libxl's
	 * "-runas 131077:997", the same ids in octal or hex) is kept; any other
	 * (libxl's "-chroot /var/run/xen/qemu-root-5", a shared user, root, a
	 * user name, a value QEMU cannot read) is replaced by ours, and the
	 * replacement is reported: a correct libxl argv is never refused, and
	 * QEMU never acts on a value we did not choose.
	 *
	 * A user name is replaced even when it names our uid:gid: QEMU gives a
	 * name the user's supplementary groups too (initgroups), which qemu-dm
	 * did not decide, and it resolves the name itself, later. Checked
	 * against the real QEMU 7.2 in tests/exec/test-exec-real-qemu.cpp.
	 */
	bool haveUser = false, haveChroot = false;
	const std::string ourUser = options.runas.toString();
	auto userIsOurs = [&](std::string_view value) {
		/* "UID:GID" as QEMU 7.2 reads it (strtoul base 0). No passwd name
		 * holds a ':', so QEMU's getpwnam() of the value, tried first,
		 * finds nothing. */
		size_t colon = value.find(':');
		if (colon == std::string_view::npos)
			return false;
		auto u = parseQemuId(value.substr(0, colon));
		auto g = parseQemuId(value.substr(colon + 1));
		return u && g && UserId{ *u, *g } == options.runas;
	};
	auto chrootIsOurs = [&](std::string_view value) { return normalisedDir(value) == options.chrootDir; };
	auto replaced = [&](const Occurrence &o, std::string_view key, std::string_view old, const std::string &now) {
		plan.replaced.push_back(
		    fmt::format("{} {}{}{} -> {}", o.option, key, key.empty() ? "" : "=", old, now));
	};

	for (const Occurrence &o : found) {
		if (o.name == "runas") {
			if (!caps.runas())
				return makeError(ENOTSUP, "QEMU argv has -runas, which {} (QEMU {}) does not support",
						 qemu, caps.version.toString());
			if (!userIsOurs(o.value)) {
				plan.argv[o.valueIndex] = ourUser;
				replaced(o, "", o.value, ourUser);
			}
			haveUser = true;
		} else if (o.name == "chroot") {
			if (!caps.chroot())
				return makeError(ENOTSUP, "QEMU argv has -chroot, which {} (QEMU {}) does not support",
						 qemu, caps.version.toString());
			if (!chrootIsOurs(o.value)) {
				plan.argv[o.valueIndex] = options.chrootDir;
				replaced(o, "", o.value, options.chrootDir);
			}
			haveChroot = true;
		} else if (o.name == "run-with") {
			if (!caps.runWith())
				return makeError(ENOTSUP,
						 "QEMU argv has -run-with, which {} (QEMU {}) does not support", qemu,
						 caps.version.toString());
			std::vector<std::string> parts = splitQemuOpts(o.value);
			bool changed = false;
			for (std::string &kv : parts) {
				size_t eq = kv.find('=');
				std::string key = kv.substr(0, eq);
				std::string val = eq == std::string::npos ? std::string() : kv.substr(eq + 1);
				if (key == "user") {
					if (!caps.runWithUser())
						return makeError(ENOTSUP, "{} (QEMU {}) has no -run-with user=", qemu,
								 caps.version.toString());
					if (!userIsOurs(val)) {
						replaced(o, key, val, ourUser);
						kv = "user=" + ourUser;
						changed = true;
					}
					haveUser = true;
				} else if (key == "chroot") {
					if (!caps.runWithChroot())
						return makeError(ENOTSUP, "{} (QEMU {}) has no -run-with chroot=", qemu,
								 caps.version.toString());
					if (!chrootIsOurs(val)) {
						replaced(o, key, val, options.chrootDir);
						kv = "chroot=" + options.chrootDir;
						changed = true;
					}
					haveChroot = true;
				}
			}
			if (changed) {
				std::string joined;
				for (const std::string &kv : parts) {
					size_t eq = kv.find('=');
					if (!joined.empty())
						joined += ',';
					joined += eq == std::string::npos
						      ? escapeQemuOptValue(kv)
						      : kv.substr(0, eq + 1) + escapeQemuOptValue(kv.substr(eq + 1));
				}
				plan.argv[o.valueIndex] = joined;
			}
		}
	}

	/* 5. Add what is missing, preferring -run-with where QEMU has the key
	 * (-chroot is deprecated in 8.1 and gone in 9.0, -runas deprecated in 9.1
	 * and gone in 10.0). For every guest type: libxl omits -runas for PV. */
	std::vector<std::string> runWith;
	if (!haveUser && !options.neverRoot) {
		if (caps.runWithUser())
			runWith.push_back("user=" + options.runas.toString());
		else if (caps.runas()) {
			plan.added.push_back("-runas");
			plan.added.push_back(options.runas.toString());
		} else
			return makeError(ENOTSUP, "{} (QEMU {}) has neither -run-with user= nor -runas", qemu,
					 caps.version.toString());
	}
	if (!haveChroot && !options.neverRoot) {
		if (caps.runWithChroot())
			runWith.push_back("chroot=" + escapeQemuOptValue(options.chrootDir));
		else if (caps.chroot()) {
			plan.added.push_back("-chroot");
			plan.added.push_back(options.chrootDir);
		} else
			return makeError(ENOTSUP, "{} (QEMU {}) has neither -run-with chroot= nor -chroot", qemu,
					 caps.version.toString());
	}
	if (!runWith.empty()) {
		plan.added.push_back("-run-with");
		plan.added.push_back(fmt::format("{}", fmt::join(runWith, ",")));
	}

	appendReadyQmp(options, plan);
	plan.argv.insert(plan.argv.end(), plan.added.begin(), plan.added.end());
	return plan;
}

} /* namespace qemudm */
