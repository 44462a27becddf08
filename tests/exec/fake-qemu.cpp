/* SPDX-License-Identifier: LGPL-2.1-or-later */

/*
 * A stand-in for QEMU in the process-level tests of qemu-dm-exec. It answers
 * the probe (-version, -help, -accel help, -sandbox on -version) like the
 * flavour named by $FAKE_QEMU_FLAVOUR (default 7.2-xen), and otherwise prints
 * what it was started with: one "arg <value>" line per argument, then one
 * "fd <n>" line per open file descriptor, then what setgid() and setuid() to
 * ids other than $FAKE_QEMU_OWN_IDS ("uid:gid", as --runas) returned:
 * "cred setgid-other ok|<ERRNO>", "cred setuid-other ok|<ERRNO>".
 */

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fake_qemu_help.h"

using namespace qemudm::test;

int main(int argc, char **argv)
{
	const char *name = std::getenv("FAKE_QEMU_FLAVOUR");
	const FakeQemuFlavour *f = findFakeFlavour(name ? name : "7.2-xen");
	if (!f) {
		std::fprintf(stderr, "fake-qemu: unknown flavour %s\n", name);
		return 2;
	}

	std::string_view a1 = argc > 1 ? argv[1] : "";
	std::string_view a2 = argc > 2 ? argv[2] : "";
	if (argc == 2 && a1 == "-version") {
		std::fwrite(f->version.data(), 1, f->version.size(), stdout);
		return 0;
	}
	if (argc == 2 && (a1 == "-help" || a1 == "-h")) {
		std::fwrite(f->version.data(), 1, f->version.size(), stdout);
		std::fwrite(f->help.data(), 1, f->help.size(), stdout);
		return 0;
	}
	if (argc == 3 && a1 == "-accel" && a2 == "help") {
		std::fwrite(f->accel.data(), 1, f->accel.size(), stdout);
		return 0;
	}
	if (argc == 4 && a1 == "-sandbox" && a2 == "on" && std::string_view(argv[3]) == "-version") {
		if (!f->sandbox) {
			std::fprintf(stderr,
				     "fake-qemu: -sandbox on: -sandbox support is not enabled in this QEMU binary\n");
			return 1;
		}
		std::fwrite(f->version.data(), 1, f->version.size(), stdout);
		return 0;
	}

	for (int i = 0; i < argc; i++)
		std::printf("arg %s\n", argv[i]);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 3;
	int self = dirfd(d);
	while (struct dirent *de = readdir(d)) {
		if (de->d_name[0] == '.')
			continue;
		int fd = std::atoi(de->d_name);
		if (fd != self)
			std::printf("fd %d\n", fd);
	}
	closedir(d);
	if (const char *own = std::getenv("FAKE_QEMU_OWN_IDS")) {
		unsigned long uid = std::strtoul(own, nullptr, 10);
		const char *colon = std::strchr(own, ':');
		unsigned long gid = colon ? std::strtoul(colon + 1, nullptr, 10) : 0;
		auto res = [](int rc) { return rc == 0 ? "ok" : strerrorname_np(errno); };
		std::printf("cred setgid-other %s\n", res(setgid(static_cast<gid_t>(gid + 1))));
		std::printf("cred setuid-other %s\n", res(setuid(static_cast<uid_t>(uid + 1))));
	}
	return 0;
}
