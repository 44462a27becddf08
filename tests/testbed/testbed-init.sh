#!/bin/sh
# Runs as PID 1 of the test bed's fresh namespaces (pid, mount, cgroup, ipc,
# uts, net; made by qemu-dm-testbed with unshare), prepares a private view of
# the host and execs a real systemd. Nothing here writes to the host: every
# writable place is a tmpfs, or an overlay whose upper layer is one.
#
#   testbed-init.sh ROOT [ROOTFS]
#     ROOT   = a `meson install --destdir` tree overlaid on the host's /usr
#              and /etc, or "-"
#     ROOTFS = a whole root file system to boot instead of the host's (e.g. a
#              debootstrap with packages installed), or "-" (the default).
#              It is overlaid with a tmpfs and pivoted into: nothing of the
#              host's file systems but /dev, /proc and /sys is visible.
set -eu

root=$1
rootfs=${2:--}

mount --make-rprivate /

if [ "$rootfs" != - ]; then
	# A scratch tmpfs holds the overlay's upper layer; the old root is
	# detached after pivot_root (the overlay keeps its layers).
	scratch=/run
	mount -t tmpfs -o mode=0700 tmpfs "$scratch"
	mkdir -p "$scratch/rootfs/upper" "$scratch/rootfs/work" "$scratch/rootfs/merged"
	new=$scratch/rootfs/merged
	mount -t overlay overlay \
		-o "lowerdir=$rootfs,upperdir=$scratch/rootfs/upper,workdir=$scratch/rootfs/work" "$new"
	for d in dev proc sys run tmp; do
		mkdir -p "$new/$d"
	done
	mount --rbind /dev "$new/dev"
	mount --rbind /sys "$new/sys"
	mount -t proc -o nosuid,nodev,noexec proc "$new/proc"
	mkdir -p "$new/.testbed-oldroot"
	cd "$new"
	pivot_root . .testbed-oldroot
	cd /
	umount -l /.testbed-oldroot
	rmdir /.testbed-oldroot
	root=- # the root file system has everything
fi

# cgroups: fresh mounts, rooted at this cgroup namespace (= the per-test-bed
# cgroups the supervisor made), so systemd writes only below them.
hier=$(awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo)
umount -R /sys/fs/cgroup
mount -t tmpfs -o mode=0755,nosuid,nodev,noexec tmpfs /sys/fs/cgroup
for mp in $hier; do
	name=${mp#/sys/fs/cgroup/}
	mkdir -p "$mp"
	case $name in
	unified) mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$mp" ;;
	systemd) mount -t cgroup -o nosuid,nodev,noexec,none,name=systemd cgroup "$mp" ;;
	*) mount -t cgroup -o "nosuid,nodev,noexec,$name" cgroup "$mp" ;;
	esac
done
mount -o remount,ro /sys/fs/cgroup

# Scratch tmpfs for the overlay upper layers; detached once the overlays hold it.
# (A ROOTFS is one overlay already.)
if [ "$rootfs" = - ]; then
	scratch=/run
	mount -t tmpfs -o mode=0700 tmpfs "$scratch"
	for d in etc var usr; do
		mkdir -p "$scratch/$d/upper" "$scratch/$d/work"
	done

	etc_lower=/etc
	usr_lower=/usr
	if [ "$root" != - ]; then
		[ -d "$root/etc" ] && etc_lower=$root/etc:/etc
		[ -d "$root/usr" ] && usr_lower=$root/usr:/usr
	fi
	mount -t overlay overlay -o "lowerdir=$etc_lower,upperdir=$scratch/etc/upper,workdir=$scratch/etc/work" /etc
	mount -t overlay overlay -o "lowerdir=/var,upperdir=$scratch/var/upper,workdir=$scratch/var/work" /var
	if [ "$usr_lower" != /usr ]; then
		mount -t overlay overlay -o "lowerdir=$usr_lower" /usr
	fi
	umount -l "$scratch"
fi

# The modes the real system has: a world-writable /run would make
# confinement tests pass or fail for the wrong reason (tmpfs defaults to 1777).
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue 2>/dev/null || true

export container=qemu-dm-testbed
exec /usr/lib/systemd/systemd --unit=basic.target --show-status=no
