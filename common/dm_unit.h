/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The per-domain unit of one device model: from what the caller declares
 * (libxl through the C API, or qemu-dmctl), the exact properties and
 * ExecStart= of the transient qemu-dm@<domid>.service. Host-wide policy is
 * not repeated here: it reaches the unit as the generator's drop-ins
 * (common/host_policy). planDmUnit() is pure apart from the user lookups and
 * a stat() of each declared path, so `qemu-dmctl policy` prints exactly what
 * `qemu-dmctl start` sends.
 */

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bus_property.h"
#include "config.h"
#include "domain.h"
#include "fd_channel.h"
#include "result.h"
#include "uid_policy.h"
#include "user_lookup.h"

namespace qemudm {

struct DiskSpec {
	std::string path; /* absolute; must exist */
	bool readOnly = false;
	/* QEMU gets it as fds (libxl_argv.h, planDriveFds), not by path: nothing of it in the DM's view. */
	bool viaFd = false;
};

struct PathSpec {
	std::string path; /* absolute; must exist */
	bool writable = false;
};

struct DmRequest {
	uint32_t domid = 0;
	std::string name; /* the domain's name; optional */
	GuestType type = GuestType::Hvm;
	std::string deviceModelUser;  /* xl.cfg device_model_user=; empty: not given */
	std::optional<bool> restrict; /* xl.cfg dm_restrict=; nullopt: the config's default */
	std::vector<DiskSpec> disks;
	std::vector<PathSpec> paths;
	std::vector<DeviceNode> devices; /* extra device nodes for this domain */
	std::vector<std::string> taps;	 /* tap interfaces QEMU creates (emulated NICs) */
	/* QEMU serves VNC on TCP localhost (libxl's vfb: -vnc 127.0.0.1:N): AF_INET/AF_INET6 in the
	 * host's network namespace, IP traffic with localhost only. */
	bool vncLocalhost = false;
	bool domainCheck = true;	/* false: stand-in DM without Xen (tests, demo) */
	bool allowWriteExecute = false; /* TCG stand-in: its JIT needs W+X memory */
	int qmpFdTarget = -1;		/* >= 3: QEMU's fd number of the QMP socket (an fd below) */
	std::vector<FdDecl> fds;	/* other fds qemu-dm-exec receives over the fd channel */
	/* Other fds QEMU's argv names (libxl: -incoming fd:N), held by the caller at the same numbers
	 * (the shim, qemu_dm_options_from_qemu_argv): callers hand each over as itself. */
	std::vector<int> argvFds;
	/* XEN_QEMU_CONSOLE_LIMIT of QEMU's environment (libxl sets it): digits; empty: not set. */
	std::string consoleLimit;
	std::vector<std::string> qemuArgv; /* [0]: absolute path of QEMU */
};

struct DmUnitPlan {
	uint32_t domid = 0;
	std::string unit; /* qemu-dm@<domid>.service */
	DmIdentity identity;
	BusProperties properties;	    /* per-domain, typed D-Bus values, in order */
	std::vector<std::string> execStart; /* qemu-dm-exec ... -- QEMU ... (sent as ExecStart, an argv) */
	std::vector<std::string> warnings;
	/*
	 * Symbolic links the caller makes on the host once the unit runs: at
	 * `path` (libxl's name for a socket QEMU creates), pointing at `target`
	 * in the unit's own runtime dir, where QEMU creates it instead: the
	 * allow-list view has no /run/xen (moveLibxenstatSocket()).
	 */
	struct HostLink {
		std::string path, target;
	};
	std::vector<HostLink> hostLinks;
};

/* Where QEMU creates libxenstat's QMP socket of domain `domid`: in the unit's runtime dir. */
std::string libxenstatSocketPath(uint32_t domid);

/*
 * libxl 4.17 passes -chardev socket,id=libxenstat-cmd,path=/var/run/xen/
 * qmp-libxenstat-<domid>,... (the socket xentop's libxenstat reads), which
 * QEMU creates itself. Rewrite exactly that path (this domid; /var/run/xen or
 * /run/xen) in `qemuArgv` to libxenstatSocketPath() and return the link to
 * make at libxl's path. Anything else is left as it is. Pure.
 */
std::vector<DmUnitPlan::HostLink> moveLibxenstatSocket(uint32_t domid, std::vector<std::string> &qemuArgv);

/* Path of qemu-dm-exec; $QEMU_DM_EXEC overrides it (docs/ENVIRONMENT.md). */
std::string qemuDmExecPath();

/*
 * Build the plan. Errors name the domain and the reason
 * ("domain 5: disk /x: No such file or directory").
 */
[[nodiscard]] Result<DmUnitPlan> planDmUnit(const Config &config, const DmRequest &request, UserLookup &lookup);

/* ExecStart of the plan as the typed property start sends. */
BusProperty execStartProperty(const DmUnitPlan &plan);

/*
 * The plan as lines "Name=Value", then "ExecStart=..." (qemu-dmctl policy),
 * each formatted by formatBusProperty(): systemd reading these lines from a
 * unit file or drop-in gets exactly the values `start` sends.
 */
std::string formatPlan(const DmUnitPlan &plan);

} /* namespace qemudm */
