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

/* A term's value and how many characters after the number (and its spaces) its suffix took, 0 for none. */
using TermValue = std::optional<std::pair<uint64_t, size_t>>;

/*
 * The sum of "<number>[ ]<suffix>" terms, as systemd writes time spans and
 * sizes: `term` gets each number and the text after it and its spaces. No sum
 * passes `limit`.
 */
template <typename Term>
std::optional<uint64_t> sumTerms(std::string_view v, uint64_t limit, Term term)
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
		TermValue t = term(v.substr(0, numLen), v.substr(s));
		if (!t || t->first > limit - total)
			return std::nullopt;
		total += t->first;
		v = trim(v.substr(t->second == 0 ? numLen : s + t->second));
	}
	return total;
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

	if (trim(v) == "infinity")
		return kInfinity;
	return sumTerms(v, kInfinity - 1, [&](std::string_view number, std::string_view rest) -> TermValue {
		size_t unitLen = 0;
		while (unitLen < rest.size() && !isWhitespace(rest[unitLen]) &&
		       !(rest[unitLen] >= '0' && rest[unitLen] <= '9') && rest[unitLen] != '.')
			unitLen++;
		std::string_view unit = rest.substr(0, unitLen);

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
		auto value = parseScaledDecimal(number, nanoseconds ? 1 : scale, used);
		if (!value || used != number.size())
			return std::nullopt;
		return std::pair{ nanoseconds ? *value / 1000 : *value, unitLen };
	});
}

std::optional<uint64_t> parseSize(std::string_view v)
{
	return sumTerms(v, kInfinity, [](std::string_view number, std::string_view rest) -> TermValue {
		static constexpr std::string_view suffixes = "BKMGTPE";
		uint64_t scale = 1;
		size_t suffixLen = 0;
		if (!rest.empty()) {
			auto pos = suffixes.find(rest[0]);
			if (pos != std::string_view::npos) {
				for (size_t k = 0; k < pos; k++)
					scale *= 1024;
				suffixLen = 1;
			}
		}
		size_t used = 0;
		auto value = parseScaledDecimal(number, scale, used);
		if (!value || used != number.size())
			return std::nullopt;
		return std::pair{ *value, suffixLen };
	});
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
