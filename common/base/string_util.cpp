/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "string_util.h"

#include <fmt/format.h>

namespace qemudm {

std::string_view trim(std::string_view s)
{
	size_t b = s.find_first_not_of(kWhitespace);
	if (b == std::string_view::npos)
		return {};
	size_t e = s.find_last_not_of(kWhitespace);
	return s.substr(b, e - b + 1);
}

std::string printable(std::string_view s)
{
	std::string out;
	for (unsigned char c : s)
		out += (c < 0x20 || c >= 0x7f || c == '\\') ? fmt::format("\\x{:02x}", c) : std::string(1, char(c));
	return out;
}

} /* namespace qemudm */
