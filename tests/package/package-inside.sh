#!/bin/bash
# Suite package, the part in the booted test bed (run by package-test.sh
# through `qemu-dm-testbed run --rootfs=ROOT`): every command runs inside the
# bed, whose root is the clean Debian root with the packages installed. The
# demo's main job (tests/testbed/demo.sh) with the installed files only, then
# purge, and what may remain.
set -euo pipefail

tb() { "$QEMU_DM_TB" exec "$QEMU_DM_TESTBED_PID" -- "$@"; }
step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

DOMID=5
UID_DM=$((131072 + DOMID))
QEMU=/usr/libexec/qemu-system-i386 # the real binary of the TCG stand-in

step "the bed runs the installed root only"
tb systemctl is-system-running || true
for p in "$QEMU_DM_SOURCE_ROOT" "$QEMU_DM_BUILD_ROOT"; do
	! tb test -e "$p" || fail "the build tree $p is visible in the test bed"
done
for f in /usr/bin/qemu-dmctl /usr/libexec/qemu-dm/qemu-dm-exec /usr/libexec/qemu-dm/qemu-dm-userdb \
	/lib/systemd/system-generators/qemu-dm-generator; do
	owner=$(tb dpkg -S "$f" | cut -d: -f1) || fail "$f is not installed by a package"
	[[ $owner == qemu-dm ]] || fail "$f belongs to $owner"
done
echo "qemu-dmctl, qemu-dm-exec, qemu-dm-userdb, qemu-dm-generator: from package qemu-dm; no build tree"

step "the generator ran at boot; the userdb socket listens"
tb test -f /run/systemd/generator/qemu-dm@.service.d/50-qemu-dm-hardening.conf ||
	fail "no host policy drop-ins (the generator did not run)"
tb ls /run/systemd/generator/qemu-dm@.service.d/
tb systemctl is-active qemu-dm-userdb.socket || fail "qemu-dm-userdb.socket is not active"
tb systemctl is-enabled qemu-dm-userdb.socket

step "qemu-dmctl check (a host without Xen: failures expected, the report must come)"
rc=0
tb qemu-dmctl check || rc=$?
((rc == 1 || rc == 2)) || fail "qemu-dmctl check exited $rc on a host without Xen"

step "qemu-dmctl start $DOMID (stand-in DM: $QEMU, TCG)"
tb qemu-dmctl start "$DOMID" --name demo --type hvm --no-domain-check --allow-jit -- \
	"$QEMU" -accel tcg -machine pc -m 32 -nodefaults -no-user-config -display none ||
	fail "qemu-dmctl start"
sleep 1

step "systemctl status qemu-dm@$DOMID"
tb systemctl status --no-pager --lines=0 "qemu-dm@$DOMID" || true
[[ $(tb systemctl show -P ActiveState "qemu-dm@$DOMID") == active ]] || fail "qemu-dm@$DOMID is not active"
prop() { tb systemctl show -P "$1" "qemu-dm@$DOMID"; }
[[ $(prop Slice) == qemu-dm.slice ]] || fail "Slice is $(prop Slice)"
# systemd nests qemu-dm.slice in qemu.slice (a dash in a slice name is a level).
[[ $(prop ControlGroup) == */qemu-dm.slice/qemu-dm@$DOMID.service ]] || fail "ControlGroup is $(prop ControlGroup)"
prop DropInPaths | grep -q '/run/systemd/generator/qemu-dm@.service.d/50-qemu-dm-hardening.conf' ||
	fail "the host policy drop-ins do not apply: $(prop DropInPaths)"
prop Documentation | grep -q 'man:qemu-dmctl(1)' || fail "no Documentation=man:qemu-dmctl(1): $(prop Documentation)"
tb test -f /usr/share/man/man1/qemu-dmctl.1.gz || fail "qemu-dmctl(1) is not installed"
tb test -f /usr/share/man/man8/qemu-dm-grant.8.gz || fail "qemu-dm-grant(8) is not installed"

step "who runs it, and how confined (/proc/PID/status of the main process)"
pid=$(prop MainPID)
((pid > 0)) || fail "no main PID"
status=$(tb cat "/proc/$pid/status")
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' <<<"$status"; }
echo "Name: $(field Name)  Uid: $(field Uid)  Gid: $(field Gid)  CapEff: $(field CapEff)  NoNewPrivs: $(field NoNewPrivs)  Seccomp: $(field Seccomp)"
[[ $(field Uid | tr -s '\t ' ' ') == "$UID_DM $UID_DM $UID_DM $UID_DM" ]] || fail "uid is $(field Uid), expected $UID_DM"
# The default privilege model (never-root): the per-domain group, gid = uid.
[[ $(field Gid | tr -s '\t ' ' ') == "$UID_DM $UID_DM $UID_DM $UID_DM" ]] || fail "gid is $(field Gid), expected $UID_DM"
[[ $(field CapEff) == 0000000000000000 ]] || fail "CapEff is $(field CapEff)"
[[ $(field NoNewPrivs) == 1 ]] || fail "NoNewPrivs is $(field NoNewPrivs)"
[[ $(field Seccomp) == 2 ]] || fail "Seccomp is $(field Seccomp)"
name=$(tb getent passwd "$UID_DM" | cut -d: -f1) || fail "uid $UID_DM does not resolve"
[[ $name == xen-qemuuser-$DOMID ]] || fail "uid $UID_DM resolves to '$name'"
echo "uid $UID_DM = $name (through the packaged user database)"
tb qemu-dmctl status "$DOMID"
tb qemu-dmctl list | awk -v d="$DOMID" '$1 == d { found = 1 } END { exit !found }' || fail "qemu-dmctl list lacks $DOMID"

step "journalctl -u qemu-dm@$DOMID (excerpt)"
tb journalctl --no-pager -n 5 -u "qemu-dm@$DOMID" || true

step "systemd-analyze security qemu-dm@$DOMID"
verdict=$(tb systemd-analyze security --no-pager "qemu-dm@$DOMID.service" | tail -n 1)
echo "$verdict"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$verdict")
[[ -n $score ]] || fail "no exposure level"
awk -v s="$score" 'BEGIN { exit !(s <= 1.3) }' || fail "exposure $score is above 1.3"

step "qemu-dmctl stop $DOMID"
tb qemu-dmctl stop "$DOMID" || fail "qemu-dmctl stop"
state=$(tb systemctl show -P ActiveState "qemu-dm@$DOMID")
[[ $state == inactive ]] || fail "qemu-dm@$DOMID is $state after stop"
left=$(tb sh -c "grep -l '^Uid:[[:space:]]*$UID_DM[[:space:]]' /proc/[0-9]*/status 2>/dev/null | wc -l")
((left == 0)) || fail "$left processes of uid $UID_DM are left"
left=$(tb sh -c 'for c in /proc/[0-9]*/comm; do cat "$c" 2>/dev/null; done | grep -c "^qemu-system" || true')
((left == 0)) || fail "$left QEMU processes are left"
! tb test -e "/run/qemu-dm/$DOMID" || fail "/run/qemu-dm/$DOMID is left"
echo "unit inactive, no process of uid $UID_DM, no QEMU, no runtime directory"

step "apt-get purge qemu-dm libqemu-dm0 libqemu-dm-dev"
# Everything the packages installed, and the file system before the purge.
tb sh -c 'dpkg -L qemu-dm libqemu-dm0 libqemu-dm-dev | sort -u | while read -r f; do
	[ -d "$f" ] || echo "$f"; done' >"$QEMU_DM_BUILD_ROOT/package-test/files.txt"
snapshot() {
	tb sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \) -prune \
		-o -print | sort'
}
snapshot >"$QEMU_DM_BUILD_ROOT/package-test/before-purge.txt"
tb env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q qemu-dm libqemu-dm0 libqemu-dm-dev ||
	fail "apt-get purge"
snapshot >"$QEMU_DM_BUILD_ROOT/package-test/after-purge.txt"

step "what remains after the purge"
while read -r f; do
	! tb test -e "$f" -o -L "$f" || fail "$f is still there after the purge"
done <"$QEMU_DM_BUILD_ROOT/package-test/files.txt"
echo "none of the $(wc -l <"$QEMU_DM_BUILD_ROOT/package-test/files.txt") packaged files"
# New paths since before the purge: only package-manager state and logs.
new=$(comm -13 "$QEMU_DM_BUILD_ROOT/package-test/before-purge.txt" "$QEMU_DM_BUILD_ROOT/package-test/after-purge.txt" |
	grep -Ev '^/var/(lib/dpkg|lib/apt|cache/apt|cache/debconf|cache/ldconfig|log)(/|$)|^/etc/ld\.so\.cache$' |
	grep -Ev '^/var/tmp/systemd-private-[^/]*-systemd-logind\.service-[^/]*(/|$)|^/var/lib/systemd/linger$' || true)
[[ -z $new ]] || fail "the purge created: $new"
# Nothing named after qemu-dm anywhere on the root file system.
named=$(grep -E 'qemu-dm|qemu_dm|org\.xenproject\.QemuDm' "$QEMU_DM_BUILD_ROOT/package-test/after-purge.txt" || true)
[[ -z $named ]] || fail "left behind: $named"
echo "no file or directory named after qemu-dm"
! tb test -e /run/systemd/generator/qemu-dm@.service.d || fail "the generator's drop-ins are still in /run"
! tb test -e /run/systemd/userdb/org.xenproject.QemuDm || fail "the userdb socket is still there"
units=$(tb systemctl list-unit-files --no-legend 'qemu-dm*' || true)
[[ -z $units ]] || fail "unit files left: $units"
! tb test -e /var/cache/qemu-dm || fail "/var/cache/qemu-dm is left"
left=$(tb dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' qemu-dm libqemu-dm0 libqemu-dm-dev 2>/dev/null |
	awk '$2 != "un" && $2 != ""' || true)
[[ -z $left ]] || fail "package state left: $left"
echo "no drop-ins, socket, unit files, cache or package state"
# What Debian policy keeps: the system user and its group.
tb getent passwd xen-qemuuser-range-base || fail "the range base user was removed (policy keeps system users)"
tb getent group xen-qemuuser-range-base || fail "the range base group was removed"
echo "kept, as Debian policy says: the system user xen-qemuuser-range-base and its group"
