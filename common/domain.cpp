/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "domain.h"

#include <sys/stat.h>

#include <charconv>

namespace qemudm {

std::string_view guestTypeName(GuestType type)
{
	switch (type) {
	case GuestType::Hvm:
		return "hvm";
	case GuestType::Pv:
		return "pv";
	case GuestType::Pvh:
		return "pvh";
	}
	return "?";
}

Result<GuestType> parseGuestType(std::string_view s)
{
	if (s == "hvm")
		return GuestType::Hvm;
	if (s == "pv")
		return GuestType::Pv;
	if (s == "pvh")
		return GuestType::Pvh;
	return makeError(EINVAL, "'{}' is not a guest type: expected hvm, pv or pvh", s);
}

Result<uint32_t> parseDecimal(std::string_view s, uint32_t max)
{
	if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos)
		return makeError(EINVAL, "'{}' is not a decimal number", s);
	if (s.size() > 1 && s[0] == '0')
		return makeError(EINVAL, "'{}' has leading zeros", s);
	uint32_t v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size() || v > max)
		return makeError(ERANGE, "'{}' is out of range (maximum {})", s, max);
	return v;
}

Result<uint32_t> parseDomid(std::string_view s)
{
	auto v = parseDecimal(s, kMaxDomid);
	if (!v || *v == 0)
		return makeError(EINVAL, "invalid domain id '{}': expected a decimal number from 1 to {}", s,
				 kMaxDomid);
	return v;
}

std::string perDomainUserName(uint32_t domid)
{
	return fmt::format("{}{}", kDomainUserPrefix, domid);
}

std::optional<uint32_t> domidFromUserName(std::string_view name)
{
	if (!name.starts_with(kDomainUserPrefix))
		return std::nullopt;
	auto d = parseDomid(name.substr(kDomainUserPrefix.size()));
	if (!d)
		return std::nullopt;
	return *d;
}

std::string dmUnitName(uint32_t domid)
{
	return fmt::format("qemu-dm@{}.service", domid);
}

std::string grantUnitName(uint32_t domid)
{
	return grantUnitName(std::to_string(domid));
}

std::string readyUnitName(uint32_t domid)
{
	return readyUnitName(std::to_string(domid));
}

std::string grantUnitName(std::string_view instance)
{
	return fmt::format("qemu-dm-grant@{}.service", instance);
}

std::string readyUnitName(std::string_view instance)
{
	return fmt::format("qemu-dm-ready@{}.service", instance);
}

namespace {

/* The strict domid of `prefix` N `.service`; nullopt for any other name. */
std::optional<uint32_t> domidOfInstance(std::string_view unit, std::string_view prefix)
{
	constexpr std::string_view suffix = ".service";
	if (!unit.starts_with(prefix) || !unit.ends_with(suffix))
		return std::nullopt;
	auto d = parseDomid(unit.substr(prefix.size(), unit.size() - prefix.size() - suffix.size()));
	if (!d)
		return std::nullopt;
	return *d;
}

} /* namespace */

std::optional<uint32_t> domidFromUnitName(std::string_view unit)
{
	return domidOfInstance(unit, "qemu-dm@");
}

std::optional<uint32_t> domidFromGrantUnitName(std::string_view unit)
{
	return domidOfInstance(unit, "qemu-dm-grant@");
}

bool dmUnitLoaded(uint32_t domid, std::string_view dir)
{
	if (domid < 1 || domid > kMaxDomid)
		return false;
	struct stat st;
	std::string path = fmt::format("{}/{}", dir, dmUnitName(domid));
	return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

} /* namespace qemudm */
