/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a QEMU binary can do, found by running it: `QEMU -version`,
 * `QEMU -help`, `QEMU -accel help` and `QEMU -sandbox on -version`.
 *
 * Used by qemu-dm-exec (to add the right restriction and privilege-drop
 * arguments) and by `qemu-dmctl check`. The parsers are pure functions and
 * are tested against the real Debian 12 binaries; probeQemu() runs the
 * binary (with a timeout and an output limit) and keeps the result in an
 * optional cache directory keyed on the binary's identity.
 *
 * Library code: logs at debug level only.
 */

#include <chrono>
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

struct QemuProbeOptions {
	/* Directory for cached results; empty means no cache. Unusable
	 * directories (missing, read-only, not owned by us) are ignored. */
	std::string cacheDir;
	std::chrono::milliseconds timeout{ 10000 }; /* per QEMU run */
};

struct QemuProbe {
	QemuCaps caps;
	bool fromCache = false;
};

/* Probe the QEMU at the absolute path `qemu` (no PATH search). */
[[nodiscard]] Result<QemuProbe> probeQemu(const std::string &qemu, const QemuProbeOptions &options);

} /* namespace qemudm */
