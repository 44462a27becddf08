/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * hostile-dm: a device model that attacks its own confinement.
 *
 * Started as the DM of a real qemu-dm@<domid> unit (behind qemu-dm-exec),
 * it first behaves like Debian 12's QEMU 7.2: it answers the probe
 * (-help, -version, -accel help, -sandbox on -version), accepts the
 * restriction arguments (-runas UID:GID, -chroot DIR, -run-with,
 * -xen-domid-restrict) and drops privileges the way QEMU's os_setup_post()
 * does (chroot + chdir, setgid, setgroups, setuid, then setuid(0) must fail).
 *
 * Then it attacks. Every vector runs in a forked child, so a vector that
 * gets the child killed (SIGSYS from the syscall filter, SIGKILL from the
 * OOM killer) is observed and reported. Vectors named "root-window-*" run
 * *before* the drop, as QEMU's root-with-a-bounding-set start-up window;
 * the others after it. One line per vector on stdout (the journal):
 *
 *   VECTOR <name> BLOCKED <ERRNO|SIGNAL|-> <detail>
 *   VECTOR <name> ALLOWED <detail>
 *
 * then "HOSTILE DONE <count>", and it waits to be stopped, so the suite can
 * inspect it from outside (tests/integration/test-hostile.cpp).
 *
 * Own options (listed in -help so qemu-dm-exec knows their arity):
 *   -attack NAME|all|root-window|after-drop   (repeatable)
 *   -hostile-domid N      this DM's domain (its runtime dir /run/qemu-dm/N)
 *   -hostile-peer N       another DM's domain to attack (pid, socket, uid)
 *   -host-shm-id ID       a SysV shm id of the host (must not be reachable)
 *   -host-msg-id ID       a SysV msg queue id of the host
 *   -hostile-share FILE   a file both DMs were granted (--path FILE:rw), where
 *                         they meet: "<domid> pid <pid>" and "<domid> done"
 *                         lines (without it, each DM's runtime dir, which the
 *                         allow-list view no longer shows to the other)
 *   -hostile-peer-disk F  the disk image declared for the peer only
 *   -hostile-disk PATH    this DM's declared read-write disk (its special-character name)
 *   -hostile-swap PATH    a declared disk the suite swaps for a symlink after the start; the
 *                         DM waits for <runtime dir>/hostile.go before its vectors
 *   -hostile-literal STR  one argument that must reach the DM exactly as kLiteral
 *   -list-attacks         print every vector's name and exit
 */

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <mqueue.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sys/fsuid.h>
#include <sys/io.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/klog.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

/* ---------------------------------------------------------------- probe */

constexpr std::string_view kVersion = "QEMU emulator version 7.2.0 (hostile-dm, qemu-dm test suite)\n"
				      "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n";

constexpr std::string_view kHelp = "usage: hostile-dm [options]\n"
				   "\n"
				   "Standard options:\n"
				   "-h or -help     display this help and exit\n"
				   "-version        display version information and exit\n"
				   "-machine [type=]name[,prop[=value][,...]]\n"
				   "                selects emulated machine ('-machine help' for list)\n"
				   "-name string1[,process=string2][,debug-threads=on|off]\n"
				   "-display none\n"
				   "                select display backend type\n"
				   "-S              freeze CPU at startup (use 'c' to start execution)\n"
				   "-no-shutdown    stop before shutdown\n"
				   "-xen-domid id   specify xen guest domain id\n"
				   "-xen-domid-restrict     restrict set of available xen operations\n"
				   "                        to specified domain id. (Does not affect\n"
				   "                        xenpv machine type).\n"
				   "-chroot dir     chroot to dir just before starting the VM\n"
				   "-runas user     change to user id user just before starting the VM\n"
				   "                user can be numeric uid:gid instead\n"
				   "-sandbox on[,obsolete=allow|deny][,elevateprivileges=allow|deny|children]\n"
				   "          [,spawn=allow|deny][,resourcecontrol=allow|deny]\n"
				   "                Enable seccomp mode 2 system call filter (default 'off').\n"
				   "-attack name    run the attack vector 'name' (all, root-window, after-drop)\n"
				   "-hostile-domid id\n"
				   "                the domain this device model serves\n"
				   "-hostile-peer id\n"
				   "                another domain whose device model is attacked\n"
				   "-host-shm-id id a SysV shared memory id of the host\n"
				   "-host-msg-id id a SysV message queue id of the host\n"
				   "-hostile-share file\n"
				   "                a file both device models may write (rendezvous)\n"
				   "-hostile-peer-disk file\n"
				   "                the disk image declared for the other domain only\n"
				   "-hostile-disk path\n"
				   "                this device model's declared read-write disk\n"
				   "-hostile-swap path\n"
				   "                a declared disk swapped for a symlink after the start\n"
				   "-hostile-literal string\n"
				   "                one argument that must arrive unchanged\n"
				   "-list-attacks   list the attack vectors and exit\n";

/* No "xen": qemu-dm-exec --no-domain-check then runs it without -xen-domid-restrict. */
constexpr std::string_view kAccel = "Accelerators supported in QEMU binary:\ntcg\n";
constexpr std::string_view kAccelXen = "Accelerators supported in QEMU binary:\nxen\ntcg\n";

void out(std::string_view s)
{
	/* One write per line: lines from concurrent children never interleave. */
	while (!s.empty()) {
		ssize_t n = write(STDOUT_FILENO, s.data(), s.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s.remove_prefix(static_cast<size_t>(n));
	}
}

/* ---------------------------------------------------------------- context */

struct Ctx {
	int domid = 0;
	int peer = 0;
	uid_t uid = 0;
	gid_t gid = 0;
	uid_t peerUid = 0;
	pid_t peerPid = 0;
	std::string chroot;
	long hostShmId = -1;
	long hostMsgId = -1;
	std::string share;    /* the rendezvous file; empty: the runtime dirs */
	std::string peerDisk; /* the peer's declared disk image */
	std::string disk;
	std::string swap;
	bool haveLiteral = false;
	std::string literal;
	std::string runDir() const { return "/run/qemu-dm/" + std::to_string(domid); }
	std::string peerDir() const { return "/run/qemu-dm/" + std::to_string(peer); }
};

Ctx g;

struct Outcome {
	bool blocked;
	std::string what; /* errno or signal name, or "-" */
	std::string detail;
};

const char *errName(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

Outcome blocked(int e, std::string detail)
{
	return { true, e ? errName(e) : "-", std::move(detail) };
}

Outcome allowed(std::string detail)
{
	return { false, "", std::move(detail) };
}

/* rc < 0 with errno set: blocked with that errno; otherwise allowed. */
Outcome check(long rc, const std::string &what)
{
	if (rc < 0)
		return blocked(errno, what + " failed: " + std::strerror(errno));
	return allowed(what + " succeeded (" + std::to_string(rc) + ")");
}

Outcome openCheck(const std::string &path, int flags, mode_t mode = 0600)
{
	int fd = open(path.c_str(), flags | O_CLOEXEC, mode);
	if (fd < 0)
		return blocked(errno, "open " + path + ": " + std::strerror(errno));
	close(fd);
	return allowed("opened " + path);
}

Outcome readCheck(const std::string &path)
{
	int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return blocked(errno, "open " + path + ": " + std::strerror(errno));
	char buf[64];
	ssize_t n = read(fd, buf, sizeof buf);
	int e = errno;
	close(fd);
	if (n < 0)
		return blocked(e, "read " + path + ": " + std::strerror(e));
	return allowed("read " + std::to_string(n) + " bytes of " + path);
}

Outcome listCheck(const std::string &path)
{
	DIR *d = opendir(path.c_str());
	if (!d)
		return blocked(errno, "opendir " + path + ": " + std::strerror(errno));
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return allowed("listed " + std::to_string(n) + " entries of " + path);
}

/*
 * Connect to a unix socket; when connected, try D-Bus's SASL EXTERNAL
 * handshake, which tells whether a D-Bus server would accept us as our uid.
 */
Outcome connectUnix(const std::string &path, bool dbus)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return blocked(errno, std::string("socket(AF_UNIX): ") + std::strerror(errno));
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
	if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return blocked(e, "connect " + path + ": " + std::strerror(e));
	}
	std::string detail = "connected to " + path;
	if (dbus) {
		char hex[32];
		std::string uid = std::to_string(geteuid());
		std::string enc;
		for (char c : uid) {
			std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(c));
			enc += hex;
		}
		std::string auth = std::string(1, '\0') + "AUTH EXTERNAL " + enc + "\r\n";
		(void)!write(fd, auth.data(), auth.size());
		pollfd p{ fd, POLLIN, 0 };
		char reply[128] = {};
		if (poll(&p, 1, 2000) == 1) {
			ssize_t n = read(fd, reply, sizeof reply - 1);
			if (n > 0) {
				std::string r(reply, static_cast<size_t>(n));
				while (!r.empty() && (r.back() == '\n' || r.back() == '\r'))
					r.pop_back();
				detail += "; AUTH EXTERNAL as uid " + uid + " -> " + r.substr(0, 40);
			}
		} else {
			detail += "; no AUTH reply";
		}
	}
	close(fd);
	return allowed(detail);
}

/* ---------------------------------------------------------------- vectors: files and devices */

Outcome writeFileIn(const std::string &dir)
{
	return openCheck(dir + "/hostile-dm-was-here", O_WRONLY | O_CREAT | O_TRUNC);
}

/* ---------------------------------------------------------------- persistent storage */

constexpr const char *kProbeCache = "/var/cache/qemu-dm/probe";

/*
 * Poison the QEMU probe cache for every other DM: rewrite each entry so that
 * it lists no Xen accelerator (a later DM would then start without
 * -xen-domid-restrict), or plant an entry if there is none.
 */
Outcome poisonProbeCache()
{
	DIR *d = opendir(kProbeCache);
	if (!d)
		return blocked(errno, std::string("opendir ") + kProbeCache + ": " + std::strerror(errno));
	int entries = 0, poisoned = 0, firstErr = 0;
	std::string firstWhat;
	while (dirent *e = readdir(d)) {
		std::string path = std::string(kProbeCache) + "/" + e->d_name;
		struct stat st;
		if (e->d_name[0] == '.' || lstat(path.c_str(), &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		entries++;
		std::string text;
		if (FILE *f = std::fopen(path.c_str(), "re")) {
			char buf[4096];
			size_t n;
			while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
				text.append(buf, n);
			std::fclose(f);
		}
		std::string out;
		size_t pos = 0;
		while (pos < text.size()) {
			size_t nl = text.find('\n', pos);
			std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos + 1);
			if (line.rfind("accelerators", 0) == 0)
				line = "accelerators tcg\n";
			out += line;
			pos = nl == std::string::npos ? text.size() : nl + 1;
		}
		int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0 || write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
			if (!firstErr) {
				firstErr = errno;
				firstWhat = "rewrite " + path + ": " + std::strerror(errno);
			}
		} else {
			poisoned++;
		}
		if (fd >= 0)
			close(fd);
	}
	closedir(d);
	if (poisoned)
		return allowed("rewrote " + std::to_string(poisoned) + " of " + std::to_string(entries) +
			       " probe cache entries without the Xen accelerator");
	if (entries)
		return blocked(firstErr, firstWhat);
	return openCheck(std::string(kProbeCache) + "/hostile-dm-poison", O_WRONLY | O_CREAT | O_TRUNC);
}

const char *fsName(long type)
{
	switch (type) {
	case TMPFS_MAGIC:
		return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case XFS_SUPER_MAGIC:
		return "xfs";
	default:
		return "a disk file system";
	}
}

/*
 * Write into a temporary directory: blocked if the write fails, or if the
 * directory is tmpfs (nothing survives the unit) and bounded (more than
 * 16 MiB fails with ENOSPC). Allowed if it is on a disk file system (on a
 * real host that survives a reboot) or tmpfs without a small bound.
 */
Outcome persistIn(const std::string &dir)
{
	std::string p = dir + "/hostile-dm-persist";
	int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return blocked(errno, "create " + p + ": " + std::strerror(errno));
	struct statfs sfs;
	long type = fstatfs(fd, &sfs) == 0 ? static_cast<long>(sfs.f_type) : 0;
	std::string fs = fsName(type);
	if (type != TMPFS_MAGIC) {
		close(fd);
		unlink(p.c_str());
		return allowed("created " + p + " on " + fs + " (persistent storage)");
	}
	static char chunk[1 << 20];
	std::memset(chunk, 'x', sizeof chunk);
	long total = 0;
	int e = 0;
	for (int i = 0; i < 24 && !e; i++) {
		ssize_t n = write(fd, chunk, sizeof chunk);
		if (n < 0)
			e = errno;
		else
			total += n;
	}
	close(fd);
	unlink(p.c_str());
	if (e)
		return blocked(e, "tmpfs " + dir + " full after " + std::to_string(total >> 20) +
				      " MiB: " + std::strerror(e));
	return allowed("wrote " + std::to_string(total >> 20) + " MiB into tmpfs " + dir + " (no small bound)");
}

/* The home directory of the DM's own user (userdb says "/"). */
Outcome writeOwnHome()
{
	passwd pw{}, *res = nullptr;
	char buf[4096];
	std::string home = "/";
	if (getpwuid_r(g.uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_dir)
		home = res->pw_dir;
	if (home.size() > 1 && home.back() == '/')
		home.pop_back();
	return writeFileIn(home == "/" ? "" : home);
}

Outcome mknodCheck(const std::string &path)
{
	long rc = mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 1));
	if (rc == 0)
		unlink(path.c_str());
	return check(rc, "mknod " + path + " c 1 1");
}

Outcome chmodSetuid()
{
	std::string p = g.runDir() + "/hostile-suid";
	int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0700);
	if (fd < 0)
		return blocked(errno, "create " + p + ": " + std::strerror(errno));
	long rc = fchmod(fd, 04755);
	int e = errno;
	close(fd);
	unlink(p.c_str());
	errno = e;
	return check(rc, "fchmod 04755 " + p);
}

/* ---------------------------------------------------------------- vectors: privilege */

Outcome capsetFull()
{
	__user_cap_header_struct h{ _LINUX_CAPABILITY_VERSION_3, 0 };
	__user_cap_data_struct d[2];
	for (auto &x : d)
		x.effective = x.permitted = x.inheritable = 0xffffffffu;
	return check(syscall(SYS_capset, &h, d), "capset(all capabilities)");
}

Outcome cloneNewUser()
{
	long rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
	if (rc == 0)
		_exit(0);
	if (rc > 0)
		waitpid(static_cast<pid_t>(rc), nullptr, 0);
	return check(rc, "clone(CLONE_NEWUSER)");
}

Outcome setnsPid1(int type, const char *what)
{
	int pfd = static_cast<int>(syscall(SYS_pidfd_open, 1, 0));
	if (pfd < 0)
		return blocked(errno, std::string("pidfd_open(1): ") + std::strerror(errno));
	long rc = setns(pfd, type);
	int e = errno;
	close(pfd);
	errno = e;
	return check(rc, std::string("setns(pidfd of PID 1, ") + what + ")");
}

/*
 * Regain root through a set-uid binary: drop to the DM uid in the child,
 * exec /usr/bin/su reading a password from a pipe, and read its effective
 * uid from /proc while it waits. NoNewPrivileges keeps it at the DM uid.
 */
/* setfsuid(2) has no error return: -1 is a filter's EPERM; else ask it again
 * (it returns the current fsuid) whether the peer uid took. */
Outcome setfsuidPeer()
{
	errno = 0;
	int old = setfsuid(g.peerUid);
	if (old == -1 && errno != 0)
		return blocked(errno, "setfsuid(peer uid) failed: " + std::string(std::strerror(errno)));
	int now = setfsuid(g.peerUid);
	if (now == static_cast<int>(g.peerUid))
		return allowed("fsuid is now the peer's uid " + std::to_string(g.peerUid));
	return blocked(0, "fsuid stayed " + std::to_string(now));
}

Outcome execSetuidBinary()
{
	const char *su = "/usr/bin/su";
	struct stat st {
	};
	if (stat(su, &st) < 0)
		return blocked(errno, std::string("stat ") + su + ": " + std::strerror(errno));
	if (!(st.st_mode & S_ISUID))
		return blocked(0, std::string(su) + " is not set-uid here");
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return blocked(errno, "pipe");
	pid_t c = fork();
	if (c == 0) {
		dup2(in[0], 0);
		if (setgid(g.gid) < 0 || setgroups(1, &g.gid) < 0 || setuid(g.uid) < 0)
			_exit(90);
		execl(su, "su", "-", "root", "-c", "true", static_cast<char *>(nullptr));
		_exit(91);
	}
	close(in[0]);
	std::string euid = "?";
	for (int i = 0; i < 40 && euid == "?"; i++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
		FILE *f = std::fopen(("/proc/" + std::to_string(c) + "/status").c_str(), "re");
		if (!f)
			continue;
		char line[256];
		bool isSu = false;
		while (std::fgets(line, sizeof line, f)) {
			if (!std::strncmp(line, "Name:\tsu", 8))
				isSu = true;
			unsigned r, e;
			if (isSu && std::sscanf(line, "Uid:\t%u\t%u", &r, &e) == 2)
				euid = std::to_string(e);
		}
		std::fclose(f);
	}
	close(in[1]);
	kill(c, SIGKILL);
	int status = 0;
	waitpid(c, &status, 0);
	if (euid == "0")
		return allowed("set-uid su ran with euid 0");
	if (euid == "?")
		return blocked(0, "could not observe su (exit status " + std::to_string(status) + ")");
	return blocked(0, "set-uid su ran with euid " + euid + " (no new privileges)");
}

/* ---------------------------------------------------------------- vectors: kernel */

Outcome bpfProgLoad()
{
	bpf_insn insns[2] = {};
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
	insns[1].code = BPF_JMP | BPF_EXIT;
	bpf_attr a{};
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = reinterpret_cast<uint64_t>(insns);
	a.insn_cnt = 2;
	a.license = reinterpret_cast<uint64_t>("GPL");
	long rc = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
	if (rc >= 0)
		close(static_cast<int>(rc));
	return check(rc, "bpf(BPF_PROG_LOAD)");
}

Outcome perfEventOpen()
{
	perf_event_attr a{};
	a.size = sizeof a;
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	long rc = syscall(SYS_perf_event_open, &a, -1, 0, -1, 0); /* all processes on CPU 0 */
	if (rc >= 0)
		close(static_cast<int>(rc));
	return check(rc, "perf_event_open(all processes, cpu 0)");
}

Outcome schedFifo()
{
	sched_param p{};
	p.sched_priority = 1;
	return check(sched_setscheduler(0, SCHED_FIFO, &p), "sched_setscheduler(SCHED_FIFO)");
}

/* ---------------------------------------------------------------- vectors: other processes */

Outcome killPid(pid_t pid, const std::string &who)
{
	if (pid <= 0)
		return blocked(0, "no pid for " + who);
	return check(kill(pid, 0), "kill(" + std::to_string(pid) + " " + who + ", 0)");
}

Outcome ptraceAttach(pid_t pid, const std::string &who)
{
	if (pid <= 0)
		return blocked(0, "no pid for " + who);
	long rc = ptrace(PTRACE_ATTACH, pid, nullptr, nullptr);
	if (rc == 0)
		ptrace(PTRACE_DETACH, pid, nullptr, nullptr);
	return check(rc, "ptrace(PTRACE_ATTACH, " + std::to_string(pid) + " " + who + ")");
}

Outcome processVmReadv(pid_t pid, const std::string &who)
{
	if (pid <= 0)
		return blocked(0, "no pid for " + who);
	char buf[16];
	iovec local{ buf, sizeof buf };
	iovec remote{ reinterpret_cast<void *>(0x400000), sizeof buf };
	return check(process_vm_readv(pid, &local, 1, &remote, 1, 0),
		     "process_vm_readv(" + std::to_string(pid) + " " + who + ")");
}

Outcome pidfdGetfd(pid_t pid, const std::string &who)
{
	if (pid <= 0)
		return blocked(0, "no pid for " + who);
	int pfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
	if (pfd < 0)
		return blocked(errno, "pidfd_open(" + who + "): " + std::strerror(errno));
	long rc = syscall(SYS_pidfd_getfd, pfd, 0, 0);
	int e = errno;
	close(pfd);
	errno = e;
	return check(rc, "pidfd_getfd(" + who + ", fd 0)");
}

Outcome joinCgroup(const std::string &procs)
{
	int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return blocked(errno, "open " + procs + ": " + std::strerror(errno));
	std::string pid = std::to_string(getpid());
	long rc = write(fd, pid.data(), pid.size());
	int e = errno;
	close(fd);
	errno = e;
	return check(rc, "write own pid to " + procs);
}

/* ---------------------------------------------------------------- vectors: network and IPC */

Outcome socketFamily(int family, const char *name)
{
	int type = family == AF_PACKET ? SOCK_RAW : family == AF_NETLINK ? SOCK_RAW : SOCK_STREAM;
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
	return check(fd, std::string("socket(") + name + ")");
}

Outcome shmAttachHost()
{
	if (g.hostShmId < 0)
		return blocked(0, "no host shm id given");
	void *p = shmat(static_cast<int>(g.hostShmId), nullptr, SHM_RDONLY);
	if (p == reinterpret_cast<void *>(-1))
		return blocked(errno, "shmat(host id " + std::to_string(g.hostShmId) + "): " + std::strerror(errno));
	shmdt(p);
	return allowed("attached the host's shm segment " + std::to_string(g.hostShmId));
}

Outcome msgHostQueue()
{
	if (g.hostMsgId < 0)
		return blocked(0, "no host msg id given");
	msqid_ds ds{};
	long rc = msgctl(static_cast<int>(g.hostMsgId), IPC_STAT, &ds);
	return check(rc, "msgctl(host queue " + std::to_string(g.hostMsgId) + ", IPC_STAT)");
}

Outcome mqCreate()
{
	mq_attr a{};
	a.mq_maxmsg = 4;
	a.mq_msgsize = 64;
	std::string name = "/hostile-dm-" + std::to_string(g.domid);
	mqd_t q = mq_open(name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600, &a);
	if (q == static_cast<mqd_t>(-1))
		return blocked(errno, "mq_open(" + name + ", O_CREAT): " + std::strerror(errno));
	mq_close(q);
	mq_unlink(name.c_str());
	return allowed("created POSIX message queue " + name);
}

/* ---------------------------------------------------------------- vectors: resources */

Outcome forkBomb()
{
	/* Bounded: at most 10000 sleeping children, every one killed afterwards. */
	std::vector<pid_t> kids;
	int err = 0;
	for (int i = 0; i < 10000; i++) {
		pid_t c = fork();
		if (c == 0) {
			pause();
			_exit(0);
		}
		if (c < 0) {
			err = errno;
			break;
		}
		kids.push_back(c);
	}
	for (pid_t c : kids)
		kill(c, SIGKILL);
	for (pid_t c : kids)
		waitpid(c, nullptr, 0);
	if (err)
		return blocked(err,
			       "fork failed after " + std::to_string(kids.size()) + " children: " + std::strerror(err));
	return allowed("forked 10000 children");
}

Outcome writePastFsize()
{
	rlimit rl{};
	getrlimit(RLIMIT_FSIZE, &rl);
	std::string lim = rl.rlim_cur == RLIM_INFINITY ? "infinity" : std::to_string(rl.rlim_cur);
	if (rl.rlim_cur == RLIM_INFINITY)
		return allowed("RLIMIT_FSIZE is infinity (nothing to exceed)");
	signal(SIGXFSZ, SIG_IGN);
	std::string p = g.runDir() + "/hostile-big";
	int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return blocked(errno, "create " + p + ": " + std::strerror(errno));
	long rc = pwrite(fd, "x", 1, static_cast<off_t>(rl.rlim_cur));
	int e = errno;
	close(fd);
	unlink(p.c_str());
	errno = e;
	return check(rc, "pwrite at offset RLIMIT_FSIZE=" + lim);
}

Outcome mlockCheck()
{
	static char page[4096];
	return check(mlock(page, sizeof page), "mlock(4 KiB)");
}

Outcome memoryExhaustion()
{
	/* Touch memory in 16 MiB steps; bounded at 4 GiB so a missing limit cannot hurt the host. */
	constexpr size_t step = 16u << 20;
	size_t total = 0;
	while (total < (4ull << 30)) {
		void *p = mmap(nullptr, step, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return blocked(errno, "mmap failed after " + std::to_string(total >> 20) + " MiB");
		std::memset(p, 0x5a, step);
		total += step;
	}
	return allowed("touched 4096 MiB");
}

Outcome coreDump()
{
	rlimit rl{};
	getrlimit(RLIMIT_CORE, &rl);
	pid_t c = fork();
	if (c == 0) {
		prctl(PR_SET_DUMPABLE, 1);
		raise(SIGSEGV);
		_exit(0);
	}
	int status = 0;
	waitpid(c, &status, 0);
	std::string lim = rl.rlim_cur == RLIM_INFINITY ? "infinity" : std::to_string(rl.rlim_cur);
	if (WIFSIGNALED(status) && WCOREDUMP(status))
		return allowed("child dumped core (RLIMIT_CORE=" + lim + ")");
	return blocked(0, "no core dumped (RLIMIT_CORE=" + lim + ")");
}

Outcome raiseRlimit(int res, const char *name)
{
	rlimit rl{ RLIM_INFINITY, RLIM_INFINITY };
	return check(setrlimit(res, &rl), std::string("setrlimit(") + name + ", infinity)");
}

/* ---------------------------------------------------------------- vectors: W^X */

Outcome mmapWriteExec()
{
	void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return blocked(errno, std::string("mmap(PROT_WRITE|PROT_EXEC): ") + std::strerror(errno));
	munmap(p, 4096);
	return allowed("mapped writable+executable memory");
}

Outcome mprotectExecAfterWrite()
{
	void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return blocked(errno, "mmap");
	static_cast<unsigned char *>(p)[0] = 0xc3; /* ret */
	long rc = mprotect(p, 4096, PROT_READ | PROT_EXEC);
	int e = errno;
	munmap(p, 4096);
	errno = e;
	return check(rc, "mprotect(written page, PROT_EXEC)");
}

Outcome memfdDoubleMap()
{
	int fd = static_cast<int>(syscall(SYS_memfd_create, "hostile", 0));
	if (fd < 0)
		return blocked(errno, std::string("memfd_create: ") + std::strerror(errno));
	if (ftruncate(fd, 4096) < 0) {
		close(fd);
		return blocked(errno, "ftruncate");
	}
	void *w = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *x = mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	int e = errno;
	close(fd);
	if (w == MAP_FAILED || x == MAP_FAILED) {
		errno = e;
		return blocked(e, std::string("second mapping: ") + std::strerror(e));
	}
	static_cast<unsigned char *>(w)[0] = 0xc3; /* ret, written through the W view */
	reinterpret_cast<void (*)()>(x)();	   /* and executed through the X view */
	return allowed("memfd mapped W and X at once; code written through one view ran through the other");
}

/* ---------------------------------------------------------------- the allow-list view */

/* The view's root on the host (installed by qemu-dm, prefix /usr). */
constexpr const char *kViewRootPath = "/usr/libexec/qemu-dm/view/root";

/* What a DM's "/" may hold: the view (docs/confinement.md, "The allow-list view"). */
constexpr std::string_view kViewTopLevel[] = {
	"bin", "dev",  "etc", "lib",  "lib32", "lib64", "libx32", "media", "mnt",
	"opt", "proc", "run", "sbin", "srv",   "sys",	"tmp",	  "usr",   "var"
};

/* List "/": allowed if anything outside the view is there (an undeclared top-level dir such as /srv, /work). */
Outcome listRootDirectory()
{
	DIR *d = opendir("/");
	if (!d)
		return blocked(errno, std::string("opendir /: ") + std::strerror(errno));
	std::string extra, seen;
	while (dirent *e = readdir(d)) {
		std::string_view n = e->d_name;
		if (n == "." || n == "..")
			continue;
		seen += (seen.empty() ? "" : " ") + std::string(n);
		if (std::find(std::begin(kViewTopLevel), std::end(kViewTopLevel), n) == std::end(kViewTopLevel))
			extra += (extra.empty() ? "" : " ") + std::string(n);
	}
	closedir(d);
	if (!extra.empty())
		return allowed("/ shows what the view does not list: " + extra);
	return blocked(0, "/ holds only the view: " + seen);
}

/*
 * Replace the peer's libxl QMP socket (/run/xen/qmp-libxl-<peer>, libxl's
 * path for that domain's QMP): bind our own socket next to it and rename it
 * over. libxl would then talk to us as that domain's device model.
 */
Outcome replacePeerLibxlQmp()
{
	const std::string target = "/run/xen/qmp-libxl-" + std::to_string(g.peer);
	const std::string tmp = "/run/xen/.hostile-dm-" + std::to_string(g.domid);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return blocked(errno, std::string("socket(AF_UNIX): ") + std::strerror(errno));
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", tmp.c_str());
	unlink(tmp.c_str());
	if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return blocked(e, "bind " + tmp + ": " + std::strerror(e));
	}
	close(fd);
	if (rename(tmp.c_str(), target.c_str()) < 0) {
		int e = errno;
		unlink(tmp.c_str());
		return blocked(e, "rename " + tmp + " over " + target + ": " + std::strerror(e));
	}
	return allowed("replaced " + target + " with a socket of domain " + std::to_string(g.domid));
}

/* ---------------------------------------------------------------- declared values and objects */

/*
 * What the suite passes as -hostile-literal: every character a unit file or
 * systemd-run reads specially that qemu-dm lets through to QEMU ('$', ';',
 * '`' and control characters are refused before the start).
 */
constexpr std::string_view kLiteral = "%n %% a b \"q\" 'it's' back\\slash ~x :y @z +w -v =u, \xc3\xa9";
constexpr uid_t kRangeBase = 131072;

void touch(const std::string &path, const std::string &content);

/* Class 1: the argument systemd passed is the one declared: not split, expanded or unquoted. */
Outcome argvAsDeclared()
{
	if (!g.haveLiteral)
		return blocked(0, "NOCONTROL: no -hostile-literal argument reached the DM");
	if (g.literal != kLiteral)
		return allowed("-hostile-literal arrived as [" + g.literal + "], declared [" + std::string(kLiteral) +
			       "]");
	return blocked(0, "-hostile-literal arrived byte for byte as declared [" + g.literal + "]");
}

/* Class 1: the environment is what the unit declares and systemd's own variables, nothing expanded. */
Outcome environmentAsDeclared()
{
	static const std::vector<std::string_view> systemd = { "PATH",
							       "LANG",
							       "INVOCATION_ID",
							       "JOURNAL_STREAM",
							       "RUNTIME_DIRECTORY",
							       "TMPDIR",
							       "SYSTEMD_EXEC_PID",
							       "NOTIFY_SOCKET",
							       "MONITOR_",
							       "LISTEN_" };
	std::string names, extra;
	bool domainOk = false, uidOk = false;
	for (char **e = environ; *e; e++) {
		std::string_view kv = *e;
		std::string_view name = kv.substr(0, kv.find('='));
		std::string_view value = kv.substr(std::min(kv.size(), name.size() + 1));
		names += std::string(names.empty() ? "" : " ") + std::string(name);
		if (name == "XEN_DOMAIN_ID")
			domainOk = value == std::to_string(g.domid);
		else if (name == "QEMU_DM_UID")
			uidOk = value == std::to_string(g.uid);
		else if (name != "XEN_QEMU_CONSOLE_LIMIT") {
			bool known = false;
			for (auto s : systemd)
				known = known || name == s || (s.back() == '_' && name.starts_with(s));
			if (!known)
				extra += " " + std::string(name);
		}
	}
	if (!domainOk || !uidOk || !extra.empty())
		return allowed("environment not as declared (XEN_DOMAIN_ID " + std::string(domainOk ? "ok" : "wrong") +
			       ", QEMU_DM_UID " + (uidOk ? "ok" : "wrong") + ", undeclared:" + extra + "): " + names);
	return blocked(0, "only the declared variables and systemd's own: " + names);
}

/* The own declared disk must be writable, or the vectors around it prove nothing. */
bool ownDiskWritable(std::string &why)
{
	if (g.disk.empty()) {
		why = "NOCONTROL: no -hostile-disk";
		return false;
	}
	int fd = open(g.disk.c_str(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		why = "NOCONTROL: the declared disk " + g.disk + " is not writable: " + std::strerror(errno);
		return false;
	}
	close(fd);
	return true;
}

/* Class 1: access to exactly the declared object: not a file next to it, not a prefix of its name. */
Outcome writeNextToDisk(const std::string &path, int flags = O_WRONLY)
{
	std::string why;
	if (!ownDiskWritable(why))
		return blocked(0, why);
	Outcome o = openCheck(path, flags);
	o.detail += " (the declared " + g.disk + " is writable)";
	return o;
}

std::string dirOf(const std::string &p)
{
	return p.substr(0, p.rfind('/'));
}

/* Class 2: the DM cannot replace its declared disk: its directory is not writable. */
Outcome replaceDisk()
{
	std::string why;
	if (!ownDiskWritable(why))
		return blocked(0, why);
	std::string moved = dirOf(g.disk) + "/hostile-moved.img";
	if (rename(g.disk.c_str(), moved.c_str()) == 0) {
		(void)rename(moved.c_str(), g.disk.c_str());
		return allowed("renamed the declared disk " + g.disk + " away");
	}
	int e = errno;
	if (unlink(g.disk.c_str()) == 0)
		return allowed("unlinked the declared disk " + g.disk);
	return blocked(e, "rename " + g.disk + ": " + std::strerror(e) + "; unlink: " + std::strerror(errno));
}

/*
 * Class 2: the suite replaced the declared -hostile-swap path by a symlink to
 * the peer's disk after the start. The DM must not get the symlink's target
 * (the peer's disk starts with "QDM-DISK-<peer>"; the swapped-away object
 * with "QDM-SWAP-<domid>"): opened with `flags`.
 */
Outcome swappedDisk(int flags)
{
	if (g.swap.empty())
		return blocked(0, "NOCONTROL: no -hostile-swap");
	struct stat st;
	if (lstat(g.swap.c_str(), &st) < 0)
		return blocked(errno, "lstat " + g.swap + ": " + std::strerror(errno));
	std::string how = std::string(S_ISLNK(st.st_mode) ? "a symlink" : "no symlink") + " in the DM's view";
	int fd = open(g.swap.c_str(), flags | O_CLOEXEC);
	if (fd < 0)
		return blocked(errno, how + "; open " + g.swap + ": " + std::strerror(errno));
	char buf[32] = {};
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	std::string got(buf, n > 0 ? static_cast<size_t>(n) : 0);
	if (got.rfind("QDM-SWAP-" + std::to_string(g.domid), 0) == 0)
		return blocked(0, how + "; opened the object checked at start, not the symlink's target");
	return allowed(how + "; opened the symlink's target: [" + got.substr(0, 16) + "]");
}

unsigned long long capMask(const std::string &status, const char *field)
{
	auto pos = status.find(std::string("\n") + field + ":");
	return pos == std::string::npos ? ~0ULL
					: std::strtoull(status.c_str() + pos + std::strlen(field) + 2, nullptr, 16);
}

/* Class 4: root in the window, but only the bounding set's capabilities, nothing ambient. */
Outcome rootWindowCapabilities()
{
	std::string status;
	if (FILE *f = std::fopen("/proc/self/status", "re")) {
		char buf[4096];
		size_t n;
		while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
			status.append(buf, n);
		std::fclose(f);
	}
	const unsigned long long want = (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID) | (1ULL << CAP_SYS_CHROOT);
	unsigned long long eff = capMask(status, "CapEff"), prm = capMask(status, "CapPrm"),
			   bnd = capMask(status, "CapBnd"), amb = capMask(status, "CapAmb"),
			   inh = capMask(status, "CapInh");
	char detail[160];
	std::snprintf(detail, sizeof detail, "CapEff %llx CapPrm %llx CapBnd %llx CapAmb %llx CapInh %llx", eff, prm,
		      bnd, amb, inh);
	if ((eff | prm | bnd) & ~want || amb || inh)
		return allowed(std::string("capabilities beyond CAP_SETUID CAP_SETGID CAP_SYS_CHROOT: ") + detail);
	return blocked(0, std::string("only the bounding set: ") + detail);
}

/* Class 4: after the drop, the DM's ids are its own domain's only. */
Outcome ownIdsOnly()
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	getresuid(&r, &e, &s);
	getresgid(&rg, &eg, &sg);
	gid_t groups[64];
	int n = getgroups(64, groups);
	std::string detail = "uids " + std::to_string(r) + "/" + std::to_string(e) + "/" + std::to_string(s) +
			     " gids " + std::to_string(rg) + "/" + std::to_string(eg) + "/" + std::to_string(sg) +
			     " groups";
	bool groupsOk = n >= 0;
	for (int i = 0; i < n; i++) {
		detail += " " + std::to_string(groups[i]);
		groupsOk = groupsOk && groups[i] == g.gid;
	}
	const uid_t mine = kRangeBase + static_cast<uid_t>(g.domid);
	if (r != mine || e != mine || s != mine || rg != g.gid || eg != g.gid || sg != g.gid || !groupsOk)
		return allowed("ids other than domain " + std::to_string(g.domid) + "'s (" + std::to_string(mine) +
			       "): " + detail);
	return blocked(0, "only domain " + std::to_string(g.domid) + "'s ids: " + detail);
}

/*
 * Class 7: hold as many slow connections to the user database as it takes
 * (a request dripped one byte every 500 ms, reconnect when closed), for 25 s.
 * Blocked if the socket cannot be reached; otherwise "allowed" with the
 * counts, and the suite measures what another DM start and a lookup take
 * meanwhile (<runtime dir>/hostile.userdb-held is written once connections
 * are held).
 */
Outcome userdbFlood()
{
	const std::string path = "/run/systemd/userdb/org.xenproject.QemuDm";
	constexpr int kWanted = 200;
	std::vector<int> fds;
	int opened = 0, closedByServer = 0, firstErr = 0;
	auto connectOne = [&]() {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		sockaddr_un sa{};
		sa.sun_family = AF_UNIX;
		std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
		if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) {
			if (!firstErr)
				firstErr = errno;
			if (fd >= 0)
				close(fd);
			return -1;
		}
		opened++;
		return fd;
	};
	for (int i = 0; i < kWanted; i++)
		if (int fd = connectOne(); fd >= 0)
			fds.push_back(fd);
	if (fds.empty())
		return blocked(firstErr, "connect " + path + ": " + std::strerror(firstErr));
	touch(g.runDir() + "/hostile.userdb-held", std::to_string(fds.size()));
	const std::string req = "{\"method\":\"io.systemd.UserDatabase.GetUserRecord\",\"parameters\":{\"userName\":"
				"\"xen-qemuuser-1\",\"service\":\"org.xenproject.QemuDm\"}}";
	size_t pos = 0;
	for (int round = 0; round < 50; round++) {
		for (int &fd : fds) {
			char junk[256];
			if (read(fd, junk, sizeof junk) == 0 ||
			    (fd >= 0 && write(fd, &req[pos % req.size()], 1) < 0 && errno != EAGAIN)) {
				close(fd);
				closedByServer++;
				fd = connectOne();
			}
		}
		pos++;
		std::this_thread::sleep_for(std::chrono::milliseconds(500));
		fds.erase(std::remove(fds.begin(), fds.end(), -1), fds.end());
	}
	for (int fd : fds)
		close(fd);
	return allowed("held up to " + std::to_string(kWanted) + " slow connections to " + path + " for 25 s: " +
		       std::to_string(opened) + " opened, " + std::to_string(closedByServer) + " closed by the server");
}

/* Class 8: nothing the generator reads can be made a FIFO, device or file by a DM. */
Outcome mkfifoIn(const std::string &path)
{
	long rc = mkfifo(path.c_str(), 0600);
	if (rc == 0)
		unlink(path.c_str());
	return check(rc, "mkfifo " + path);
}

/* Create a file that did not exist (and remove it again), or append to the existing one. */
Outcome createOrAppend(const std::string &path)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		unlink(path.c_str());
		return allowed("created " + path);
	}
	if (errno != EEXIST)
		return blocked(errno, "create " + path + ": " + std::strerror(errno));
	return openCheck(path, O_WRONLY | O_APPEND);
}

/* ---------------------------------------------------------------- the table */

struct Vector {
	const char *name;
	bool rootWindow; /* runs before the privilege drop */
	std::function<Outcome()> fn;
};

std::vector<Vector> vectors()
{
	const std::string peerSock = g.peerDir() + "/hostile.sock";
	const std::string peerPid = "peer DM";
	return {
		/* ---- root window: before chroot/setuid, root with the unit's bounding set ---- */
		{ "root-window-write-run-systemd-system", true, [] { return writeFileIn("/run/systemd/system"); } },
		{ "root-window-write-etc", true, [] { return writeFileIn("/etc"); } },
		{ "root-window-write-usr", true, [] { return writeFileIn("/usr/lib"); } },
		{ "root-window-write-var-lib", true, [] { return writeFileIn("/var/lib"); } },
		{ "root-window-write-var-cache", true, [] { return writeFileIn("/var/cache"); } },
		{ "root-window-write-probe-cache", true, [] { return writeFileIn(kProbeCache); } },
		{ "root-window-poison-probe-cache", true, poisonProbeCache },
		{ "root-window-persist-var-tmp", true, [] { return persistIn("/var/tmp"); } },
		{ "root-window-persist-tmp", true, [] { return persistIn("/tmp"); } },
		{ "root-window-persist-tmpdir", true,
		  [] {
			  const char *t = std::getenv("TMPDIR");
			  return persistIn(t && *t ? t : "/tmp");
		  } },
		{ "root-window-write-own-home", true, writeOwnHome },
		{ "root-window-persist-dev-shm", true, [] { return persistIn("/dev/shm"); } },
		{ "root-window-see-peer-dev-shm", true,
		  [] { return openCheck("/dev/shm/hostile-dm-" + std::to_string(g.peer), O_RDONLY); } },
		{ "root-window-write-peer-runtime-dir", true, [] { return writeFileIn(g.peerDir()); } },
		{ "root-window-read-etc-shadow", true, [] { return readCheck("/etc/shadow"); } },
		{ "root-window-list-root-home", true, [] { return listCheck("/root"); } },
		{ "root-window-list-home", true, [] { return listCheck("/home"); } },
		{ "root-window-open-dev-mem", true, [] { return openCheck("/dev/mem", O_RDONLY); } },
		{ "root-window-open-dev-kmsg", true, [] { return openCheck("/dev/kmsg", O_RDONLY); } },
		{ "root-window-open-block-device-loop0", true, [] { return openCheck("/dev/loop0", O_RDONLY); } },
		{ "root-window-open-dev-xen-gntdev", true, [] { return openCheck("/dev/xen/gntdev", O_RDWR); } },
		{ "root-window-mknod-dev-mem", true, [] { return mknodCheck(g.runDir() + "/mem"); } },
		{ "root-window-chmod-setuid", true, chmodSetuid },
		{ "root-window-exec-setuid-binary", true, execSetuidBinary },
		{ "root-window-mount-tmpfs", true,
		  [] { return check(mount("none", "/tmp", "tmpfs", 0, nullptr), "mount(tmpfs, /tmp)"); } },
		{ "root-window-write-sysctl", true, [] { return openCheck("/proc/sys/kernel/hostname", O_WRONLY); } },
		{ "root-window-write-sysrq-trigger", true, [] { return openCheck("/proc/sysrq-trigger", O_WRONLY); } },
		{ "root-window-join-host-cgroup", true, [] { return joinCgroup("/sys/fs/cgroup/cgroup.procs"); } },
		{ "root-window-read-host-proc-environ", true, [] { return readCheck("/proc/1/environ"); } },
		{ "root-window-read-peer-proc-environ", true,
		  [] { return readCheck("/proc/" + std::to_string(g.peerPid) + "/environ"); } },
		{ "root-window-kill-peer-dm", true, [] { return killPid(g.peerPid, "peer DM"); } },
		{ "root-window-kill-pid1", true, [] { return killPid(1, "PID 1"); } },
		{ "root-window-ptrace-peer-dm", true, [] { return ptraceAttach(g.peerPid, "peer DM"); } },
		{ "root-window-setns-host-mount-namespace", true,
		  [] { return setnsPid1(CLONE_NEWNS, "CLONE_NEWNS"); } },
		{ "root-window-connect-peer-socket", true, [peerSock] { return connectUnix(peerSock, false); } },
		{ "root-window-connect-dbus-system-bus", true,
		  [] { return connectUnix("/run/dbus/system_bus_socket", true); } },
		{ "root-window-connect-systemd-private", true,
		  [] { return connectUnix("/run/systemd/private", true); } },
		{ "root-window-connect-xenstored", true, [] { return connectUnix("/run/xenstored/socket", false); } },
		/* ---- declared values and objects ---- */
		{ "root-window-argv-as-declared", true, argvAsDeclared },
		{ "root-window-environment-as-declared", true, environmentAsDeclared },
		{ "root-window-write-next-to-declared-disk", true,
		  [] { return writeNextToDisk(g.disk + ".sibling"); } },
		{ "root-window-write-prefix-of-declared-disk", true,
		  [] { return writeNextToDisk(g.disk.substr(0, g.disk.find('+'))); } },
		{ "root-window-create-in-declared-disk-directory", true,
		  [] { return writeNextToDisk(dirOf(g.disk) + "/hostile-new.img", O_WRONLY | O_CREAT | O_EXCL); } },
		{ "root-window-replace-declared-disk", true, replaceDisk },
		{ "root-window-write-swapped-declared-disk", true, [] { return swappedDisk(O_RDWR); } },
		{ "root-window-read-swapped-declared-disk", true, [] { return swappedDisk(O_RDONLY); } },
		{ "root-window-capabilities-are-the-bounding-set", true, rootWindowCapabilities },
		{ "root-window-setuid-peer-uid", true, [] { return check(setuid(g.peerUid), "setuid(peer uid)"); } },
		{ "root-window-setresuid-peer-uid", true,
		  [] { return check(setresuid(g.peerUid, g.peerUid, g.peerUid), "setresuid(peer uid x3)"); } },
		{ "root-window-setreuid-peer-uid", true,
		  [] { return check(setreuid(g.peerUid, g.peerUid), "setreuid(peer uid x2)"); } },
		{ "root-window-setfsuid-peer-uid", true, setfsuidPeer },
		{ "root-window-setgid-other-gid", true, [] { return check(setgid(g.gid + 1), "setgid(gid + 1)"); } },
		{ "root-window-setresgid-other-gid", true,
		  [] { return check(setresgid(g.gid + 1, g.gid + 1, g.gid + 1), "setresgid(gid + 1 x3)"); } },
		{ "root-window-userdb-flood", true, userdbFlood },
		{ "root-window-mkfifo-qemu-dm-conf-d", true,
		  [] { return mkfifoIn("/etc/xen/qemu-dm.conf.d/hostile.conf"); } },
		{ "root-window-write-qemu-dm-conf-d", true, [] { return writeFileIn("/etc/xen/qemu-dm.conf.d"); } },
		{ "root-window-write-qemu-dm-conf", true, [] { return createOrAppend("/etc/xen/qemu-dm.conf"); } },
		{ "root-window-write-generator-dropins", true,
		  [] { return writeFileIn("/run/systemd/generator/qemu-dm@.service.d"); } },
		{ "root-window-finit-module", true,
		  [] { return check(syscall(SYS_finit_module, 0, "", 0), "finit_module(fd 0)"); } },
		/* the allow-list view: another domain's objects, host secrets, undeclared dirs */
		{ "root-window-connect-peer-libxl-qmp", true,
		  [] { return connectUnix("/run/xen/qmp-libxl-" + std::to_string(g.peer), false); } },
		{ "root-window-replace-peer-libxl-qmp", true, replacePeerLibxlQmp },
		{ "root-window-write-peer-qemu-root", true,
		  [] { return writeFileIn("/run/xen/qemu-root-" + std::to_string(g.peer)); } },
		{ "root-window-write-run-xen", true, [] { return writeFileIn("/run/xen"); } },
		{ "root-window-read-ssh-host-key", true, [] { return readCheck("/etc/ssh/ssh_host_ed25519_key"); } },
		{ "root-window-read-etc-fstab", true, [] { return readCheck("/etc/fstab"); } },
		{ "root-window-read-peer-disk", true,
		  [] {
			  return g.peerDisk.empty() ? blocked(EINVAL, "no -hostile-peer-disk") : readCheck(g.peerDisk);
		  } },
		{ "root-window-list-undeclared-dir-boot", true, [] { return listCheck("/boot"); } },
		{ "root-window-list-root-directory", true, listRootDirectory },
		/*
		 * The view's root at its host path, seen through the /usr bind: only
		 * read-only copies of this DM's own mounts may be there (a writable
		 * copy would be a way back to the host's files).
		 */
		{ "root-window-write-view-root-etc-passwd", true,
		  [] { return openCheck(std::string(kViewRootPath) + "/etc/passwd", O_WRONLY); } },
		{ "root-window-write-view-root-lib", true,
		  [] { return writeFileIn(std::string(kViewRootPath) + "/lib"); } },

		/* ---- after the drop: the DM uid, chrooted into its empty root ---- */
		/* files */
		{ "write-host-etc-passwd", false, [] { return openCheck("/etc/passwd", O_WRONLY | O_APPEND); } },
		{ "create-file-in-root", false, [] { return writeFileIn(""); } },
		{ "write-var-tmp", false, [] { return writeFileIn("/var/tmp"); } },
		{ "write-var-cache", false, [] { return writeFileIn("/var/cache"); } },
		{ "write-var-lib", false, [] { return writeFileIn("/var/lib"); } },
		{ "poison-probe-cache", false, poisonProbeCache },
		{ "list-root-directory", false, [] { return listCheck("/"); } },
		{ "read-etc-shadow", false, [] { return readCheck("/etc/shadow"); } },
		{ "escape-chroot-dotdot", false, [] { return readCheck("/../../../../etc/passwd"); } },
		{ "chroot-again", false, [] { return check(chroot("/"), "chroot(/)"); } },
		{ "see-peer-runtime-dir", false, [] { return listCheck(g.peerDir()); } },
		{ "read-host-proc-environ", false, [] { return readCheck("/proc/1/environ"); } },
		{ "read-peer-proc-environ", false,
		  [] { return readCheck("/proc/" + std::to_string(g.peerPid) + "/environ"); } },
		/* devices */
		{ "open-dev-mem", false, [] { return openCheck("/dev/mem", O_RDONLY); } },
		{ "open-dev-xen-privcmd", false, [] { return openCheck("/dev/xen/privcmd", O_RDWR); } },
		{ "mknod-char-device", false, [] { return mknodCheck("/mem"); } },
		/* privilege */
		{ "setuid-root", false, [] { return check(setuid(0), "setuid(0)"); } },
		{ "setresuid-peer-uid", false,
		  [] {
			  return check(setresuid(g.peerUid, g.peerUid, g.peerUid),
				       "setresuid(" + std::to_string(g.peerUid) + ")");
		  } },
		{ "setgid-root", false, [] { return check(setgid(0), "setgid(0)"); } },
		{ "setgroups-root", false,
		  [] {
			  gid_t z = 0;
			  return check(setgroups(1, &z), "setgroups([0])");
		  } },
		{ "capset-full", false, capsetFull },
		/* one DM's own ids only */
		{ "setuid-peer-uid", false, [] { return check(setuid(g.peerUid), "setuid(peer uid)"); } },
		{ "setgroups-root-group", false,
		  [] {
			  gid_t root = 0;
			  return check(setgroups(1, &root), "setgroups({0})");
		  } },
		{ "own-ids-only", false, ownIdsOnly },
		{ "mkfifo-qemu-dm-conf-d", false, [] { return mkfifoIn("/etc/xen/qemu-dm.conf.d/hostile.conf"); } },
		{ "prctl-ambient-raise-setuid", false,
		  [] {
			  return check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETUID, 0, 0),
				       "prctl(PR_CAP_AMBIENT_RAISE, CAP_SETUID)");
		  } },
		{ "prctl-clear-no-new-privs", false,
		  [] { return check(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS, 0)"); } },
		{ "prctl-set-mm-start-code", false,
		  [] {
			  return check(prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0x10000, 0, 0),
				       "prctl(PR_SET_MM_START_CODE)");
		  } },
		{ "exec-setuid-binary", false,
		  [] {
			  execl("/usr/bin/su", "su", static_cast<char *>(nullptr));
			  return blocked(errno, std::string("execve /usr/bin/su: ") + std::strerror(errno));
		  } },
		{ "unshare-user-namespace", false,
		  [] { return check(unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)"); } },
		{ "unshare-mount-namespace", false,
		  [] { return check(unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)"); } },
		{ "unshare-net-namespace", false,
		  [] { return check(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)"); } },
		{ "clone-new-user-namespace", false, cloneNewUser },
		{ "setns-host-net-namespace", false, [] { return setnsPid1(CLONE_NEWNET, "CLONE_NEWNET"); } },
		/* kernel */
		{ "mount-tmpfs", false,
		  [] { return check(mount("none", "/", "tmpfs", 0, nullptr), "mount(tmpfs, /)"); } },
		{ "umount-root", false, [] { return check(umount2("/", MNT_DETACH), "umount2(/)"); } },
		{ "pivot-root", false, [] { return check(syscall(SYS_pivot_root, "/", "/"), "pivot_root(/, /)"); } },
		{ "init-module", false,
		  [] { return check(syscall(SYS_init_module, nullptr, 0, ""), "init_module(NULL)"); } },
		{ "finit-module", false,
		  [] { return check(syscall(SYS_finit_module, 0, "", 0), "finit_module(fd 0)"); } },
		{ "kexec-load", false,
		  [] { return check(syscall(SYS_kexec_load, 0, 0, nullptr, 0), "kexec_load(no segments)"); } },
		{ "reboot", false, [] { return check(reboot(0x12345678), "reboot(invalid command)"); } },
		{ "swapon", false, [] { return check(swapon("/hostile-swap", 0), "swapon(/hostile-swap)"); } },
		{ "settimeofday", false,
		  [] {
			  timeval tv{ 0, 0 };
			  gettimeofday(&tv, nullptr);
			  return check(settimeofday(&tv, nullptr), "settimeofday(now)");
		  } },
		{ "clock-settime", false,
		  [] {
			  timespec ts{};
			  clock_gettime(CLOCK_REALTIME, &ts);
			  return check(clock_settime(CLOCK_REALTIME, &ts), "clock_settime(CLOCK_REALTIME, now)");
		  } },
		{ "adjtimex-set-offset", false,
		  [] {
			  timex t{};
			  t.modes = ADJ_OFFSET_SINGLESHOT;
			  return check(adjtimex(&t), "adjtimex(ADJ_OFFSET_SINGLESHOT 0)");
		  } },
		{ "sethostname", false, [] { return check(sethostname("hostile", 7), "sethostname(hostile)"); } },
		{ "setdomainname", false, [] { return check(setdomainname("hostile", 7), "setdomainname(hostile)"); } },
		{ "bpf-prog-load", false, bpfProgLoad },
		{ "perf-event-open", false, perfEventOpen },
		{ "keyctl-join-session-keyring", false,
		  [] {
			  return check(syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "hostile"),
				       "keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
		  } },
		{ "add-key-user-keyring", false,
		  [] {
			  return check(syscall(SYS_add_key, "user", "hostile", "x", 1, -4 /* KEY_SPEC_USER_KEYRING */),
				       "add_key(user keyring)");
		  } },
		{ "personality-read-implies-exec", false,
		  [] { return check(personality(READ_IMPLIES_EXEC), "personality(READ_IMPLIES_EXEC)"); } },
		{ "sched-setscheduler-fifo", false, schedFifo },
		{ "ioperm", false, [] { return check(ioperm(0x80, 1, 1), "ioperm(0x80)"); } },
		{ "iopl", false, [] { return check(iopl(3), "iopl(3)"); } },
		{ "syslog-read-kernel-log", false,
		  [] {
			  char buf[256];
			  return check(klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof buf), "syslog(READ_ALL)");
		  } },
		{ "acct", false, [] { return check(acct("/hostile-acct"), "acct(/hostile-acct)"); } },
		{ "open-by-handle-at", false,
		  [] {
			  char buf[sizeof(file_handle) + 8] = {};
			  auto *h = reinterpret_cast<file_handle *>(buf);
			  h->handle_bytes = 8;
			  return check(syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY), "open_by_handle_at");
		  } },
		/* other processes */
		{ "kill-peer-dm", false, [] { return killPid(g.peerPid, "peer DM"); } },
		{ "kill-pid1", false, [] { return killPid(1, "PID 1"); } },
		{ "ptrace-attach-peer-dm", false, [] { return ptraceAttach(g.peerPid, "peer DM"); } },
		{ "ptrace-attach-pid1", false, [] { return ptraceAttach(1, "PID 1"); } },
		{ "process-vm-readv-peer-dm", false, [] { return processVmReadv(g.peerPid, "peer DM"); } },
		{ "pidfd-getfd-peer-dm", false, [] { return pidfdGetfd(g.peerPid, "peer DM"); } },
		{ "join-host-cgroup", false, [] { return joinCgroup("/sys/fs/cgroup/cgroup.procs"); } },
		/* network and IPC */
		{ "socket-af-inet", false, [] { return socketFamily(AF_INET, "AF_INET"); } },
		{ "socket-af-inet6", false, [] { return socketFamily(AF_INET6, "AF_INET6"); } },
		{ "socket-af-netlink", false, [] { return socketFamily(AF_NETLINK, "AF_NETLINK"); } },
		{ "socket-af-packet", false, [] { return socketFamily(AF_PACKET, "AF_PACKET"); } },
		{ "connect-dbus-system-bus", false, [] { return connectUnix("/run/dbus/system_bus_socket", true); } },
		{ "connect-systemd-private", false, [] { return connectUnix("/run/systemd/private", true); } },
		{ "connect-xenstored", false, [] { return connectUnix("/run/xenstored/socket", false); } },
		{ "connect-journal-stdout", false, [] { return connectUnix("/run/systemd/journal/stdout", false); } },
		{ "connect-peer-socket", false, [peerSock] { return connectUnix(peerSock, false); } },
		{ "sysv-shm-attach-host-segment", false, shmAttachHost },
		{ "sysv-msg-stat-host-queue", false, msgHostQueue },
		{ "posix-mq-create", false, mqCreate },
		/* resources */
		{ "fork-bomb", false, forkBomb },
		{ "mlock", false, mlockCheck },
		{ "mlockall", false, [] { return check(mlockall(MCL_CURRENT), "mlockall(MCL_CURRENT)"); } },
		{ "raise-rlimit-core", false, [] { return raiseRlimit(RLIMIT_CORE, "RLIMIT_CORE"); } },
		{ "raise-rlimit-nproc", false, [] { return raiseRlimit(RLIMIT_NPROC, "RLIMIT_NPROC"); } },
		{ "core-dump", false, coreDump },
		{ "write-past-fsize", true, writePastFsize },
		{ "memory-exhaustion", false, memoryExhaustion },
		/* W^X */
		{ "mmap-write-exec", false, mmapWriteExec },
		{ "mprotect-exec-after-write", false, mprotectExecAfterWrite },
		{ "memfd-double-map-write-exec", false, memfdDoubleMap },
	};
}

/* Vectors "all" does not include: they need a dedicated unit (they end it or need admin limits). */
bool onlyByName(std::string_view n)
{
	return n == "memory-exhaustion" || n == "write-past-fsize" || n == "root-window-userdb-flood";
}

/* Run one vector in a child; report what the child said or what killed it. */
void runVector(const Vector &v)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		out(std::string("VECTOR ") + v.name + " ERROR pipe\n");
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		alarm(60);
		Outcome o = v.fn();
		std::string line = o.blocked ? "B " + o.what + " " + o.detail : "A " + o.detail;
		(void)!write(p[1], line.data(), line.size());
		_exit(0);
	}
	close(p[1]);
	if (c < 0) {
		close(p[0]);
		out(std::string("VECTOR ") + v.name + " ERROR fork: " + std::strerror(errno) + "\n");
		return;
	}
	std::string msg;
	char buf[512];
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			msg.append(buf, static_cast<size_t>(n));
	close(p[0]);
	int status = 0;
	while (waitpid(c, &status, 0) < 0 && errno == EINTR) {
	}
	for (char &ch : msg)
		if (ch == '\n')
			ch = ' ';
	std::string line = std::string("VECTOR ") + v.name + " ";
	if (WIFSIGNALED(status)) {
		const char *s = sigabbrev_np(WTERMSIG(status));
		line += std::string("BLOCKED SIG") + (s ? s : "?") + " killed by signal " +
			std::to_string(WTERMSIG(status));
	} else if (msg.rfind("B ", 0) == 0) {
		line += "BLOCKED " + msg.substr(2);
	} else if (msg.rfind("A ", 0) == 0) {
		line += "ALLOWED " + msg.substr(2);
	} else {
		line += "ERROR child exited " + std::to_string(WEXITSTATUS(status)) + " without a report";
	}
	out(line + "\n");
}

bool waitForFile(const std::string &path, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		if (access(path.c_str(), F_OK) == 0)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return false;
}

void touch(const std::string &path, const std::string &content)
{
	int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)!write(fd, content.data(), content.size());
	close(fd);
}

/*
 * Meeting the peer: "<domid> <what>" lines appended to the shared file, or
 * (without -hostile-share) a file hostile.<what> in the own runtime dir.
 */
void announce(const std::string &what)
{
	if (g.share.empty()) {
		std::string word = what.substr(0, what.find(' '));
		std::string rest = what.size() > word.size() ? what.substr(word.size() + 1) : "";
		touch(g.runDir() + "/hostile." + word, rest);
		return;
	}
	int fd = open(g.share.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	std::string line = std::to_string(g.domid) + " " + what + "\n";
	(void)!write(fd, line.data(), line.size());
	close(fd);
}

/* Wait (20 s at most) for the peer's "<what>" and return what follows it ("" if none or not seen). */
std::string awaitPeer(const std::string &what)
{
	for (int i = 0; i < 20 * 20; i++) {
		std::string text;
		std::string path = g.share.empty() ? g.peerDir() + "/hostile." + what : g.share;
		if (FILE *f = std::fopen(path.c_str(), "re")) {
			char buf[4096];
			size_t n;
			while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
				text.append(buf, n);
			std::fclose(f);
			if (g.share.empty())
				return text;
			std::istringstream in(text);
			std::string line, prefix = std::to_string(g.peer) + " " + what;
			while (std::getline(in, line))
				if (line.rfind(prefix, 0) == 0)
					return line.size() > prefix.size() ? line.substr(prefix.size() + 1) : "";
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	}
	return "";
}

/* A listening socket in our runtime dir, made as root before the drop, as QEMU makes its QMP socket. */
int listenSocket()
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	std::string path = g.runDir() + "/hostile.sock";
	std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
	unlink(path.c_str());
	if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool parseUidGid(std::string_view s, uid_t &uid, gid_t &gid)
{
	unsigned u, gg;
	char tail;
	if (std::sscanf(std::string(s).c_str(), "%u:%u%c", &u, &gg, &tail) != 2)
		return false;
	uid = u;
	gid = gg;
	return true;
}

int dropPrivileges()
{
	/* QEMU 7.2's os_setup_post(): chroot, chdir, then change_process_uid(). */
	if (!g.chroot.empty()) {
		if (chroot(g.chroot.c_str()) < 0) {
			std::fprintf(stderr, "chroot failed: %s\n", std::strerror(errno));
			return -1;
		}
		if (chdir("/") < 0) {
			std::fprintf(stderr, "not able to chdir to /: %s\n", std::strerror(errno));
			return -1;
		}
	}
	if (setgid(g.gid) < 0 || setgroups(1, &g.gid) < 0 || setuid(g.uid) < 0) {
		std::fprintf(stderr, "Failed to setuid/setgid: %s\n", std::strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		std::fprintf(stderr, "Dropping privileges failed\n");
		return -1;
	}
	return 0;
}

} /* namespace */

int main(int argc, char **argv)
{
	std::vector<std::string_view> a(argv + 1, argv + argc);
	if (a.size() == 1 && a[0] == "-version") {
		out(kVersion);
		return 0;
	}
	if (a.size() == 1 && (a[0] == "-help" || a[0] == "-h")) {
		out(kVersion);
		out(kHelp);
		return 0;
	}
	if (a.size() == 2 && a[0] == "-accel" && a[1] == "help") {
		/* Installed also as hostile-dm-xen: a stand-in that gets -xen-domid-restrict (the probe-cache poisoning case). */
		std::string_view self = argv[0];
		self.remove_prefix(self.rfind('/') == std::string_view::npos ? 0 : self.rfind('/') + 1);
		out(self == "hostile-dm-xen" ? kAccelXen : kAccel);
		return 0;
	}
	if (a.size() == 3 && a[0] == "-sandbox") {
		/* Like Debian's Xen QEMU: listed in -help, built without libseccomp. */
		std::fprintf(stderr, "hostile-dm: -sandbox on: -sandbox support is not enabled in this QEMU binary\n");
		return 1;
	}

	std::vector<std::string> attacks;
	bool haveRunas = false;
	for (size_t i = 0; i < a.size(); i++) {
		auto arg = a[i];
		auto next = [&]() -> std::string_view {
			if (i + 1 >= a.size()) {
				std::fprintf(stderr, "hostile-dm: %s needs an argument\n", std::string(arg).c_str());
				std::exit(1);
			}
			return a[++i];
		};
		if (arg == "-list-attacks") {
			for (const auto &v : vectors())
				out(std::string(v.name) + "\n");
			return 0;
		} else if (arg == "-attack") {
			attacks.emplace_back(next());
		} else if (arg == "-hostile-domid") {
			g.domid = std::atoi(std::string(next()).c_str());
		} else if (arg == "-hostile-peer") {
			g.peer = std::atoi(std::string(next()).c_str());
		} else if (arg == "-host-shm-id") {
			g.hostShmId = std::atol(std::string(next()).c_str());
		} else if (arg == "-host-msg-id") {
			g.hostMsgId = std::atol(std::string(next()).c_str());
		} else if (arg == "-hostile-share") {
			g.share = next();
		} else if (arg == "-hostile-peer-disk") {
			g.peerDisk = next();
		} else if (arg == "-hostile-disk") {
			g.disk = next();
		} else if (arg == "-hostile-swap") {
			g.swap = next();
		} else if (arg == "-hostile-literal") {
			g.literal = next();
			g.haveLiteral = true;
		} else if (arg == "-runas") {
			if (!parseUidGid(next(), g.uid, g.gid)) {
				std::fprintf(stderr, "User \"%s\" doesn't exist\n", std::string(a[i]).c_str());
				return 1;
			}
			haveRunas = true;
		} else if (arg == "-chroot") {
			g.chroot = next();
		} else if (arg == "-run-with") {
			std::string v(next());
			size_t pos = 0;
			while (pos <= v.size()) {
				size_t comma = v.find(',', pos);
				std::string kv =
				    v.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
				if (kv.rfind("user=", 0) == 0)
					haveRunas = parseUidGid(kv.substr(5), g.uid, g.gid);
				else if (kv.rfind("chroot=", 0) == 0)
					g.chroot = kv.substr(7);
				if (comma == std::string::npos)
					break;
				pos = comma + 1;
			}
		} else if (arg == "-xen-domid" || arg == "-name" || arg == "-machine" || arg == "-display") {
			next();
		}
		/* Anything else (-S, -no-shutdown, -xen-domid-restrict) is accepted and ignored. */
	}
	if (!haveRunas || g.uid == 0 || g.domid <= 0) {
		std::fprintf(stderr, "hostile-dm: needs -runas UID:GID (non-root) and -hostile-domid N\n");
		return 1;
	}
	if (g.peer > 0)
		g.peerUid = g.uid - static_cast<uid_t>(g.domid) + static_cast<uid_t>(g.peer);

	auto all = vectors();
	auto wanted = [&](const Vector &v) {
		for (const auto &n : attacks) {
			if (n == v.name ||
			    (!onlyByName(v.name) && (n == "all" || (n == "root-window" && v.rootWindow) ||
						     (n == "after-drop" && !v.rootWindow))))
				return true;
		}
		return false;
	};
	for (const auto &n : attacks) {
		bool known = n == "all" || n == "root-window" || n == "after-drop";
		for (const auto &v : all)
			known = known || n == v.name;
		if (!known) {
			std::fprintf(stderr, "hostile-dm: unknown attack vector '%s'\n", n.c_str());
			return 1;
		}
	}

	/* Before the drop, like QEMU: our "QMP" socket and pid in the runtime dir. */
	int lsock = listenSocket();
	/* A file in /dev/shm the peer must not see; made before the pid file the peer waits for. */
	touch("/dev/shm/hostile-dm-" + std::to_string(g.domid), "");
	touch(g.runDir() + "/hostile.pid", std::to_string(getpid()));
	announce("pid " + std::to_string(getpid()));
	out("HOSTILE START domid " + std::to_string(g.domid) + " pid " + std::to_string(getpid()) +
	    (lsock < 0 ? " (no socket)" : "") + "\n");
	if (g.peer > 0) {
		g.peerPid = static_cast<pid_t>(std::atoi(awaitPeer("pid").c_str()));
		out("HOSTILE PEER domid " + std::to_string(g.peer) + " pid " + std::to_string(g.peerPid) + "\n");
	}
	if (!g.swap.empty())
		out(std::string("HOSTILE SWAP ") + (waitForFile(g.runDir() + "/hostile.go", 30) ? "go" : "timed out") +
		    "\n");

	int count = 0;
	for (const auto &v : all)
		if (v.rootWindow && wanted(v)) {
			runVector(v);
			count++;
		}
	/* Stay root until the peer has run its root-window vectors too (deterministic cross checks). */
	announce("root-window-done");
	if (g.peer > 0)
		(void)awaitPeer("root-window-done");

	if (dropPrivileges() < 0)
		return 1;
	out("HOSTILE DROPPED uid " + std::to_string(getuid()) + " gid " + std::to_string(getgid()) + " setuid(0) " +
	    errName(EPERM) + "\n");

	for (const auto &v : all)
		if (!v.rootWindow && wanted(v)) {
			runVector(v);
			count++;
		}
	out("HOSTILE DONE " + std::to_string(count) + "\n");
	for (;;)
		pause();
}
