/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Help, version and accelerator texts of QEMU "flavours", in QEMU's own
 * layout, shortened to the options that matter. Shared by fake-qemu (which
 * prints them) and the table-driven tests (which parse them). 7.2 follows
 * Debian 12's binaries; 8.1, 9.0, 9.1 and 10.0 follow upstream's
 * qemu-options.hx for -chroot / -runas / -run-with.
 */

#include <string_view>

namespace qemudm::test {

struct FakeQemuFlavour {
	std::string_view name;
	std::string_view version; /* `-version` output */
	std::string_view help;	  /* `-help` output */
	std::string_view accel;	  /* `-accel help` output */
	bool sandbox;		  /* `-sandbox on` accepted */
};

#define FAKE_COMMON_HEAD                                                                                               \
	"usage: qemu-system-i386 [options] [disk_image]\n"                                                             \
	"\n"                                                                                                           \
	"Standard options:\n"                                                                                          \
	"-h or -help     display this help and exit\n"                                                                 \
	"-version        display version information and exit\n"                                                       \
	"-machine [type=]name[,prop[=value][,...]]\n"                                                                  \
	"                selects emulated machine ('-machine help' for list)\n"                                        \
	"-m [size=]megs[,slots=n,maxmem=size]\n"                                                                       \
	"                configure guest RAM\n"                                                                        \
	"-name string1[,process=string2][,debug-threads=on|off]\n"                                                     \
	"-drive [file=file][,if=type][,bus=n][,unit=m][,media=d][,index=i]\n"                                          \
	"-device driver[,prop[=value][,...]]\n"                                                                        \
	"-chardev socket,id=id[,host=host],port=port[,to=to][,ipv4=on|off]\n"                                          \
	"-mon [chardev=]name[,mode=readline|control][,pretty[=on|off]]\n"                                              \
	"-nographic      disable graphical output and redirect serial I/Os to console\n"                               \
	"-display none\n"                                                                                              \
	"                select display backend type\n"                                                                \
	"-vnc <display>  shorthand for -display vnc=<display>\n"                                                       \
	"-serial dev     redirect the serial port to char device 'dev'\n"                                              \
	"-S              freeze CPU at startup (use 'c' to start execution)\n"                                         \
	"-no-shutdown    stop before shutdown\n"                                                                       \
	"-xen-domid id   specify xen guest domain id\n"                                                                \
	"-xen-attach     attach to existing xen domain\n"                                                              \
	"                libxl will use this when starting QEMU\n"                                                     \
	"-xen-domid-restrict     restrict set of available xen operations\n"                                           \
	"                        to specified domain id. (Does not affect\n"                                           \
	"                        xenpv machine type).\n"                                                               \
	"-incoming tcp:[host]:port[,to=maxport][,ipv4=on|off][,ipv6=on|off]\n"                                         \
	"-incoming fd:fd\n"

#define FAKE_SANDBOX                                                                                                   \
	"-sandbox on[,obsolete=allow|deny][,elevateprivileges=allow|deny|children]\n"                                  \
	"          [,spawn=allow|deny][,resourcecontrol=allow|deny]\n"                                                 \
	"                Enable seccomp mode 2 system call filter (default 'off').\n"

inline constexpr FakeQemuFlavour kFakeFlavours[] = {
	{ "7.2-xen",
	  "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"
	  "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n",
	  FAKE_COMMON_HEAD "-chroot dir     chroot to dir just before starting the VM\n"
			   "-runas user     change to user id user just before starting the VM\n"
			   "                user can be numeric uid:gid instead\n" FAKE_SANDBOX
			   "-async-teardown enable asynchronous teardown\n",
	  "Accelerators supported in QEMU binary:\nxen\n", false },
	{ "7.2-tcg",
	  "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"
	  "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n",
	  FAKE_COMMON_HEAD "-chroot dir     chroot to dir just before starting the VM\n"
			   "-runas user     change to user id user just before starting the VM\n"
			   "                user can be numeric uid:gid instead\n" FAKE_SANDBOX
			   "-async-teardown enable asynchronous teardown\n",
	  "Accelerators supported in QEMU binary:\ntcg\nkvm\n", true },
	{ "8.1",
	  "QEMU emulator version 8.1.5\nCopyright (c) 2003-2023 Fabrice Bellard and the QEMU Project developers\n",
	  FAKE_COMMON_HEAD "-chroot dir     chroot to dir just before starting the VM (deprecated)\n"
			   "-runas user     change to user id user just before starting the VM\n"
			   "                user can be numeric uid:gid instead\n" FAKE_SANDBOX
			   "-run-with [async-teardown=on|off][,chroot=dir]\n"
			   "                Set miscellaneous QEMU process lifecycle options:\n"
			   "                async-teardown=on enables asynchronous teardown (Linux only)\n"
			   "                chroot=dir chroot to dir just before starting the VM\n",
	  "Accelerators supported in QEMU binary:\nxen\n", true },
	{ "9.0",
	  "QEMU emulator version 9.0.2\nCopyright (c) 2003-2024 Fabrice Bellard and the QEMU Project developers\n",
	  FAKE_COMMON_HEAD "-runas user     change to user id user just before starting the VM\n"
			   "                user can be numeric uid:gid instead\n" FAKE_SANDBOX
			   "-run-with [async-teardown=on|off][,chroot=dir]\n"
			   "                Set miscellaneous QEMU process lifecycle options:\n"
			   "                async-teardown=on enables asynchronous teardown (Linux only)\n"
			   "                chroot=dir chroot to dir just before starting the VM\n",
	  "Accelerators supported in QEMU binary:\nxen\n", true },
	{ "9.1",
	  "QEMU emulator version 9.1.0\nCopyright (c) 2003-2024 Fabrice Bellard and the QEMU Project developers\n",
	  FAKE_COMMON_HEAD "-runas user     change to user id user just before starting the VM\n"
			   "                user can be numeric uid:gid instead\n" FAKE_SANDBOX
			   "-run-with [async-teardown=on|off][,chroot=dir][user=username|uid:gid]\n"
			   "                Set miscellaneous QEMU process lifecycle options:\n"
			   "                async-teardown=on enables asynchronous teardown (Linux only)\n"
			   "                chroot=dir chroot to dir just before starting the VM\n"
			   "                user=username switch to the specified user before starting the VM\n"
			   "                user=uid:gid ditto, but use specified user-ID and group-ID instead\n",
	  "Accelerators supported in QEMU binary:\nxen\n", true },
	{ "10.0",
	  "QEMU emulator version 10.0.0\nCopyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers\n",
	  FAKE_COMMON_HEAD FAKE_SANDBOX
	  "-run-with [async-teardown=on|off][,chroot=dir]\n"
	  "          [,exit-with-parent=on|off][,user=username|uid:gid]\n"
	  "                Set miscellaneous QEMU process lifecycle options:\n"
	  "                async-teardown=on enables asynchronous teardown (Linux only)\n",
	  "Accelerators supported in QEMU binary:\ntcg\nxen\n", true },
};

#undef FAKE_COMMON_HEAD
#undef FAKE_SANDBOX

inline const FakeQemuFlavour *findFakeFlavour(std::string_view name)
{
	for (const FakeQemuFlavour &f : kFakeFlavours)
		if (f.name == name)
			return &f;
	return nullptr;
}

} /* namespace qemudm::test */
