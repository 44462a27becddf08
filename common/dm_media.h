/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Media changes of a running device model without widening its sandbox
 * (`qemu-dmctl cdrom`, qemu_dm_cdrom_change()): the caller opens the ISO (as root, with the declared-path rule:
 * declared_path.h) and hands the fd to QEMU over QMP (add-fd with SCM_RIGHTS,
 * then blockdev-change-medium of /dev/fdset/N, read-only, format raw: no
 * probing of guest-supplied content), so the DM never needs the path. This is
 * what libxl 4.17's own cd-insert does (libxl_disk.c); qemu-dmctl cdrom and
 * qemu_dm_cdrom_change() offer it to other callers. The QMP socket is libxl's
 * (qmp_client.h); every exchange is bounded in time and size.
 */

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "qmp_client.h"
#include "result.h"

namespace qemudm {

/*
 * QEMU's block device name of a drive: an xl vdev of an emulated IDE disk
 * (hda..hdd) is libxl's "ide-<Xen device number>" (hdc: ide-5632); a name of
 * [A-Za-z0-9_.-] (at most 64) is taken as it is. Error for anything else.
 */
[[nodiscard]] Result<std::string> qemuBlockDevice(uint32_t domid, std::string_view device);

struct CdromChange {
	uint32_t domid = 0;
	std::string device;		 /* xl vdev (hdc) or QEMU's block device name */
	std::optional<std::string> path; /* the medium to insert; nullopt: eject */
	std::string qmpSocket;		 /* empty: libxl's, libxlQmpSocketPath(domid) */
	QmpLimits limits;
	std::string root = "/"; /* where `path` is resolved (tests) */
};

/* Errors name the domain, the device and the reason. */
[[nodiscard]] Status changeCdrom(const CdromChange &change);

} /* namespace qemudm */
