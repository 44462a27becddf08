/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "dm_media.h"

#include <fcntl.h>

#include <array>
#include <utility>

#include "declared_path.h"
#include "domain.h"

namespace qemudm {

Result<std::string> qemuBlockDevice(uint32_t domid, std::string_view device)
{
	/* Xen's device numbers of the emulated IDE disks (xen-vbd-interface(7)): (3 << 8) + 64 * n, (22 << 8) + 64 * n. */
	constexpr std::array<std::pair<std::string_view, int>, 4> kIde = {
		{ { "hda", 768 }, { "hdb", 832 }, { "hdc", 5632 }, { "hdd", 5696 } }
	};
	for (auto [vdev, number] : kIde)
		if (device == vdev)
			return fmt::format("ide-{}", number);
	constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	if (device.empty() || device.size() > 64 || device.find_first_not_of(kChars) != std::string_view::npos)
		return makeError(EINVAL,
				 "domain {}: '{}' is not a drive (an xl vdev hda..hdd, or a QEMU block device name of "
				 "A-Z a-z 0-9 _ . -)",
				 domid, device.substr(0, 64));
	return std::string(device);
}

Status changeCdrom(const CdromChange &change)
{
	const uint32_t d = change.domid;
	if (d < 1 || d > kMaxDomid)
		return makeError(EINVAL, "domain {}: invalid domain id, expected 1 to {}", d, kMaxDomid);
	auto dev = qemuBlockDevice(d, change.device);
	if (!dev)
		return dev.error();
	const std::string socket = change.qmpSocket.empty() ? libxlQmpSocketPath(d) : change.qmpSocket;

	/* Open first: a medium qemu-dm would not hand over never reaches QEMU. */
	std::optional<OpenedObject> medium;
	if (change.path) {
		auto o = openDeclaredObject(d, "medium", *change.path, DeclaredKind::Disk, O_RDONLY, change.root);
		if (!o)
			return o.error();
		medium = std::move(*o);
	}
	const std::string what = change.path ? fmt::format("insert {} into {}", *change.path, *dev)
					     : fmt::format("eject the medium of {}", *dev);
	auto qmp = QmpClient::connect(socket, change.limits);
	if (!qmp)
		return qmp.error().wrap(fmt::format("domain {}: Failed to {}", d, what));

	if (!change.path) {
		auto args = json::Value::object();
		args.set("device", json::Value::string(*dev));
		args.set("force", json::Value::boolean(true));
		auto r = qmp->execute("eject", args);
		if (!r)
			return r.error().wrap(fmt::format("domain {}: Failed to {}", d, what));
		return success();
	}

	auto addArgs = json::Value::object();
	addArgs.set("opaque", json::Value::string("qemu-dm:" + *change.path));
	auto added = qmp->execute("add-fd", addArgs, medium->fd.get());
	if (!added)
		return added.error().wrap(fmt::format("domain {}: Failed to {}", d, what));
	const json::Value *set = added->isObject() ? added->find("fdset-id") : nullptr;
	auto fdset = set ? set->asUint32() : std::nullopt;
	if (!fdset)
		return makeError(EPROTO, "domain {}: Failed to {}: QMP add-fd returned no fdset-id", d, what);

	auto args = json::Value::object();
	args.set("device", json::Value::string(*dev));
	args.set("filename", json::Value::string(fmt::format("/dev/fdset/{}", *fdset)));
	args.set("format", json::Value::string("raw"));
	args.set("read-only-mode", json::Value::string("read-only"));
	auto changed = qmp->execute("blockdev-change-medium", args);
	if (!changed) {
		/* Leave no fd of ours in QEMU. */
		auto rm = json::Value::object();
		rm.set("fdset-id", json::Value::unsignedInteger(*fdset));
		(void)qmp->execute("remove-fd", rm);
		return changed.error().wrap(fmt::format("domain {}: Failed to {}", d, what));
	}
	return success();
}

} /* namespace qemudm */
