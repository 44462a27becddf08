/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-exec: the ExecStart= of qemu-dm@<domid>.service, in front of QEMU.
 * Runs inside the unit's sandbox. Checks the domain and the DM's uid, closes
 * stray file descriptors, makes the Xen restriction and privilege-drop
 * arguments present and right for the QEMU found, then execs QEMU.
 * Every failure is one log line and a documented exit code
 * (docs/qemu-dm-exec.md).
 */

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/ranges.h>
#include <systemd/sd-daemon.h>

#include "build_config.h"
#include "exec_args.h"
#include "exec_seccomp.h"
#include "exec_system.h"
#include "exec_xen.h"
#include "fd_channel.h"
#include "log.h"
#include "qemu_probe.h"

using namespace qemudm;

namespace {

/* The caller sent everything before the unit started: this only bounds a broken or hostile sender. */
constexpr std::chrono::milliseconds kFdChannelTimeout{ 10000 };

int fail(int code, const Error &err)
{
	log::error(err);
	return code;
}

int run(int argc, char **argv)
{
	log::setup("qemu-dm-exec");

	/* 1. The command line. */
	std::vector<std::string> args(argv + 1, argv + argc);
	auto parsed = parseExecArgs(args, resolveUserName);
	if (!parsed)
		return fail(kExitUsage, parsed.error().wrap("Invalid command line"));
	ExecOptions &opts = *parsed;
	if (opts.help) {
		std::fputs(execUsage().c_str(), stdout);
		return EXIT_SUCCESS;
	}
	if (opts.version) {
		std::puts("qemu-dm-exec " PROJECT_VERSION);
		return EXIT_SUCCESS;
	}
	if (opts.verbose)
		log::setLevel(log::Level::Debug);

	const std::string &qemu = opts.qemuArgv[0];
	Status s = checkExecutable(qemu);
	if (!s)
		return fail(kExitUsage, s.error().wrap("Invalid command line: QEMU"));
	for (int fd : opts.keepFds) {
		s = checkFdOpen(fd);
		if (!s)
			return fail(kExitUsage, s.error().wrap("Invalid command line: --keep-fd"));
	}
	if (opts.stdinFd >= 0) {
		/* The caller's fd (systemd gave it to us as stdin) goes where QEMU's argv expects it. */
		if (std::find(opts.keepFds.begin(), opts.keepFds.end(), opts.stdinFd) != opts.keepFds.end())
			return fail(
			    kExitUsage,
			    makeError(EINVAL, "Invalid command line: --stdin-fd {} is also a --keep-fd", opts.stdinFd));
		if (::dup2(STDIN_FILENO, opts.stdinFd) < 0)
			return fail(kExitOs, errnoError(errno, "Failed to move stdin to fd {}", opts.stdinFd));
		int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || ::dup2(null, STDIN_FILENO) < 0)
			return fail(kExitOs, errnoError(errno, "Failed to reopen stdin on /dev/null"));
		::close(null);
		opts.keepFds.push_back(opts.stdinFd);
		std::sort(opts.keepFds.begin(), opts.keepFds.end());
	}
	if (!opts.fds.empty()) {
		/* stdin is the fd channel (common/fd_channel.h): exactly the declared fds, checked, then placed. */
		auto got = receiveFds(STDIN_FILENO, opts.fds, kFdChannelTimeout);
		if (!got)
			return fail(kExitFds, got.error().wrap(fmt::format(
						  "domain {}: Failed to receive the caller's fds", opts.domid)));
		s = placeFds(*got, opts.keepFds);
		if (!s)
			return fail(kExitFds, s.error().wrap(fmt::format("domain {}", opts.domid)));
		int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || ::dup2(null, STDIN_FILENO) < 0)
			return fail(kExitOs, errnoError(errno, "Failed to reopen stdin on /dev/null"));
		::close(null);
		for (const FdDecl &d : opts.fds) {
			log::debug("QEMU's fd {}: a {} from the caller", d.target, fdKindName(d.kind));
			opts.keepFds.push_back(d.target);
		}
		std::sort(opts.keepFds.begin(), opts.keepFds.end());
	}

	/*
	 * Never root: systemd already made this process the DM's user (User=,
	 * Group=). Check that it is exactly that, with no other group and no
	 * capability, before anything talks to Xen: a unit that is not what the
	 * plan says must not run QEMU.
	 */
	if (opts.neverRoot) {
		s = checkNeverRootIdentity(opts.runas);
		if (!s)
			return fail(kExitIdentity, s.error().wrap(fmt::format(
						       "domain {}: Refusing to start the device model", opts.domid)));
		log::debug("Running as {} with no capabilities (--never-root)", opts.runas.toString());
	}

	/* 2. The domain exists and is alive. */
	if (opts.domainCheck) {
		auto xc = openXenControl();
		if (!xc)
			return fail(kExitNoHypervisor, xc.error());
		s = checkDomain(**xc, opts.domid);
		if (!s)
			return fail(kExitDomain, s.error().wrap("Refusing to start the device model"));
	} else {
		log::debug("Not checking domain {} (--no-domain-check: stand-in device model)", opts.domid);
	}

	/*
	 * 3. The DM's uid is not in use. The libxenctrl handle above is closed
	 * (its scope ended): nothing of it reaches QEMU. Never root: this process
	 * is that uid itself, and ProtectProc=invisible shows it that uid's
	 * processes (and no others).
	 */
	auto busy = findProcessOfUid(opts.runas.uid, "/proc", opts.neverRoot ? ::getpid() : 0);
	if (!busy)
		return fail(kExitOs, busy.error().wrap("Failed to check for processes of the device model's uid"));
	if (*busy)
		return fail(kExitUidBusy,
			    makeError(EBUSY, "Refusing to start the device model: uid {} already owns process {}",
				      opts.runas.uid, **busy));

	/* 4. Only stdio and the kept descriptors go on. Everything opened
	 * from here on is O_CLOEXEC. */
	s = closeFdsExcept(opts.keepFds);
	if (!s)
		return fail(kExitOs, s.error());

	/*
	 * 5. What this QEMU can do, and the argv it needs. The caller probed it
	 * (--qemu-caps, on this unit's own command line: no other DM can change
	 * it); if QEMU is no longer that binary, or there is no such word, probe
	 * it here. Nothing is ever written: this unit has no cache it can write
	 * (what one DM writes must never steer the next).
	 */
	QemuCaps caps;
	bool fromCaller = false, fromCache = false;
	if (opts.qemuCaps) {
		auto id = identifyQemu(qemu);
		if (!id)
			return fail(kExitQemu, id.error().wrap(fmt::format("Failed to identify {}", qemu)));
		if (*id == opts.qemuCaps->id) {
			caps = opts.qemuCaps->caps;
			fromCaller = true;
		} else {
			log::notice("{} changed since the caller probed it ({} now {}), probing it again", qemu,
				    opts.qemuCaps->id.toString(), id->toString());
		}
	}
	if (!fromCaller) {
		QemuProbeOptions probeOpts;
		probeOpts.cacheDir = opts.probeCache;
		probeOpts.readOnly = true;
		auto probe = probeQemu(qemu, probeOpts);
		if (!probe)
			return fail(kExitQemu, probe.error().wrap(fmt::format("Failed to probe {}", qemu)));
		caps = std::move(probe->caps);
		fromCache = probe->fromCache;
	}
	log::debug("{}: QEMU {}{}, accelerators: {}", qemu, caps.version.toString(),
		   fromCaller  ? " (probed by the caller)"
		   : fromCache ? " (cached)"
			       : "",
		   fmt::join(caps.accelerators, " "));

	auto plan = rewriteQemuArgv(opts, caps);
	if (!plan)
		return fail(kExitQemu, plan.error().wrap("Failed to prepare the QEMU command line"));
	for (const std::string &w : plan->warnings)
		log::warning("{}", w);
	for (const std::string &r : plan->replaced)
		log::notice("Replaced the caller's {} (qemu-dm's policy decides the device model's user and root)", r);
	for (const std::string &r : plan->removed)
		log::notice("Removed the caller's {} (the device model already runs as its user, never as root)", r);
	if (!opts.restrict)
		log::warning("Not restricting the device model's Xen handles (--no-restrict)");

	if (!opts.neverRoot) {
		auto chroot = prepareChrootDir(opts.chrootDir, systemChrootDirOps());
		if (!chroot) {
			Error err = chroot.error().wrap(
			    fmt::format("Failed to prepare the chroot directory {}", opts.chrootDir));
			if (opts.chrootAuto && chroot.error().code() == ENOENT)
				err = Error(err.code(), fmt::format("{} (is RuntimeDirectory=qemu-dm/{} set?)",
								    err.message(), opts.domid));
			return fail(kExitChroot, err);
		}
		log::debug("Chroot directory: {}", *chroot);
	}

	/*
	 * 6. The last restriction: QEMU's -runas needs CAP_SETUID in the root window,
	 * this filter lets it reach only the DM's own uid and gid (not another
	 * domain's). Also with --no-restrict and for stand-ins, which never drop:
	 * they are pinned to the uid they were meant to become. Never root: the
	 * same pins, setgroups denied (nothing to drop, no capability to do it
	 * with: a second layer under systemd's filter). Fails closed.
	 */
	s = installCredentialFilter(opts.neverRoot ? neverRootCredentialRules(opts.runas.uid, opts.runas.gid)
						   : credentialRules(opts.runas.uid, opts.runas.gid));
	if (!s)
		return fail(kExitSeccomp,
			    s.error().wrap(fmt::format("domain {}: Refusing to start the device model", opts.domid)));
	log::debug("Credential filter: set*id calls pinned to {}:{}", opts.runas.uid, opts.runas.gid);

	/* 7. Exec. */
	for (int fd : opts.keepFds) {
		s = clearCloexec(fd);
		if (!s)
			return fail(kExitOs, s.error());
	}
	log::info("Starting the {} device model for domain {}: {} (added: {})", guestTypeName(opts.type), opts.domid,
		  qemu, plan->added.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(plan->added, " ")));

	std::vector<char *> cargv;
	for (std::string &a : plan->argv)
		cargv.push_back(a.data());
	cargv.push_back(nullptr);

	/*
	 * Every check passed: tell systemd (Type=notify) right before exec, so the
	 * start job succeeds now and not earlier. unset_environment=1 removes
	 * NOTIFY_SOCKET, so QEMU never sees it. Without NOTIFY_SOCKET (run by
	 * hand, tests) this does nothing.
	 */
	int n = sd_notify(1, "READY=1\nSTATUS=Executing the device model");
	if (n < 0)
		return fail(kExitOs, errnoError(-n, "Failed to notify systemd of readiness"));
	::execv(qemu.c_str(), cargv.data());
	return fail(kExitExec, errnoError(errno, "Failed to execute {}", qemu));
}

} /* namespace */

int main(int argc, char **argv)
{
	int r = run(argc, argv);
	return r < 0 ? EXIT_FAILURE : r;
}
