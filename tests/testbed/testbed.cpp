/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "testbed.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "log.h"
#include "test_util.h"

#ifndef TESTBED_SUPERVISOR
#error "TESTBED_SUPERVISOR must name the qemu-dm-testbed binary"
#endif

namespace qemudm::testbed {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<char *> cArgv(const std::vector<std::string> &argv)
{
	std::vector<char *> v;
	v.reserve(argv.size() + 1);
	for (const auto &a : argv)
		v.push_back(const_cast<char *>(a.c_str()));
	v.push_back(nullptr);
	return v;
}

int decodeStatus(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Wait for a child with a deadline; returns the decoded status or nullopt. */
std::optional<int> waitFor(pid_t pid, std::chrono::milliseconds timeout)
{
	auto deadline = Clock::now() + timeout;
	for (;;) {
		int status;
		pid_t r = ::waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return decodeStatus(status);
		if (r < 0 && errno != EINTR)
			return -1;
		if (Clock::now() >= deadline)
			return std::nullopt;
		std::this_thread::sleep_for(10ms);
	}
}

using test::slurp;

} /* namespace */

Result<CommandResult> runHost(const std::vector<std::string> &argv, std::chrono::milliseconds timeout,
			      const std::string &input)
{
	int in[2], out[2], err[2];
	if (::pipe2(in, O_CLOEXEC) < 0 || ::pipe2(out, O_CLOEXEC) < 0 || ::pipe2(err, O_CLOEXEC) < 0)
		return errnoError(errno, "Failed to create pipes");
	UniqueFd inR(in[0]), inW(in[1]), outR(out[0]), outW(out[1]), errR(err[0]), errW(err[1]);

	auto args = cArgv(argv);
	pid_t pid = ::fork();
	if (pid < 0)
		return errnoError(errno, "Failed to fork");
	if (pid == 0) {
		::dup2(inR.get(), 0);
		::dup2(outW.get(), 1);
		::dup2(errW.get(), 2);
		::setpgid(0, 0);
		::execvp(args[0], args.data());
		::_exit(127);
	}
	inR.reset();
	outW.reset();
	errW.reset();

	CommandResult result;
	size_t written = 0;
	if (input.empty())
		inW.reset();
	else
		(void)::fcntl(inW.get(), F_SETFL, O_NONBLOCK);

	auto deadline = Clock::now() + timeout;
	bool timedOut = false;
	while (outR || errR) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
		if (left <= 0ms) {
			timedOut = true;
			break;
		}
		pollfd pfds[3] = {
			{ outR.get(), POLLIN, 0 },
			{ errR.get(), POLLIN, 0 },
			{ inW.get(), POLLOUT, 0 },
		};
		int r = ::poll(pfds, 3, static_cast<int>(left.count()));
		if (r < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char buf[8192];
			ssize_t n = ::read(pfds[i].fd, buf, sizeof(buf));
			if (n > 0) {
				(i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
			} else if (n == 0 || errno != EINTR) {
				(i == 0 ? outR : errR).reset();
			}
		}
		if (inW && (pfds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = ::write(inW.get(), input.data() + written, input.size() - written);
			if (n > 0)
				written += static_cast<size_t>(n);
			if (n < 0 || written == input.size())
				inW.reset();
		}
	}
	if (timedOut) {
		(void)::kill(-pid, SIGKILL);
		(void)::kill(pid, SIGKILL);
	}
	auto st = waitFor(pid, timedOut ? 5000ms : timeout);
	if (!st) {
		(void)::kill(pid, SIGKILL);
		st = waitFor(pid, 5000ms);
	}
	if (timedOut)
		return makeError(ETIMEDOUT, "Command '{}' timed out after {} ms", argv.empty() ? "" : argv[0],
				 timeout.count());
	result.exitStatus = st.value_or(-1);
	return result;
}

Result<std::unique_ptr<TestBed>> TestBed::boot(const Options &options)
{
	std::vector<std::string> argv = {
		TESTBED_SUPERVISOR,
		"supervise",
		"--boot-timeout-ms=" + std::to_string(options.bootTimeout.count()),
		"--stop-timeout-ms=" + std::to_string(options.stopTimeout.count()),
	};
	if (!options.root.empty())
		argv.push_back("--root=" + options.root.string());
	if (!options.rootfs.empty())
		argv.push_back("--rootfs=" + options.rootfs.string());
	if (!options.consoleLog.empty())
		argv.push_back("--console=" + options.consoleLog.string());

	int ctl[2], st[2];
	if (::pipe2(ctl, O_CLOEXEC) < 0 || ::pipe2(st, O_CLOEXEC) < 0)
		return errnoError(errno, "Failed to create pipes");
	UniqueFd ctlR(ctl[0]), ctlW(ctl[1]), stR(st[0]), stW(st[1]);

	auto args = cArgv(argv);
	pid_t pid = ::fork();
	if (pid < 0)
		return errnoError(errno, "Failed to fork");
	if (pid == 0) {
		::dup2(ctlR.get(), 0);
		::dup2(stW.get(), 1);
		::execv(args[0], args.data());
		::_exit(127);
	}
	ctlR.reset();
	stW.reset();

	auto bed = std::unique_ptr<TestBed>(new TestBed());
	bed->supervisor_ = pid;
	bed->control_ = std::move(ctlW);
	bed->status_ = std::move(stR);
	bed->stopTimeout_ = options.stopTimeout;

	/* The supervisor prints "READY <pid>" or "ERROR <reason>". */
	std::string line;
	auto deadline = Clock::now() + options.bootTimeout + 5s;
	while (line.find('\n') == std::string::npos) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
		if (left <= 0ms)
			return makeError(ETIMEDOUT, "Test bed did not boot within {} ms", options.bootTimeout.count());
		pollfd p = { bed->status_.get(), POLLIN, 0 };
		if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
			continue;
		char buf[512];
		ssize_t n = ::read(bed->status_.get(), buf, sizeof(buf));
		if (n <= 0)
			return makeError(EIO, "Test bed supervisor exited during boot{}",
					 line.empty() ? "" : ": " + line);
		line.append(buf, static_cast<size_t>(n));
	}
	line.resize(line.find('\n'));
	if (line.rfind("READY ", 0) != 0)
		return makeError(EIO, "Failed to boot the test bed: {}",
				 line.rfind("ERROR ", 0) == 0 ? line.substr(6) : line);
	bed->pid_ = std::stoi(line.substr(6));
	return bed;
}

TestBed::~TestBed()
{
	(void)shutdown();
}

Status TestBed::shutdown()
{
	if (supervisor_ < 0)
		return success();
	control_.reset(); /* EOF: the supervisor tears down */
	auto st = waitFor(supervisor_, stopTimeout_ + 10s);
	if (!st) {
		(void)::kill(supervisor_, SIGKILL);
		st = waitFor(supervisor_, 5s);
	}
	supervisor_ = -1;
	pid_ = -1;
	if (!st || *st != 0)
		return makeError(EIO, "Test bed supervisor did not tear down cleanly (status {})", st.value_or(-1));
	return success();
}

std::vector<std::string> nsenterCommand(pid_t pid)
{
	/* --root --wd: PID 1's root and working directory; in a --rootfs bed the host's "/" is not the bed's. */
	return { "nsenter",
		 "-t",
		 std::to_string(pid),
		 "-m",
		 "-u",
		 "-i",
		 "-n",
		 "-p",
		 "-C",
		 "--root",
		 "--wd",
		 "--",
		 "env",
		 "SYSTEMD_PAGER=",
		 "SYSTEMD_COLORS=0",
		 "SYSTEMD_LESS=",
		 "LC_ALL=C.UTF-8" };
}

Result<CommandResult> TestBed::run(const std::vector<std::string> &argv, std::chrono::milliseconds timeout,
				   const std::string &input) const
{
	if (pid_ < 0)
		return makeError(ESRCH, "Test bed is not running");
	std::vector<std::string> full = nsenterCommand(pid_);
	full.insert(full.end(), argv.begin(), argv.end());
	return runHost(full, timeout, input);
}

Result<CommandResult> TestBed::sh(const std::string &script, std::chrono::milliseconds timeout) const
{
	return run({ "/bin/sh", "-c", script }, timeout);
}

Result<std::string> TestBed::inside(const std::function<std::string()> &fn, std::chrono::milliseconds timeout) const
{
	if (pid_ < 0)
		return makeError(ESRCH, "Test bed is not running");
	std::vector<UniqueFd> nsFds;
	for (const char *ns : { "cgroup", "ipc", "uts", "net", "pid", "mnt" }) {
		std::string p = fmt::format("/proc/{}/ns/{}", pid_, ns);
		UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
		if (!fd)
			return errnoError(errno, "Failed to open {}", p);
		nsFds.push_back(std::move(fd));
	}
	int pp[2];
	if (::pipe2(pp, O_CLOEXEC) < 0)
		return errnoError(errno, "Failed to create a pipe");
	UniqueFd rd(pp[0]), wr(pp[1]);

	pid_t child = ::fork();
	if (child < 0)
		return errnoError(errno, "Failed to fork");
	if (child == 0) {
		rd.reset();
		for (auto &fd : nsFds)
			if (::setns(fd.get(), 0) < 0)
				::_exit(120);
		if (::chdir("/") < 0)
			::_exit(121);
		pid_t grandchild = ::fork(); /* only children enter the new pid namespace */
		if (grandchild < 0)
			::_exit(122);
		if (grandchild == 0) {
			std::string out = fn();
			size_t off = 0;
			while (off < out.size()) {
				ssize_t n = ::write(wr.get(), out.data() + off, out.size() - off);
				if (n <= 0)
					::_exit(123);
				off += static_cast<size_t>(n);
			}
			::_exit(0);
		}
		wr.reset();
		int st;
		while (::waitpid(grandchild, &st, 0) < 0 && errno == EINTR)
			;
		::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 124);
	}
	wr.reset();

	std::string out;
	auto deadline = Clock::now() + timeout;
	for (;;) {
		auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
		if (left <= 0ms) {
			(void)::kill(child, SIGKILL);
			(void)waitFor(child, 5s);
			return makeError(ETIMEDOUT, "Code run inside the test bed timed out");
		}
		pollfd p = { rd.get(), POLLIN, 0 };
		if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
			continue;
		char buf[4096];
		ssize_t n = ::read(rd.get(), buf, sizeof(buf));
		if (n <= 0)
			break;
		out.append(buf, static_cast<size_t>(n));
	}
	auto st = waitFor(child, timeout);
	if (!st || *st != 0)
		return makeError(EIO, "Code run inside the test bed failed (status {})", st.value_or(-1));
	return out;
}

fs::path TestBed::hostPath(const fs::path &path) const
{
	return fs::path("/proc") / std::to_string(pid_) / "root" / path.relative_path();
}

Status TestBed::writeFile(const fs::path &path, const std::string &content, mode_t mode) const
{
	fs::path p = hostPath(path);
	std::error_code ec;
	fs::create_directories(p.parent_path(), ec);
	if (ec)
		return makeError(ec.value(), "Failed to create {}: {}", path.parent_path().string(), ec.message());
	UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
	if (!fd)
		return errnoError(errno, "Failed to open {} in the test bed", path.string());
	if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
		return errnoError(errno, "Failed to write {} in the test bed", path.string());
	(void)::fchmod(fd.get(), mode);
	return success();
}

std::string TestBed::journal(const std::string &unit, int lines) const
{
	auto r = run({ "journalctl", "--no-pager", "-o", "cat", "-n", std::to_string(lines), "-u", unit });
	if (!r.ok())
		return "(journalctl failed: " + r.error().message() + ")";
	return r->out;
}

Result<fs::path> installTree(const fs::path &buildDirArg)
{
	/* Absolute: meson resolves a relative --destdir against the build directory (build/build/...). */
	std::error_code absError;
	const fs::path buildDir = fs::absolute(buildDirArg, absError);
	if (absError)
		return makeError(absError.value(), "Failed to resolve {}: {}", buildDirArg.string(),
				 absError.message());
	fs::path root = buildDir / "testbed-root";
	fs::path lockPath = buildDir / "testbed-root.lock";
	UniqueFd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	if (!lock || ::flock(lock.get(), LOCK_EX) < 0)
		return errnoError(errno, "Failed to lock {}", lockPath.string());

	/* Re-install only when the build changed since the last install. */
	fs::path stamp = root / ".installed";
	std::error_code ec;
	auto built = fs::last_write_time(buildDir / "build.ninja", ec);
	auto ninjaLog = fs::last_write_time(buildDir / ".ninja_log", ec);
	if (!ec && fs::exists(stamp)) {
		auto installed = fs::last_write_time(stamp, ec);
		if (!ec && installed >= ninjaLog && installed >= built)
			return root;
	}
	fs::remove_all(root, ec);
	auto r = runHost(
	    { "meson", "install", "-C", buildDir.string(), "--destdir", root.string(), "--no-rebuild", "--quiet" },
	    std::chrono::minutes(5));
	if (!r.ok())
		return r.error();
	if (!r->ok())
		return makeError(EIO, "Failed to install the build into {}: {}{}", root.string(), r->out, r->err);
	std::ofstream(stamp) << "ok\n";
	return root;
}

std::vector<std::string> findLeftovers()
{
	std::vector<std::string> found;
	pid_t self = ::getpid();

	for (const auto &e : fs::directory_iterator("/proc")) {
		std::string name = e.path().filename();
		if (name.find_first_not_of("0123456789") != std::string::npos)
			continue;
		pid_t p = std::stoi(name);
		if (p == self)
			continue;
		std::string cg = slurp(e.path() / "cgroup");
		std::string comm = slurp(e.path() / "comm");
		if (!comm.empty() && comm.back() == '\n')
			comm.pop_back();
		if (cg.find("qemu-dm-testbed-") != std::string::npos)
			found.push_back(fmt::format("process {} ({}) in a test bed cgroup", p, comm));
		else if (comm == "qemu-dm-testbed")
			found.push_back(fmt::format("test bed supervisor {} still running", p));
	}

	std::ifstream mi("/proc/self/mountinfo");
	for (std::string line; std::getline(mi, line);) {
		if (line.find("testbed-root") != std::string::npos || line.find("qemu-dm-testbed") != std::string::npos)
			found.push_back("mount: " + line);
	}

	std::error_code ec;
	for (const auto &h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
		for (auto it = fs::recursive_directory_iterator(h.path(), ec); it != fs::recursive_directory_iterator();
		     it.increment(ec)) {
			if (ec)
				break;
			if (it->is_directory(ec) && it->path().filename().string().rfind("qemu-dm-testbed-", 0) == 0) {
				found.push_back("cgroup: " + it->path().string());
				it.disable_recursion_pending();
			}
		}
	}
	return found;
}

} /* namespace qemudm::testbed */
