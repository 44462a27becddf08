/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a device model needs, read from the QEMU command line stock libxl
 * 4.17 builds (libxl_dm.c), for callers that have only that argv: the
 * qemu-dm-shim named in xl.cfg's device_model_override=, qemu-dmctl start
 * --from-argv, and qemu_dm_options_from_qemu_argv(). Pure: no system calls.
 *
 * Read from the argv (docs/man/qemu-dm-shim.8.md lists every form):
 *   -xen-domid N                        the domain (required)
 *   -name NAME | -name guest=NAME,...   the domain's name
 *   -machine xenpv[,...] / -M xenpv     a PV (or PVH: libxl runs the same PV
 *                                       backend DM for both) guest; else HVM
 *   -xen-domid-restrict                 dm_restrict=1 (absent: the host's default)
 *   -runas NAME                         device_model_user=NAME (a UID:GID is
 *                                       libxl's range user: ours anyway)
 *   -chardev socket,id=libxl-cmd,...,fd=N   the QMP listening socket: fd N
 *   -drive file=PATH,...                a disk (readonly=on / media=cdrom: read-only)
 *   -incoming file:PATH                 a saved state to restore: read-only path
 *   -incoming fd:N, -add-fd fd=N,...    a saved state libxl opened (4.17: fd:N):
 *                                       fd N, handed over as itself (argvFds)
 *   -vnc HOST:N[,...]                   VNC on localhost (127.0.0.1, ::1,
 *                                       localhost); "none" and unix: need no network
 *   -netdev tap,ifname=IF,... / -net tap,ifname=IF,...   an emulated NIC's tap
 * -chroot and the -runas UID:GID are left to qemu-dm-exec, which keeps or
 * replaces them. Anything qemu-dm cannot confine (VNC beyond localhost, a
 * second QMP fd=, a chardev/netdev fd, an fd named twice) is an error naming
 * the domain.
 */

#include <string>
#include <vector>

#include "dm_unit.h"
#include "result.h"

namespace qemudm {

/*
 * `args` is QEMU's argv without argv[0] (what libxl passes after the program
 * name). `qemu` becomes request.qemuArgv[0]. domainCheck stays true.
 */
[[nodiscard]] Result<DmRequest> dmRequestFromQemuArgv(const std::vector<std::string> &args, const std::string &qemu);

} /* namespace qemudm */
