/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The test bed: a private systemd PID 1 in fresh pid, mount, cgroup, ipc,
 * uts and net namespaces (booted to basic.target), with the project installed into
 * it from a `meson install --destdir` tree. Used by the integration suites,
 * the demo and the benchmarks.
 *
 * A supervisor process (qemu-dm-testbed supervise) owns the namespaces: it
 * boots systemd, reports its PID and tears everything down (SIGRTMIN+4, then
 * SIGKILL after a timeout, then removes its cgroups) when its stdin closes.
 * So a test that crashes or is killed still leaves nothing behind.
 */

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "result.h"
#include "unique_fd.h"

namespace qemudm::testbed {

struct Options {
	/* A `meson install --destdir` tree overlaid on /usr and /etc; empty = none. */
	std::filesystem::path root;
	/*
	 * A whole root file system to boot instead of the host's (e.g. a
	 * debootstrap with packages installed), overlaid with a tmpfs so writes
	 * never reach it; only /dev, /proc and /sys come from the host. Empty =
	 * the host's root.
	 */
	std::filesystem::path rootfs;
	/* Where PID 1's console output goes (for debugging); empty = /dev/null. */
	std::filesystem::path consoleLog;
	std::chrono::milliseconds bootTimeout{ 30000 };
	std::chrono::milliseconds stopTimeout{ 10000 };
};

struct CommandResult {
	int exitStatus = -1; /* exit code, or 128 + signal */
	std::string out;
	std::string err;
	bool ok() const { return exitStatus == 0; }
};

class TestBed final
{
public:
	~TestBed();
	TestBed(const TestBed &) = delete;
	TestBed &operator=(const TestBed &) = delete;

	/* Boot a test bed; returns once `systemctl is-system-running` settled. */
	static Result<std::unique_ptr<TestBed>> boot(const Options &options);

	/* Host PID of the test bed's PID 1 (systemd). */
	pid_t pid() const { return pid_; }
	/* Host PID of the supervisor that owns the namespaces and cgroups. */
	pid_t supervisorPid() const { return supervisor_; }

	/* Run argv inside the test bed (all its namespaces), capturing output. */
	Result<CommandResult> run(const std::vector<std::string> &argv,
				  std::chrono::milliseconds timeout = std::chrono::seconds(60),
				  const std::string &input = {}) const;
	/* Run a shell snippet with /bin/sh -c inside the test bed. */
	Result<CommandResult> sh(const std::string &script,
				 std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

	/*
	 * Run fn in a child process that has joined the test bed's namespaces
	 * (mount, pid, ...), and return what it returned. For in-process clients:
	 * systemd's private socket refuses peers from outside its pid namespace
	 * (their PID reads as 0), so sd-bus code under test must run in here.
	 * fn's std::string result travels back through a pipe; a crash is an Error.
	 */
	Result<std::string> inside(const std::function<std::string()> &fn,
				   std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

	/* Write a file inside the test bed (through /proc/PID/root). */
	Status writeFile(const std::filesystem::path &path, const std::string &content, mode_t mode = 0644) const;

	/* The journal of one unit, message text only. */
	std::string journal(const std::string &unit, int lines = 200) const;

	/* Path on the host that shows the test bed's view of `path`. */
	std::filesystem::path hostPath(const std::filesystem::path &path) const;

	/* Stop the test bed and wait until it is gone. Idempotent. */
	Status shutdown();

private:
	TestBed() = default;

	pid_t supervisor_ = -1;
	pid_t pid_ = -1;
	UniqueFd control_; /* write end of the supervisor's stdin */
	UniqueFd status_;  /* read end of the supervisor's stdout */
	std::chrono::milliseconds stopTimeout_{ 10000 };
};

/* The command prefix that runs a command in every namespace of the bed whose PID 1 is `pid`. */
std::vector<std::string> nsenterCommand(pid_t pid);

/* Run a command on the host, capturing output (used by the test bed itself). */
Result<CommandResult> runHost(const std::vector<std::string> &argv, std::chrono::milliseconds timeout,
			      const std::string &input = {});

/*
 * `meson install --destdir` of a build tree into BUILD/testbed-root, once per
 * build (serialised with a lock, so parallel suites share it). Returns the root.
 */
Result<std::filesystem::path> installTree(const std::filesystem::path &buildDir);

/* Leftovers on the host from any test bed: processes, mounts, cgroups. */
std::vector<std::string> findLeftovers();

} /* namespace qemudm::testbed */
