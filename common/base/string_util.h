/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small string helpers with one implementation each (as systemd's
 * src/basic/string-util.h): every module that trims or shows untrusted text
 * uses these, so all of them agree on what whitespace is and on how a
 * control character appears in a message.
 */

#include <string>
#include <string_view>
#include <vector>

namespace qemudm {

/* What trim() removes: systemd's WHITESPACE. */
inline constexpr std::string_view kWhitespace = " \t\n\r";

[[nodiscard]] constexpr bool isWhitespace(char c)
{
	return kWhitespace.find(c) != std::string_view::npos;
}

/* `s` without leading and trailing kWhitespace. */
[[nodiscard]] std::string_view trim(std::string_view s);

/* `s` for an error message: bytes outside printable ASCII (and '\') as \xNN, so nothing reaches a terminal raw. */
[[nodiscard]] std::string printable(std::string_view s);

/* Removes the first line from `text` and returns it without its '\n' (the rest of `text` when there is none). */
std::string_view popLine(std::string_view &text);

/* Every field of `s` between `sep`s, empty ones too: "a..b" split on '.' is {"a", "", "b"}; "" is {""}. */
[[nodiscard]] std::vector<std::string_view> splitOn(std::string_view s, char sep);

/* The records of `text`, each ended by `sep` (the last one may lack it): "a\nb\n" is {"a", "b"}; "" is {}. */
[[nodiscard]] std::vector<std::string_view> splitRecords(std::string_view text, char sep = '\n');

} /* namespace qemudm */
