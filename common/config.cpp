/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>

#include <fmt/format.h>

#include "build_config.h"
#include "dm_names.h"
#include "file_util.h"
#include "log.h"
#include "parse_util.h"
#include "path_util.h"
#include "string_util.h"

namespace qemudm {

namespace {

/* Limits on what a configuration can make us allocate (docs/CODING_STYLE.md). */
constexpr size_t kMaxFileSize = 1024 * 1024;
constexpr size_t kMaxDropins = 1024;
constexpr size_t kMaxDevices = 256;
constexpr size_t kMaxForbiddenUsers = 1024;

/* A byte size (parse_util.h's grammar) or "infinity". */
bool parseSizeOrInfinity(std::string_view s, Limit &ret)
{
	if (s == "infinity") {
		ret = std::nullopt;
		return true;
	}
	auto v = parseSize(s);
	/* RLIM_INFINITY is not a number anyone means; they should write "infinity". */
	if (!v || *v == kInfinity)
		return false;
	ret = *v;
	return true;
}

bool parseCountOrInfinity(std::string_view s, Limit &ret)
{
	if (s == "infinity") {
		ret = std::nullopt;
		return true;
	}
	auto v = parseInteger<uint64_t>(s);
	if (!v || *v == kInfinity)
		return false;
	ret = *v;
	return true;
}

/* A time span (parse_util.h's grammar, a bare number in seconds); not "infinity". */
bool parseFiniteTimespan(std::string_view s, uint64_t &ret)
{
	auto v = parseTimespan(s);
	if (!v || *v == kInfinity)
		return false;
	ret = *v;
	return true;
}

bool parseBool(std::string_view s, bool &ret)
{
	auto v = parseBoolean(s);
	if (!v)
		return false;
	ret = *v;
	return true;
}

/*
 * A normalised absolute path made of "safe" characters only: no whitespace,
 * quotes, backslashes or '%', so it can be written into unit files verbatim.
 */
bool validPlainPath(std::string_view s)
{
	auto ok = [](char c) {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
		       c == '_' || c == '.' || c == '-' || c == '+' || c == ':' || c == '@';
	};
	return s.size() <= 4096 && std::all_of(s.begin(), s.end(), ok) && isNormalizedAbsolutePath(s);
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
		 [member](Config &c, std::string_view v) { return parseSizeOrInfinity(v, c.*member); },
		 resetTo(member) };
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
			  if (!parseSizeOrInfinity(v, l))
				  return false;
			  c.memoryMax = l;
			  return true;
		  },
		  resetTo(&Config::memoryMax) },
		{ "Limits", "CPUWeight", "a number between 1 and 10000",
		  [](Config &c, std::string_view v) {
			  auto w = parseInteger<uint64_t>(v);
			  if (!w || *w < 1 || *w > 10000)
				  return false;
			  c.cpuWeight = *w;
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
		  [](Config &c, std::string_view v) { return parseFiniteTimespan(v, c.logRateLimitIntervalUSec); },
		  resetTo(&Config::logRateLimitIntervalUSec) },
		{ "Logging", "LogRateLimitBurst", "a number",
		  [](Config &c, std::string_view v) {
			  auto b = parseInteger<uint32_t>(v);
			  if (!b)
				  return false;
			  c.logRateLimitBurst = *b;
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

/*
 * Never blocks and never fails open: file_util.h's reader takes only a
 * regular file (a FIFO or a device node cannot stall boot), of at most
 * kMaxFileSize bytes; /dev/null (a link to it masks a file) reads as empty.
 */
Result<std::optional<std::string>> readFile(const std::filesystem::path &path, bool missingOk)
{
	return qemudm::readFile(path, ReadFileOptions{ .missingOk = missingOk, .maxSize = kMaxFileSize });
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
		std::string_view raw = popLine(text);
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
