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
 *   -drive file=PATH,...                a disk (readonly=on / media=cdrom: read-only;
 *                                       file=/dev/fdset/S: from -add-fd fds, no path)
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

#include <set>
#include <span>
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

/*
 * A disk QEMU opens by path in its argv (-drive file=PATH,...), handed to it
 * as fds instead: the caller opens PATH (as root, before the start) and QEMU
 * reads "-add-fd fd=N,set=S -drive file=/dev/fdset/S,...". QEMU's qemu_open()
 * of /dev/fdset/S dups the fd of the set whose access mode matches the open
 * (O_RDONLY or O_RDWR), so a read-write disk gets one fd of each mode and
 * auto-read-only=off: QEMU opens it read-write once (as root, at start) and
 * keeps it so; by path, a restored QEMU reopened it read-write at "cont",
 * after its chroot and uid drop, and failed (seen in the lab). The read-only fd
 * serves any read-only open. The DM needs no path for such a disk.
 */
struct DriveFd {
	std::string path;
	bool readOnly = false;
	int fdset = -1;
	int readWriteTarget = -1; /* -1 for a read-only disk */
	int readOnlyTarget = -1;
};

struct DriveFdPlan {
	std::vector<std::string> argv; /* the rewritten argv ([0] unchanged) */
	std::vector<DriveFd> drives;
};

/*
 * Rewrite every "-drive" of `argv` (a whole argv, [0] the program) whose
 * file= is one of `paths` (a disk's read-only-ness is `readOnly(path)`'s: a
 * readonly=on or media=cdrom drive is read-only anyway) to an fd set. Targets
 * are the lowest numbers above every number in `usedTargets` and 2; fd set
 * ids the lowest above those the argv's -add-fd already use. Pure.
 */
[[nodiscard]] Result<DriveFdPlan> planDriveFds(const std::vector<std::string> &argv,
					       const std::set<std::string, std::less<>> &paths,
					       const std::set<std::string, std::less<>> &readOnlyPaths,
					       std::span<const int> usedTargets);

} /* namespace qemudm */
