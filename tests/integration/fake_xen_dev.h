/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <string>

/*
 * Fake Xen nodes for a test bed without Xen: a private /dev in the bed's
 * mount namespace (a tmpfs copy of the host's /dev, nothing created in the
 * host's). /dev/xen/privcmd has /dev/net/tun's numbers (an fd of it does
 * something without privileges: TUNGETFEATURES), the others numbers of no
 * driver (major 60, "local/experimental"), whose open fails with ENXIO only
 * once the ACL and the cgroup's device program let it through. So ENXIO or
 * OPENED means "reached the device", EACCES the ACL refused, EPERM the
 * cgroup did.
 */

namespace qemudm::testbed {

constexpr const char *kFakeXenDev = R"(set -e
grep -q '^ *60 ' /proc/devices && { echo 'char major 60 is in use here' >&2; exit 1; }
d=$(mktemp -d /run/fake-dev.XXXXXX)
mount -t tmpfs -o mode=0755,nosuid tmpfs "$d"
cp -a -x /dev/. "$d"/
for m in pts shm mqueue hugepages; do
	if mountpoint -q "/dev/$m"; then mkdir -p "$d/$m"; mount --rbind "/dev/$m" "$d/$m"; fi
done
mkdir -m 0755 "$d/xen"
mknod -m 0600 "$d/xen/privcmd" c 10 200
mknod -m 0600 "$d/xen/hypercall" c 60 0
mknod -m 0600 "$d/xen/evtchn" c 60 1
mknod -m 0600 "$d/xen/xenbus" c 60 2
mknod -m 0600 "$d/xen/gntdev" c 60 3
mount --move "$d" /dev
rmdir "$d"
)";

/*
 * Open PATH O_RDWR as uid U (no groups) and print OPENED or the errno name;
 * with a cgroup, from inside it. python3 for the exact errno.
 */
constexpr const char *kOpenAs =
    R"(/usr/bin/python3 -c 'import os,sys,errno
try:
    os.close(os.open(sys.argv[1], os.O_RDWR)); print("OPENED")
except OSError as e:
    print(errno.errorcode[e.errno])' )";

/*
 * Shell words that move the shell into the cgroup `cg` in every hierarchy
 * (a cgroup v1 host's bed controls devices in the devices hierarchy).
 */
inline std::string intoCgroup(const std::string &cg)
{
	return "for h in /sys/fs/cgroup /sys/fs/cgroup/*; do [ ! -d $h" + cg + " ] || echo $$ > $h" + cg +
	       "/cgroup.procs || exit 1; done && ";
}

} /* namespace qemudm::testbed */
