#!/bin/bash
# Build the lab's base dom0 root filesystem: Debian 12 minbase with Xen 4.17,
# Debian's Xen QEMU and a kernel (tests/lab/dom0-packages), configured to boot
# as a Xen dom0 from /dev/vda with its console on hvc0. Nothing of qemu-dm is
# in it: each run installs the project into a copy (tests/lab/lab.sh).
#
# usage: base-image.sh PACKAGE-LIST OUTDIR [MIRROR]
# Writes OUTDIR/rootfs/ and OUTDIR/boot/{xen,vmlinuz,initrd.img}. Run as root.
set -euo pipefail

pkglist=$1 out=$2 mirror=${3:-http://deb.debian.org/debian}
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
cp "$root"/boot/vmlinuz-*-amd64 "$out/boot/vmlinuz"
cp "$root"/boot/initrd.img-*-amd64 "$out/boot/initrd.img"

# Versions, for the report.
chroot "$root" dpkg-query -W -f='${Package} ${Version}\n' >"$out/packages.txt"
echo "base-image: done ($(du -sh "$root" | cut -f1))" >&2
