/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "parse_util.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <array>
#include <utility>

#include "string_util.h"

namespace qemudm {

namespace {

char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

/* How many leading characters of `s` can be a decimal number with a fraction. */
size_t numberLength(std::string_view s)
{
	size_t n = 0;
	while (n < s.size() && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.'))
		n++;
	return n;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b)
{
	return a.size() == b.size() &&
	       std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

} /* namespace */

std::optional<uint64_t> parseScaledDecimal(std::string_view s, uint64_t scale, size_t &used)
{
	size_t i = 0;
	uint64_t whole = 0;
	bool digits = false;
	while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
		uint64_t d = static_cast<uint64_t>(s[i] - '0');
		if (whole > (kInfinity - d) / 10)
			return std::nullopt;
		whole = whole * 10 + d;
		digits = true;
		i++;
	}
	uint64_t frac = 0, fracScale = 1;
	if (i < s.size() && s[i] == '.') {
		i++;
		while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
			if (fracScale < 1000000000000000ULL) {
				frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
				fracScale *= 10;
			}
			digits = true;
			i++;
		}
	}
	if (!digits)
		return std::nullopt;
	if (scale != 0 && whole > kInfinity / scale)
		return std::nullopt;
	uint64_t result = whole * scale;
	/* frac/fracScale * scale without overflowing for the scales we use */
	long double part =
	    static_cast<long double>(frac) / static_cast<long double>(fracScale) * static_cast<long double>(scale);
	uint64_t add = static_cast<uint64_t>(part);
	if (result > kInfinity - add)
		return std::nullopt;
	used = i;
	return result + add;
}

std::optional<bool> parseBoolean(std::string_view s)
{
	for (std::string_view t : { "1", "yes", "y", "true", "t", "on" })
		if (equalsIgnoreCase(s, t))
			return true;
	for (std::string_view f : { "0", "no", "n", "false", "f", "off" })
		if (equalsIgnoreCase(s, f))
			return false;
	return std::nullopt;
}

std::optional<uint64_t> parseTimespan(std::string_view v, uint64_t defaultUnit)
{
	static const std::array<std::pair<std::string_view, uint64_t>, 30> units = { {
	    { "seconds", 1000000ULL },
	    { "second", 1000000ULL },
	    { "sec", 1000000ULL },
	    { "s", 1000000ULL },
	    { "minutes", 60000000ULL },
	    { "minute", 60000000ULL },
	    { "min", 60000000ULL },
	    { "m", 60000000ULL },
	    { "months", 2629800000000ULL },
	    { "month", 2629800000000ULL },
	    { "M", 2629800000000ULL },
	    { "msec", 1000ULL },
	    { "ms", 1000ULL },
	    { "usec", 1ULL },
	    { "us", 1ULL },
	    { "µs", 1ULL },
	    { "nsec", 0ULL },
	    { "ns", 0ULL },
	    { "hours", 3600000000ULL },
	    { "hour", 3600000000ULL },
	    { "hr", 3600000000ULL },
	    { "h", 3600000000ULL },
	    { "days", 86400000000ULL },
	    { "day", 86400000000ULL },
	    { "d", 86400000000ULL },
	    { "weeks", 604800000000ULL },
	    { "week", 604800000000ULL },
	    { "w", 604800000000ULL },
	    { "years", 31557600000000ULL },
	    { "y", 31557600000000ULL },
	} };

	v = trim(v);
	if (v == "infinity")
		return kInfinity;
	if (v.empty())
		return std::nullopt;

	uint64_t total = 0;
	while (!v.empty()) {
		/* the unit first: we need its scale before the number */
		size_t numLen = numberLength(v);
		if (numLen == 0)
			return std::nullopt;
		size_t u = numLen;
		while (u < v.size() && isWhitespace(v[u]))
			u++;
		size_t unitEnd = u;
		while (unitEnd < v.size() && !isWhitespace(v[unitEnd]) && !(v[unitEnd] >= '0' && v[unitEnd] <= '9') &&
		       v[unitEnd] != '.')
			unitEnd++;
		std::string_view unit = v.substr(u, unitEnd - u);

		uint64_t scale = defaultUnit;
		bool nanoseconds = false;
		if (!unit.empty()) {
			auto it =
			    std::find_if(units.begin(), units.end(), [&](const auto &e) { return e.first == unit; });
			if (it == units.end())
				return std::nullopt;
			scale = it->second;
			nanoseconds = scale == 0;
		}

		size_t used = 0;
		auto value = parseScaledDecimal(v.substr(0, numLen), nanoseconds ? 1 : scale, used);
		if (!value || used != numLen)
			return std::nullopt;
		uint64_t usec = nanoseconds ? *value / 1000 : *value;
		if (total > kInfinity - 1 - usec)
			return std::nullopt;
		total += usec;
		v = trim(v.substr(unit.empty() ? numLen : unitEnd));
	}
	return total;
}

std::optional<uint64_t> parseSize(std::string_view v)
{
	v = trim(v);
	if (v.empty())
		return std::nullopt;
	uint64_t total = 0;
	while (!v.empty()) {
		size_t numLen = numberLength(v);
		if (numLen == 0)
			return std::nullopt;
		size_t s = numLen;
		while (s < v.size() && isWhitespace(v[s]))
			s++;
		uint64_t scale = 1;
		size_t next = numLen;
		if (s < v.size()) {
			static constexpr std::string_view suffixes = "BKMGTPE";
			auto pos = suffixes.find(v[s]);
			if (pos != std::string_view::npos) {
				for (size_t k = 0; k < pos; k++)
					scale *= 1024;
				next = s + 1;
			}
		}
		size_t used = 0;
		auto value = parseScaledDecimal(v.substr(0, numLen), scale, used);
		if (!value || used != numLen || total > kInfinity - *value)
			return std::nullopt;
		total += *value;
		v = trim(v.substr(next));
	}
	return total;
}

std::optional<int> parseSignal(std::string_view v)
{
	if (auto n = parseInteger<int>(v); n)
		return (*n >= 1 && *n <= SIGRTMAX) ? n : std::nullopt;

	std::string_view name = v.starts_with("SIG") ? v.substr(3) : v;
	if (name.starts_with("RTMIN") || name.starts_with("RTMAX")) {
		bool min = name.starts_with("RTMIN");
		std::string_view rest = name.substr(5);
		int offset = 0;
		if (!rest.empty()) {
			if (rest[0] != (min ? '+' : '-'))
				return std::nullopt;
			auto n = parseInteger<int>(rest.substr(1));
			if (!n || *n < 0 || *n > SIGRTMAX - SIGRTMIN)
				return std::nullopt;
			offset = *n;
		}
		return min ? SIGRTMIN + offset : SIGRTMAX - offset;
	}
	for (int sig = 1; sig < SIGRTMIN; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && name == abbrev)
			return sig;
	}
	return std::nullopt;
}

} /* namespace qemudm */
