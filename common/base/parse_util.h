/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Value parsers with one implementation and one grammar each (as systemd's
 * src/basic/parse-util.h): the grammar is systemd 252's unit-file syntax
 * (systemd.syntax(7), systemd.time(7)), so qemu-dm.conf, the command lines
 * and the test support's unit-text converter read a value the way systemd
 * reads it in a unit file. Callers add their own range checks.
 */

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace qemudm {

/* "infinity" as a time span or a limit. */
inline constexpr uint64_t kInfinity = std::numeric_limits<uint64_t>::max();
inline constexpr uint64_t kUSecPerSec = 1000000;

/*
 * The whole of `s` as a number in `base`: digits only, no whitespace, no
 * '+'; a '-' only for signed types. std::nullopt on anything else or on
 * overflow.
 */
template <std::integral T>
[[nodiscard]] std::optional<T> parseInteger(std::string_view s, int base = 10)
{
	T out{};
	if (s.empty())
		return std::nullopt;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
	if (ec != std::errc() || p != s.data() + s.size())
		return std::nullopt;
	return out;
}

/*
 * A decimal number with an optional fraction ("2.5"), times `scale`, rounded
 * down; std::nullopt on overflow or bad syntax. `used` says how many
 * characters of `s` were the number.
 */
[[nodiscard]] std::optional<uint64_t> parseScaledDecimal(std::string_view s, uint64_t scale, size_t &used);

/* The same, into `ret` (untouched on failure). */
template <std::integral T>
[[nodiscard]] bool parseInteger(std::string_view s, T &ret, int base = 10)
{
	auto v = parseInteger<T>(s, base);
	if (!v)
		return false;
	ret = *v;
	return true;
}

/* systemd's parse_boolean(): 1/yes/y/true/t/on and 0/no/n/false/f/off, case-insensitive. */
[[nodiscard]] std::optional<bool> parseBoolean(std::string_view s);

/*
 * A time span in µs: "90", "1min 30s", "2.5h", "250ms", "infinity" (kInfinity).
 * A number without a unit counts in `defaultUnit` µs (seconds by default).
 * Units as systemd.time(7): us/usec/µs, ms/msec, s/sec/second(s), m/min/minute(s),
 * h/hr/hour(s), d/day(s), w/week(s), M/month(s), y/year(s), ns/nsec.
 */
[[nodiscard]] std::optional<uint64_t> parseTimespan(std::string_view s, uint64_t defaultUnit = kUSecPerSec);

/*
 * A size in bytes with optional binary suffixes B, K, M, G, T, P, E (base
 * 1024) and fractions ("1.5K"); several parts add up ("1G 512M"). No
 * "infinity": where a limit may be infinite the caller says so.
 */
[[nodiscard]] std::optional<uint64_t> parseSize(std::string_view s);

/* systemd's signal_from_string(): a number 1..SIGRTMAX, or a name with or without "SIG", RTMIN+n, RTMAX-n. */
[[nodiscard]] std::optional<int> parseSignal(std::string_view s);

} /* namespace qemudm */
