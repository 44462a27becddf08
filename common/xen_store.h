/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What Xen knows best, read from xenstore: a domain's name, and the disks
 * of its PV qdisk backend, which are not in QEMU's argv (libxl writes them
 * to xenstore; the PV device model's qdisk backend opens them from there).
 *
 * Layout (libxl 4.17, libxl_disk.c / libxl_device.c):
 *   /local/domain/<domid>/name                              the domain's name
 *   /local/domain/0/backend/qdisk/<domid>/<devid>/params    "<format>:<path>"
 *                                                           ("raw:/srv/d.img"),
 *                                                           empty for an empty CD-ROM
 *   /local/domain/0/backend/qdisk/<domid>/<devid>/mode      "r" or "w"
 *
 * The parsing is pure, behind XenstoreReader; XsReader is the libxenstore one.
 * Used only when Xen is there (the request's domain check is on).
 */

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dm_unit.h"
#include "result.h"

namespace qemudm {

class XenstoreReader
{
public:
	virtual ~XenstoreReader() = default;
	/* The value at path; nullopt when the path does not exist. */
	virtual Result<std::optional<std::string>> read(const std::string &path) = 0;
	/* The children of path; empty when it does not exist. */
	virtual Result<std::vector<std::string>> directory(const std::string &path) = 0;
};

/* libxenstore, read-only (xs_open(XS_OPEN_READONLY)). */
[[nodiscard]] Result<std::unique_ptr<XenstoreReader>> openXenstore();

/* /local/domain/<domid>/name; nullopt when the domain has none. */
[[nodiscard]] Result<std::optional<std::string>> xenDomainName(XenstoreReader &xs, uint32_t domid);

/* The image paths of the domain's qdisk backend devices, with their mode; empty CD-ROMs are skipped. */
[[nodiscard]] Result<std::vector<DiskSpec>> xenQdiskDisks(XenstoreReader &xs, uint32_t domid);

/*
 * What xenstore adds to a request: the name when none was given (skipped, with
 * a warning, if qemu-dm would not accept it), and for PV/PVH device models the
 * qdisk backend's disks that are not declared already. `warnings` gets notes.
 */
[[nodiscard]] Status completeFromXenstore(DmRequest &request, XenstoreReader &xs, std::vector<std::string> &warnings);

} /* namespace qemudm */
