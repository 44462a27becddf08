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

} /* namespace qemudm */
