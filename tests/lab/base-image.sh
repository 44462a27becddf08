#!/bin/bash
# Build the lab's base dom0 root filesystem: Debian 12 minbase with Xen 4.17,
# Debian's Xen QEMU and a kernel (tests/lab/dom0-packages), configured to boot
# as a Xen dom0 from /dev/vda with its console on hvc0. Nothing of qemu-dm is
# in it: each run installs the project into a copy (tests/lab/lab.sh).
#
# usage: base-image.sh PACKAGE-LIST OUTDIR [MIRROR [SECURITY-MIRROR]]
# Writes OUTDIR/rootfs/ and OUTDIR/boot/{xen,vmlinuz,initrd.img}. Run as root.
#
# dom0 is a Debian 12 as administrators run it: bookworm, bookworm-updates and
# bookworm-security. debootstrap takes one suite, so the updates come after it;
# that matters, since packages built on an updated host depend on the updated
# libraries (e.g. Xen 4.17.7 from bookworm-security, not 4.17.5).
set -euo pipefail

pkglist=$1 out=$2 mirror=${3:-http://deb.debian.org/debian}
security=${4:-http://deb.debian.org/debian-security}
suite=bookworm

packages=$(grep -v -e '^#' -e '^[[:space:]]*$' "$pkglist" | paste -sd, -)
root=$out/rootfs
mkdir -p "$out/boot"

echo "base-image: debootstrap $suite from $mirror" >&2
timeout 1200 debootstrap --variant=minbase --include="$packages" \
	"$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1 || {
	rc=$?
	echo "base-image: debootstrap failed (exit $rc); last lines of $out/debootstrap.log:" >&2
	tail -n 15 "$out/debootstrap.log" >&2
	exit 1
}

echo "base-image: updates from $suite-updates and $suite-security" >&2
cat >"$root/etc/apt/sources.list" <<LIST
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
LIST
cp /etc/resolv.conf "$root/etc/resolv.conf"
# apt in the chroot with /proc, in a private mount namespace (nothing stays mounted)
timeout 1200 unshare --mount --propagation private sh -c \
	'mount -t proc proc "$0/proc" && exec chroot "$0" sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends dist-upgrade && apt-get clean"' \
	"$root" >"$out/upgrade.log" 2>&1 || {
	echo "base-image: the upgrade failed; last lines of $out/upgrade.log:" >&2
	tail -n 15 "$out/upgrade.log" >&2
	exit 1
}
rm -f "$root/etc/resolv.conf"

echo xenlab >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 xenlab\n' >"$root/etc/hosts"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null

# A root shell on the dom0 console, for interactive runs (qemudm.lab.nopoweroff).
mkdir -p "$root/etc/systemd/system/serial-getty@hvc0.service.d"
cat >"$root/etc/systemd/system/serial-getty@hvc0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,38400,9600 %I $TERM
UNIT

# Guest consoles logged to files; xenconsoled does not create the directory.
echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >>"$root/etc/default/xen"
mkdir -p "$root/var/log/xen/console"

# nss-systemd must be on the passwd and group lines (libnss-systemd's postinst does it).
grep -qE '^passwd:.*systemd' "$root/etc/nsswitch.conf" || {
	echo "base-image: nss-systemd missing from $root/etc/nsswitch.conf" >&2
	exit 1
}

# Boot files: QEMU's multiboot loader takes the gunzipped hypervisor (a 32-bit ELF).
gunzip -c "$root"/boot/xen-4.17-amd64.gz >"$out/boot/xen"
# The kernel's own links name the newest one (relative links, safe to follow here).
cp -L "$root/vmlinuz" "$out/boot/vmlinuz"
cp -L "$root/initrd.img" "$out/boot/initrd.img"

# Versions, for the report.
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' >"$out/packages.txt"
echo "base-image: done ($(du -sh "$root" | cut -f1))" >&2
