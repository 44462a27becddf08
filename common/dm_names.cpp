/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_names.h"

#include <algorithm>

#include "string_util.h"

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

bool validUserName(std::string_view name)
{
	auto first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
	auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9') || c == '-'; };
	return !name.empty() && name.size() <= kMaxUserNameLength && first(name[0]) &&
	       std::all_of(name.begin() + 1, name.end(), rest);
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
