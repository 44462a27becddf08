/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "build_config.h"
#include "log.h"
#include "unique_fd.h"

namespace qemudm {

namespace {

/* Limits on what a configuration can make us allocate (docs/CODING_STYLE.md). */
constexpr size_t kMaxFileSize = 1024 * 1024;
constexpr size_t kMaxDropins = 1024;
constexpr size_t kMaxDevices = 256;
constexpr size_t kMaxForbiddenUsers = 1024;

constexpr std::string_view kWhitespace = " \t\r";

std::string_view trim(std::string_view s)
{
	size_t b = s.find_first_not_of(kWhitespace);
	if (b == std::string_view::npos)
		return {};
	size_t e = s.find_last_not_of(kWhitespace);
	return s.substr(b, e - b + 1);
}

bool parseUnsigned(std::string_view s, uint64_t &ret)
{
	if (s.empty() || s.size() > 20)
		return false;
	uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return false;
		uint64_t d = static_cast<uint64_t>(c - '0');
		if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
			return false;
		v = v * 10 + d;
	}
	ret = v;
	return true;
}

/* Split "123K" into the digits and the suffix. */
std::pair<std::string_view, std::string_view> splitNumber(std::string_view s)
{
	size_t i = 0;
	while (i < s.size() && s[i] >= '0' && s[i] <= '9')
		i++;
	return { s.substr(0, i), s.substr(i) };
}

bool parseBool(std::string_view s, bool &ret)
{
	static constexpr std::string_view yes[] = { "yes", "true", "on", "1" };
	static constexpr std::string_view no[] = { "no", "false", "off", "0" };
	for (auto y : yes)
		if (s == y) {
			ret = true;
			return true;
		}
	for (auto n : no)
		if (s == n) {
			ret = false;
			return true;
		}
	return false;
}

/* A byte size: a number with an optional K, M, G, T, P or E suffix (base 1024), or "infinity". */
bool parseSize(std::string_view s, Limit &ret)
{
	if (s == "infinity") {
		ret = std::nullopt;
		return true;
	}
	auto [digits, suffix] = splitNumber(s);
	uint64_t v;
	if (!parseUnsigned(digits, v))
		return false;
	static constexpr std::string_view suffixes = "KMGTPE";
	unsigned shift = 0;
	if (!suffix.empty()) {
		size_t i = suffix.size() == 1 ? suffixes.find(suffix[0]) : std::string_view::npos;
		if (i == std::string_view::npos)
			return false;
		shift = 10 * static_cast<unsigned>(i + 1);
	}
	if (shift && v > (std::numeric_limits<uint64_t>::max() >> shift))
		return false;
	v <<= shift;
	/* RLIM_INFINITY is not a number anyone means; they should write "infinity". */
	if (v == std::numeric_limits<uint64_t>::max())
		return false;
	ret = v;
	return true;
}

bool parseCountOrInfinity(std::string_view s, Limit &ret)
{
	if (s == "infinity") {
		ret = std::nullopt;
		return true;
	}
	uint64_t v;
	if (!parseUnsigned(s, v) || v == std::numeric_limits<uint64_t>::max())
		return false;
	ret = v;
	return true;
}

/* A time span: one or more "<number>[unit]" parts, unit us/ms/s/min/h (default s). */
bool parseTimespan(std::string_view s, uint64_t &ret)
{
	struct Unit {
		std::string_view name;
		uint64_t usec;
	};
	static constexpr Unit units[] = {
		{ "us", 1 },
		{ "usec", 1 },
		{ "ms", 1000 },
		{ "msec", 1000 },
		{ "s", 1000000 },
		{ "sec", 1000000 },
		{ "m", 60000000 },
		{ "min", 60000000 },
		{ "h", 3600000000ULL },
		{ "hr", 3600000000ULL },
		{ "", 1000000 },
	};
	uint64_t total = 0;
	bool any = false;
	while (true) {
		s = trim(s);
		if (s.empty())
			break;
		auto [digits, rest] = splitNumber(s);
		uint64_t v;
		if (!parseUnsigned(digits, v))
			return false;
		size_t end = rest.find_first_of(" \t0123456789");
		std::string_view unit = rest.substr(0, end);
		const Unit *u = nullptr;
		for (const Unit &c : units)
			if (c.name == unit)
				u = &c;
		if (!u)
			return false;
		if (v > std::numeric_limits<uint64_t>::max() / u->usec)
			return false;
		v *= u->usec;
		if (total > std::numeric_limits<uint64_t>::max() - v)
			return false;
		total += v;
		any = true;
		s = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
	}
	if (!any)
		return false;
	ret = total;
	return true;
}

/* A user name as systemd's strict mode accepts it. */
bool validUserName(std::string_view s)
{
	if (s.empty() || s.size() > 255)
		return false;
	auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
	if (!alpha(s[0]))
		return false;
	return std::all_of(s.begin() + 1, s.end(),
			   [&](char c) { return alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; });
}

/*
 * A normalised absolute path made of "safe" characters only: no whitespace,
 * quotes, backslashes or '%', so it can be written into unit files verbatim.
 */
bool validPlainPath(std::string_view s)
{
	if (s.size() < 2 || s.size() > 4096 || s[0] != '/' || s.back() == '/')
		return false;
	auto ok = [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
		       c == '_' || c == '.' || c == '-' || c == '+' || c == ':' || c == '@';
	};
	if (!std::all_of(s.begin(), s.end(), ok))
		return false;
	std::string_view rest = s.substr(1);
	while (!rest.empty()) {
		size_t slash = rest.find('/');
		std::string_view comp = rest.substr(0, slash);
		if (comp.empty() || comp == "." || comp == "..")
			return false;
		rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
	}
	return true;
}

bool parseDevice(std::string_view s, DeviceNode &ret)
{
	size_t sp = s.find_first_of(" \t");
	std::string_view path = s.substr(0, sp);
	std::string_view perms = sp == std::string_view::npos ? "rw" : trim(s.substr(sp));
	if (!path.starts_with("/dev/") || !validPlainPath(path))
		return false;
	if (perms.empty() || perms.size() > 3)
		return false;
	std::string norm;
	for (char p : std::string_view("rwm")) {
		auto n = std::count(perms.begin(), perms.end(), p);
		if (n > 1)
			return false;
		if (n == 1)
			norm += p;
	}
	if (norm.size() != perms.size())
		return false;
	ret = DeviceNode{ std::string(path), norm };
	return true;
}

/* ---- the key table ---- */

struct KeyDef {
	std::string_view section;
	std::string_view key;
	std::string_view expected;
	/* Apply a non-empty value; false means "invalid value". */
	std::function<bool(Config &, std::string_view)> apply;
	/* Apply an empty value: reset to the default. */
	std::function<void(Config &)> reset;
};

template <typename T>
std::function<void(Config &)> resetTo(T Config::*member)
{
	return [member](Config &c) { c.*member = Config().*member; };
}

KeyDef limitKey(std::string_view key, Limit Config::*member)
{
	return { "Limits", key, "a size in bytes (optionally with K, M, G, T, P or E) or 'infinity'",
		 [member](Config &c, std::string_view v) { return parseSize(v, c.*member); }, resetTo(member) };
}

const std::vector<KeyDef> &keyTable()
{
	static const std::vector<KeyDef> table = {
		{ "Users", "RangeBaseUser", "a user name",
		  [](Config &c, std::string_view v) {
			  if (!validUserName(v))
				  return false;
			  c.rangeBaseUser = std::string(v);
			  return true;
		  },
		  resetTo(&Config::rangeBaseUser) },
		{ "Users", "SharedUser", "a user name",
		  [](Config &c, std::string_view v) {
			  if (!validUserName(v))
				  return false;
			  c.sharedUser = std::string(v);
			  return true;
		  },
		  resetTo(&Config::sharedUser) },
		{ "Users", "ForbiddenUsers", "user names separated by spaces",
		  [](Config &c, std::string_view v) {
			  std::vector<std::string> names = c.forbiddenUsers;
			  while (!(v = trim(v)).empty()) {
				  size_t end = v.find_first_of(kWhitespace);
				  std::string_view name = v.substr(0, end);
				  if (!validUserName(name))
					  return false;
				  if (std::find(names.begin(), names.end(), name) == names.end())
					  names.emplace_back(name);
				  v = end == std::string_view::npos ? std::string_view{} : v.substr(end);
			  }
			  if (names.size() > kMaxForbiddenUsers)
				  return false;
			  c.forbiddenUsers = std::move(names);
			  return true;
		  },
		  resetTo(&Config::forbiddenUsers) },
		{ "Device Model", "Restrict", "a boolean (yes or no)",
		  [](Config &c, std::string_view v) { return parseBool(v, c.restrictByDefault); },
		  resetTo(&Config::restrictByDefault) },
		{ "Device Model", "PrivilegeModel", "'never-root' or 'root'",
		  [](Config &c, std::string_view v) {
			  if (v == "never-root")
				  c.privilegeModel = PrivilegeModel::NeverRoot;
			  else if (v == "root")
				  c.privilegeModel = PrivilegeModel::Root;
			  else
				  return false;
			  return true;
		  },
		  resetTo(&Config::privilegeModel) },
		{ "Device Model", "Qemu", "an absolute, normalised path",
		  [](Config &c, std::string_view v) {
			  if (!validPlainPath(v))
				  return false;
			  c.defaultQemu = std::string(v);
			  return true;
		  },
		  resetTo(&Config::defaultQemu) },
		limitKey("LimitCORE", &Config::limitCore),
		limitKey("LimitFSIZE", &Config::limitFsize),
		limitKey("LimitMSGQUEUE", &Config::limitMsgqueue),
		limitKey("LimitLOCKS", &Config::limitLocks),
		limitKey("LimitMEMLOCK", &Config::limitMemlock),
		{ "Limits", "TasksMax", "a number or 'infinity'",
		  [](Config &c, std::string_view v) {
			  Limit l;
			  if (!parseCountOrInfinity(v, l) || (l && *l == 0))
				  return false;
			  c.tasksMax = l;
			  return true;
		  },
		  resetTo(&Config::tasksMax) },
		{ "Limits", "MemoryMax", "a size in bytes (optionally with K, M, G, T, P or E) or 'infinity'",
		  [](Config &c, std::string_view v) {
			  Limit l;
			  if (!parseSize(v, l))
				  return false;
			  c.memoryMax = l;
			  return true;
		  },
		  resetTo(&Config::memoryMax) },
		{ "Limits", "CPUWeight", "a number between 1 and 10000",
		  [](Config &c, std::string_view v) {
			  uint64_t w;
			  if (!parseUnsigned(v, w) || w < 1 || w > 10000)
				  return false;
			  c.cpuWeight = w;
			  return true;
		  },
		  resetTo(&Config::cpuWeight) },
		{ "Devices", "DeviceAllow",
		  "a device node below /dev/ (plain characters only), optionally followed by permissions from 'rwm'",
		  [](Config &c, std::string_view v) {
			  DeviceNode d;
			  if (!parseDevice(v, d))
				  return false;
			  auto it = std::find_if(c.extraDevices.begin(), c.extraDevices.end(),
						 [&](const DeviceNode &o) { return o.path == d.path; });
			  if (it != c.extraDevices.end())
				  *it = d;
			  else if (c.extraDevices.size() < kMaxDevices)
				  c.extraDevices.push_back(d);
			  else
				  return false;
			  return true;
		  },
		  resetTo(&Config::extraDevices) },
		{ "Logging", "LogRateLimitIntervalSec", "a time span such as '30s', '1min' or '0'",
		  [](Config &c, std::string_view v) { return parseTimespan(v, c.logRateLimitIntervalUSec); },
		  resetTo(&Config::logRateLimitIntervalUSec) },
		{ "Logging", "LogRateLimitBurst", "a number",
		  [](Config &c, std::string_view v) {
			  uint64_t b;
			  if (!parseUnsigned(v, b) || b > std::numeric_limits<uint32_t>::max())
				  return false;
			  c.logRateLimitBurst = b;
			  return true;
		  },
		  resetTo(&Config::logRateLimitBurst) },
	};
	return table;
}

constexpr std::array kSections = {
	std::string_view("Users"),   std::string_view("Device Model"), std::string_view("Limits"),
	std::string_view("Devices"), std::string_view("Logging"),
};

std::string sectionList()
{
	std::string s;
	for (auto sec : kSections)
		s += fmt::format("{}[{}]", s.empty() ? "" : ", ", sec);
	return s;
}

/* Make arbitrary text printable in a message: control characters become '?'. */
std::string printable(std::string_view s)
{
	std::string out;
	for (char c : s)
		out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
	return out;
}

std::string_view fileType(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "of an unknown type";
	}
}

/*
 * Read a whole file; std::nullopt if it does not exist (and missingOk).
 * Never blocks and never fails open (issue 10, class 8): O_NONBLOCK so a
 * FIFO or a device node cannot stall boot in open() or read(), then only a
 * regular file of at most kMaxFileSize bytes is read. /dev/null (a link to
 * it masks a file, as in systemd) reads as empty.
 */
Result<std::optional<std::string>> readFile(const std::filesystem::path &path, bool missingOk)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
	if (!fd) {
		int e = errno;
		if (e == ENOENT && missingOk)
			return std::optional<std::string>();
		/* A socket cannot be opened (ENXIO): name what it is rather than "No such device or address". */
		struct stat st;
		if (e == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
			return makeError(EINVAL, "Failed to read {}: not a regular file but {}", path.string(),
					 fileType(st.st_mode));
		return errnoError(e, "Failed to open {}", path.string());
	}
	struct stat st;
	if (::fstat(fd.get(), &st) < 0)
		return errnoError(errno, "Failed to stat {}", path.string());
	if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3)
		return std::optional<std::string>(std::string()); /* masked by a link to /dev/null */
	if (!S_ISREG(st.st_mode))
		return makeError(EINVAL, "Failed to read {}: not a regular file but {}", path.string(),
				 fileType(st.st_mode));
	if (static_cast<uint64_t>(st.st_size) > kMaxFileSize)
		return makeError(EFBIG, "Failed to read {}: larger than {} bytes", path.string(), kMaxFileSize);
	std::string text;
	char buf[8192];
	while (true) {
		ssize_t n = ::read(fd.get(), buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errnoError(errno, "Failed to read {}", path.string());
		}
		if (n == 0)
			break;
		text.append(buf, static_cast<size_t>(n));
		if (text.size() > kMaxFileSize)
			return makeError(EFBIG, "Failed to read {}: larger than {} bytes", path.string(), kMaxFileSize);
	}
	return std::optional<std::string>(std::move(text));
}

Result<std::vector<std::filesystem::path>> listDropins(const std::filesystem::path &dir)
{
	std::vector<std::filesystem::path> files;
	std::error_code ec;
	std::filesystem::directory_iterator it(dir, ec);
	if (ec) {
		if (ec.value() == ENOENT)
			return files;
		return errnoError(ec.value(), "Failed to open directory {}", dir.string());
	}
	for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
		if (ec)
			return errnoError(ec.value(), "Failed to read directory {}", dir.string());
		std::string name = it->path().filename().string();
		if (name.starts_with('.') || !name.ends_with(".conf"))
			continue; /* not a drop-in by name: editor backups, *.dpkg-old, ... */
		if (files.size() >= kMaxDropins)
			return makeError(E2BIG, "Failed to read directory {}: more than {} drop-ins", dir.string(),
					 kMaxDropins);
		files.push_back(it->path());
	}
	std::sort(files.begin(), files.end(), [](const auto &a, const auto &b) { return a.filename() < b.filename(); });
	return files;
}

} /* namespace */

Config::Config() : defaultQemu(QEMU_DM_DEFAULT_QEMU), sourcePath(QEMU_DM_CONFIG_FILE)
{
}

Status parseConfigText(std::string_view text, std::string_view name, Config &config)
{
	std::optional<std::string> section;
	unsigned lineNo = 0;
	while (!text.empty()) {
		size_t nl = text.find('\n');
		std::string_view raw = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		lineNo++;

		auto bad = std::find_if(raw.begin(), raw.end(), [](char c) {
			auto u = static_cast<unsigned char>(c);
			return (u < 0x20 && c != '\t' && c != '\r') || u == 0x7f;
		});
		if (bad != raw.end())
			return makeError(EINVAL, "{}:{}: Invalid control character 0x{:02x}", name, lineNo,
					 static_cast<unsigned char>(*bad));

		std::string_view line = trim(raw);
		if (line.empty() || line[0] == '#' || line[0] == ';')
			continue;

		if (line[0] == '[') {
			if (line.back() != ']' || line.size() < 3)
				return makeError(EINVAL, "{}:{}: Invalid section header '{}', expected '[Name]'", name,
						 lineNo, line);
			std::string_view sec = line.substr(1, line.size() - 2);
			if (std::find(kSections.begin(), kSections.end(), sec) == kSections.end())
				return makeError(EINVAL, "{}:{}: Unknown section [{}], expected one of {}", name,
						 lineNo, sec, sectionList());
			section = std::string(sec);
			continue;
		}

		size_t eq = line.find('=');
		if (eq == std::string_view::npos || trim(line.substr(0, eq)).empty())
			return makeError(EINVAL, "{}:{}: Invalid line '{}', expected '[Section]' or 'Key=Value'", name,
					 lineNo, line);
		std::string_view key = trim(line.substr(0, eq));
		std::string_view value = trim(line.substr(eq + 1));
		if (!section)
			return makeError(EINVAL, "{}:{}: Key '{}' outside of any section, expected a [Section] first",
					 name, lineNo, key);

		const auto &table = keyTable();
		auto def = std::find_if(table.begin(), table.end(),
					[&](const KeyDef &d) { return d.section == *section && d.key == key; });
		if (def == table.end()) {
			auto elsewhere =
			    std::find_if(table.begin(), table.end(), [&](const KeyDef &d) { return d.key == key; });
			if (elsewhere != table.end())
				return makeError(EINVAL, "{}:{}: Unknown key '{}' in section [{}], it belongs in [{}]",
						 name, lineNo, key, *section, elsewhere->section);
			return makeError(EINVAL, "{}:{}: Unknown key '{}' in section [{}]", name, lineNo, key,
					 *section);
		}
		if (value.empty()) {
			def->reset(config);
			continue;
		}
		if (!def->apply(config, value))
			return makeError(EINVAL, "{}:{}: Invalid value '{}' for {}=, expected {}", name, lineNo, value,
					 key, def->expected);
	}
	return success();
}

Result<Config> loadConfig(const std::filesystem::path &file, const std::filesystem::path &dropinDir)
{
	Config config;
	config.sourcePath = file;

	auto apply = [&](const std::filesystem::path &path, bool missingOk) -> Status {
		auto text = readFile(path, missingOk);
		if (!text)
			return text.error();
		if (!*text) {
			log::debug("Configuration file {} does not exist, using defaults", path.string());
			return success();
		}
		log::debug("Reading configuration file {}", path.string());
		config.filesRead.push_back(path);
		return parseConfigText(**text, printable(path.string()), config);
	};

	if (auto r = apply(file, true); !r)
		return r.error();

	auto dropins = listDropins(dropinDir);
	if (!dropins)
		return dropins.error();
	for (const auto &path : *dropins)
		if (auto r = apply(path, false); !r)
			return r.error();
	return config;
}

std::filesystem::path defaultConfigFile()
{
	const char *e = ::secure_getenv("QEMU_DM_CONFIG");
	return e && *e ? e : QEMU_DM_CONFIG_FILE;
}

std::filesystem::path defaultConfigDir()
{
	const char *e = ::secure_getenv("QEMU_DM_CONFIG_DIR");
	return e && *e ? e : QEMU_DM_CONFIG_DIR;
}

Result<Config> loadDefaultConfig()
{
	return loadConfig(defaultConfigFile(), defaultConfigDir());
}

std::string_view privilegeModelName(PrivilegeModel m)
{
	return m == PrivilegeModel::NeverRoot ? "never-root" : "root";
}

std::string formatLimit(const Limit &limit)
{
	return limit ? std::to_string(*limit) : std::string("infinity");
}

std::string formatTimespan(uint64_t usec)
{
	if (usec == 0)
		return "0";
	constexpr uint64_t s = 1000000;
	if (usec % (3600 * s) == 0)
		return fmt::format("{}h", usec / (3600 * s));
	if (usec % (60 * s) == 0)
		return fmt::format("{}min", usec / (60 * s));
	if (usec % s == 0)
		return fmt::format("{}s", usec / s);
	if (usec % 1000 == 0)
		return fmt::format("{}ms", usec / 1000);
	return fmt::format("{}us", usec);
}

} /* namespace qemudm */
