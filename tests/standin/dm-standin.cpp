/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * dm-standin: a stand-in device model for the start/stop tests (issue 4).
 * It looks like QEMU 7.2 to qemu-dm-exec's probe, drops privileges the way
 * QEMU does (-chroot, -runas), then behaves as told:
 *
 *   -behave idle          print a line and wait for signals (default)
 *   -behave fork100       start 100 processes that escape: setsid + double fork
 *   -behave ignore-term   ignore SIGTERM
 *   -behave chatty        print 200000 lines to stdout (the journal), then idle
 *   -qmp-fd N             serve a minimal QMP on the listening socket fd N
 */

#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

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

void fork100()
{
	for (int i = 0; i < 100; i++) {
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
	}
	std::printf("dm-standin: started 100 escaping processes\n");
}

} /* namespace */

int main(int argc, char **argv)
{
	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	std::string behave = "idle", runas, chrootDir;
	int qmpFd = -1;
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
				  "-qmp-fd n       dm-standin: serve QMP on listening socket fd n\n");
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
		if (i + 1 < argc &&
		    (a == "-runas" || a == "-chroot" || a == "-behave" || a == "-qmp-fd" || a == "-accel")) {
			std::string v = argv[++i];
			if (a == "-runas")
				runas = v;
			else if (a == "-chroot")
				chrootDir = v;
			else if (a == "-behave")
				behave = v;
			else if (a == "-qmp-fd")
				qmpFd = std::atoi(v.c_str());
			continue;
		}
	}

	if (behave == "ignore-term")
		::signal(SIGTERM, SIG_IGN);

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

	if (behave == "fork100")
		fork100();
	if (behave == "chatty") {
		for (int i = 0; i < 200000; i++)
			std::printf("dm-standin: chatty line %d of 200000, padding padding padding padding\n", i);
		std::printf("dm-standin: chatty done\n");
	}
	if (qmpFd >= 0)
		serveQmp(qmpFd);
	for (;;)
		::pause();
}
