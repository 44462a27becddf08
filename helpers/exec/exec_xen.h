/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The seam between qemu-dm-exec and libxenctrl: one question, "what state is
 * domain N in?". exec_xen.cpp is the only file that includes xenctrl.h (it
 * needs GNU C++, see helpers/exec/meson.build); tests use a fake XenControl.
 */

#include <cstdint>
#include <memory>

#include "result.h"

namespace qemudm {

struct DomainInfo {
	bool found = false; /* the hypervisor knows a domain with exactly this id */
	bool dying = false;
	bool shutdown = false;
	unsigned int shutdownReason = 0;
};

class XenControl
{
public:
	virtual ~XenControl() = default;
	virtual Result<DomainInfo> domainInfo(uint32_t domid) = 0;
};

/*
 * Open the Xen control interface (xc_interface_open). Fails with
 * "Failed to open the Xen control interface: no hypervisor? (is this dom0?)"
 * where there is no privcmd device. libxenctrl's own messages go to the
 * debug log, never to stderr.
 */
[[nodiscard]] Result<std::unique_ptr<XenControl>> openXenControl();

/* The domain exists and is neither dying nor shut down. */
[[nodiscard]] Status checkDomain(XenControl &xc, uint32_t domid);

} /* namespace qemudm */
