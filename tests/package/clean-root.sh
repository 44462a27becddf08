#!/bin/bash
# A clean Debian 12 root for the package suite: debootstrap --variant=minbase
# from Debian's mirror, with apt's lists, cached under CACHE (default
# /var/cache/qemu-dm-test) and keyed by everything that goes into it, so CI
# on a fresh machine builds it once and later runs reuse it.
#
#   tests/package/clean-root.sh            prints the path of the cached root
#
# Environment: QEMU_DM_TEST_MIRROR (default http://deb.debian.org/debian),
# QEMU_DM_TEST_SECURITY_MIRROR (default http://deb.debian.org/debian-security),
# QEMU_DM_TEST_CACHE (default /var/cache/qemu-dm-test).
set -euo pipefail

suite=bookworm
mirror=${QEMU_DM_TEST_MIRROR:-http://deb.debian.org/debian}
security=${QEMU_DM_TEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=${QEMU_DM_TEST_CACHE:-/var/cache/qemu-dm-test}
say() { echo "clean-root: $*" >&2; }

[[ $(id -u) == 0 ]] || { say "needs root (debootstrap, chroot)"; exit 1; }
command -v debootstrap >/dev/null || { say "debootstrap is missing (packaging/install-deps.sh)"; exit 1; }

sources="deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
"
# The key: this script and what it is told to fetch.
key=$( { cat "$0"; echo "$suite minbase $mirror $security"; } | sha256sum | cut -c1-16)
root=$cache/root-$suite-$key
mkdir -p "$cache"

exec 9>"$cache/root.lock"
flock 9
if [[ -f $root/.complete ]]; then
	echo "$root"
	exit 0
fi

# Older roots (other keys) are dropped: the cache holds one.
for old in "$cache"/root-*; do
	[[ -e $old && $old != "$root" ]] && rm -rf --one-file-system "$old"
done

tmp=$root.tmp
rm -rf --one-file-system "$tmp"
say "debootstrap --variant=minbase $suite from $mirror into $tmp (once; cached)"
if ! debootstrap --variant=minbase --merged-usr "$suite" "$tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
	tail -n 20 "$cache/debootstrap.log" >&2
	say "debootstrap failed; see $cache/debootstrap.log"
	exit 1
fi
printf '%s' "$sources" >"$tmp/etc/apt/sources.list"
rm -rf "$tmp/var/cache/apt/archives/"*.deb
touch "$tmp/.complete"
mv "$tmp" "$root"
say "cached $root"
echo "$root"
