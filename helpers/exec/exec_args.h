/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * qemu-dm-exec's pure logic: its own command line, and the QEMU argv it
 * makes sure carries the Xen restriction and privilege-drop arguments.
 * No system calls here; user-name lookups come in through a UserResolver.
 * See docs/qemu-dm-exec.md.
 */

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain.h"
#include "fd_channel.h"
#include "qemu_probe.h"
#include "result.h"

namespace qemudm {

/* Exit codes of qemu-dm-exec (documented in docs/qemu-dm-exec.md and --help). */
enum ExecExit : int {
	kExitUsage = 64,	/* bad command line, QEMU not an absolute executable */
	kExitDomain = 65,	/* the domain does not exist, is dying or shut down */
	kExitNoHypervisor = 66, /* the Xen control interface cannot be opened */
	kExitUidBusy = 67,	/* the DM's uid already owns processes */
	kExitQemu = 68,		/* QEMU probe failed, or its argv conflicts with ours */
	kExitChroot = 69,	/* the chroot directory is unusable */
	kExitExec = 70,		/* execv() of QEMU failed */
	kExitOs = 71,		/* other system error (closing fds, /proc) */
	kExitFds = 72,		/* the fd channel: an fd missing, undeclared or not of its kind */
	kExitSeccomp = 73,	/* the credential seccomp filter could not be installed */
	kExitIdentity = 74,	/* --never-root: not exactly the --runas user, or holding a capability */
};

struct UserId {
	uid_t uid = 0;
	gid_t gid = 0;

	bool operator==(const UserId &) const = default;
	std::string toString() const; /* "uid:gid" */
};

/* Resolves a user name to its uid and primary gid (getpwnam_r in production). */
using UserResolver = std::function<Result<UserId>(const std::string &name)>;

constexpr const char *kRuntimeRoot = "/run/qemu-dm";

struct ExecOptions {
	bool help = false;
	bool version = false;
	bool verbose = false;

	uint32_t domid = 0;
	GuestType type = GuestType::Hvm;
	std::string runasSpec; /* as given */
	UserId runas;	       /* resolved, never root */
	std::string chrootDir; /* absolute, normalised; `auto` already resolved; empty with neverRoot */
	bool chrootAuto = true;
	/*
	 * --never-root: the unit already runs as `runas` (User=/Group=) with no
	 * capabilities; QEMU gets no -runas/-chroot (libxl's are removed), there
	 * is no chroot directory.
	 */
	bool neverRoot = false;
	std::vector<int> keepFds; /* sorted, unique, >= 3 */
	int stdinFd = -1;	  /* --stdin-fd: stdin moves to this fd (>= 3), kept */
	std::vector<FdDecl> fds;  /* --fd: stdin is the fd channel carrying these (common/fd_channel.h) */
	bool domainCheck = true;
	bool restrict = true;
	bool readyQmp = false;	/* --ready-qmp: a QMP monitor for qemu-dm-grant's `ready` (dev_grant.h) */
	std::string probeCache; /* read-only cache directory; empty: none (the default) */
	/* --qemu-caps: the caller's probe of QEMU, bound to the binary's identity */
	std::optional<EncodedQemuCaps> qemuCaps;

	std::vector<std::string> qemuArgv; /* [0] is the absolute QEMU path */
};

/* parseDomid, parseDecimal, GuestType: common/domain.h */
/* "UID:GID" (both decimal, nonzero) or a user name resolved through `resolve`. */
[[nodiscard]] Result<UserId> parseRunas(std::string_view s, const UserResolver &resolve);
/* Absolute, no "." / ".." / empty components, no trailing slash, not "/". */
[[nodiscard]] Status checkAbsolutePath(std::string_view path);

/* The default chroot directory: /run/qemu-dm/<domid>/root, inside the unit's
 * RuntimeDirectory=qemu-dm/<domid>. */
std::string defaultChrootDir(uint32_t domid);

/* Parse qemu-dm-exec's arguments (without argv[0]). */
[[nodiscard]] Result<ExecOptions> parseExecArgs(const std::vector<std::string> &args, const UserResolver &resolve);

std::string execUsage();

/* What rewriteQemuArgv() decided. */
struct QemuArgvPlan {
	std::vector<std::string> argv;	   /* the final argv; [0] is the QEMU path */
	std::vector<std::string> added;	   /* arguments appended, for the log */
	std::vector<std::string> replaced; /* "-runas 0:0 -> 131077:997", for the log */
	std::vector<std::string> removed;  /* never root: "-runas 131077:997", "-run-with chroot=/x", for the log */
	std::vector<std::string> warnings; /* non-fatal remarks, logged as warnings */
};

/*
 * Make the restriction and privilege-drop arguments present and right for
 * the QEMU described by `caps`: -xen-domid-restrict (when restricting),
 * the user (-runas or -run-with user=) and the chroot (-chroot or
 * -run-with chroot=), for every guest type. A user or chroot already present
 * is kept when it is ours (the same numeric uid:gid, read as QEMU reads it:
 * decimal, 0-octal or 0x-hex; the same directory) and its value replaced by
 * ours otherwise, user names included (reported in `replaced`). -xen-domid must name our domain;
 * other conflicts are refused. Nothing is removed or reordered.
 *
 * With options.neverRoot the DM already is its user: every -runas and -chroot
 * (with its value) and every user= and chroot= key of -run-with (the whole
 * option when nothing else is left) is removed (reported in `removed`), and
 * none is added. The rest is as above.
 */
[[nodiscard]] Result<QemuArgvPlan> rewriteQemuArgv(const ExecOptions &options, const QemuCaps &caps);

/* "a=b,,c,d" -> {"a=b,c", "d"} (QEMU option syntax: ",," is a literal comma). */
std::vector<std::string> splitQemuOpts(std::string_view value);
std::string escapeQemuOptValue(std::string_view value);

} /* namespace qemudm */
