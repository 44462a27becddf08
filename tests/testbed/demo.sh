#!/bin/bash
# make demo: the main job, on the private systemd test bed (no Xen needed).
# Boots a private systemd with this build installed, starts qemu-dm@5 with a
# stand-in device model (Debian's qemu-system-i386, TCG), shows what an
# administrator would look at, stops it, shows nothing is left, tears down.
#
#   tests/testbed/demo.sh BUILD_DIR            (what `make demo` runs)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [[ ${1:-} != --inside ]]; then
	build=$(cd "${1:-build}" && pwd)
	tb="$build/tests/testbed/qemu-dm-testbed"
	[[ $(id -u) == 0 ]] || { echo "demo: needs root (namespaces, mounts, cgroups)" >&2; exit 1; }
	root=$("$tb" install --build="$build")
	"$tb" run --root="$root" --console="$build/meson-logs/demo-console.log" -- \
		env QEMU_DM_TB="$tb" QEMU_DM_BUILD="$build" bash "$here/demo.sh" --inside
	rc=$?
	echo
	echo "== after teardown: test bed leftovers on the host"
	if "$tb" leftovers; then echo "(none)"; else rc=1; fi
	exit $rc
fi

# ---- inside: QEMU_DM_TESTBED_PID is the test bed's systemd ----
tb() { "$QEMU_DM_TB" exec "$QEMU_DM_TESTBED_PID" -- "$@"; }
step() { echo; echo "== $*"; }

DOMID=5
QEMU=/usr/libexec/qemu-system-i386   # the real binary (/usr/bin/qemu-system-i386 is a wrapper script)

step "test bed: a private systemd PID 1 (host PID $QEMU_DM_TESTBED_PID)"
tb systemctl --version | head -1
tb systemctl is-system-running

step "range base user (created in the test bed's /etc overlay only)"
tb sh -c 'getent passwd xen-qemuuser-range-base >/dev/null ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		--uid 131072 --user-group xen-qemuuser-range-base'
tb getent passwd xen-qemuuser-range-base

step "per-domain user before its unit exists: getent passwd xen-qemuuser-$DOMID"
tb getent passwd "xen-qemuuser-$DOMID" ||
	echo "(does not resolve: qemu-dm-userdb answers for a domain only while qemu-dm@$DOMID exists)"

if tb test -x /usr/bin/qemu-dmctl; then
	step "qemu-dmctl start $DOMID (stand-in DM: $QEMU, TCG)"
	tb qemu-dmctl start "$DOMID" --name demo --type hvm --no-domain-check --allow-jit -- \
		"$QEMU" -accel tcg -machine pc -m 32 -nodefaults -no-user-config -display none
else
	step "start qemu-dm@$DOMID over D-Bus (stand-in DM: $QEMU, TCG; qemu-dmctl not built yet)"
	tb systemd-run --unit="qemu-dm@$DOMID.service" --description="Xen device model for domain $DOMID (demo)" \
		-p User=xen-qemuuser-$DOMID -p ProtectSystem=strict -p PrivateDevices=yes \
		-p "SystemCallFilter=@system-service seccomp" -p NoNewPrivileges=yes -p PrivateNetwork=yes \
		-p CapabilityBoundingSet= -p ProtectHome=yes -p PrivateTmp=yes \
		"$QEMU" -accel tcg -machine pc -m 32 -nodefaults -no-user-config -display none
fi
sleep 2

step "systemctl status qemu-dm@$DOMID"
tb systemctl status --no-pager --lines=0 "qemu-dm@$DOMID" || true

step "who runs it (ps, names resolved through NSS/userdb)"
tb getent passwd "xen-qemuuser-$DOMID"
tb getent group "xen-qemuuser-$DOMID"
tb ps -o user:16,uid,gid,pid,args --no-headers -C qemu-system-i386 || true

step "journalctl -u qemu-dm@$DOMID (excerpt)"
tb journalctl --no-pager -n 8 -u "qemu-dm@$DOMID"

step "systemd-analyze security qemu-dm@$DOMID (verdict)"
tb systemd-analyze security --no-pager "qemu-dm@$DOMID.service" | tail -1

step "stop qemu-dm@$DOMID"
if tb test -x /usr/bin/qemu-dmctl; then
	tb qemu-dmctl stop "$DOMID"
else
	tb systemctl stop "qemu-dm@$DOMID"
fi

step "nothing is left"
echo "unit: $(tb systemctl show -P ActiveState "qemu-dm@$DOMID")"
left=$(tb sh -c 'ps -e -o pid=,args= | grep -c "[q]emu-system-i386" || true')
echo "device model processes: $left"
[[ $left == 0 ]]
