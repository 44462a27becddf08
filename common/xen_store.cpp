/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "xen_store.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

extern "C" {
#include <xenstore.h>
}

#include "c_ptr.h"
#include "domain.h"
#include "dm_names.h"
#include "string_util.h"

namespace qemudm {

namespace {

using XsPtr = CPtr<xs_handle, xs_close>;

class XsReader final : public XenstoreReader
{
public:
	explicit XsReader(XsPtr h) : h_(std::move(h)) {}

	Result<std::optional<std::string>> read(const std::string &path) override
	{
		unsigned int len = 0;
		errno = 0;
		MallocPtr<void> v(xs_read(h_.get(), XBT_NULL, path.c_str(), &len));
		if (!v) {
			if (errno == ENOENT)
				return std::optional<std::string>();
			return errnoError(errno ? errno : EIO, "Failed to read xenstore {}", path);
		}
		return std::optional<std::string>(std::string(static_cast<const char *>(v.get()), len));
	}

	Result<std::vector<std::string>> directory(const std::string &path) override
	{
		unsigned int n = 0;
		errno = 0;
		MallocPtr<char *> list(xs_directory(h_.get(), XBT_NULL, path.c_str(), &n));
		if (!list) {
			if (errno == ENOENT)
				return std::vector<std::string>();
			return errnoError(errno ? errno : EIO, "Failed to list xenstore {}", path);
		}
		std::vector<std::string> out;
		for (unsigned int i = 0; i < n; i++)
			out.emplace_back(list.get()[i]);
		return out;
	}

private:
	XsPtr h_;
};

/* libxl's disk formats (libxl__device_disk_string_of_format) as the params prefix. */
constexpr std::string_view kFormats[] = { "raw", "qcow", "qcow2", "vhd", "qed", "empty", "aio" };

} /* namespace */

Result<std::unique_ptr<XenstoreReader>> openXenstore()
{
	XsPtr h(xs_open(XS_OPEN_READONLY));
	if (!h)
		return errnoError(errno ? errno : EIO, "Failed to connect to xenstore");
	return std::unique_ptr<XenstoreReader>(std::make_unique<XsReader>(std::move(h)));
}

Result<std::optional<std::string>> xenDomainName(XenstoreReader &xs, uint32_t domid)
{
	return xs.read(fmt::format("/local/domain/{}/name", domid));
}

Result<std::vector<DiskSpec>> xenQdiskDisks(XenstoreReader &xs, uint32_t domid)
{
	const std::string base = fmt::format("/local/domain/0/backend/qdisk/{}", domid);
	auto devs = xs.directory(base);
	if (!devs)
		return devs.error();
	std::sort(devs->begin(), devs->end());
	std::vector<DiskSpec> out;
	for (const std::string &dev : *devs) {
		auto params = xs.read(fmt::format("{}/{}/params", base, dev));
		if (!params)
			return params.error();
		if (!*params)
			continue;
		std::string path = **params;
		if (size_t colon = path.find(':');
		    colon != std::string::npos &&
		    std::find(std::begin(kFormats), std::end(kFormats), std::string_view(path).substr(0, colon)) !=
			std::end(kFormats))
			path = path.substr(colon + 1);
		if (path.empty())
			continue; /* an empty CD-ROM drive */
		if (path[0] != '/')
			return makeError(EINVAL, "domain {}: qdisk {} has params '{}', not an absolute path", domid,
					 dev, **params);
		auto mode = xs.read(fmt::format("{}/{}/mode", base, dev));
		if (!mode)
			return mode.error();
		out.push_back({ path, !*mode || **mode != "w" });
	}
	return out;
}

Status completeFromXenstore(DmRequest &req, XenstoreReader &xs, std::vector<std::string> &warnings)
{
	if (req.name.empty()) {
		auto name = xenDomainName(xs, req.domid);
		if (!name)
			return name.error().wrap(fmt::format("domain {}: Failed to read its name", req.domid));
		/* The name is optional: one qemu-dm does not accept (dm_names.h) is left out, with a warning. */
		if (*name && checkDomainName(req.domid, **name).ok())
			req.name = **name;
		else if (*name)
			warnings.push_back(fmt::format("domain {}: not using its name '{}' from xenstore (characters "
						       "qemu-dm does not accept in a unit)",
						       req.domid, printable(**name)));
	}
	if (req.type == GuestType::Pv || req.type == GuestType::Pvh) {
		auto disks = xenQdiskDisks(xs, req.domid);
		if (!disks)
			return disks.error().wrap(fmt::format("domain {}: Failed to read its qdisk disks", req.domid));
		for (const DiskSpec &d : *disks)
			if (std::none_of(req.disks.begin(), req.disks.end(),
					 [&](const DiskSpec &have) { return have.path == d.path; }))
				req.disks.push_back(d);
	}
	return success();
}

} /* namespace qemudm */
