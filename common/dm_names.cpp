/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_names.h"

namespace qemudm {

namespace {

constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

Status checkName(uint32_t domid, std::string_view what, std::string_view name, size_t maxLength, std::string_view extra,
		 std::string_view alphabet)
{
	if (name.empty())
		return makeError(EINVAL, "domain {}: the {} is empty", domid, what);
	bool bad = name.size() > maxLength || name[0] == '-' || name[0] == '.';
	for (char c : name)
		bad |= kAlnum.find(c) == std::string_view::npos && extra.find(c) == std::string_view::npos;
	if (bad)
		return makeError(EINVAL, "domain {}: the {} '{}' is not accepted: expected 1 to {} bytes of {}", domid,
				 what, printable(name), maxLength, alphabet);
	return success();
}

} /* namespace */

std::string printable(std::string_view s)
{
	std::string out;
	for (unsigned char c : s)
		out += (c < 0x20 || c >= 0x7f || c == '\\') ? fmt::format("\\x{:02x}", c) : std::string(1, char(c));
	return out;
}

Status checkDomainName(uint32_t domid, std::string_view name)
{
	return checkName(domid, "domain name", name, kMaxDomainNameLength, "._+@-",
			 "A-Z a-z 0-9 . _ + @ - (not starting with '-' or '.')");
}

Status checkTapName(uint32_t domid, std::string_view name)
{
	return checkName(domid, "tap interface name", name, kMaxTapNameLength, "._-",
			 "A-Z a-z 0-9 . _ - (not starting with '-' or '.')");
}

Status checkDeviceModelUserName(uint32_t domid, std::string_view name)
{
	if (!name.empty() && name[0] >= '0' && name[0] <= '9')
		return makeError(EINVAL,
				 "domain {}: the device_model_user '{}' is not accepted: a user name starts with a "
				 "letter or '_'",
				 domid, printable(name));
	return checkName(domid, "device_model_user", name, kMaxUserNameLength, "_-",
			 "A-Z a-z 0-9 _ - (starting with a letter or '_')");
}

} /* namespace qemudm */
