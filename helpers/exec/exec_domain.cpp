/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "exec_xen.h"

namespace qemudm {

Status checkDomain(XenControl &xc, uint32_t domid)
{
	auto info = xc.domainInfo(domid);
	if (!info)
		return info.error();
	if (!info->found)
		return makeError(ESRCH, "domain {} does not exist", domid);
	if (info->dying)
		return makeError(ESRCH, "domain {} is dying", domid);
	if (info->shutdown)
		return makeError(ESRCH, "domain {} is shut down (reason {})", domid, info->shutdownReason);
	return success();
}

} /* namespace qemudm */
