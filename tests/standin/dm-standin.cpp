/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dm-standin: a stand-in device model for the start/stop tests.
 * It looks like QEMU 7.2 to qemu-dm-exec's probe, drops privileges the way
 * QEMU does (-chroot, -runas), then behaves as told:
 *
 *   -behave idle          print a line and wait for signals (default)
 *   -behave fork100       start 100 processes that escape: setsid + double fork
 *   -escape N             start N processes that escape (after the drop, with
 *                         the behaviour's signal dispositions, e.g. ignore-term)
 *   -behave ignore-term   ignore SIGTERM
 *   -behave chatty        print 200000 lines to stdout (the journal), then idle
 *   -qmp-fd N             serve a minimal QMP on the listening socket fd N
 *   -chardev socket,id=I,path=P,server=on[,...]   listen on the Unix socket P
 *                         before dropping privileges, as QEMU does, and serve the
 *                         same minimal QMP there once "running" (qemu-dm-exec's
 *                         --ready-qmp monitor, for qemu-dm-grant's `ready`)
 *   -qmp-delay MS         serve the socket above only MS ms after the drop (a slow start)
 *   -behave exit-before-qmp   exit 1 after the drop instead of serving QMP (a crash
 *                         during the start)
 *   -vnc HOST:N[,...]     listen on TCP HOST:5900+N before dropping privileges,
 *                         as QEMU's VNC server does ("none": nothing); exit 1
 *                         if that fails, as QEMU does
 *   -net-probe H:P[,H:P]  after the drop, try a TCP connect to each HOST:PORT
 *                         (2 s at most) and print the outcome
 */

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

void serveQmp(int listenFd)
{
	for (;;) {
		int c = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		const char greeting[] =
		    "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}, "
		    "\"package\": \"dm-standin\"}, \"capabilities\": []}}\r\n";
		(void)!::write(c, greeting, sizeof(greeting) - 1);
		std::string buf;
		char tmp[512];
		ssize_t n;
		while ((n = ::read(c, tmp, sizeof(tmp))) > 0) {
			buf.append(tmp, static_cast<size_t>(n));
			size_t end;
			while ((end = buf.find('}')) != std::string::npos) {
				std::string cmd = buf.substr(0, end + 1);
				buf.erase(0, end + 1);
				std::string reply = "{\"return\": {}}\r\n";
				if (cmd.find("query-status") != std::string::npos)
					reply = "{\"return\": {\"status\": \"running\", \"singlestep\": false, "
						"\"running\": true}}\r\n";
				(void)!::write(c, reply.data(), reply.size());
			}
		}
		::close(c);
	}
}

bool parseHostPort(const std::string &s, sockaddr_in &sa, int portBase)
{
	size_t colon = s.rfind(':');
	if (colon == std::string::npos)
		return false;
	sa = {};
	sa.sin_family = AF_INET;
	sa.sin_port = htons(static_cast<uint16_t>(portBase + std::atoi(s.c_str() + colon + 1)));
	return ::inet_pton(AF_INET, s.substr(0, colon).c_str(), &sa.sin_addr) == 1;
}

/* As QEMU's -vnc HOST:N: a TCP listener on HOST:5900+N. Returns the fd, or -1 after printing why. */
int listenVnc(const std::string &spec)
{
	sockaddr_in sa;
	if (!parseHostPort(spec.substr(0, spec.find(',')), sa, 5900)) {
		std::fprintf(stderr, "dm-standin: bad -vnc %s\n", spec.c_str());
		return -1;
	}
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		std::fprintf(stderr, "dm-standin: -vnc %s: socket: %s\n", spec.c_str(), std::strerror(errno));
		return -1;
	}
	int one = 1;
	(void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 || ::listen(fd, 4) < 0) {
		std::fprintf(stderr, "dm-standin: -vnc %s: bind: %s\n", spec.c_str(), std::strerror(errno));
		return -1;
	}
	std::printf("dm-standin: vnc listening on %s\n", spec.c_str());
	return fd;
}

int listenUnix(const std::string &path)
{
	sockaddr_un sa{};
	sa.sun_family = AF_UNIX;
	if (path.size() >= sizeof(sa.sun_path)) {
		std::fprintf(stderr, "dm-standin: socket path too long: %s\n", path.c_str());
		return -1;
	}
	std::memcpy(sa.sun_path, path.c_str(), path.size());
	int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	(void)::unlink(path.c_str());
	if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 || ::listen(fd, 4) < 0) {
		std::fprintf(stderr, "dm-standin: -chardev path=%s: %s\n", path.c_str(), std::strerror(errno));
		return -1;
	}
	return fd;
}

/* "HOST:PORT[,HOST:PORT...]": a TCP connect to each, at most 2 s each, and its outcome. */
void probeConnect(const std::string &list)
{
	size_t start = 0;
	while (start < list.size()) {
		size_t end = list.find(',', start);
		std::string spec = list.substr(start, end == std::string::npos ? std::string::npos : end - start);
		start = end == std::string::npos ? list.size() : end + 1;
		sockaddr_in sa;
		if (!parseHostPort(spec, sa, 0)) {
			std::printf("dm-standin: net-probe %s: bad address\n", spec.c_str());
			continue;
		}
		int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			std::printf("dm-standin: net-probe %s: socket: %s\n", spec.c_str(), std::strerror(errno));
			continue;
		}
		timeval tv{ 2, 0 };
		(void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		int r = ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
		std::printf("dm-standin: net-probe %s: connect: %s\n", spec.c_str(),
			    r == 0 ? "ok" : std::strerror(errno));
		::close(fd);
	}
}

/* Accept VNC clients and greet them like an RFB server. */
void serveVnc(int fd)
{
	std::thread([fd] {
		for (;;) {
			int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			const char hello[] = "RFB 003.008\n";
			(void)!::write(c, hello, sizeof(hello) - 1);
			::close(c);
		}
	}).detach();
}

void escape(int count)
{
	int failed = 0;
	for (int i = 0; i < count; i++) {
		pid_t p = ::fork();
		if (p == 0) {
			::setsid();
			if (::fork() == 0) { /* double fork: reparented, new session */
				for (;;)
					::pause();
			}
			::_exit(0);
		}
		if (p > 0)
			::waitpid(p, nullptr, 0);
		else if (p < 0)
			failed++;
	}
	std::printf("dm-standin: started %d escaping processes (%d forks failed)\n", count - failed, failed);
}

/* "dm-standin: fds 7:socket 9:pipe": every open fd >= 3, as the test bed checks them. */
void reportOpenFds()
{
	std::string line = "dm-standin: fds";
	for (int fd = 3; fd < 1024; fd++) {
		struct stat st {
		};
		if (::fstat(fd, &st) < 0)
			continue;
		const char *type = S_ISSOCK(st.st_mode)	  ? "socket"
				   : S_ISFIFO(st.st_mode) ? "pipe"
				   : S_ISREG(st.st_mode)  ? "file"
							  : "other";
		line += " " + std::to_string(fd) + ":" + type;
	}
	std::printf("%s\n", line.c_str());
}

/* -incoming fd:N: the saved state, read to its end as QEMU would (at most 4 KiB here). */
void readIncoming(int fd)
{
	std::string data;
	char buf[512];
	ssize_t n = 0;
	while (data.size() < 4096 && (n = ::read(fd, buf, sizeof(buf))) > 0)
		data.append(buf, static_cast<size_t>(n));
	if (n < 0)
		std::printf("dm-standin: incoming fd:%d: %s\n", fd, std::strerror(errno));
	else
		std::printf("dm-standin: incoming fd:%d: %zu bytes: %s\n", fd, data.size(), data.c_str());
}

} /* namespace */

int main(int argc, char **argv)
{
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	std::string behave = "idle", runas, chrootDir, vnc, netProbe;
	int qmpFd = -1, escapeCount = 0, qmpDelayMs = 0, qmpPathFd = -1;
	std::string qmpPath;
	bool reportFds = false;
	std::string incoming;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "-help" || a == "--help") {
			std::puts("QEMU emulator version 7.2.0 (dm-standin)\nusage: dm-standin [options]\n"
				  "-machine [type=]name[,prop=value] selects emulated machine\n"
				  "-accel [accel=]accelerator   select accelerator\n"
				  "-m [size=]megs  configure guest RAM\n"
				  "-nodefaults     don't create default devices\n"
				  "-display none   select display backend type\n"
				  "-chardev socket,id=id[,fd=h]  character device\n"
				  "-mon [chardev=]name[,mode=readline|control]\n"
				  "-qmp dev        like -mon ...,mode=control\n"
				  "-no-user-config do not load default user-provided config files\n"
				  "-daemonize      daemonize QEMU after initializing\n"
				  "-runas user     change to user id user just before starting the VM\n"
				  "-chroot dir     chroot to dir just before starting the VM\n"
				  "-sandbox on     enable seccomp mode 2 system call filter\n"
				  "-behave what    dm-standin: idle, fork100, ignore-term, chatty\n"
				  "-qmp-fd n       dm-standin: serve QMP on listening socket fd n\n"
				  "-qmp-delay ms   dm-standin: serve -chardev path= QMP ms after the start\n"
				  "-escape n       dm-standin: start n escaping processes\n"
				  "-vnc <display>  shorthand for -display vnc=<display>\n"
				  "-net-probe h:p  dm-standin: try a TCP connect to h:p\n"
				  "-incoming uri   fd:N: dm-standin reads the saved state from fd N\n"
				  "-report-fds     dm-standin: print its open fds >= 3 and their types\n"
				  "-report-env     dm-standin: print the variables a test bed checks\n");
			return 0;
		}
		if (a == "-version" || a == "--version") {
			bool sandbox = false;
			for (int j = 1; j < argc; j++)
				sandbox |= std::string(argv[j]) == "-sandbox";
			if (sandbox) {
				std::fputs("dm-standin: -sandbox on: There is no option group 'sandbox'\n", stderr);
				return 1;
			}
			std::puts("QEMU emulator version 7.2.0 (dm-standin)");
			return 0;
		}
		if (a == "-accel" && i + 1 < argc && std::string(argv[i + 1]) == "help") {
			std::puts("Accelerators supported in QEMU binary:\ntcg");
			return 0;
		}
		if (a == "-report-fds") {
			reportFds = true;
			continue;
		}
		if (a == "-report-env") {
			std::printf("dm-standin: env");
			for (const char *name : { "XEN_QEMU_CONSOLE_LIMIT", "LEAKY", "FAKE_LIBXL_STATE" }) {
				const char *v = std::getenv(name);
				std::printf(" %s=%s", name, v ? v : "unset");
			}
			std::printf("\n");
			continue;
		}
		if (a == "-incoming" && i + 1 < argc) {
			incoming = argv[++i];
			continue;
		}
		if (a == "-chardev" && i + 1 < argc) {
			std::string v = argv[++i];
			size_t p = v.find(",path=");
			if (v.rfind("socket,", 0) == 0 && p != std::string::npos &&
			    v.find(",server=on") != std::string::npos)
				qmpPath = v.substr(p + 6, v.find(',', p + 6) == std::string::npos
							      ? std::string::npos
							      : v.find(',', p + 6) - (p + 6));
			continue;
		}
		if (a == "-qmp-delay" && i + 1 < argc) {
			qmpDelayMs = std::atoi(argv[++i]);
			continue;
		}
		if (i + 1 < argc && (a == "-runas" || a == "-chroot" || a == "-behave" || a == "-qmp-fd" ||
				     a == "-accel" || a == "-vnc" || a == "-net-probe" || a == "-escape")) {
			std::string v = argv[++i];
			if (a == "-runas")
				runas = v;
			else if (a == "-chroot")
				chrootDir = v;
			else if (a == "-behave")
				behave = v;
			else if (a == "-qmp-fd")
				qmpFd = std::atoi(v.c_str());
			else if (a == "-vnc")
				vnc = v;
			else if (a == "-net-probe")
				netProbe = v;
			else if (a == "-escape")
				escapeCount = std::atoi(v.c_str());
			continue;
		}
	}

	if (behave == "ignore-term")
		::signal(SIGTERM, SIG_IGN);

	/* What the caller handed over, before the stand-in opens anything itself. */
	if (reportFds)
		reportOpenFds();
	if (incoming.rfind("fd:", 0) == 0)
		readIncoming(std::atoi(incoming.c_str() + 3));

	/* QEMU sets up its VNC listener before it drops privileges. */
	int vncFd = -1;
	if (!vnc.empty() && vnc != "none" && (vncFd = listenVnc(vnc)) < 0)
		return 1;

	/* QEMU creates its listening sockets at start-up, before os_setup_post(). */
	if (!qmpPath.empty() && (qmpPathFd = listenUnix(qmpPath)) < 0)
		return 1;

	/* As QEMU 7.2's os_setup_post(): chroot, then drop to uid:gid. */
	if (!chrootDir.empty() && (::chroot(chrootDir.c_str()) < 0 || ::chdir("/") < 0)) {
		std::fprintf(stderr, "dm-standin: chroot failed: %s\n", std::strerror(errno));
		return 1;
	}
	if (!runas.empty()) {
		unsigned uid = 0, gid = 0;
		if (std::sscanf(runas.c_str(), "%u:%u", &uid, &gid) != 2) {
			std::fprintf(stderr, "dm-standin: bad -runas %s\n", runas.c_str());
			return 1;
		}
		gid_t g = gid;
		if (::setgid(gid) < 0 || ::setgroups(1, &g) < 0 || ::setuid(uid) < 0) {
			std::fprintf(stderr, "dm-standin: failed to drop privileges: %s\n", std::strerror(errno));
			return 1;
		}
		if (::setuid(0) == 0) {
			std::fprintf(stderr, "dm-standin: could regain root\n");
			return 1;
		}
	}
	std::printf("dm-standin: running as uid %u gid %u, behaviour %s\n", ::getuid(), ::getgid(), behave.c_str());

	if (vncFd >= 0)
		serveVnc(vncFd);
	if (!netProbe.empty())
		probeConnect(netProbe);
	if (behave == "fork100")
		escape(100);
	if (escapeCount > 0)
		escape(escapeCount);
	if (behave == "chatty") {
		for (int i = 0; i < 200000; i++)
			std::printf("dm-standin: chatty line %d of 200000, padding padding padding padding\n", i);
		std::printf("dm-standin: chatty done\n");
	}
	if (behave == "exit-before-qmp") {
		std::printf("dm-standin: exiting before QMP answers\n");
		return 1;
	}
	if (qmpPathFd >= 0) {
		std::this_thread::sleep_for(std::chrono::milliseconds(qmpDelayMs));
		std::printf("dm-standin: serving QMP on %s\n", qmpPath.c_str());
		std::thread(serveQmp, qmpPathFd).detach();
	}
	if (qmpFd >= 0)
		serveQmp(qmpFd);
	for (;;)
		::pause();
}
