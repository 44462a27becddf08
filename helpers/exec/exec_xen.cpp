/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * The libxenctrl adapter. Xen 4.17's public headers use anonymous unions and
 * a GNU alignment macro, so this file alone is built as gnu++20; its headers
 * have no extern "C" guard of their own.
 */

#include "exec_xen.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>

extern "C" {
#include <xenctrl.h>
}

#include "c_ptr.h"
#include "log.h"

namespace qemudm {

namespace {

using XcHandle = CPtr<xc_interface, xc_interface_close>;

/* Route libxenctrl/libxencall messages to the debug log: a failure is
 * reported once, by our caller, not as a burst of library lines. */
void xtlMessage(xentoollog_logger *, xentoollog_level, int, const char *context, const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));
void xtlMessage(xentoollog_logger *, xentoollog_level, int, const char *context, const char *format, va_list al)
{
	char buf[512];
	(void)std::vsnprintf(buf, sizeof(buf), format, al);
	log::debug("{}: {}", context ? context : "xen", buf);
}

void xtlProgress(xentoollog_logger *, const char *, const char *, int, unsigned long, unsigned long)
{
}

void xtlDestroy(xentoollog_logger *)
{
}

xentoollog_logger gLogger = { xtlMessage, xtlProgress, xtlDestroy };

class XcControl final : public XenControl
{
public:
	explicit XcControl(XcHandle xch) : xch_(std::move(xch)) {}

	Result<DomainInfo> domainInfo(uint32_t domid) override
	{
		/* Xen 4.17: the first domain with id >= domid (no xc_domain_getinfo_single yet). */
		xc_dominfo_t info{};
		int n = xc_domain_getinfo(xch_.get(), domid, 1, &info);
		if (n < 0)
			return errnoError(errno, "Failed to query domain {}", domid);
		DomainInfo d;
		if (n == 0 || info.domid != domid)
			return d;
		d.found = true;
		d.dying = info.dying;
		d.shutdown = info.shutdown;
		d.shutdownReason = info.shutdown_reason;
		return d;
	}

private:
	XcHandle xch_;
};

} /* namespace */

Result<std::unique_ptr<XenControl>> openXenControl()
{
	errno = 0;
	XcHandle xch(xc_interface_open(&gLogger, &gLogger, 0));
	if (!xch) {
		int err = errno;
		if (err == 0 || err == ENOENT || err == ENODEV || err == ENXIO)
			return makeError(ENODEV,
					 "Failed to open the Xen control interface: no hypervisor? (is this dom0?)");
		return errnoError(err, "Failed to open the Xen control interface");
	}
	return std::unique_ptr<XenControl>(std::make_unique<XcControl>(std::move(xch)));
}

} /* namespace qemudm */
