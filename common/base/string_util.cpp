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

std::string_view popLine(std::string_view &text)
{
	size_t nl = text.find('\n');
	std::string_view line = text.substr(0, nl);
	text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
	return line;
}

std::vector<std::string_view> splitOn(std::string_view s, char sep)
{
	std::vector<std::string_view> parts;
	size_t start = 0;
	for (;;) {
		size_t pos = s.find(sep, start);
		parts.push_back(s.substr(start, pos - start));
		if (pos == std::string_view::npos)
			break;
		start = pos + 1;
	}
	return parts;
}

std::vector<std::string_view> splitRecords(std::string_view text, char sep)
{
	std::vector<std::string_view> records;
	while (!text.empty()) {
		size_t end = text.find(sep);
		records.push_back(text.substr(0, end));
		if (end == std::string_view::npos)
			break;
		text.remove_prefix(end + 1);
	}
	return records;
}

} /* namespace qemudm */
