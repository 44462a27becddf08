/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a QEMU binary can do, found by running it: `QEMU -version`,
 * `QEMU -help`, `QEMU -accel help` and `QEMU -sandbox on -version`.
 *
 * Used by the caller that starts a DM (DmController::plan, as root in
 * libxl's or qemu-dmctl's process), by qemu-dm-exec (to add the right
 * restriction and privilege-drop arguments) and by `qemu-dmctl check`. The
 * parsers are pure functions and are tested against the real Debian 12
 * binaries; probeQemu() runs the binary (with a timeout and an output limit)
 * and keeps the result in an optional cache directory keyed on the binary's
 * identity.
 *
 * Nothing one DM writes may change another DM (a hostile DM must not steer the
 * next one through shared state): the cache
 * is written by the caller only, never inside a DM's unit; the caller hands
 * the result to qemu-dm-exec on its own command line (encodeQemuCaps), bound
 * to the binary's identity, and qemu-dm-exec probes again itself (without
 * any cache) when the binary it is about to exec is not that binary.
 *
 * Library code: logs at debug level only.
 */

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace qemudm {

struct QemuVersion {
	unsigned int major = 0;
	unsigned int minor = 0;
	unsigned int micro = 0;

	std::string toString() const;
	auto operator<=>(const QemuVersion &) const = default;
};

/* What `QEMU -help` says. */
struct QemuHelp {
	/* Every option name listed (without the leading '-'), and whether it takes an argument. */
	std::map<std::string, bool, std::less<>> options;
	bool runWithChroot = false; /* -run-with lists chroot= (QEMU >= 8.1) */
	bool runWithUser = false;   /* -run-with lists user= (QEMU >= 9.1) */

	bool has(std::string_view name) const { return options.find(name) != options.end(); }
};

struct QemuCaps {
	QemuVersion version;
	QemuHelp help;
	std::vector<std::string> accelerators; /* from `-accel help` */
	bool sandbox = false;		       /* `-sandbox on` accepted (built with libseccomp) */

	bool hasAccelerator(std::string_view name) const;
	/* -xen-domid-restrict is listed *and* the binary has the Xen accelerator:
	 * a TCG-only QEMU 7.2 lists the option but rejects it. */
	bool xenDomidRestrict() const { return hasAccelerator("xen") && help.has("xen-domid-restrict"); }
	bool runas() const { return help.has("runas"); }
	bool chroot() const { return help.has("chroot"); }
	bool runWith() const { return help.has("run-with"); }
	bool runWithUser() const { return runWith() && help.runWithUser; }
	bool runWithChroot() const { return runWith() && help.runWithChroot; }
	bool sandboxListed() const { return help.has("sandbox"); }
};

/* "QEMU emulator version 7.2.22 (Debian ...)" -> 7.2.22 */
[[nodiscard]] Result<QemuVersion> parseQemuVersion(std::string_view text);
/* The option table of `QEMU -help`. */
[[nodiscard]] Result<QemuHelp> parseQemuHelp(std::string_view text);
/* "Accelerators supported in QEMU binary:\ntcg\nkvm\n" -> {tcg, kvm} */
[[nodiscard]] Result<std::vector<std::string>> parseAccelHelp(std::string_view text);

/* The cache file format (versioned text, one field per line). */
std::string serializeQemuCaps(const QemuCaps &caps);
[[nodiscard]] Result<QemuCaps> deserializeQemuCaps(std::string_view text);

/* What identifies a QEMU binary for the cache and for the caps handed to qemu-dm-exec:
 * a rewritten, replaced or touched binary (new inode, size, mtime or ctime) is another binary. */
struct QemuBinaryId {
	uint64_t dev = 0;
	uint64_t ino = 0;
	int64_t size = 0;
	int64_t mtimeNs = 0;
	int64_t ctimeNs = 0;
	uint32_t mode = 0; /* permission bits */

	std::string toString() const; /* "dev:ino:size:mtime:ctime:mode", decimal */
	bool operator==(const QemuBinaryId &) const = default;
};

/* stat(2) of the absolute path `qemu` (following symlinks, as execv does). */
[[nodiscard]] Result<QemuBinaryId> identifyQemu(const std::string &qemu);

/*
 * The probe result as one command-line word for qemu-dm-exec's --qemu-caps:
 * "3/ID/VERSION/ACCELS/FLAGS/OPTIONS" with ID as QemuBinaryId::toString(),
 * ACCELS comma-separated, FLAGS three digits (sandbox, run-with chroot=,
 * run-with user=) and OPTIONS "name=0|1" comma-separated. Only [A-Za-z0-9._,:/=-]:
 * no whitespace, quote, '$', ';' or '%' that systemd or a shell would read
 * (systemd 252 reads a ';' of a transient ExecStart= back as "\;").
 */
std::string encodeQemuCaps(const QemuBinaryId &id, const QemuCaps &caps);
struct EncodedQemuCaps {
	QemuBinaryId id;
	QemuCaps caps;
};
[[nodiscard]] Result<EncodedQemuCaps> decodeQemuCaps(std::string_view word);

/* Where the caller that starts DMs keeps probe results (root only, 0700; no DM can write it). */
constexpr const char *kQemuProbeCacheDir = "/var/cache/qemu-dm/probe";

struct QemuProbeOptions {
	/* Directory for cached results; empty means no cache. Unusable
	 * directories (missing, not owned by us, writable by others) are
	 * ignored. Only the caller that starts DMs uses one. */
	std::string cacheDir;
	/* Create cacheDir (mode 0700, parents 0755) if it is missing. */
	bool createCacheDir = false;
	/* Read cached entries but never write one (qemu-dm-exec inside a DM's unit). */
	bool readOnly = false;
	std::chrono::milliseconds timeout{ 10000 }; /* per QEMU run */
};

struct QemuProbe {
	QemuCaps caps;
	QemuBinaryId id; /* of the binary that was probed (or whose cache entry was used) */
	bool fromCache = false;
};

/* Probe the QEMU at the absolute path `qemu` (no PATH search). */
[[nodiscard]] Result<QemuProbe> probeQemu(const std::string &qemu, const QemuProbeOptions &options);

} /* namespace qemudm */
