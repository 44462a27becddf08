/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * qemu-dm-testbed: boots and tears down the private systemd test bed.
 *
 *   qemu-dm-testbed supervise [--root=DIR] [--rootfs=DIR] [--console=FILE]
 *         [--boot-timeout-ms=N] [--stop-timeout-ms=N]
 *       Boot; print "READY <pid>" (or "ERROR <reason>") on stdout; tear
 *       down when stdin reaches EOF or on SIGTERM/SIGINT/SIGHUP.
 *   qemu-dm-testbed run [--build=DIR | --root=DIR | --rootfs=DIR] [--console=FILE] -- CMD...
 *       Boot, run CMD on the host with QEMU_DM_TESTBED_PID set, tear down.
 *       --root overlays an install tree on the host's /usr and /etc;
 *       --rootfs boots a whole other root file system (a debootstrap) instead
 *       of the host's, overlaid with a tmpfs (testbed-init.sh).
 *   qemu-dm-testbed exec PID -- CMD...       Run CMD inside a test bed.
 *   qemu-dm-testbed install --build=DIR      meson install into DIR/testbed-root.
 *   qemu-dm-testbed leftovers                List test bed leftovers; exit 1 if any.
 */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <sstream>
#include <thread>

#include "domain.h"
#include "log.h"
#include "test_util.h"
#include "testbed.h"

#ifndef TESTBED_INIT
#error "TESTBED_INIT must name testbed-init.sh"
#endif

using namespace qemudm;
using namespace qemudm::testbed;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct SuperviseArgs {
	std::string root = "-";
	std::string rootfs = "-";
	std::string console = "/dev/null";
	std::chrono::milliseconds bootTimeout{ 30000 };
	std::chrono::milliseconds stopTimeout{ 10000 };
};

using test::slurp;

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> v;
	std::string cur;
	std::istringstream is(s);
	while (std::getline(is, cur, sep))
		v.push_back(cur);
	return v;
}

bool pidAlive(pid_t p)
{
	return ::kill(p, 0) == 0 || errno == EPERM;
}

/* The cgroup hierarchies mounted under /sys/fs/cgroup, each with our path in it. */
struct Hierarchy {
	fs::path mountpoint;
	std::string ownPath; /* this process's cgroup, relative to the mount */
	bool cpuset = false;
};

std::vector<Hierarchy> hierarchies()
{
	std::map<std::string, std::string> own; /* controllers -> path */
	for (const auto &line : split(slurp("/proc/self/cgroup"), '\n')) {
		auto parts = split(line, ':');
		if (parts.size() >= 3) {
			std::string path = line.substr(parts[0].size() + parts[1].size() + 2);
			own[parts[1]] = path;
		}
	}

	std::vector<Hierarchy> hs;
	for (const auto &line : split(slurp("/proc/self/mountinfo"), '\n')) {
		auto sepPos = line.find(" - ");
		if (sepPos == std::string::npos)
			continue;
		auto pre = split(line.substr(0, sepPos), ' ');
		auto post = split(line.substr(sepPos + 3), ' ');
		if (pre.size() < 5 || post.size() < 3)
			continue;
		const std::string &mroot = pre[3], &mp = pre[4], &type = post[0];
		if (mp.rfind("/sys/fs/cgroup", 0) != 0)
			continue;
		std::string key;
		bool cpuset = false;
		if (type == "cgroup2") {
			key = "";
		} else if (type == "cgroup") {
			std::vector<std::string> ctrls;
			for (const auto &o : split(post[2], ',')) {
				if (o.rfind("name=", 0) == 0) {
					ctrls = { o };
					break;
				}
				if (o != "rw" && o != "ro" && o.find('=') == std::string::npos && o != "nosuid" &&
				    o != "nodev" && o != "noexec" && o != "relatime" && o != "clone_children" &&
				    o != "noprefix" && o != "cpuset_v2_mode")
					ctrls.push_back(o);
				if (o == "cpuset")
					cpuset = true;
			}
			for (size_t i = 0; i < ctrls.size(); i++)
				key += (i ? "," : "") + ctrls[i];
		} else {
			continue;
		}
		auto it = own.find(key);
		if (it == own.end())
			continue;
		std::string rel = it->second;
		if (mroot != "/" && rel.rfind(mroot, 0) == 0)
			rel = rel.substr(mroot.size());
		hs.push_back({ mp, rel, cpuset });
	}
	return hs;
}

/* Remove a cgroup tree depth-first, retrying while its processes exit. */
bool removeCgroupTree(const fs::path &dir, std::chrono::milliseconds timeout)
{
	auto deadline = Clock::now() + timeout;
	for (;;) {
		std::vector<fs::path> dirs;
		std::error_code ec;
		if (!fs::exists(dir, ec))
			return true;
		for (auto it = fs::recursive_directory_iterator(dir, ec);
		     !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
			if (it->is_directory(ec))
				dirs.push_back(it->path());
		}
		std::sort(dirs.begin(), dirs.end(),
			  [](const fs::path &a, const fs::path &b) { return a.string().size() > b.string().size(); });
		dirs.push_back(dir);
		bool allGone = true;
		for (const auto &d : dirs) {
			if (::rmdir(d.c_str()) < 0 && errno != ENOENT)
				allGone = false;
		}
		if (allGone)
			return true;
		if (Clock::now() >= deadline)
			return false;
		std::this_thread::sleep_for(20ms);
	}
}

/* Kill every process of a cgroup tree (a stale test bed's; we started them). */
void killCgroupTree(const fs::path &dir)
{
	std::error_code ec;
	std::vector<fs::path> dirs = { dir };
	for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
	     it.increment(ec))
		if (it->is_directory(ec))
			dirs.push_back(it->path());
	for (const auto &d : dirs)
		for (const auto &p : split(slurp(d / "cgroup.procs"), '\n'))
			if (!p.empty())
				(void)::kill(std::stoi(p), SIGKILL);
}

/* Test beds whose supervisor died without tearing down (e.g. SIGKILL). */
void sweepStale(const std::vector<Hierarchy> &hs)
{
	for (const auto &h : hs) {
		fs::path parent = h.mountpoint / fs::path(h.ownPath).relative_path();
		std::error_code ec;
		for (const auto &e : fs::directory_iterator(parent, ec)) {
			std::string n = e.path().filename();
			if (n.rfind("qemu-dm-testbed-", 0) != 0)
				continue;
			pid_t owner = std::atoi(n.c_str() + strlen("qemu-dm-testbed-"));
			if (owner > 0 && pidAlive(owner))
				continue;
			killCgroupTree(e.path());
			if (!removeCgroupTree(e.path(), 3s))
				log::warning("Failed to remove stale test bed cgroup {}, ignoring.", e.path().string());
		}
	}
}

Result<std::vector<fs::path>> makeCgroups(const std::vector<Hierarchy> &hs)
{
	std::vector<fs::path> made;
	std::string name = "qemu-dm-testbed-" + std::to_string(::getpid());
	for (const auto &h : hs) {
		fs::path parent = h.mountpoint / fs::path(h.ownPath).relative_path();
		fs::path dir = parent / name;
		if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
			for (const auto &d : made)
				(void)::rmdir(d.c_str());
			return errnoError(errno, "Failed to create cgroup {}", dir.string());
		}
		made.push_back(dir);
		if (h.cpuset) {
			for (const char *f : { "cpuset.cpus", "cpuset.mems" }) {
				std::string v = slurp(parent / f);
				std::ofstream(dir / f) << v;
			}
		}
	}
	return made;
}

pid_t findInit(pid_t unsharePid)
{
	std::string children =
	    slurp(fs::path("/proc") / std::to_string(unsharePid) / "task" / std::to_string(unsharePid) / "children");
	if (children.empty())
		return -1;
	return std::atoi(children.c_str());
}

std::string tail(const std::string &path, size_t lines)
{
	auto all = split(slurp(path), '\n');
	std::string out;
	for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); i++)
		out += all[i] + " | ";
	return out;
}

int supervise(const SuperviseArgs &args)
{
	/* Die with our controller: it holds our stdin, and EOF means "tear down". */
	sigset_t mask;
	sigemptyset(&mask);
	for (int s : { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE })
		sigaddset(&mask, s);
	sigprocmask(SIG_BLOCK, &mask, nullptr);
	UniqueFd sfd(::signalfd(-1, &mask, SFD_CLOEXEC));

	auto report = [](const std::string &s) {
		std::string line = s + "\n";
		(void)!::write(STDOUT_FILENO, line.data(), line.size());
	};

	if (::geteuid() != 0) {
		report("ERROR the test bed needs root (unshare, mounts, cgroups)");
		return 1;
	}

	auto hs = hierarchies();
	sweepStale(hs);
	auto cgs = makeCgroups(hs);
	if (!cgs.ok()) {
		report("ERROR " + cgs.error().message());
		return 1;
	}

	std::vector<std::string> argv = { "unshare",  "--fork",	 "--pid",      "--mount", "--mount-proc",
					  "--cgroup", "--ipc",	 "--uts",      "--net",	  "--kill-child=SIGKILL",
					  "--",	      "/bin/sh", TESTBED_INIT, args.root, args.rootfs };
	std::vector<char *> cargv;
	for (auto &a : argv)
		cargv.push_back(a.data());
	cargv.push_back(nullptr);
	std::vector<std::string> procsFiles;
	for (const auto &d : *cgs)
		procsFiles.push_back((d / "cgroup.procs").string());

	pid_t supervisor = ::getpid();
	pid_t child = ::fork();
	if (child == 0) {
		(void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (::getppid() != supervisor)
			::_exit(1);
		sigprocmask(SIG_UNBLOCK, &mask, nullptr);
		for (const auto &f : procsFiles) {
			int fd = ::open(f.c_str(), O_WRONLY | O_CLOEXEC);
			if (fd < 0 || ::write(fd, "0", 1) != 1)
				::_exit(2);
			::close(fd);
		}
		int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
		int out = ::open(args.console.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (in < 0 || out < 0)
			::_exit(3);
		::dup2(in, 0);
		::dup2(out, 1);
		::dup2(out, 2);
		::setsid();
		::execvp("unshare", cargv.data());
		::_exit(127);
	}

	pid_t init = -1;
	int exitCode = 0;
	bool ready = false;
	auto deadline = Clock::now() + args.bootTimeout;
	std::string failure;

	auto childGone = [&]() {
		int st;
		return ::waitpid(child, &st, WNOHANG) == child;
	};
	bool childReaped = false;

	while (!ready) {
		if (childGone()) {
			childReaped = true;
			failure = "systemd exited during boot: " + tail(args.console, 5);
			break;
		}
		if (Clock::now() >= deadline) {
			failure = fmt::format("systemd did not reach a settled state within {} ms: {}",
					      args.bootTimeout.count(), tail(args.console, 5));
			break;
		}
		if (init < 0) {
			init = findInit(child);
		} else if (slurp(fmt::format("/proc/{}/comm", init)) == "systemd\n") {
			auto r = runHost({ "nsenter", "-t", std::to_string(init), "-m", "-p", "--", "systemctl",
					   "is-system-running" },
					 2s);
			if (r.ok()) {
				std::string s = r->out.substr(0, r->out.find('\n'));
				if (s == "running" || s == "degraded")
					ready = true;
			}
		}
		if (!ready)
			std::this_thread::sleep_for(50ms);
	}

	if (ready)
		report("READY " + std::to_string(init));
	else
		report("ERROR " + failure);

	/* Serve until stdin closes or we are told to stop. */
	while (ready) {
		pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { sfd.get(), POLLIN, 0 } };
		if (::poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			char buf[64];
			ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0)
				break;
		}
		if (p[1].revents) {
			signalfd_siginfo si;
			if (::read(sfd.get(), &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					if (childGone()) {
						childReaped = true;
						log::error("The test bed's systemd exited unexpectedly.");
						exitCode = 1;
						break;
					}
					continue;
				}
				break;
			}
		}
	}

	/* Tear down: ask systemd to exit (SIGRTMIN+4), then SIGKILL after the timeout. */
	if (!childReaped) {
		if (init > 0)
			(void)::kill(init, SIGRTMIN + 4);
		auto stopBy = Clock::now() + args.stopTimeout;
		while (!(childReaped = childGone()) && Clock::now() < stopBy)
			std::this_thread::sleep_for(20ms);
		if (!childReaped) {
			log::warning("The test bed did not stop within {} ms, killing it.", args.stopTimeout.count());
			if (init > 0)
				(void)::kill(init, SIGKILL);
			(void)::kill(child, SIGKILL);
			int st;
			(void)::waitpid(child, &st, 0);
		}
	}
	for (const auto &d : *cgs) {
		if (!removeCgroupTree(d, 5s)) {
			killCgroupTree(d);
			if (!removeCgroupTree(d, 5s)) {
				log::error("Failed to remove test bed cgroup {}", d.string());
				exitCode = 1;
			}
		}
	}
	return ready ? exitCode : 1;
}

bool takeValue(const std::string &arg, const char *name, std::string &ret)
{
	std::string prefix = std::string(name) + "=";
	if (arg.rfind(prefix, 0) != 0)
		return false;
	ret = arg.substr(prefix.size());
	return true;
}

int usage(const char *error)
{
	log::error("{}", error);
	log::error("Usage: qemu-dm-testbed supervise|run|exec|install|leftovers ... (see the source header)");
	return 2;
}

int runCommand(int argc, char **argv)
{
	Options opts;
	std::string build, v;
	int i = 2;
	for (; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--") {
			i++;
			break;
		} else if (takeValue(a, "--build", v)) {
			build = v;
		} else if (takeValue(a, "--root", v)) {
			opts.root = v;
		} else if (takeValue(a, "--rootfs", v)) {
			opts.rootfs = v;
		} else if (takeValue(a, "--console", v)) {
			opts.consoleLog = v;
		} else {
			return usage(("Unknown option " + a).c_str());
		}
	}
	if (i >= argc)
		return usage("run: missing command after --");
	if (!build.empty()) {
		auto root = installTree(build);
		if (!root.ok()) {
			log::error(root.error());
			return 1;
		}
		opts.root = *root;
	}
	auto bed = TestBed::boot(opts);
	if (!bed.ok()) {
		log::error(bed.error());
		return 1;
	}
	::setenv("QEMU_DM_TESTBED_PID", std::to_string((*bed)->pid()).c_str(), 1);
	pid_t pid = ::fork();
	if (pid == 0) {
		::execvp(argv[i], argv + i);
		::_exit(127);
	}
	int st = 0;
	while (::waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	auto down = (*bed)->shutdown();
	if (!down.ok()) {
		log::error(down.error());
		return 1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int execCommand(int argc, char **argv)
{
	if (argc < 5 || std::string(argv[3]) != "--")
		return usage("exec: expected PID -- CMD...");
	auto pid = parseDecimal(argv[2], INT32_MAX);
	if (!pid)
		return usage("exec: PID must be a number");
	std::vector<std::string> a = nsenterCommand(static_cast<pid_t>(*pid));
	for (int i = 4; i < argc; i++)
		a.push_back(argv[i]);
	std::vector<char *> c;
	for (auto &s : a)
		c.push_back(s.data());
	c.push_back(nullptr);
	::execvp("nsenter", c.data());
	log::error("Failed to execute nsenter: {}", strerror(errno));
	return 127;
}

} /* namespace */

int main(int argc, char **argv)
{
	log::setup("qemu-dm-testbed", log::Target::Console);
	if (argc < 2)
		return usage("missing command");
	std::string cmd = argv[1];

	if (cmd == "supervise") {
		SuperviseArgs args;
		std::string v;
		for (int i = 2; i < argc; i++) {
			std::string a = argv[i];
			if (takeValue(a, "--root", v))
				args.root = v.empty() ? "-" : v;
			else if (takeValue(a, "--rootfs", v))
				args.rootfs = v.empty() ? "-" : v;
			else if (takeValue(a, "--console", v))
				args.console = v;
			else if (takeValue(a, "--boot-timeout-ms", v))
				args.bootTimeout = std::chrono::milliseconds(std::stoll(v));
			else if (takeValue(a, "--stop-timeout-ms", v))
				args.stopTimeout = std::chrono::milliseconds(std::stoll(v));
			else
				return usage(("Unknown option " + a).c_str());
		}
		return supervise(args);
	}
	if (cmd == "run")
		return runCommand(argc, argv);
	if (cmd == "exec")
		return execCommand(argc, argv);
	if (cmd == "install") {
		std::string build;
		if (argc != 3 || !takeValue(argv[2], "--build", build))
			return usage("install: expected --build=DIR");
		auto root = installTree(build);
		if (!root.ok()) {
			log::error(root.error());
			return 1;
		}
		fmt::print("{}\n", root->string());
		return 0;
	}
	if (cmd == "leftovers") {
		auto l = findLeftovers();
		for (const auto &s : l)
			fmt::print("{}\n", s);
		return l.empty() ? 0 : 1;
	}
	return usage(("Unknown command " + cmd).c_str());
}
