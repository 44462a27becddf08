#!/bin/bash
# Suite package: the Debian packages, built, installed with apt into a clean
# Debian 12 root, booted, used, purged.
#
#   tests/package/package-test.sh SOURCE_ROOT BUILD_ROOT
#
# 1. packaging/build-deb.sh BUILD/package-debs (skipped when up to date);
# 2. a clean root: a cached debootstrap minbase (clean-root.sh), copied to
#    BUILD/package-test/root;
# 3. `apt-get install ./*.deb` in it (dependencies resolve from Debian's
#    mirror, Recommends included, as an administrator would), plus the
#    stand-in device model (qemu-system-x86); the maintainer scripts run;
# 4. the test bed boots that root instead of the host's (no build tree, no
#    host /usr visible) and package-inside.sh runs the demo's main job with
#    the installed files only, then purges the packages and checks that
#    only the system user remains;
# 5. postinst again with uid 131072 taken by another user: a clear message,
#    no user; and with it free: the user is created.
# Exit: 0 pass, 1 fail, 77 skip (not root, and CI is not set).
set -euo pipefail

src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
here=$src/tests/package
tb=$build/tests/testbed/qemu-dm-testbed
work=$build/package-test
cache=${QEMU_DM_TEST_CACHE:-/var/cache/qemu-dm-test}

step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ $(id -u) != 0 ]]; then
	[[ ${CI:-} == true ]] && fail "the package suite needs root (chroot, test bed) and CI=true"
	echo "SKIP: the package suite needs root"
	exit 77
fi
for t in debootstrap dpkg-buildpackage lintian; do
	command -v "$t" >/dev/null || fail "$t is missing (run packaging/install-deps.sh)"
done

step "build the packages (packaging/build-deb.sh)"
debs=$build/package-debs
bash "$src/packaging/build-deb.sh" "$debs"
mapfile -t debfiles < <(ls "$debs"/qemu-dm_*.deb "$debs"/libqemu-dm0_*.deb "$debs"/libqemu-dm-dev_*.deb)
((${#debfiles[@]} == 3)) || fail "expected 3 packages in $debs, found: ${debfiles[*]}"
for d in "${debfiles[@]}"; do
	# No executable of the test suites (hostile and stand-in device models, fake QEMU, test bed).
	if dpkg-deb -c "$d" | awk '$1 ~ /^-..x/ { print $NF }' | grep -E 'hostile|standin|fake|testbed|/test-'; then
		fail "$(basename "$d") contains a test program"
	fi
done

step "a clean Debian 12 root (debootstrap minbase, cached in $cache)"
base=$(bash "$here/clean-root.sh")
root=$work/root
rm -rf --one-file-system "$work"
mkdir -p "$work" "$cache/archives/partial"
cp -a "$base" "$root"
rm -f "$root/.complete"

# Run a command chrooted into the root, in a private mount namespace with
# /proc, /dev and the persistent apt archive cache (downloads are kept
# across runs), and the host's resolver (Debian's mirror only).
in_root() {
	unshare --mount --fork -- /bin/sh -euc '
		root=$1 cache=$2; shift 2
		mount --make-rprivate /
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount --bind "$cache/archives" "$root/var/cache/apt/archives"
		exec chroot "$root" "$@"' sh "$root" "$cache" "$@"
}
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/tmp/debs"
cp "${debfiles[@]}" "$root/tmp/debs/"

step "apt-get install ./qemu-dm*.deb ./libqemu-dm*.deb (in the clean root)"
export DEBIAN_FRONTEND=noninteractive
in_root apt-get update -q >"$work/apt-update.log" 2>&1 || { cat "$work/apt-update.log"; fail "apt-get update"; }
inroot_debs=()
for d in "${debfiles[@]}"; do inroot_debs+=("./tmp/debs/$(basename "$d")"); done
in_root sh -c 'cd / && exec apt-get install -y -q "$@"' sh "${inroot_debs[@]}" \
	>"$work/apt-install.log" 2>&1 || { tail -n 40 "$work/apt-install.log"; fail "apt-get install of the packages"; }
grep -E '^(Setting up|qemu-dm:)' "$work/apt-install.log" | grep -E 'qemu-dm|libqemu-dm|systemd|xen' || true
if grep -q 'NOT creating the user' "$work/apt-install.log"; then
	fail "postinst did not create the range base user in a clean root"
fi
step "the stand-in device model: apt-get install qemu-system-x86 (TCG)"
in_root apt-get install -y -q --no-install-recommends qemu-system-x86 >>"$work/apt-install.log" 2>&1 ||
	{ tail -n 40 "$work/apt-install.log"; fail "apt-get install qemu-system-x86"; }
rm -rf "$root/tmp/debs"

step "what the maintainer scripts did (in the root, before boot)"
pw=$(in_root getent passwd xen-qemuuser-range-base) || fail "no xen-qemuuser-range-base user"
echo "$pw"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
[[ $uid == 131072 && $gid == 131072 ]] || fail "range base user is $uid:$gid, expected 131072:131072"
[[ $home == /nonexistent && $shell == /usr/sbin/nologin ]] || fail "range base user has home $home, shell $shell"
[[ ! -e $root/nonexistent ]] || fail "a home directory was created"
gr=$(in_root getent group xen-qemuuser-range-base) || fail "no xen-qemuuser-range-base group"
[[ $gr == xen-qemuuser-range-base:x:131072:* ]] || fail "range base group is '$gr'"
grep -E '^(passwd|group):.*systemd' "$root/etc/nsswitch.conf" | grep -c . | grep -qx 2 ||
	fail "nss-systemd is not on the passwd and group lines of nsswitch.conf"
[[ -L $root/etc/systemd/system/sockets.target.wants/qemu-dm-userdb.socket ]] ||
	fail "qemu-dm-userdb.socket is not enabled"
[[ ! -e $root/lib/systemd/system/sockets.target.wants/qemu-dm-userdb.socket ]] ||
	fail "the package ships a static enablement link"
echo "range base user and group 131072, nologin, no home; nss-systemd in nsswitch.conf; userdb socket enabled"

step "boot the test bed on the installed root (console: $build/meson-logs/testbed-package.log)"
rc=0
"$tb" run --rootfs="$root" --console="$build/meson-logs/testbed-package.log" -- \
	env QEMU_DM_TB="$tb" QEMU_DM_SOURCE_ROOT="$src" QEMU_DM_BUILD_ROOT="$build" \
	bash "$here/package-inside.sh" || rc=$?

step "postinst when uid 131072 is taken (on the installed root, after the bed)"
in_root sh -c 'userdel xen-qemuuser-range-base && { groupdel xen-qemuuser-range-base 2>/dev/null || true; } &&
	useradd --system --uid 131072 --user-group --no-create-home someone-else 2>/dev/null'
msg=$(in_root dpkg-reconfigure qemu-dm 2>&1) || fail "postinst failed when the uid is taken: $msg"
grep -q 'NOT creating the user xen-qemuuser-range-base: uid/gid 131072 is taken by someone-else' <<<"$msg" ||
	fail "postinst did not say why it created no user: $msg"
grep -q 'RangeBaseUser=' <<<"$msg" || fail "postinst did not say what to do: $msg"
! in_root getent passwd xen-qemuuser-range-base >/dev/null || fail "postinst created the user anyway"
grep 'NOT creating' <<<"$msg"
in_root sh -c 'userdel someone-else && { groupdel someone-else 2>/dev/null || true; }'
in_root dpkg-reconfigure qemu-dm >/dev/null 2>&1 || fail "postinst failed"
in_root getent passwd xen-qemuuser-range-base | grep -q '^xen-qemuuser-range-base:x:131072:131072:' ||
	fail "postinst did not create the user once uid 131072 was free"
echo "taken: a clear message and no user; free again: the user is created"

step "after teardown: test bed leftovers on the host"
# Our bed's supervisor has exited by now. A bed whose supervisor is alive
# belongs to another test run on this machine (a shared developer host) and
# is not ours to report; in CI nothing else runs, so this is the full check.
foreign() { # LINE: is it about a test bed with a live supervisor?
	local n p
	n=$(grep -o 'qemu-dm-testbed-[0-9]*' <<<"$1" | head -n 1 | cut -d- -f4)
	if [[ -z $n ]]; then
		p=$(sed -n 's/^process \([0-9]*\) .*/\1/p; s/^test bed supervisor \([0-9]*\) .*/\1/p' <<<"$1")
		[[ -n $p ]] || return 1
		[[ $1 == "test bed supervisor"* ]] && n=$p ||
			n=$(grep -o 'qemu-dm-testbed-[0-9]*' "/proc/$p/cgroup" 2>/dev/null | head -n 1 | cut -d- -f4)
	fi
	[[ -n $n ]] && kill -0 "$n" 2>/dev/null && [[ $(cat "/proc/$n/comm" 2>/dev/null) == qemu-dm-testbe* ]]
}
mine=()
while IFS= read -r line; do
	[[ -n $line ]] && ! foreign "$line" && mine+=("$line")
done < <("$tb" leftovers || true)
if ((${#mine[@]} == 0)); then echo "(none)"; else printf '%s\n' "${mine[@]}"; rc=1; fi
((rc == 0)) || fail "see above"
echo
echo "PASS: built, installed with apt, booted, used, purged"
