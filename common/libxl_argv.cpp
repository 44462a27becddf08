/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "libxl_argv.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "domain.h"

namespace qemudm {

namespace {

/* QEMU options that take a value (those libxl 4.17 emits and their neighbours); any other
 * option is read as a flag, so an unknown flag never swallows the option after it. */
const std::set<std::string, std::less<>> kWithValue = {
	"xen-domid",
	"chardev",
	"mon",
	"name",
	"vnc",
	"display",
	"serial",
	"device",
	"boot",
	"net",
	"netdev",
	"machine",
	"M",
	"m",
	"drive",
	"runas",
	"chroot",
	"incoming",
	"smp",
	"vga",
	"k",
	"spice",
	"global",
	"cpu",
	"parallel",
	"usbdevice",
	"soundhw",
	"audiodev",
	"acpitable",
	"smbios",
	"option-rom",
	"trace",
	"append",
	"kernel",
	"initrd",
	"dtb",
	"bios",
	"rtc",
	"monitor",
	"qmp",
	"object",
	"accel",
	"fw_cfg",
	"sandbox",
	"run-with",
	"msg",
	"D",
	"d",
	"pidfile",
	"loadvm",
	"L",
	"hda",
	"hdb",
	"hdc",
	"hdd",
	"cdrom",
	"fda",
	"fdb",
	"mem-path",
	"numa",
	"watchdog-action",
	"action",
	"add-fd",
};

/* QEMU's option syntax: "a=b,,c,d" -> {"a=b,c", "d"}. */
std::vector<std::string> splitOpts(std::string_view value)
{
	std::vector<std::string> parts(1);
	for (size_t i = 0; i < value.size(); i++) {
		if (value[i] == ',' && i + 1 < value.size() && value[i + 1] == ',') {
			parts.back() += ',';
			i++;
		} else if (value[i] == ',') {
			parts.emplace_back();
		} else {
			parts.back() += value[i];
		}
	}
	return parts;
}

/* The inverse of splitOpts. */
std::string joinOpts(const std::vector<std::string> &parts)
{
	std::string out;
	for (size_t i = 0; i < parts.size(); i++) {
		if (i > 0)
			out += ',';
		for (char c : parts[i]) {
			out += c;
			if (c == ',')
				out += ',';
		}
	}
	return out;
}

/* The value of key= in a QEMU option string, or nullopt. */
std::optional<std::string> optValue(const std::vector<std::string> &parts, std::string_view key)
{
	std::optional<std::string> found;
	for (const std::string &p : parts)
		if (p.size() > key.size() && p.compare(0, key.size(), key) == 0 && p[key.size()] == '=')
			found = p.substr(key.size() + 1); /* the last one wins, as in QEMU */
	return found;
}

bool isLocalhost(std::string_view host)
{
	return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" ||
	       host.starts_with("127.");
}

} /* namespace */

Result<DmRequest> dmRequestFromQemuArgv(const std::vector<std::string> &args, const std::string &qemu)
{
	DmRequest req;
	std::optional<uint32_t> domid;
	struct Opt {
		std::string name, value;
	};
	std::vector<Opt> opts;
	for (size_t i = 0; i < args.size(); i++) {
		const std::string &a = args[i];
		if (a.size() < 2 || a[0] != '-')
			continue; /* a positional (a disk image): qemu-dm does not declare those */
		std::string name = a.substr(a[1] == '-' ? 2 : 1);
		if (kWithValue.count(name)) {
			if (i + 1 >= args.size())
				return makeError(EINVAL, "QEMU option {} has no value", a);
			opts.push_back({ name, args[++i] });
		} else {
			opts.push_back({ name, {} });
		}
	}

	for (const Opt &o : opts) {
		if (o.name == "xen-domid") {
			auto d = parseDomid(o.value);
			if (!d)
				return d.error().wrap("-xen-domid");
			if (domid && *domid != *d)
				return makeError(EINVAL, "-xen-domid given twice ({} and {})", *domid, *d);
			domid = *d;
		}
	}
	if (!domid)
		return makeError(EINVAL, "QEMU argv has no -xen-domid: not a Xen device model command line");
	req.domid = *domid;
	const uint32_t d = *domid;

	req.qemuArgv.push_back(qemu);
	req.qemuArgv.insert(req.qemuArgv.end(), args.begin(), args.end());

	for (const Opt &o : opts) {
		const std::vector<std::string> parts = splitOpts(o.value);
		if (o.name == "name") {
			auto guest = optValue(parts, "guest");
			req.name = guest ? *guest : parts.front();
		} else if (o.name == "machine" || o.name == "M") {
			std::string type = optValue(parts, "type").value_or(parts.front());
			req.type = type == "xenpv" ? GuestType::Pv : GuestType::Hvm;
		} else if (o.name == "xen-domid-restrict") {
			req.restrict = true;
		} else if (o.name == "runas") {
			/* A name is libxl's device_model_user (or the shared user); UID:GID is the range user. */
			if (o.value.find(':') == std::string::npos)
				req.deviceModelUser = o.value;
		} else if (o.name == "chardev") {
			auto fd = optValue(parts, "fd");
			if (!fd)
				continue;
			if (optValue(parts, "id") != "libxl-cmd")
				return makeError(
				    ENOTSUP,
				    "domain {}: -chardev {} passes an fd, which qemu-dm can hand over only "
				    "for libxl's QMP socket (id=libxl-cmd)",
				    d, o.value);
			auto n = parseDecimal(*fd, 1023);
			if (!n || *n < 3)
				return makeError(EINVAL,
						 "domain {}: -chardev {}: fd '{}' is not a descriptor of 3 or more", d,
						 o.value, *fd);
			if (req.qmpFdTarget >= 0)
				return makeError(EINVAL, "domain {}: more than one QMP socket fd in the argv", d);
			req.qmpFdTarget = static_cast<int>(*n);
		} else if (o.name == "drive") {
			auto file = optValue(parts, "file");
			if (!file || file->empty())
				continue; /* an empty CD-ROM drive */
			if (file->starts_with("/dev/fdset/"))
				continue; /* served from fds of an -add-fd (those are argvFds): no path */
			bool ro = optValue(parts, "readonly") == "on" || optValue(parts, "media") == "cdrom";
			req.disks.push_back({ *file, ro });
		} else if (o.name == "incoming" || o.name == "add-fd") {
			/* libxl 4.17 restores with -incoming fd:N (the saved state it opened); later ones
			 * with -add-fd fd=N,set=S and -incoming file:/dev/fdset/S. */
			std::optional<std::string> fd;
			if (o.name == "add-fd")
				fd = optValue(parts, "fd");
			else if (o.value.starts_with("fd:"))
				fd = o.value.substr(3);
			else if (o.value.starts_with("file:") && !o.value.starts_with("file:/dev/fdset/"))
				req.paths.push_back({ o.value.substr(5), false });
			if (!fd)
				continue;
			auto n = parseDecimal(*fd, kMaxFdTarget - 1);
			if (!n || *n < 3)
				return makeError(EINVAL, "domain {}: -{} {}: fd '{}' is not a descriptor of 3 or more",
						 d, o.name, o.value, *fd);
			req.argvFds.push_back(static_cast<int>(*n));
		} else if (o.name == "vnc") {
			std::string_view v = parts.front();
			if (v == "none" || v.starts_with("unix:"))
				continue;
			size_t colon = v.rfind(':');
			std::string_view host = colon == std::string_view::npos ? v : v.substr(0, colon);
			if (!isLocalhost(host))
				return makeError(ENOTSUP,
						 "domain {}: -vnc {} listens beyond localhost; qemu-dm lets a device "
						 "model serve VNC on localhost only (xl.cfg vnclisten=\"127.0.0.1\")",
						 d, o.value);
			req.vncLocalhost = true;
		} else if (o.name == "netdev" || o.name == "net") {
			std::string type = optValue(parts, "type").value_or(parts.front());
			if (type == "none" || type == "nic" || type == "user")
				continue;
			if (type != "tap")
				return makeError(ENOTSUP, "domain {}: -{} {}: only tap networking is supported", d,
						 o.name, o.value);
			if (optValue(parts, "fd") || optValue(parts, "fds"))
				return makeError(ENOTSUP, "domain {}: -{} {}: tap fds cannot be handed over yet", d,
						 o.name, o.value);
			auto ifname = optValue(parts, "ifname");
			if (!ifname)
				return makeError(EINVAL, "domain {}: -{} {} names no ifname", d, o.name, o.value);
			if (std::find(req.taps.begin(), req.taps.end(), *ifname) == req.taps.end())
				req.taps.push_back(*ifname);
		}
	}
	std::vector<int> all = req.argvFds;
	if (req.qmpFdTarget >= 0)
		all.push_back(req.qmpFdTarget);
	std::sort(all.begin(), all.end());
	if (auto dup = std::adjacent_find(all.begin(), all.end()); dup != all.end())
		return makeError(EINVAL, "domain {}: QEMU's argv names fd {} twice", d, *dup);
	return req;
}

Result<DriveFdPlan> planDriveFds(const std::vector<std::string> &argv, const std::set<std::string, std::less<>> &paths,
				 const std::set<std::string, std::less<>> &readOnlyPaths,
				 std::span<const int> usedTargets)
{
	DriveFdPlan plan;
	int nextTarget = 3;
	for (int t : usedTargets)
		nextTarget = std::max(nextTarget, t + 1);
	int nextSet = 0;
	for (size_t i = 1; i + 1 < argv.size(); i++) {
		if (argv[i] != "-add-fd" && argv[i] != "--add-fd")
			continue;
		auto set = optValue(splitOpts(argv[i + 1]), "set");
		if (!set)
			continue;
		if (auto n = parseDecimal(*set, INT32_MAX - 1))
			nextSet = std::max(nextSet, static_cast<int>(*n) + 1);
	}
	if (argv.empty())
		return plan;
	plan.argv.push_back(argv[0]);
	for (size_t i = 1; i < argv.size(); i++) {
		const std::string &a = argv[i];
		bool drive = (a == "-drive" || a == "--drive") && i + 1 < argv.size();
		std::vector<std::string> parts;
		std::optional<std::string> file;
		if (drive) {
			parts = splitOpts(argv[i + 1]);
			file = optValue(parts, "file");
		}
		if (!file || !paths.count(*file)) {
			plan.argv.push_back(a);
			if (drive)
				plan.argv.push_back(argv[++i]);
			continue;
		}
		if (nextTarget + 2 > kMaxFdTarget)
			return makeError(EMFILE, "disk {}: no fd numbers below {} are left for it", *file,
					 kMaxFdTarget);
		DriveFd d;
		d.path = *file;
		d.readOnly = readOnlyPaths.count(*file) || optValue(parts, "readonly") == "on" ||
			     optValue(parts, "read-only") == "on" || optValue(parts, "media") == "cdrom";
		d.fdset = nextSet++;
		if (!d.readOnly)
			d.readWriteTarget = nextTarget++;
		d.readOnlyTarget = nextTarget++;
		const std::string opaque = joinOpts({ "opaque=qemu-dm:" + d.path });
		for (int t : { d.readWriteTarget, d.readOnlyTarget }) {
			if (t < 0)
				continue;
			plan.argv.push_back("-add-fd");
			plan.argv.push_back(fmt::format("fd={},set={},{}", t, d.fdset, opaque));
		}
		for (std::string &p : parts)
			if (p.starts_with("file="))
				p = fmt::format("file=/dev/fdset/{}", d.fdset);
		/*
		 * A read-write disk stays open read-write: without this, QEMU (-drive
		 * defaults to auto-read-only=on) reopens it read-only while a restore's
		 * state comes in and read-write at activation, and the set's read-only
		 * fd it took first keeps its shared locks (its open file description
		 * stays open in the set), so the first activation fails ("Failed to get
		 * shared "write" lock") and only libxl's cont succeeds.
		 */
		if (!d.readOnly && !optValue(parts, "auto-read-only"))
			parts.push_back("auto-read-only=off");
		plan.argv.push_back(a);
		plan.argv.push_back(joinOpts(parts));
		plan.drives.push_back(std::move(d));
		i++;
	}
	return plan;
}

} /* namespace qemudm */
