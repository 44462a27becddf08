/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-shim: stock libxl's device model, run through qemu-dm.
 *
 *   xl.cfg: device_model_override="/usr/libexec/qemu-dm/qemu-dm-shim"
 *
 * libxl execs this program with QEMU's argv, the pre-opened QMP listening
 * socket as the fd its "-chardev socket,id=libxl-cmd,...,fd=N" names, on a
 * restore the saved state as the fd of "-incoming fd:M", XEN_QEMU_CONSOLE_LIMIT
 * in its environment, and its log file on stdout/stderr. The shim
 *   1. derives the request from the argv in the core (dmRequestFromQemuArgv),
 *      with the configuration's QEMU (qemu-dm.conf Qemu=) as the program;
 *   2. starts qemu-dm@<domid>.service through the core (DmController), which
 *      hands fds N and M to QEMU at those numbers (and only that variable of
 *      its environment), and returns once QEMU was exec'd, or the reason;
 *   3. stays alive as the process libxl tracks, and turns libxl's kill into
 *      stopping the unit: SIGTERM/SIGINT/SIGHUP to the shim stop it
 *      gracefully (SIGTERM, SIGKILL after the stop timeout); a SIGKILL of the
 *      shim is seen by a watcher child (its pipe from the shim reaches EOF),
 *      which destroys it (SIGKILL of every process of the unit at once); a kill of the DM itself (libxl's
 *      reaper kills by uid) ends the unit, and the shim follows;
 *   4. exits when the unit ends, with the DM's status, and writes why the DM
 *      failed to stderr, libxl's log of this device model.
 * No timers: poll(2) on a signalfd and a pidfd of the DM.
 *
 * Test options, only before a "--" that ends them (QEMU has none of these):
 *   qemu-dm-shim [--no-domain-check] [--allow-jit] -- QEMU-ARGS...
 */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config.h"
#include "dm_control.h"
#include "libxl_argv.h"
#include "log.h"
#include "unique_fd.h"

using namespace qemudm;

namespace {

int pidfdOpen(pid_t pid)
{
	return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

/* Write all of `len` bytes; false on error. */
bool writeAll(int fd, const void *p, size_t len)
{
	const char *c = static_cast<const char *>(p);
	while (len > 0) {
		ssize_t n = ::write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		c += n;
		len -= static_cast<size_t>(n);
	}
	return true;
}

/* 1 byte read; 0 at EOF; -1 on error. */
int readByte(int fd, char &c)
{
	for (;;) {
		ssize_t n = ::read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -1 : static_cast<int>(n);
	}
}

/*
 * The watcher, a child forked before the start: it reads the DM's main pid,
 * then waits. 'd' from the shim means "done, the shim handles the end": exit.
 * EOF means the shim died (libxl SIGKILLed it, i.e. destroy): destroy the
 * unit (SIGKILL its whole cgroup at once), if it is still the one the shim
 * started (its main pid unchanged), so the domid can be reused and nothing
 * survives.
 */
[[noreturn]] void watch(int readFd, uint32_t domid)
{
	std::string pid;
	char c;
	int r;
	while ((r = readByte(readFd, c)) > 0 && c != '\n')
		pid += c;
	if (r > 0) {
		r = readByte(readFd, c);
		if (r > 0 && c == 'd')
			::_exit(0);
	}
	/* The shim is gone. */
	auto ctl = DmController::open();
	if (!ctl)
		::_exit(1);
	auto st = ctl->status(domid);
	if (!st || st->activeState == "inactive")
		::_exit(0);
	if (!pid.empty() && std::to_string(st->mainPid) != pid && st->mainPid != 0)
		::_exit(0); /* another DM of this domid by now: not ours */
	log::notice("domain {}: qemu-dm-shim was killed, destroying {}", domid, st->unit);
	auto s = ctl->destroy(domid);
	if (!s) {
		log::error(s.error());
		::_exit(1);
	}
	::_exit(0);
}

int exitStatusOf(const DmEnd &end)
{
	if (!end.failed)
		return 0;
	if (end.exitCode == "exited")
		return end.exitStatus > 0 && end.exitStatus < 256 ? end.exitStatus : 1;
	if (end.exitCode == "killed" || end.exitCode == "dumped")
		return 128 + (end.exitStatus & 0x7f);
	return 1;
}

int run(int argc, char **argv)
{
	log::setup("qemu-dm-shim");
	std::vector<std::string> args(argv + 1, argv + argc);

	/* Test options: only as a prefix ended by "--". */
	bool domainCheck = true, allowJit = false;
	if (std::find(args.begin(), args.end(), "--") != args.end() && !args.empty() && args[0].starts_with("--") &&
	    args[0] != "--") {
		size_t i = 0;
		for (; i < args.size() && args[i] != "--"; i++) {
			if (args[i] == "--no-domain-check")
				domainCheck = false;
			else if (args[i] == "--allow-jit")
				allowJit = true;
			else
				break;
		}
		if (i < args.size() && args[i] == "--")
			args.erase(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
	} else if (!args.empty() && args[0] == "--") {
		args.erase(args.begin());
	}

	auto config = loadDefaultConfig();
	if (!config) {
		log::error(config.error().wrap("Failed to load the qemu-dm configuration"));
		return 1;
	}
	auto req = dmRequestFromQemuArgv(args, config->defaultQemu);
	if (!req) {
		log::error(req.error().wrap("Refusing to start the device model"));
		return 1;
	}
	req->domainCheck = domainCheck;
	req->allowWriteExecute = allowJit;
	const uint32_t domid = req->domid;
	if (req->qmpFdTarget >= 0 && ::fcntl(req->qmpFdTarget, F_GETFD) < 0) {
		log::error("domain {}: the QMP socket fd {} named in the argv is not open", domid, req->qmpFdTarget);
		return 1;
	}
	for (int fd : req->argvFds) {
		if (::fcntl(fd, F_GETFD) < 0) {
			log::error("domain {}: the fd {} named in the argv is not open", domid, fd);
			return 1;
		}
	}
	/* libxl sets this for QEMU; nothing else of libxl's environment reaches the device model. */
	if (const char *limit = ::getenv("XEN_QEMU_CONSOLE_LIMIT"))
		req->consoleLimit = limit;

	/* libxl's kill: these three, to this pid. Handled through a signalfd from here on. */
	sigset_t mask;
	sigemptyset(&mask);
	for (int s : { SIGTERM, SIGINT, SIGHUP })
		sigaddset(&mask, s);
	if (::sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) {
		log::error(errnoError(errno, "Failed to block signals"));
		return 1;
	}
	UniqueFd sigFd(::signalfd(-1, &mask, SFD_CLOEXEC));
	if (!sigFd) {
		log::error(errnoError(errno, "Failed to create a signalfd"));
		return 1;
	}

	int pipeFds[2];
	if (::pipe2(pipeFds, O_CLOEXEC) < 0) {
		log::error(errnoError(errno, "Failed to create the watcher pipe"));
		return 1;
	}
	UniqueFd toWatcher(pipeFds[1]);
	pid_t watcher = ::fork();
	if (watcher < 0) {
		log::error(errnoError(errno, "Failed to fork the watcher"));
		return 1;
	}
	if (watcher == 0) {
		/* Keep stderr (libxl's log) and the pipe only: never hold the QMP socket. */
		::close(pipeFds[1]);
		for (int fd = 3; fd < 1024; fd++)
			if (fd != pipeFds[0])
				(void)::close(fd);
		(void)::sigprocmask(SIG_UNBLOCK, &mask, nullptr);
		(void)::signal(SIGTERM, SIG_IGN); /* a kill of the shim's process group must not stop the watch */
		(void)::signal(SIGINT, SIG_IGN);
		(void)::signal(SIGHUP, SIG_IGN);
		watch(pipeFds[0], domid);
	}
	::close(pipeFds[0]);
	bool pidSent = false;
	auto finish = [&](int code) {
		/* "Done": the watcher leaves (after the pid line it waits for one byte). */
		(void)writeAll(toWatcher.get(), pidSent ? "d" : "\nd", pidSent ? 1 : 2);
		toWatcher.reset();
		int st;
		while (::waitpid(watcher, &st, 0) < 0 && errno == EINTR) {
		}
		return code;
	};

	auto ctl = DmController::open();
	if (!ctl) {
		log::error(ctl.error());
		return finish(1);
	}
	DmStartOptions so;
	so.qmpFd = req->qmpFdTarget;
	for (int fd : req->argvFds)
		so.fds.push_back(HandedFd{ fd, fd }); /* libxl opened them at the numbers the argv names */
	const uint64_t since = realtimeNowUsec();
	auto started = ctl->start(*req, so);
	if (req->qmpFdTarget >= 0)
		(void)::close(req->qmpFdTarget); /* QEMU has it now; libxl keeps its own */
	for (int fd : req->argvFds)
		(void)::close(fd);
	if (!started) {
		log::error(started.error());
		return finish(1);
	}
	for (const auto &w : started->warnings)
		log::warning("{}", w);
	auto st = ctl->status(domid);
	if (!st || st->mainPid == 0) {
		log::error("domain {}: the device model ended right after its start", domid);
		auto end = DmController::unitEnd(dmUnitName(domid), since, 10, std::chrono::seconds(2));
		if (!end.journal.empty())
			std::fprintf(stderr, "%s\n", end.journal.c_str());
		(void)ctl->stop(domid);
		return finish(1);
	}
	log::info("domain {}: device model running as {} (pid {}, user {})", domid, st->unit, st->mainPid, st->user);
	std::string pidLine = std::to_string(st->mainPid) + "\n";
	pidSent = writeAll(toWatcher.get(), pidLine.data(), pidLine.size());

	UniqueFd dmFd(pidfdOpen(static_cast<pid_t>(st->mainPid)));
	struct pollfd fds[2] = { { sigFd.get(), POLLIN, 0 }, { dmFd.get(), POLLIN, 0 } };
	bool stopped = false;
	for (;;) {
		int n = ::poll(fds, dmFd ? 2 : 1, dmFd ? -1 : 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log::error(errnoError(errno, "Failed to wait for the device model"));
			break;
		}
		if (!dmFd || (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
			break; /* the DM's main process ended: the unit ends with it */
		if (fds[0].revents & POLLIN) {
			signalfd_siginfo si;
			if (::read(sigFd.get(), &si, sizeof(si)) == sizeof(si)) {
				log::info("domain {}: got {}, stopping {}", domid,
					  strsignal(static_cast<int>(si.ssi_signo)), st->unit);
				stopped = true;
				break;
			}
		}
	}

	/* Stop or not, wait until every process of the unit is gone. */
	auto s = ctl->stop(domid);
	if (!s && s.error().code() != ESRCH)
		log::error(s.error());
	if (stopped)
		return finish(0);
	auto end = DmController::unitEnd(dmUnitName(domid), since, 10, std::chrono::seconds(2));
	int code = exitStatusOf(end);
	if (end.failed) {
		log::error("domain {}: the device model failed ({} {}); its last messages:", domid, end.exitCode,
			   end.exitStatus);
		std::fprintf(stderr, "%s\n", end.journal.c_str());
	} else {
		log::info("domain {}: the device model ended", domid);
	}
	return finish(code);
}

} /* namespace */

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "qemu-dm-shim: %s\n", e.what());
		return 1;
	}
}
