/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus_property.h"

#include <arpa/inet.h>
#include <sys/mount.h>

#include <cstring>

#include "dm_names.h"
#include "string_util.h"

namespace qemudm {

namespace {

/* Capability names in systemd's spelling, indexed by number (linux/capability.h, up to CAP_CHECKPOINT_RESTORE). */
constexpr std::array<std::string_view, 41> kCapabilities = {
	"cap_chown",
	"cap_dac_override",
	"cap_dac_read_search",
	"cap_fowner",
	"cap_fsetid",
	"cap_kill",
	"cap_setgid",
	"cap_setuid",
	"cap_setpcap",
	"cap_linux_immutable",
	"cap_net_bind_service",
	"cap_net_broadcast",
	"cap_net_admin",
	"cap_net_raw",
	"cap_ipc_lock",
	"cap_ipc_owner",
	"cap_sys_module",
	"cap_sys_rawio",
	"cap_sys_chroot",
	"cap_sys_ptrace",
	"cap_sys_pacct",
	"cap_sys_admin",
	"cap_sys_boot",
	"cap_sys_nice",
	"cap_sys_resource",
	"cap_sys_time",
	"cap_sys_tty_config",
	"cap_mknod",
	"cap_lease",
	"cap_audit_write",
	"cap_audit_control",
	"cap_setfcap",
	"cap_mac_override",
	"cap_mac_admin",
	"cap_syslog",
	"cap_wake_alarm",
	"cap_block_suspend",
	"cap_audit_read",
	"cap_perfmon",
	"cap_bpf",
	"cap_checkpoint_restore",
};

/* Properties whose strings are paths: a word not starting with '/' would be read as a prefix ('-', '+'). */
bool isPathList(std::string_view name)
{
	return name == "ReadWritePaths" || name == "ReadOnlyPaths" || name == "InaccessiblePaths" ||
	       name == "ExecPaths" || name == "NoExecPaths";
}

Error invalid(const BusProperty &p, std::string_view what, std::string_view value, std::string_view why)
{
	return makeError(EINVAL, "{}: {} '{}' {}", p.name, what, printable(value), why);
}

/* The unit-file name of a property: systemd's D-Bus API says ...USec where the unit file says ...Sec=. */
std::string unitFileName(const BusProperty &p)
{
	if (std::holds_alternative<Usec>(p.value) && p.name.ends_with("USec"))
		return p.name.substr(0, p.name.size() - 4) + "Sec";
	return p.name;
}

bool validUtf8(std::string_view s)
{
	size_t i = 0;
	while (i < s.size()) {
		auto c = static_cast<unsigned char>(s[i]);
		size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 4;
		if (n == 4 || (n == 1 && c < 0xc2) || i + n >= s.size())
			return false;
		uint32_t cp = n == 0 ? c : c & (0x3f >> n);
		for (size_t k = 1; k <= n; k++) {
			auto d = static_cast<unsigned char>(s[i + k]);
			if ((d & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (d & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool hasControl(std::string_view s)
{
	for (unsigned char c : s)
		if (c < 0x20 || c == 0x7f)
			return true;
	return false;
}

/* A word of any list: valid UTF-8 and no control character (no line of a unit file may hold one). */
Status checkWord(const BusProperty &p, std::string_view what, std::string_view word)
{
	if (word.empty())
		return invalid(p, what, word, "is empty");
	if (!validUtf8(word))
		return invalid(p, what, word, "is not valid UTF-8");
	if (hasControl(word))
		return invalid(p, what, word, "contains a control character");
	return success();
}

Status checkAbsolute(const BusProperty &p, std::string_view what, std::string_view path)
{
	if (auto s = checkWord(p, what, path); !s)
		return s;
	if (path[0] != '/')
		return invalid(p, what, path, "is not an absolute path");
	return success();
}

/* A single-valued setting: systemd reads the rest of the line, trimmed, with no unquoting. */
Status checkLine(const BusProperty &p, std::string_view value)
{
	if (!validUtf8(value))
		return invalid(p, "value", value, "is not valid UTF-8");
	if (hasControl(value))
		return invalid(p, "value", value, "contains a control character");
	if (!value.empty() && (value.front() == ' ' || value.back() == ' ' || value.back() == '\\'))
		return invalid(p, "value", value, "starts or ends with a space or ends with '\\'");
	return success();
}

std::string escapePercent(std::string_view s)
{
	std::string out;
	for (char c : s) {
		if (c == '%')
			out += '%';
		out += c;
	}
	return out;
}

std::string joinWords(const std::vector<std::string> &words)
{
	std::string out;
	for (const auto &w : words) {
		if (!out.empty())
			out += ' ';
		out += quoteUnitWord(w);
	}
	return out;
}

/*
 * A path of BindPaths= or DeviceAllow=: unit files and systemd-run split and
 * unquote these differently (at ':' and at the first space), so a path that
 * would need quoting or escaping is refused, not escaped.
 */
Status checkPlainPath(const BusProperty &p, std::string_view what, std::string_view path)
{
	if (auto s = checkAbsolute(p, what, path); !s)
		return s;
	if (auto bad = path.find_first_of(" :\\\"'"); bad != std::string_view::npos)
		return invalid(p, what, path, fmt::format("contains '{}'", path[bad]));
	return success();
}

std::string formatPrefix(const IpPrefix &p)
{
	char buf[INET6_ADDRSTRLEN] = {};
	(void)inet_ntop(p.family, p.address.data(), buf, sizeof(buf));
	return fmt::format("{}/{}", buf, p.prefixLength);
}

std::string formatValue(const BusProperty &p)
{
	struct Visitor {
		const BusProperty &p;
		std::string operator()(bool b) const { return b ? "yes" : "no"; }
		std::string operator()(const std::string &s) const { return escapePercent(s); }
		std::string operator()(Usec u) const
		{
			if (u.value == UINT64_MAX)
				return "infinity";
			if (u.value % 1000000 == 0)
				return fmt::format("{}s", u.value / 1000000);
			return fmt::format("{}us", u.value);
		}
		std::string operator()(FileMode m) const { return fmt::format("{:04o}", m.value); }
		std::string operator()(ErrnoNumber e) const
		{
			const char *n = strerrorname_np(e.value);
			return n ? n : std::to_string(e.value);
		}
		std::string operator()(const Capabilities &c) const
		{
			std::vector<std::string> names;
			for (int cap : c.caps)
				names.emplace_back(capabilityName(cap));
			return joinWords(names);
		}
		std::string operator()(const Strings &s) const { return joinWords(s.items); }
		std::string operator()(const JournalFields &f) const { return joinWords(f.items); }
		std::string operator()(const AddressFamilies &a) const
		{
			return (a.allowList ? "" : "~") + joinWords(a.families);
		}
		std::string operator()(const BindPaths &b) const
		{
			std::vector<std::string> words;
			for (const auto &bind : b.binds) {
				std::string w = (bind.ignoreMissing ? "-" : "") + escapePercent(bind.source);
				if (bind.destination != bind.source || !bind.recursive)
					w += ":" + escapePercent(bind.destination);
				if (!bind.recursive)
					w += ":norbind";
				words.push_back(std::move(w));
			}
			std::string out;
			for (const auto &w : words)
				out += (out.empty() ? "" : " ") + w;
			return out;
		}
		std::string operator()(const DeviceRules &d) const
		{
			/* One rule per line: DeviceAllow= takes one path and its permissions. */
			std::string out;
			for (const auto &r : d.rules) {
				if (!out.empty())
					out += "\n" + p.name + "=";
				out += escapePercent(r.path);
				if (!r.permissions.empty())
					out += " " + r.permissions;
			}
			return out;
		}
		std::string operator()(const IpPrefixes &ip) const
		{
			/* systemd's own shortcuts where they say exactly this. */
			if (ip == ipLocalhost())
				return "localhost";
			if (ip == ipAny())
				return "any";
			std::vector<std::string> words;
			for (const auto &prefix : ip.prefixes)
				words.push_back(formatPrefix(prefix));
			return joinWords(words);
		}
		std::string operator()(const ExecArgv &e) const { return joinWords(e.argv); }
	};
	return std::visit(Visitor{ p }, p.value);
}

/* sd-bus appends, returning the first negative errno. */
class Appender
{
public:
	explicit Appender(sd_bus_message *m) : m_(m) {}
	int r = 0;

	template <typename... Args>
	void append(const char *types, Args... args)
	{
		if (r >= 0)
			r = sd_bus_message_append(m_, types, args...);
	}
	void open(char type, const char *contents)
	{
		if (r >= 0)
			r = sd_bus_message_open_container(m_, type, contents);
	}
	void close()
	{
		if (r >= 0)
			r = sd_bus_message_close_container(m_);
	}
	void appendString(const std::string &s) { append("s", s.c_str()); }
	void appendStrings(const std::vector<std::string> &v)
	{
		open('a', "s");
		for (const auto &s : v)
			appendString(s);
		close();
	}
	void appendBytes(std::string_view s)
	{
		if (r >= 0)
			r = sd_bus_message_append_array(m_, 'y', s.data(), s.size());
	}

private:
	sd_bus_message *m_;
};

void appendValue(Appender &a, const BusValue &value)
{
	struct Visitor {
		Appender &a;
		void operator()(bool b) const { a.append("b", int(b)); }
		void operator()(const std::string &s) const { a.appendString(s); }
		void operator()(Usec u) const { a.append("t", u.value); }
		void operator()(FileMode m) const { a.append("u", m.value); }
		void operator()(ErrnoNumber e) const { a.append("i", e.value); }
		void operator()(const Capabilities &c) const
		{
			uint64_t mask = 0;
			for (int cap : c.caps)
				mask |= uint64_t(1) << cap;
			a.append("t", mask);
		}
		void operator()(const Strings &s) const { a.appendStrings(s.items); }
		void operator()(const JournalFields &f) const
		{
			a.open('a', "ay");
			for (const auto &item : f.items)
				a.appendBytes(item);
			a.close();
		}
		void operator()(const AddressFamilies &f) const
		{
			a.open('r', "bas");
			a.append("b", int(f.allowList));
			a.appendStrings(f.families);
			a.close();
		}
		void operator()(const BindPaths &b) const
		{
			a.open('a', "(ssbt)");
			for (const auto &bind : b.binds)
				a.append("(ssbt)", bind.source.c_str(), bind.destination.c_str(),
					 int(bind.ignoreMissing), uint64_t(bind.recursive ? MS_REC : 0));
			a.close();
		}
		void operator()(const DeviceRules &d) const
		{
			a.open('a', "(ss)");
			for (const auto &rule : d.rules)
				a.append("(ss)", rule.path.c_str(), rule.permissions.c_str());
			a.close();
		}
		void operator()(const IpPrefixes &ip) const
		{
			a.open('a', "(iayu)");
			for (const auto &p : ip.prefixes) {
				a.open('r', "iayu");
				a.append("i", int32_t(p.family));
				a.appendBytes(std::string_view(reinterpret_cast<const char *>(p.address.data()),
							       p.family == AF_INET ? 4 : 16));
				a.append("u", p.prefixLength);
				a.close();
			}
			a.close();
		}
		void operator()(const ExecArgv &e) const
		{
			/* One command: (path, argv, ignore-failure). */
			a.open('a', "(sasb)");
			a.open('r', "sasb");
			a.appendString(e.argv.front());
			a.appendStrings(e.argv);
			a.append("b", 0);
			a.close();
			a.close();
		}
	};
	std::visit(Visitor{ a }, value);
}

} /* namespace */

IpPrefixes ipLocalhost()
{
	IpPrefix v4{ AF_INET, {}, 8 };
	v4.address[0] = 127;
	IpPrefix v6{ AF_INET6, {}, 128 };
	v6.address[15] = 1;
	return { { v4, v6 } };
}

IpPrefixes ipAny()
{
	return { { IpPrefix{ AF_INET, {}, 0 }, IpPrefix{ AF_INET6, {}, 0 } } };
}

std::string_view busSignature(const BusValue &value)
{
	static constexpr std::array<std::string_view, std::variant_size_v<BusValue>> kSignatures = {
		"b", "s", "t", "u", "i", "t", "as", "aay", "(bas)", "a(ssbt)", "a(ss)", "a(iayu)", "a(sasb)",
	};
	return kSignatures[value.index()];
}

Status checkExecArgument(std::string_view arg)
{
	if (!validUtf8(arg))
		return makeError(EINVAL, "'{}' is not valid UTF-8", printable(arg));
	if (hasControl(arg))
		return makeError(EINVAL, "'{}' contains a control character", printable(arg));
	if (auto bad = arg.find_first_of("$;`"); bad != std::string_view::npos)
		return makeError(EINVAL,
				 "'{}' contains '{}', which systemd 252 does not keep when it reads a transient "
				 "unit back on daemon-reload",
				 printable(arg), arg[bad]);
	return success();
}

Status checkBusProperty(const BusProperty &p)
{
	struct Visitor {
		const BusProperty &p;
		Status operator()(bool) const { return success(); }
		Status operator()(const std::string &s) const { return checkLine(p, s); }
		Status operator()(Usec) const { return success(); }
		Status operator()(FileMode m) const
		{
			return m.value <= 07777 ? success()
						: invalid(p, "mode", std::to_string(m.value), "is not a mode");
		}
		Status operator()(ErrnoNumber e) const
		{
			return strerrorname_np(e.value) ? success()
							: invalid(p, "errno", std::to_string(e.value), "is unknown");
		}
		Status operator()(const Capabilities &c) const
		{
			for (int cap : c.caps)
				if (capabilityName(cap).empty())
					return invalid(p, "capability", std::to_string(cap), "is unknown");
			return success();
		}
		Status operator()(const Strings &s) const
		{
			for (const auto &item : s.items) {
				auto r =
				    isPathList(p.name) ? checkAbsolute(p, "path", item) : checkWord(p, "word", item);
				if (!r)
					return r;
			}
			return success();
		}
		Status operator()(const JournalFields &f) const
		{
			for (const auto &item : f.items) {
				if (auto r = checkWord(p, "field", item); !r)
					return r;
				auto eq = item.find('=');
				if (eq == 0 || eq == std::string::npos ||
				    item.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") < eq ||
				    item[0] == '_')
					return invalid(p, "field", item, "is not FIELD=value with an upper-case name");
			}
			return success();
		}
		Status operator()(const AddressFamilies &a) const
		{
			for (const auto &f : a.families)
				if (!f.starts_with("AF_") ||
				    f.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != std::string::npos)
					return invalid(p, "address family", f, "is not an AF_ name");
			return success();
		}
		Status operator()(const BindPaths &b) const
		{
			for (const auto &bind : b.binds) {
				if (auto r = checkPlainPath(p, "source", bind.source); !r)
					return r;
				if (auto r = checkPlainPath(p, "destination", bind.destination); !r)
					return r;
			}
			return success();
		}
		Status operator()(const DeviceRules &d) const
		{
			for (const auto &rule : d.rules) {
				if (auto r = checkPlainPath(p, "device", rule.path); !r)
					return r;
				if (rule.permissions.find_first_not_of("rwm") != std::string::npos)
					return invalid(p, "permissions", rule.permissions, "are not a subset of rwm");
			}
			return success();
		}
		Status operator()(const IpPrefixes &ip) const
		{
			for (const auto &prefix : ip.prefixes)
				if ((prefix.family != AF_INET && prefix.family != AF_INET6) ||
				    prefix.prefixLength > (prefix.family == AF_INET ? 32u : 128u))
					return invalid(p, "prefix", formatPrefix(prefix), "is not an IP prefix");
			return success();
		}
		Status operator()(const ExecArgv &e) const
		{
			if (e.argv.empty() || e.argv[0].empty() || e.argv[0][0] != '/')
				return makeError(EINVAL, "{}: the program must be an absolute path", p.name);
			for (size_t i = 0; i < e.argv.size(); i++)
				if (auto r = checkExecArgument(e.argv[i]); !r)
					return r.error().wrap(fmt::format("{}: argument {}", p.name, i));
			return success();
		}
	};
	if (p.name.empty() ||
	    p.name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") !=
		std::string::npos)
		return makeError(EINVAL, "'{}' is not a property name", printable(p.name));
	return std::visit(Visitor{ p }, p.value);
}

Status appendBusProperty(sd_bus_message *m, const BusProperty &property)
{
	if (auto s = checkBusProperty(property); !s)
		return s;
	const std::string signature(busSignature(property.value));
	Appender a(m);
	a.open('r', "sv");
	a.appendString(property.name);
	a.open('v', signature.c_str());
	appendValue(a, property.value);
	a.close();
	a.close();
	if (a.r < 0)
		return errnoError(a.r, "Failed to append the property {} ({})", property.name, signature);
	return success();
}

Status appendBusProperties(sd_bus_message *m, const BusProperties &properties)
{
	for (const auto &p : properties)
		if (auto s = checkBusProperty(p); !s)
			return s;
	for (const auto &p : properties)
		if (auto s = appendBusProperty(m, p); !s)
			return s;
	return success();
}

std::string formatBusProperty(const BusProperty &property)
{
	return fmt::format("{}={}", unitFileName(property), formatValue(property));
}

std::string quoteUnitWord(std::string_view word)
{
	bool plain = !word.empty();
	std::string out;
	for (char c : word) {
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    std::string_view("@+=:,./_-~%").find(c) != std::string_view::npos;
		plain &= safe;
		if (c == '"' || c == '\\')
			out += '\\';
		if (c == '%')
			out += '%';
		out += c;
	}
	return plain ? out : "\"" + out + "\"";
}

Status appendStandardFileDescriptor(sd_bus_message *m, StdStream stream, int fd)
{
	const char *name = stream == StdStream::Input	 ? "StandardInputFileDescriptor"
			   : stream == StdStream::Output ? "StandardOutputFileDescriptor"
							 : "StandardErrorFileDescriptor";
	if (fd < 0)
		return makeError(EBADF, "Invalid {}: no file descriptor", name);
	Appender a(m);
	a.open('r', "sv");
	a.append("s", name);
	a.open('v', "h");
	a.append("h", fd);
	a.close();
	a.close();
	if (a.r < 0)
		return errnoError(a.r, "Failed to append the property {}", name);
	return success();
}

int capabilityNumber(std::string_view name)
{
	for (size_t i = 0; i < kCapabilities.size(); i++)
		if (name.size() == kCapabilities[i].size() &&
		    strncasecmp(name.data(), kCapabilities[i].data(), name.size()) == 0)
			return int(i);
	return -1;
}

std::string_view capabilityName(int cap)
{
	return cap >= 0 && size_t(cap) < kCapabilities.size() ? kCapabilities[size_t(cap)] : std::string_view();
}

} /* namespace qemudm */
