/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "unit_property.h"

#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstring>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "bus_property.h"
#include "parse_util.h"
#include "string_util.h"

namespace qemudm {

namespace {

/*
 * Parsing: the unit-file value syntax of systemd 252 for the kinds of values
 * we accept. These are our own small parsers, written from the documented
 * syntax (systemd.exec(5), systemd.resource-control(5), systemd.time(7)).
 */

Error invalid(std::string_view name, std::string_view value, std::string_view expected)
{
	return makeError(EINVAL, "Invalid value '{}' for {}=: expected {}", value, name, expected);
}

Error appendFailed(int r, std::string_view name)
{
	return errnoError(r, "Failed to append {}= to the D-Bus message", name);
}

bool startsWith(std::string_view s, std::string_view prefix)
{
	return s.substr(0, prefix.size()) == prefix;
}

bool endsWith(std::string_view s, std::string_view suffix)
{
	return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool isOctal(char c)
{
	return c >= '0' && c <= '7';
}

int hexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Split into whitespace-separated words with '...' and "..." quoting and
 * backslash escapes. With cEscapes, \n \t \xNN \NNN and friends are decoded
 * (systemd's EXTRACT_CUNESCAPE); otherwise a backslash takes the next
 * character literally. nullopt on an unterminated quote or a trailing '\'.
 */
std::optional<std::vector<std::string>> splitWords(std::string_view s, bool cEscapes)
{
	std::vector<std::string> words;
	size_t i = 0;
	const size_t n = s.size();

	auto escape = [&](std::string &word) -> bool {
		/* s[i] is the backslash */
		if (i + 1 >= n)
			return false;
		char c = s[++i];
		if (!cEscapes) {
			word += c;
			i++;
			return true;
		}
		switch (c) {
		case 'a':
			word += '\a';
			break;
		case 'b':
			word += '\b';
			break;
		case 'f':
			word += '\f';
			break;
		case 'n':
			word += '\n';
			break;
		case 'r':
			word += '\r';
			break;
		case 't':
			word += '\t';
			break;
		case 'v':
			word += '\v';
			break;
		case 's':
			word += ' ';
			break;
		case 'x': {
			if (i + 2 >= n)
				return false;
			int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			word += static_cast<char>(hi * 16 + lo);
			i += 2;
			break;
		}
		default:
			if (isOctal(c)) {
				if (i + 2 >= n || !isOctal(s[i + 1]) || !isOctal(s[i + 2]))
					return false;
				int v = (c - '0') * 64 + (s[i + 1] - '0') * 8 + (s[i + 2] - '0');
				if (v == 0 || v > 255)
					return false;
				word += static_cast<char>(v);
				i += 2;
			} else {
				/* \\ \" \' and any other character stand for themselves */
				word += c;
			}
			break;
		}
		i++;
		return true;
	};

	while (true) {
		while (i < n && isWhitespace(s[i]))
			i++;
		if (i >= n)
			break;

		std::string word;
		while (i < n && !isWhitespace(s[i])) {
			char c = s[i];
			if (c == '\'' || c == '"') {
				char quote = c;
				i++;
				while (true) {
					if (i >= n)
						return std::nullopt;
					if (s[i] == quote) {
						i++;
						break;
					}
					if (s[i] == '\\') {
						if (!escape(word))
							return std::nullopt;
						continue;
					}
					word += s[i++];
				}
			} else if (c == '\\') {
				if (!escape(word))
					return std::nullopt;
			} else {
				word += c;
				i++;
			}
		}
		words.push_back(std::move(word));
	}

	return words;
}

/* "50%", "12.5%", "5‰", "42‱" -> permyriad (0..10000, more if unbounded). */
std::optional<uint64_t> parsePermyriad(std::string_view v, bool unbounded = false)
{
	struct Suffix {
		std::string_view text;
		uint64_t scale; /* permyriad per unit */
		int decimals;
	};
	static const std::array<Suffix, 3> suffixes = { {
	    { "%", 100, 2 },
	    { "\u2030", 10, 1 }, /* ‰ */
	    { "\u2031", 1, 0 },	 /* ‱ */
	} };
	for (const auto &suffix : suffixes) {
		if (!endsWith(v, suffix.text))
			continue;
		std::string_view num = v.substr(0, v.size() - suffix.text.size());
		auto dot = num.find('.');
		if (dot != std::string_view::npos && static_cast<int>(num.size() - dot - 1) > suffix.decimals)
			return std::nullopt;
		if (dot != std::string_view::npos && dot + 1 == num.size())
			return std::nullopt;
		size_t used = 0;
		auto value = parseScaledDecimal(num, suffix.scale, used);
		if (!value || used != num.size())
			return std::nullopt;
		if (!unbounded && *value > 10000)
			return std::nullopt;
		return value;
	}
	return std::nullopt;
}

/* 100% == UINT32_MAX, rounded to nearest, as the Scale properties expect. */
uint32_t scaleFromPermyriad(uint64_t permyriad)
{
	permyriad = std::min<uint64_t>(permyriad, 10000);
	return static_cast<uint32_t>((permyriad * UINT32_MAX + 5000) / 10000);
}

std::optional<uint32_t> parseMode(std::string_view v)
{
	auto mode = parseInteger<uint32_t>(v, 8);
	if (!mode || *mode > 07777)
		return std::nullopt;
	return mode;
}

std::optional<int> parseErrno(std::string_view v)
{
	if (auto n = parseInteger<int>(v); n)
		return (*n >= 0 && *n <= 4095) ? n : std::nullopt;
	for (int e = 1; e <= 4095; e++) {
		const char *errName = strerrorname_np(e);
		if (errName && v == errName)
			return e;
	}
	return std::nullopt;
}

std::optional<int> parseCapability(std::string_view v)
{
	if (auto n = parseInteger<int>(v); n)
		return (*n >= 0 && *n < 64) ? n : std::nullopt;
	if (int cap = capabilityNumber(v); cap >= 0)
		return cap;
	return std::nullopt;
}

struct NamespaceFlag {
	std::string_view name;
	uint64_t flag;
};

/* systemd 252's NAMESPACE_FLAGS_ALL: no time namespace yet. */
constexpr std::array<NamespaceFlag, 7> kNamespaces = { {
    { "cgroup", CLONE_NEWCGROUP },
    { "ipc", CLONE_NEWIPC },
    { "net", CLONE_NEWNET },
    { "mnt", CLONE_NEWNS },
    { "pid", CLONE_NEWPID },
    { "user", CLONE_NEWUSER },
    { "uts", CLONE_NEWUTS },
} };

constexpr uint64_t kNamespacesAll =
    CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUSER | CLONE_NEWUTS;

std::optional<int> parseExitStatus(std::string_view v)
{
	if (auto n = parseInteger<int>(v); n)
		return (*n >= 0 && *n <= 255) ? n : std::nullopt;
	/* The LSB names (systemd.exec(5), "Process Exit Codes"). */
	static const std::array<std::pair<std::string_view, int>, 8> names = { {
	    { "SUCCESS", 0 },
	    { "FAILURE", 1 },
	    { "INVALIDARGUMENT", 2 },
	    { "NOTIMPLEMENTED", 3 },
	    { "NOPERMISSION", 4 },
	    { "NOTINSTALLED", 5 },
	    { "NOTCONFIGURED", 6 },
	    { "NOTRUNNING", 7 },
	} };
	for (const auto &[name, status] : names)
		if (v == name)
			return status;
	return std::nullopt;
}

/*
 * Appending. Each helper returns a negative errno from sd-bus or >= 0.
 */

int openProperty(sd_bus_message *m, const std::string &name, const char *signature)
{
	int r = sd_bus_message_open_container(m, 'r', "sv");
	if (r < 0)
		return r;
	r = sd_bus_message_append_basic(m, 's', name.c_str());
	if (r < 0)
		return r;
	return sd_bus_message_open_container(m, 'v', signature);
}

int closeProperty(sd_bus_message *m)
{
	int r = sd_bus_message_close_container(m);
	if (r < 0)
		return r;
	return sd_bus_message_close_container(m);
}

/* "(sv)" with a basic type: type is one of "s", "b", "t", "u", "i", "x". */
template <typename T>
Status appendBasic(sd_bus_message *m, std::string_view name, char type, T value)
{
	std::string n(name);
	const char signature[2] = { type, '\0' };
	int r = openProperty(m, n, signature);
	if (r >= 0)
		r = sd_bus_message_append_basic(m, type, &value);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

Status appendString(sd_bus_message *m, std::string_view name, std::string_view value)
{
	std::string v(value);
	std::string n(name);
	int r = openProperty(m, n, "s");
	if (r >= 0)
		r = sd_bus_message_append_basic(m, 's', v.c_str());
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

Status appendStrv(sd_bus_message *m, std::string_view name, const std::vector<std::string> &words)
{
	std::string n(name);
	int r = openProperty(m, n, "as");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "s");
	for (const auto &w : words) {
		if (r < 0)
			break;
		r = sd_bus_message_append_basic(m, 's', w.c_str());
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/*
 * Handlers: one per kind of value. Each parses `value` completely, then
 * appends. The name they receive is the unit-file name.
 */

using Handler = Status (*)(sd_bus_message *m, std::string_view name, std::string_view value);

Status handleString(sd_bus_message *m, std::string_view name, std::string_view value)
{
	return appendString(m, name, value);
}

Status handleBoolean(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto b = parseBoolean(value);
	if (!b)
		return invalid(name, value, "a boolean (yes, no, true, false, 1, 0, on, off)");
	return appendBasic<int>(m, name, 'b', *b ? 1 : 0);
}

/* An enumerated string, checked here so the error names the choices. */
template <const auto &Choices, bool AcceptBoolean>
Status handleEnum(sd_bus_message *m, std::string_view name, std::string_view value)
{
	constexpr size_t N = std::size(Choices);
	bool ok = AcceptBoolean && parseBoolean(value).has_value();
	for (size_t i = 0; !ok && i < N; i++)
		ok = value == Choices[i];
	if (!ok) {
		std::string expected = "one of ";
		for (size_t i = 0; i < N; i++) {
			if (i)
				expected += ", ";
			expected += Choices[i];
		}
		if (AcceptBoolean)
			expected += ", or a boolean";
		return invalid(name, value, expected);
	}
	return appendString(m, name, value);
}

constexpr std::string_view kProtectSystem[] = { "full", "strict" };
constexpr std::string_view kProtectHome[] = { "read-only", "tmpfs" };
constexpr std::string_view kProtectProc[] = { "default", "noaccess", "invisible", "ptraceable" };
constexpr std::string_view kProcSubset[] = { "all", "pid" };
constexpr std::string_view kKeyringMode[] = { "inherit", "private", "shared" };
constexpr std::string_view kDevicePolicy[] = { "auto", "closed", "strict" };
constexpr std::string_view kCollectMode[] = { "inactive", "inactive-or-failed" };
constexpr std::string_view kKillMode[] = { "control-group", "mixed", "process", "none" };
constexpr std::string_view kServiceType[] = { "simple", "exec", "forking", "oneshot", "dbus", "notify", "idle" };
constexpr std::string_view kExitType[] = { "main", "cgroup" };
constexpr std::string_view kRestart[] = { "no",		 "on-success", "on-failure", "on-abnormal",
					  "on-watchdog", "on-abort",   "always" };
constexpr std::string_view kNotifyAccess[] = { "none", "main", "exec", "all" };
constexpr std::string_view kOOMPolicy[] = { "continue", "stop", "kill" };
constexpr std::string_view kTimeoutFailureMode[] = { "terminate", "abort", "kill" };

Status handleSlice(sd_bus_message *m, std::string_view name, std::string_view value)
{
	if (!endsWith(value, ".slice") || value.size() <= 6 || value.find('/') != std::string_view::npos)
		return invalid(name, value, "a slice unit name (\"name.slice\")");
	return appendString(m, name, value);
}

Status handleStrv(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto words = splitWords(value, false);
	if (!words)
		return invalid(name, value, "a space-separated list (with matching quotes)");
	return appendStrv(m, name, *words);
}

Status handlePathList(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto words = splitWords(value, false);
	if (!words)
		return invalid(name, value, "a space-separated list of absolute paths");
	for (const auto &w : *words) {
		/* '-' (ignore if missing) and '+' (relative to RootDirectory=) stay: systemd reads them. */
		std::string_view p = w;
		while (!p.empty() && (p[0] == '-' || p[0] == '+'))
			p.remove_prefix(1);
		if (p.empty() || p[0] != '/')
			return invalid(name, value, "a space-separated list of absolute paths");
	}
	return appendStrv(m, name, *words);
}

Status handleEnvironment(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto words = splitWords(value, true);
	if (!words)
		return invalid(name, value, "space-separated VAR=value assignments (with matching quotes)");
	if (name == "Environment") {
		for (const auto &w : *words) {
			auto eq = w.find('=');
			if (eq == std::string::npos || eq == 0)
				return invalid(name, value, "space-separated VAR=value assignments");
		}
	}
	return appendStrv(m, name, *words);
}

/* RuntimeDirectory=, StateDirectory=, ...: relative names; the "src:dst" symlink form is not supported. */
Status handleDirectoryList(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto words = splitWords(value, false);
	if (!words)
		return invalid(name, value, "a space-separated list of relative directory names");
	for (const auto &w : *words) {
		if (w.empty() || w[0] == '/' || w.find(':') != std::string::npos || w.find("..") != std::string::npos)
			return invalid(name, value, "a space-separated list of relative directory names");
	}
	return appendStrv(m, name, *words);
}

Status handleMode(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto mode = parseMode(value);
	if (!mode)
		return invalid(name, value, "an octal access mode (e.g. 0755)");
	return appendBasic<uint32_t>(m, name, 'u', *mode);
}

Status handleUnsigned(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto n = parseInteger<uint32_t>(value);
	if (!n)
		return invalid(name, value, "an unsigned integer");
	return appendBasic<uint32_t>(m, name, 'u', *n);
}

/* "FooSec" is sent as "FooUSec" (microseconds). */
Status handleSecRename(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto usec = parseTimespan(value, 1000000);
	if (!usec)
		return invalid(name, value, "a time span (e.g. 90, 5s, 1min 30s, infinity)");
	std::string busName = std::string(name.substr(0, name.size() - 3)) + "USec";
	return appendBasic<uint64_t>(m, busName, 't', *usec);
}

/* The bus names themselves ("TimeoutStopUSec"): a bare number is microseconds. */
Status handleUSec(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto usec = parseTimespan(value, 1);
	if (!usec)
		return invalid(name, value, "microseconds or a time span with a unit (e.g. 5000000, 5s, infinity)");
	return appendBasic<uint64_t>(m, name, 't', *usec);
}

/* TimeoutSec= sets both TimeoutStartUSec and TimeoutStopUSec. */
Status handleTimeoutSec(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto usec = parseTimespan(value, 1000000);
	if (!usec)
		return invalid(name, value, "a time span (e.g. 90, 5s, 1min 30s, infinity)");
	auto r = appendBasic<uint64_t>(m, "TimeoutStartUSec", 't', *usec);
	if (!r)
		return r;
	return appendBasic<uint64_t>(m, "TimeoutStopUSec", 't', *usec);
}

Status handleSignal(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto sig = parseSignal(value);
	if (!sig)
		return invalid(name, value, "a signal name or number (e.g. SIGTERM, TERM, 15, SIGRTMIN+4)");
	return appendBasic<int32_t>(m, name, 'i', *sig);
}

Status handleSyscallErrorNumber(sd_bus_message *m, std::string_view name, std::string_view value)
{
	/* systemd 252: "kill" is SECCOMP_ERROR_NUMBER_KILL (INT_MAX - 1); "log" came later. */
	std::optional<int> e = value == "kill" ? std::optional<int>(INT_MAX - 1) : parseErrno(value);
	if (!e)
		return invalid(name, value, "an errno name or number (e.g. EPERM, 1) or \"kill\"");
	return appendBasic<int32_t>(m, name, 'i', *e);
}

Status handleRangedInt(sd_bus_message *m, std::string_view name, std::string_view value, int min, int max)
{
	auto n = parseInteger<int>(value);
	if (!n || *n < min || *n > max)
		return invalid(name, value, fmt::format("an integer from {} to {}", min, max));
	return appendBasic<int32_t>(m, name, 'i', *n);
}

Status handleOOMScoreAdjust(sd_bus_message *m, std::string_view name, std::string_view value)
{
	return handleRangedInt(m, name, value, -1000, 1000);
}

Status handleNice(sd_bus_message *m, std::string_view name, std::string_view value)
{
	return handleRangedInt(m, name, value, -20, 19);
}

Status handleMountFlags(sd_bus_message *m, std::string_view name, std::string_view value)
{
	uint64_t flags;
	if (value == "shared")
		flags = MS_SHARED;
	else if (value == "slave")
		flags = MS_SLAVE;
	else if (value == "private")
		flags = MS_PRIVATE;
	else if (value.empty())
		flags = 0;
	else
		return invalid(name, value, "one of shared, slave, private");
	return appendBasic<uint64_t>(m, name, 't', flags);
}

/*
 * Limit*=: "value" or "soft:hard", each a number, a size or "infinity".
 * Sent as LimitX (hard) and LimitXSoft (soft), as systemd does.
 */
enum class LimitKind {
	Size,	 /* bytes, with K/M/G... suffixes */
	Number,	 /* a count */
	Seconds, /* LimitCPU: a time span, rounded up to seconds */
	USec,	 /* LimitRTTIME: a time span in microseconds */
	Nice,	 /* LimitNICE: raw 0..40, or a nice level with an explicit sign */
};

LimitKind limitKind(std::string_view resource)
{
	if (resource == "CPU")
		return LimitKind::Seconds;
	if (resource == "RTTIME")
		return LimitKind::USec;
	if (resource == "NICE")
		return LimitKind::Nice;
	for (std::string_view s : { "FSIZE", "DATA", "STACK", "CORE", "RSS", "AS", "MEMLOCK", "MSGQUEUE" })
		if (resource == s)
			return LimitKind::Size;
	return LimitKind::Number;
}

std::optional<uint64_t> parseLimitValue(LimitKind kind, std::string_view v)
{
	if (v == "infinity")
		return kInfinity;
	switch (kind) {
	case LimitKind::Size:
		return parseSize(v);
	case LimitKind::Number:
		return parseInteger<uint64_t>(v);
	case LimitKind::Seconds: {
		auto usec = parseTimespan(v, 1000000);
		if (!usec)
			return std::nullopt;
		return *usec == kInfinity ? kInfinity : (*usec + 999999) / 1000000;
	}
	case LimitKind::USec:
		return parseTimespan(v, 1);
	case LimitKind::Nice: {
		if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
			auto n = parseInteger<uint64_t>(v.substr(1));
			if (!n)
				return std::nullopt;
			if (v[0] == '+')
				return *n <= 19 ? std::optional<uint64_t>(20 - *n) : std::nullopt;
			return *n <= 20 ? std::optional<uint64_t>(20 + *n) : std::nullopt;
		}
		auto n = parseInteger<uint64_t>(v);
		return (n && *n <= 40) ? n : std::nullopt;
	}
	}
	return std::nullopt;
}

Status handleLimit(sd_bus_message *m, std::string_view name, std::string_view value)
{
	LimitKind kind = limitKind(name.substr(5));
	std::string_view expected;
	switch (kind) {
	case LimitKind::Size:
		expected = "a size in bytes (K, M, G suffixes allowed), \"infinity\", or soft:hard";
		break;
	case LimitKind::Number:
		expected = "a number, \"infinity\", or soft:hard";
		break;
	case LimitKind::Seconds:
	case LimitKind::USec:
		expected = "a time span, \"infinity\", or soft:hard";
		break;
	case LimitKind::Nice:
		expected = "a raw limit 0..40, a nice level -20..19 with its sign, \"infinity\", or soft:hard";
		break;
	}

	auto colon = value.find(':');
	std::optional<uint64_t> soft, hard;
	if (colon == std::string_view::npos) {
		soft = hard = parseLimitValue(kind, value);
	} else {
		soft = parseLimitValue(kind, value.substr(0, colon));
		hard = parseLimitValue(kind, value.substr(colon + 1));
	}
	if (!soft || !hard)
		return invalid(name, value, expected);
	if (*soft > *hard)
		return invalid(name, value, "a soft limit not above the hard limit");

	auto r = appendBasic<uint64_t>(m, name, 't', *hard);
	if (!r)
		return r;
	return appendBasic<uint64_t>(m, std::string(name) + "Soft", 't', *soft);
}

/* MemoryMax= and friends, TasksMax=: a value, a percentage (sent as <Name>Scale), or infinity. */
Status handleCgroupLimit(sd_bus_message *m, std::string_view name, std::string_view value)
{
	bool tasks = name == "TasksMax";
	if (value == "infinity")
		return appendBasic<uint64_t>(m, name, 't', kInfinity);
	if (value.empty()) {
		bool low = name == "MemoryLow" || name == "MemoryMin";
		return appendBasic<uint64_t>(m, name, 't', low ? 0 : kInfinity);
	}
	if (auto p = parsePermyriad(value); p)
		return appendBasic<uint32_t>(m, std::string(name) + "Scale", 'u', scaleFromPermyriad(*p));
	auto v = tasks ? parseInteger<uint64_t>(value) : parseSize(value);
	if (!v) {
		return invalid(name, value,
			       tasks ? "a number of tasks, a percentage, or \"infinity\""
				     : "a size in bytes (K, M, G, T suffixes allowed), a percentage, or \"infinity\"");
	}
	return appendBasic<uint64_t>(m, name, 't', *v);
}

/* CPUWeight=, StartupCPUWeight= (1..10000 or "idle"), IOWeight=, StartupIOWeight= (1..10000). */
Status handleWeight(sd_bus_message *m, std::string_view name, std::string_view value)
{
	bool cpu = name == "CPUWeight" || name == "StartupCPUWeight";
	uint64_t weight;
	if (value.empty())
		weight = kInfinity; /* unset */
	else if (cpu && value == "idle")
		weight = 0;
	else {
		auto n = parseInteger<uint64_t>(value);
		if (!n || *n < 1 || *n > 10000)
			return invalid(name, value,
				       cpu ? "a weight from 1 to 10000 or \"idle\"" : "a weight from 1 to 10000");
		weight = *n;
	}
	return appendBasic<uint64_t>(m, name, 't', weight);
}

Status handleCPUQuota(sd_bus_message *m, std::string_view name, std::string_view value)
{
	uint64_t usec = kInfinity;
	if (!value.empty()) {
		auto p = parsePermyriad(value, true);
		if (!p || *p == 0)
			return invalid(name, value, "a percentage above 0% (e.g. 50%, 200%)");
		usec = *p * 1000000 / 10000;
	}
	return appendBasic<uint64_t>(m, "CPUQuotaPerSecUSec", 't', usec);
}

/* CapabilityBoundingSet=, AmbientCapabilities=: "t", '~' inverts. Unknown names are an error. */
Status handleCapabilities(sd_bus_message *m, std::string_view name, std::string_view value)
{
	std::string_view p = value;
	bool invert = !p.empty() && p[0] == '~';
	if (invert)
		p.remove_prefix(1);
	auto words = splitWords(p, false);
	if (!words)
		return invalid(name, value, "a space-separated list of capability names (e.g. CAP_SETUID)");
	uint64_t mask = 0;
	for (const auto &w : *words) {
		auto cap = parseCapability(w);
		if (!cap)
			return invalid(name, value,
				       fmt::format("a space-separated list of capability names ('{}' is none)", w));
		mask |= uint64_t(1) << *cap;
	}
	return appendBasic<uint64_t>(m, name, 't', invert ? ~mask : mask);
}

/* SystemCallFilter=, RestrictAddressFamilies=, ...: "(bas)", '~' makes it a deny list. */
Status handleAllowDenyList(sd_bus_message *m, std::string_view name, std::string_view value)
{
	std::string_view p = value;
	int allowList = 1;
	if (!p.empty() && p[0] == '~') {
		allowList = 0;
		p.remove_prefix(1);
	}
	auto words = splitWords(p, false);
	if (!words)
		return invalid(name, value, "a space-separated list, optionally starting with '~'");
	for (const auto &w : *words)
		if (w.empty())
			return invalid(name, value, "a space-separated list, optionally starting with '~'");

	std::string n(name);
	int r = openProperty(m, n, "(bas)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "bas");
	if (r >= 0)
		r = sd_bus_message_append_basic(m, 'b', &allowList);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "s");
	for (const auto &w : *words) {
		if (r < 0)
			break;
		r = sd_bus_message_append_basic(m, 's', w.c_str());
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/* RestrictNamespaces=: "t" = the namespaces that stay *allowed*: yes -> 0, no -> all. */
Status handleRestrictNamespaces(sd_bus_message *m, std::string_view name, std::string_view value)
{
	uint64_t allowed;
	if (auto b = parseBoolean(value); b) {
		allowed = *b ? 0 : kNamespacesAll;
	} else {
		std::string_view p = value;
		bool invert = !p.empty() && p[0] == '~';
		if (invert)
			p.remove_prefix(1);
		auto words = splitWords(p, false);
		if (!words || words->empty())
			return invalid(name, value,
				       "a boolean or a space-separated list of cgroup, ipc, net, mnt, pid, user, uts "
				       "(optionally starting with '~')");
		allowed = 0;
		for (const auto &w : *words) {
			auto it = std::find_if(kNamespaces.begin(), kNamespaces.end(),
					       [&](const NamespaceFlag &f) { return f.name == w; });
			if (it == kNamespaces.end())
				return invalid(name, value,
					       "a boolean or a space-separated list of cgroup, ipc, net, mnt, pid, "
					       "user, uts (optionally starting with '~')");
			allowed |= it->flag;
		}
		if (invert)
			allowed = ~allowed & kNamespacesAll;
	}
	return appendBasic<uint64_t>(m, name, 't', allowed);
}

struct BindPath {
	std::string source;
	std::string destination;
	int ignoreMissing;
	uint64_t flags;
};

/* BindPaths=, BindReadOnlyPaths=: "[-]src[:dst[:rbind|norbind]]" ... -> "a(ssbt)". */
Status handleBindPaths(sd_bus_message *m, std::string_view name, std::string_view value)
{
	static constexpr std::string_view expected =
	    "space-separated [-]SOURCE[:DESTINATION[:rbind|norbind]] with absolute paths";
	auto words = splitWords(value, false);
	if (!words)
		return invalid(name, value, expected);

	std::vector<BindPath> binds;
	for (const auto &w : *words) {
		std::vector<std::string> parts;
		size_t start = 0;
		while (true) {
			auto colon = w.find(':', start);
			parts.push_back(
			    w.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
			if (colon == std::string::npos)
				break;
			start = colon + 1;
		}
		if (parts.size() > 3)
			return invalid(name, value, expected);

		BindPath b;
		b.ignoreMissing = 0;
		b.flags = MS_REC;
		std::string_view src = parts[0];
		if (!src.empty() && src[0] == '-') {
			b.ignoreMissing = 1;
			src.remove_prefix(1);
		}
		b.source = std::string(src);
		b.destination = parts.size() >= 2 ? parts[1] : b.source;
		if (parts.size() == 3) {
			if (parts[2] == "norbind")
				b.flags = 0;
			else if (!parts[2].empty() && parts[2] != "rbind")
				return invalid(name, value, expected);
		}
		if (b.source.empty() || b.source[0] != '/' || b.destination.empty() || b.destination[0] != '/')
			return invalid(name, value, expected);
		binds.push_back(std::move(b));
	}

	std::string n(name);
	int r = openProperty(m, n, "a(ssbt)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(ssbt)");
	for (const auto &b : binds) {
		if (r < 0)
			break;
		r = sd_bus_message_append(m, "(ssbt)", b.source.c_str(), b.destination.c_str(), b.ignoreMissing,
					  b.flags);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/* DeviceAllow=: "path [rwm]" -> "a(ss)" with one entry; empty -> no entries (reset). */
Status handleDeviceAllow(sd_bus_message *m, std::string_view name, std::string_view value)
{
	std::string n(name);
	int r;
	if (value.empty()) {
		r = openProperty(m, n, "a(ss)");
		if (r >= 0)
			r = sd_bus_message_open_container(m, 'a', "(ss)");
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	} else {
		auto space = value.find(' ');
		std::string path(value.substr(0, space));
		std::string rwm(space == std::string_view::npos ? std::string_view() : value.substr(space + 1));
		bool pathOk = startsWith(path, "/dev/") || startsWith(path, "block-") || startsWith(path, "char-");
		bool rwmOk = rwm.find_first_not_of("rwm") == std::string::npos;
		if (!pathOk || !rwmOk)
			return invalid(name, value,
				       "a device node path (/dev/...), block-NAME or char-NAME, "
				       "then optional access flags from \"rwm\"");
		r = openProperty(m, n, "a(ss)");
		if (r >= 0)
			r = sd_bus_message_append(m, "a(ss)", 1, path.c_str(), rwm.c_str());
	}
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

struct IPPrefix {
	int family;
	std::array<uint8_t, 16> address;
	uint32_t prefixLength;
};

std::optional<IPPrefix> parseIPPrefix(std::string_view word)
{
	IPPrefix p{};
	std::string addr(word.substr(0, word.find('/')));
	std::optional<uint32_t> length;
	if (auto slash = word.find('/'); slash != std::string_view::npos) {
		length = parseInteger<uint32_t>(word.substr(slash + 1));
		if (!length)
			return std::nullopt;
	}
	if (inet_pton(AF_INET, addr.c_str(), p.address.data()) == 1) {
		p.family = AF_INET;
		p.prefixLength = length.value_or(32);
		if (p.prefixLength > 32)
			return std::nullopt;
	} else if (inet_pton(AF_INET6, addr.c_str(), p.address.data()) == 1) {
		p.family = AF_INET6;
		p.prefixLength = length.value_or(128);
		if (p.prefixLength > 128)
			return std::nullopt;
	} else {
		return std::nullopt;
	}
	return p;
}

IPPrefix ipv4Prefix(uint32_t hostOrder, uint32_t length)
{
	IPPrefix p{};
	p.family = AF_INET;
	uint32_t be = htonl(hostOrder);
	std::memcpy(p.address.data(), &be, 4);
	p.prefixLength = length;
	return p;
}

IPPrefix ipv6Prefix(std::initializer_list<uint8_t> leading, uint32_t length)
{
	IPPrefix p{};
	p.family = AF_INET6;
	std::copy(leading.begin(), leading.end(), p.address.begin());
	p.prefixLength = length;
	return p;
}

/* The shortcuts systemd knows: each stands for an IPv4 and an IPv6 prefix. */
bool ipKeyword(std::string_view word, std::vector<IPPrefix> &out)
{
	if (word == "any") {
		out.push_back(ipv4Prefix(0, 0));
		out.push_back(ipv6Prefix({}, 0));
	} else if (word == "localhost") {
		out.push_back(ipv4Prefix(0x7f000000, 8));
		IPPrefix lo = ipv6Prefix({}, 128);
		lo.address[15] = 1;
		out.push_back(lo);
	} else if (word == "link-local") {
		out.push_back(ipv4Prefix(0xa9fe0000, 16));
		out.push_back(ipv6Prefix({ 0xfe, 0x80 }, 64));
	} else if (word == "multicast") {
		out.push_back(ipv4Prefix(0xe0000000, 4));
		out.push_back(ipv6Prefix({ 0xff }, 8));
	} else {
		return false;
	}
	return true;
}

/*
 * IPAddressAllow=, IPAddressDeny=: addresses, prefixes and the shortcuts any,
 * localhost, link-local, multicast -> "a(iayu)". Like a unit file (and unlike
 * systemd-run 252, which takes a shortcut only as the whole value) shortcuts
 * may be mixed with addresses.
 */
Status handleIPAddressAccess(sd_bus_message *m, std::string_view name, std::string_view value)
{
	static constexpr std::string_view expected =
	    "any, localhost, link-local, multicast, or IP addresses/prefixes (e.g. 10.0.0.0/8 ::1)";
	std::vector<IPPrefix> prefixes;
	auto words = splitWords(value, false);
	if (!words)
		return invalid(name, value, expected);
	for (const auto &w : *words) {
		if (ipKeyword(w, prefixes))
			continue;
		auto p = parseIPPrefix(w);
		if (!p)
			return invalid(name, value, expected);
		prefixes.push_back(*p);
	}

	std::string n(name);
	int r = openProperty(m, n, "a(iayu)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(iayu)");
	for (const auto &p : prefixes) {
		if (r < 0)
			break;
		r = sd_bus_message_open_container(m, 'r', "iayu");
		int32_t family = p.family;
		if (r >= 0)
			r = sd_bus_message_append_basic(m, 'i', &family);
		if (r >= 0)
			r = sd_bus_message_append_array(m, 'y', p.address.data(), p.family == AF_INET ? 4 : 16);
		if (r >= 0)
			r = sd_bus_message_append_basic(m, 'u', &p.prefixLength);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/* SuccessExitStatus= and friends: exit codes and signal names -> "(aiai)". */
Status handleExitStatusSet(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto words = splitWords(value, false);
	if (!words)
		return invalid(name, value, "exit codes (0..255) and signal names");
	std::vector<int32_t> statuses, signals;
	for (const auto &w : *words) {
		if (auto s = parseExitStatus(w); s)
			statuses.push_back(*s);
		else if (auto sig = parseSignal(w); sig)
			signals.push_back(*sig);
		else
			return invalid(name, value,
				       fmt::format("exit codes (0..255) and signal names ('{}' is neither)", w));
	}

	std::string n(name);
	int r = openProperty(m, n, "(aiai)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "aiai");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'i', statuses.data(), statuses.size() * sizeof(int32_t));
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'i', signals.data(), signals.size() * sizeof(int32_t));
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/* LogExtraFields=: one "FIELD=value" as "aay" with one element. */
Status handleLogExtraFields(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto eq = value.find('=');
	bool ok = eq != std::string_view::npos && eq > 0;
	for (size_t i = 0; ok && i < eq; i++) {
		char c = value[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '_' && i > 0);
	}
	if (!ok)
		return invalid(name, value, "FIELD=value with an upper-case journal field name");

	std::string n(name);
	int r = openProperty(m, n, "aay");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "ay");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', value.data(), value.size());
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/*
 * Exec*=: "[prefixes]program args...", quoted and C-escaped as in unit files.
 * '-' alone keeps the "a(sasb)" form; ':', '+', '!' and '!!' need the "Ex"
 * form "a(sasas)", to which the property is upgraded as systemd-run does.
 */
enum ExecFlag : unsigned {
	IgnoreFailure = 1u << 0,
	FullyPrivileged = 1u << 1,
	NoSetuid = 1u << 2,
	AmbientMagic = 1u << 3,
	NoEnvExpand = 1u << 4,
};

int appendExecCommand(sd_bus_message *m, const std::string &busName, bool ex, const std::string *path,
		      const std::vector<std::string> &argv, unsigned flags)
{
	int r = openProperty(m, busName, ex ? "a(sasas)" : "a(sasb)");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', ex ? "(sasas)" : "(sasb)");
	if (r >= 0 && !argv.empty()) {
		r = sd_bus_message_open_container(m, 'r', ex ? "sasas" : "sasb");
		if (r >= 0)
			r = sd_bus_message_append_basic(m, 's', path ? path->c_str() : argv[0].c_str());
		if (r >= 0)
			r = sd_bus_message_open_container(m, 'a', "s");
		for (const auto &a : argv) {
			if (r < 0)
				break;
			r = sd_bus_message_append_basic(m, 's', a.c_str());
		}
		if (r >= 0)
			r = sd_bus_message_close_container(m);
		if (r >= 0) {
			if (ex) {
				static const std::array<std::pair<unsigned, const char *>, 5> names = { {
				    { IgnoreFailure, "ignore-failure" },
				    { FullyPrivileged, "privileged" },
				    { NoSetuid, "no-setuid" },
				    { AmbientMagic, "ambient" },
				    { NoEnvExpand, "no-env-expand" },
				} };
				r = sd_bus_message_open_container(m, 'a', "s");
				for (const auto &[bit, flagName] : names) {
					if (r >= 0 && (flags & bit))
						r = sd_bus_message_append_basic(m, 's', flagName);
				}
				if (r >= 0)
					r = sd_bus_message_close_container(m);
			} else {
				int ignore = (flags & IgnoreFailure) ? 1 : 0;
				r = sd_bus_message_append_basic(m, 'b', &ignore);
			}
		}
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = closeProperty(m);
	return r;
}

Status handleExec(sd_bus_message *m, std::string_view name, std::string_view value)
{
	bool ex = endsWith(name, "Ex");
	unsigned flags = 0;
	bool explicitPath = false;
	std::string_view p = value;

	for (bool done = false; !done && !p.empty();) {
		switch (p[0]) {
		case '-':
			done = flags & IgnoreFailure;
			flags |= IgnoreFailure;
			break;
		case '@':
			done = explicitPath;
			explicitPath = true;
			break;
		case ':':
			done = flags & NoEnvExpand;
			flags |= NoEnvExpand;
			break;
		case '+':
			done = flags & (FullyPrivileged | NoSetuid | AmbientMagic);
			flags |= FullyPrivileged;
			break;
		case '!':
			if (flags & (FullyPrivileged | AmbientMagic))
				done = true;
			else if (flags & NoSetuid)
				flags = (flags & ~NoSetuid) | AmbientMagic;
			else
				flags |= NoSetuid;
			break;
		default:
			done = true;
			break;
		}
		if (!done)
			p.remove_prefix(1);
	}

	auto words = splitWords(p, true);
	if (!words)
		return invalid(name, value, "a command line (program and arguments, with matching quotes)");
	std::optional<std::string> path;
	if (explicitPath) {
		if (words->empty())
			return invalid(name, value, "a program path after '@'");
		path = (*words)[0];
		words->erase(words->begin());
	}
	if (!words->empty() && (*words)[0].empty() && !path)
		return invalid(name, value, "a command line (program and arguments)");

	std::string busName(name);
	if (!ex && (flags & ~unsigned(IgnoreFailure))) {
		ex = true;
		busName += "Ex";
	}
	int r = appendExecCommand(m, busName, ex, path ? &*path : nullptr, *words, flags);
	if (r < 0)
		return appendFailed(r, name);
	return success();
}

/* StandardInput=, StandardOutput=, StandardError=. */
const char *streamName(StdStream stream)
{
	switch (stream) {
	case StdStream::Input:
		return "StandardInput";
	case StdStream::Output:
		return "StandardOutput";
	case StdStream::Error:
		return "StandardError";
	}
	return "StandardOutput";
}

Status handleStandardStream(sd_bus_message *m, std::string_view name, std::string_view value)
{
	static const std::array<std::pair<std::string_view, std::string_view>, 4> prefixed = { {
	    { "fd:", "FileDescriptorName" },
	    { "file:", "File" },
	    { "append:", "FileToAppend" },
	    { "truncate:", "FileToTruncate" },
	} };
	bool input = name == "StandardInput";
	for (const auto &[prefix, suffix] : prefixed) {
		if (!startsWith(value, prefix))
			continue;
		std::string_view arg = value.substr(prefix.size());
		if (input && prefix != "fd:" && prefix != "file:")
			return invalid(name, value,
				       "null, tty, tty-force, tty-fail, data, socket, file:PATH or fd:NAME");
		if (prefix != "fd:" && (arg.empty() || arg[0] != '/'))
			return invalid(name, value, fmt::format("an absolute path after '{}'", prefix));
		return appendString(m, std::string(name) + std::string(suffix), arg);
	}

	static constexpr std::string_view inputs[] = { "null", "tty", "tty-force", "tty-fail", "data", "socket" };
	static constexpr std::string_view outputs[] = { "inherit",	 "null",   "tty",
							"journal",	 "kmsg",   "journal+console",
							"kmsg+console",	 "socket", "syslog",
							"syslog+console" };
	bool ok = false;
	if (input)
		ok = std::find(std::begin(inputs), std::end(inputs), value) != std::end(inputs);
	else
		ok = std::find(std::begin(outputs), std::end(outputs), value) != std::end(outputs);
	if (!ok) {
		return invalid(name, value,
			       input ? "null, tty, tty-force, tty-fail, data, socket, file:PATH or fd:NAME"
				     : "inherit, null, tty, journal, kmsg, journal+console, kmsg+console, socket, "
				       "file:PATH, append:PATH, truncate:PATH or fd:NAME");
	}
	return appendString(m, name, value);
}

Status handleDelegate(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto b = parseBoolean(value);
	if (!b)
		return invalid(name, value, "a boolean (controller lists are not supported)");
	return appendBasic<int>(m, name, 'b', *b ? 1 : 0);
}

const std::unordered_map<std::string_view, Handler> &handlers()
{
	static const std::unordered_map<std::string_view, Handler> table = [] {
		std::unordered_map<std::string_view, Handler> t;
		auto add = [&t](std::initializer_list<std::string_view> names, Handler h) {
			for (auto n : names)
				t.emplace(n, h);
		};

		/* [Unit] */
		add({ "Description", "SourcePath", "OnFailureJobMode", "JobTimeoutAction", "StartLimitAction",
		      "FailureAction", "SuccessAction" },
		    handleString);
		add({ "CollectMode" }, handleEnum<kCollectMode, false>);
		add({ "StopWhenUnneeded", "RefuseManualStart", "RefuseManualStop", "DefaultDependencies", "AddRef" },
		    handleBoolean);
		add({ "JobTimeoutSec", "JobRunningTimeoutSec", "StartLimitIntervalSec" }, handleSecRename);
		add({ "StartLimitBurst" }, handleUnsigned);
		add({ "After", "Before", "Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Conflicts", "Upholds",
		      "OnFailure", "OnSuccess", "PropagatesReloadTo", "ReloadPropagatedFrom", "JoinsNamespaceOf",
		      "Documentation" },
		    handleStrv);
		add({ "RequiresMountsFor" }, handlePathList);

		/* [Service] */
		add({ "Type" }, handleEnum<kServiceType, false>);
		add({ "ExitType" }, handleEnum<kExitType, false>);
		add({ "Restart" }, handleEnum<kRestart, false>);
		add({ "NotifyAccess" }, handleEnum<kNotifyAccess, false>);
		add({ "OOMPolicy" }, handleEnum<kOOMPolicy, false>);
		add({ "TimeoutStartFailureMode", "TimeoutStopFailureMode" }, handleEnum<kTimeoutFailureMode, false>);
		add({ "PIDFile", "BusName" }, handleString);
		add({ "RemainAfterExit", "GuessMainPID", "RootDirectoryStartOnly" }, handleBoolean);
		add({ "TimeoutStartSec", "TimeoutStopSec", "TimeoutAbortSec", "RestartSec", "RuntimeMaxSec",
		      "RuntimeRandomizedExtraSec", "WatchdogSec" },
		    handleSecRename);
		add({ "TimeoutStartUSec", "TimeoutStopUSec", "TimeoutAbortUSec", "RestartUSec", "RuntimeMaxUSec",
		      "RuntimeRandomizedExtraUSec", "WatchdogUSec", "LogRateLimitIntervalUSec" },
		    handleUSec);
		add({ "TimeoutSec" }, handleTimeoutSec);
		add({ "FileDescriptorStoreMax" }, handleUnsigned);
		add({ "ExecCondition", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop",
		      "ExecStopPost", "ExecConditionEx", "ExecStartPreEx", "ExecStartEx", "ExecStartPostEx",
		      "ExecReloadEx", "ExecStopEx", "ExecStopPostEx" },
		    handleExec);
		add({ "SuccessExitStatus", "RestartPreventExitStatus", "RestartForceExitStatus" }, handleExitStatusSet);

		/* [Service] kill settings */
		add({ "KillMode" }, handleEnum<kKillMode, false>);
		add({ "SendSIGHUP", "SendSIGKILL" }, handleBoolean);
		add({ "KillSignal", "RestartKillSignal", "FinalKillSignal", "WatchdogSignal" }, handleSignal);

		/* [Service] exec settings */
		add({ "User", "Group", "WorkingDirectory", "RootDirectory", "SyslogIdentifier", "PAMName",
		      "UtmpIdentifier", "TTYPath", "NetworkNamespacePath", "IPCNamespacePath", "LogNamespace",
		      "Personality", "RuntimeDirectoryPreserve" },
		    handleString);
		add({ "ProtectSystem" }, handleEnum<kProtectSystem, true>);
		add({ "ProtectHome" }, handleEnum<kProtectHome, true>);
		add({ "ProtectProc" }, handleEnum<kProtectProc, false>);
		add({ "ProcSubset" }, handleEnum<kProcSubset, false>);
		add({ "KeyringMode" }, handleEnum<kKeyringMode, false>);
		add({ "IgnoreSIGPIPE",
		      "TTYVHangup",
		      "TTYReset",
		      "TTYVTDisallocate",
		      "PrivateTmp",
		      "PrivateDevices",
		      "PrivateNetwork",
		      "PrivateUsers",
		      "PrivateMounts",
		      "PrivateIPC",
		      "NoNewPrivileges",
		      "SyslogLevelPrefix",
		      "MemoryDenyWriteExecute",
		      "RestrictRealtime",
		      "DynamicUser",
		      "RemoveIPC",
		      "ProtectKernelTunables",
		      "ProtectKernelModules",
		      "ProtectKernelLogs",
		      "ProtectClock",
		      "ProtectControlGroups",
		      "MountAPIVFS",
		      "LockPersonality",
		      "ProtectHostname",
		      "RestrictSUIDSGID" },
		    handleBoolean);
		add({ "ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths", "ExecPaths", "NoExecPaths" },
		    handlePathList);
		add({ "SupplementaryGroups", "SystemCallArchitectures" }, handleStrv);
		add({ "Environment", "UnsetEnvironment", "PassEnvironment" }, handleEnvironment);
		add({ "RuntimeDirectory", "StateDirectory", "CacheDirectory", "LogsDirectory",
		      "ConfigurationDirectory" },
		    handleDirectoryList);
		add({ "RuntimeDirectoryMode", "StateDirectoryMode", "CacheDirectoryMode", "LogsDirectoryMode",
		      "ConfigurationDirectoryMode", "UMask" },
		    handleMode);
		add({ "LogRateLimitIntervalSec" }, handleSecRename);
		add({ "LogRateLimitBurst" }, handleUnsigned);
		add({ "LogExtraFields" }, handleLogExtraFields);
		add({ "StandardInput", "StandardOutput", "StandardError" }, handleStandardStream);
		add({ "SystemCallErrorNumber" }, handleSyscallErrorNumber);
		add({ "OOMScoreAdjust" }, handleOOMScoreAdjust);
		add({ "Nice" }, handleNice);
		add({ "MountFlags" }, handleMountFlags);
		add({ "LimitCPU", "LimitFSIZE", "LimitDATA", "LimitSTACK", "LimitCORE", "LimitRSS", "LimitNOFILE",
		      "LimitAS", "LimitNPROC", "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING", "LimitMSGQUEUE",
		      "LimitNICE", "LimitRTPRIO", "LimitRTTIME" },
		    handleLimit);
		add({ "CapabilityBoundingSet", "AmbientCapabilities" }, handleCapabilities);
		add({ "SystemCallFilter", "SystemCallLog", "RestrictAddressFamilies", "RestrictFileSystems",
		      "RestrictNetworkInterfaces" },
		    handleAllowDenyList);
		add({ "RestrictNamespaces" }, handleRestrictNamespaces);
		add({ "BindPaths", "BindReadOnlyPaths" }, handleBindPaths);

		/* resource control */
		add({ "Slice" }, handleSlice);
		add({ "DevicePolicy" }, handleEnum<kDevicePolicy, false>);
		add({ "CPUAccounting", "MemoryAccounting", "IOAccounting", "TasksAccounting", "IPAccounting" },
		    handleBoolean);
		add({ "Delegate" }, handleDelegate);
		add({ "MemoryMin", "MemoryLow", "MemoryHigh", "MemoryMax", "MemorySwapMax", "TasksMax" },
		    handleCgroupLimit);
		add({ "CPUWeight", "StartupCPUWeight", "IOWeight", "StartupIOWeight" }, handleWeight);
		add({ "CPUQuota" }, handleCPUQuota);
		add({ "DeviceAllow" }, handleDeviceAllow);
		add({ "IPAddressAllow", "IPAddressDeny" }, handleIPAddressAccess);
		return t;
	}();
	return table;
}

} /* namespace */

bool isKnownUnitProperty(std::string_view name)
{
	return handlers().count(name) > 0;
}

std::vector<std::string_view> knownUnitProperties()
{
	std::vector<std::string_view> names;
	for (const auto &entry : handlers())
		names.push_back(entry.first);
	std::sort(names.begin(), names.end());
	return names;
}

Status appendUnitProperty(sd_bus_message *m, std::string_view name, std::string_view value)
{
	auto it = handlers().find(name);
	if (it == handlers().end())
		return makeError(EINVAL, "Unknown unit property '{}'", name);
	return it->second(m, name, value);
}

Status appendUnitProperties(sd_bus_message *m, const UnitProperties &properties)
{
	for (const auto &[name, value] : properties) {
		auto r = appendUnitProperty(m, name, value);
		if (!r)
			return r;
	}
	return success();
}

Result<UnitProperty> parseUnitPropertyAssignment(std::string_view assignment)
{
	auto eq = assignment.find('=');
	if (eq == std::string_view::npos || eq == 0)
		return makeError(EINVAL, "Not a unit property assignment (Name=value): '{}'", assignment);
	return UnitProperty{ std::string(trim(assignment.substr(0, eq))), std::string(assignment.substr(eq + 1)) };
}

Status appendExecStart(sd_bus_message *m, const std::vector<std::string> &argv, bool ignoreFailure)
{
	if (argv.empty() || argv[0].empty())
		return makeError(EINVAL, "Invalid ExecStart=: the command line is empty");
	int r = appendExecCommand(m, "ExecStart", false, nullptr, argv, ignoreFailure ? unsigned(IgnoreFailure) : 0u);
	if (r < 0)
		return appendFailed(r, "ExecStart");
	return success();
}

Status appendStandardStream(sd_bus_message *m, StdStream stream, std::string_view value)
{
	return handleStandardStream(m, streamName(stream), value);
}

} /* namespace qemudm */
