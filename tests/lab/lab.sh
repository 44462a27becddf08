#!/bin/bash
# The qemu-dm Xen lab (tests/lab/README.md): a real Xen 4.17 + Debian 12 dom0
# under QEMU TCG, qemu-dm installed into it as users install it, a scripted
# scenario in dom0, results read back from the powered-off disk image.
#
# usage: lab.sh SOURCE-DIR WORK-DIR
# Environment:
#   LAB_STEPS=1+2+7     run a subset of the scenario's steps (default: all)
#   QEMU_DM_UPDATE_DOCS=1  copy the report of a full run to docs/lab.md
#                       (make update-docs); every run writes WORK-DIR/lab.md
#   LAB_NOPOWEROFF=1    keep dom0 running after the scenario (interactive; the
#                       boot timeout still ends it)
#   LAB_CACHE=DIR       base image cache (default /var/cache/qemu-dm-lab)
#   LAB_MIRROR=URL      Debian mirror (default http://deb.debian.org/debian)
#   LAB_SECURITY_MIRROR=URL  its security suite (http://deb.debian.org/debian-security)
#   LAB_BOOT_TIMEOUT=S  bound of the Xen boot + scenario (default 2400)
#   CI=true             a lab that cannot run fails instead of skipping
# Exit: 0 every selected step passed, 1 a failure, 77 skipped (not under CI).
set -uo pipefail

src=$(realpath "${1:?usage: lab.sh SOURCE-DIR WORK-DIR}")
work=${2:?usage: lab.sh SOURCE-DIR WORK-DIR}
here=$src/tests/lab
steps=${LAB_STEPS:-}
cache=${LAB_CACHE:-/var/cache/qemu-dm-lab}
mirror=${LAB_MIRROR:-http://deb.debian.org/debian}
security=${LAB_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
boot_timeout=${LAB_BOOT_TIMEOUT:-2400}
all_steps=0+1+2+3+4+5+6+7+8+9+11 # step 10 only when asked for (scenario.sh)

log() { echo "lab: $*" >&2; }
# cannot REASON: skip, or fail under CI
cannot() {
	if [[ ${CI:-} == true ]]; then
		log "cannot run the lab: $*"
		exit 1
	fi
	log "skipped: $*"
	exit 77
}
die() {
	log "$*"
	exit 1
}

[[ $(id -u) == 0 ]] || cannot "needs root (debootstrap, chroot, dpkg)"
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 debugfs gcc pkg-config meson python3 unshare flock; do
	command -v "$tool" >/dev/null || cannot "$tool is not installed (bash packaging/install-deps.sh)"
done
[[ -z $steps || $steps =~ ^[0-9]+(\+[0-9]+)*$ ]] || die "LAB_STEPS='$steps': want step numbers joined by '+', e.g. 1+2+7"

mkdir -p "$work"
work=$(realpath "$work")
timings=$work/timings.txt
: >"$timings"
t_lab=$EPOCHSECONDS
# phase NAME SECONDS-STARTED: record how long a phase took
phase_done() { echo "$1 $((EPOCHSECONDS - $2))" >>"$timings"; }

# ---- 1. the base dom0 image, cached by its inputs ----
key=$(printf '%s\n' "$mirror" "$security" | cat "$here/base-image.sh" "$here/dom0-packages" - | sha256sum | cut -c1-16)
base=$cache/$key
t0=$EPOCHSECONDS
mkdir -p "$cache"
exec {lockfd}>"$cache/.lock"
flock -w 1800 "$lockfd" || die "another lab holds $cache/.lock"
if [[ -d $base/rootfs && -s $base/boot/xen ]]; then
	log "base image $key: cached in $base"
	echo "cached" >"$work/base-origin"
else
	log "base image $key: building in $base (debootstrap from $mirror, a few minutes)"
	rm -rf "$base.tmp"
	timeout 1500 bash "$here/base-image.sh" "$here/dom0-packages" "$base.tmp" "$mirror" "$security" ||
		{
			rm -rf "$base.tmp"
			cannot "the base image could not be built (Debian mirror $mirror and $security reachable?)"
		}
	mv "$base.tmp" "$base"
	echo "built" >"$work/base-origin"
fi
flock -u "$lockfd"
phase_done base-image "$t0"

# ---- 2. the project, the way users install it ----
t0=$EPOCHSECONDS
sdk=$work/sdk # headers, .pc and libraries for building the C caller
rm -rf "$sdk" "$work/dest" # debs/ stays: build-deb.sh skips a build of the same source
if [[ -x $src/packaging/build-deb.sh ]]; then
	method=deb
	log "building the Debian packages (packaging/build-deb.sh)"
	mkdir -p "$work/debs"
	timeout 1500 "$src/packaging/build-deb.sh" "$work/debs" >"$work/build-deb.log" 2>&1 ||
		die "packaging/build-deb.sh failed; see $work/build-deb.log: $(tail -n 5 "$work/build-deb.log")"
	for p in qemu-dm libqemu-dm0 libqemu-dm-dev; do
		compgen -G "$work/debs/${p}_*.deb" >/dev/null || die "build-deb.sh made no ${p}_*.deb in $work/debs"
	done
	for d in "$work"/debs/libqemu-dm0_*.deb "$work"/debs/libqemu-dm-dev_*.deb; do
		dpkg -x "$d" "$sdk"
	done
else
	method=destdir
	log "installing into a DESTDIR tree (meson, -Dtests=disabled; no packaging/build-deb.sh yet)"
	bdir=$work/build-release
	if [[ ! -f $bdir/build.ninja ]]; then
		timeout 600 meson setup "$bdir" "$src" -Dtests=disabled -Dwerror=true >"$work/meson-setup.log" 2>&1 ||
			die "meson setup failed; see $work/meson-setup.log"
	fi
	timeout 1500 meson compile -C "$bdir" >"$work/meson-compile.log" 2>&1 ||
		die "meson compile failed; see $work/meson-compile.log: $(tail -n 5 "$work/meson-compile.log")"
	timeout 300 meson install -C "$bdir" --destdir "$work/dest" >"$work/meson-install.log" 2>&1 ||
		die "meson install failed; see $work/meson-install.log"
	sdk=$work/dest
fi
phase_done project "$t0"

# ---- 3. the lab's own helpers, built against the installed tree ----
t0=$EPOCHSECONDS
pcdir=$(dirname "$(find "$sdk" -name libqemu-dm.pc -print -quit)")
[[ $pcdir != . ]] || die "no libqemu-dm.pc in $sdk"
capi_flags=$(PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_SYSROOT_DIR=$sdk pkg-config --cflags --libs libqemu-dm) ||
	die "pkg-config --cflags --libs libqemu-dm failed against $pcdir"
mkdir -p "$work/bin"
# shellcheck disable=SC2086 # word splitting of the pkg-config flags is intended
gcc -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/bin/lab-capi" "$here/guest/lab-capi.c" $capi_flags ||
	die "the C caller does not build against libqemu-dm.pc ($capi_flags)"
gcc -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/bin/lab-fdcheck" "$here/guest/lab-fdcheck.c" ||
	die "lab-fdcheck does not build"
gcc -std=gnu11 -Wall -Wextra -Werror -O2 -o "$work/bin/lab-nodes" "$here/guest/lab-nodes.c" ||
	die "lab-nodes does not build"
echo "$capi_flags" >"$work/capi-flags.txt"
phase_done helpers "$t0"

# ---- 4. this run's root filesystem and disk image ----
t0=$EPOCHSECONDS
root=$work/rootfs
img=$work/dom0.img
rm -rf "$root" "$img"
cp -a "$base/rootfs" "$root" || die "cannot copy the base image"
# chroot with /proc, in a private mount namespace (nothing stays mounted)
in_root=(unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$root")
if [[ $method == deb ]]; then
	mkdir -p "$root/tmp/lab-debs"
	cp "$work"/debs/*.deb "$root/tmp/lab-debs/"
	timeout 300 "${in_root[@]}" sh -c 'DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/lab-debs/*.deb' >"$work/dpkg.log" 2>&1 ||
		die "dpkg -i of the packages failed in dom0's root; see $work/dpkg.log: $(tail -n 5 "$work/dpkg.log")"
	rm -rf "$root/tmp/lab-debs"
	installed="Debian packages: $(cd "$work/debs" && echo *.deb)"
else
	cp -a "$work/dest/." "$root/"
	timeout 60 "${in_root[@]}" ldconfig
	installed="meson install --destdir tree (no Debian package yet)"
fi
mkdir -p "$root/etc/qemu-dm-lab"
echo "$installed" >"$root/etc/qemu-dm-lab/install-method"
# The range base user: the package's (if it makes one), else as upstream documents.
if "${in_root[@]}" getent passwd xen-qemuuser-range-base >/dev/null; then
	echo "present after installing qemu-dm" >"$root/etc/qemu-dm-lab/range-user-origin"
else
	timeout 60 "${in_root[@]}" adduser --system --uid 131072 --group --no-create-home xen-qemuuser-range-base \
		>>"$work/dpkg.log" 2>&1 || die "adduser xen-qemuuser-range-base failed in dom0's root"
	echo "made by the lab: adduser --system --uid 131072 --group --no-create-home xen-qemuuser-range-base" \
		>"$root/etc/qemu-dm-lab/range-user-origin"
fi
lib=$root/usr/local/lib/qemu-dm-lab
mkdir -p "$lib"
install -m 0755 "$here/guest/scenario.sh" "$work/bin/lab-capi" "$work/bin/lab-fdcheck" "$work/bin/lab-nodes" "$lib/"
install -m 0644 "$here/guest/qemu-dm-lab.service" "$root/etc/systemd/system/"
ln -sf ../qemu-dm-lab.service "$root/etc/systemd/system/multi-user.target.wants/qemu-dm-lab.service"
rm -rf "$root/var/lib/qemu-dm-lab"
truncate -s 4G "$img"
timeout 300 mkfs.ext4 -q -F -L xenlab-root -d "$root" "$img" || die "mkfs.ext4 -d failed"
rm -rf "$root"
phase_done image "$t0"

# ---- 5. boot Xen + dom0 under TCG; the scenario runs and powers off ----
t0=$EPOCHSECONDS
serial=$work/serial.log
dom0_cmdline="root=/dev/vda rw console=hvc0 earlyprintk=xen qemudm.lab"
[[ -n $steps ]] && dom0_cmdline+=" qemudm.lab.steps=$steps"
[[ ${LAB_NOPOWEROFF:-} == 1 ]] && dom0_cmdline+=" qemudm.lab.nopoweroff"
xen_cmdline="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M loglvl=all guest_loglvl=all console_timestamps=boot"
# Host-side timestamps (seconds since QEMU started) on every serial line.
stamp() {
	local start=${EPOCHREALTIME/./} line d
	while IFS= read -r line || [[ -n $line ]]; do
		d=$((${EPOCHREALTIME/./} - start))
		printf '[%5d.%d] %s\n' $((d / 1000000)) $((d / 100000 % 10)) "${line%$'\r'}"
	done
}
log "booting Xen + dom0 (TCG, at most ${boot_timeout}s); serial log: $serial"
{
	echo "# $(date -u +%FT%TZ) xen: $xen_cmdline"
	echo "# dom0: $dom0_cmdline"
} >"$serial"
timeout --kill-after=10 "$boot_timeout" qemu-system-x86_64 \
	-machine q35 -accel tcg,thread=multi -cpu qemu64,+svm,+npt -m 4096 -smp 2 \
	-nographic -monitor none -serial stdio -no-reboot \
	-kernel "$base/boot/xen" -append "$xen_cmdline" \
	-initrd "$base/boot/vmlinuz $dom0_cmdline,$base/boot/initrd.img" \
	-drive "file=$img,if=virtio,format=raw" \
	-nic none </dev/null 2>&1 | stamp >>"$serial"
qemu_rc=${PIPESTATUS[0]}
echo "# qemu exit $qemu_rc at $(date -u +%FT%TZ)" >>"$serial"
phase_done boot "$t0"
[[ $qemu_rc == 124 || $qemu_rc == 137 ]] && log "the boot hit its ${boot_timeout}s bound"

# ---- 6. results, straight from the image ----
rm -rf "$work/ev"
debugfs -R 'cat /var/lib/qemu-dm-lab/results.txt' "$img" >"$work/results.txt" 2>/dev/null
debugfs -R "rdump /var/lib/qemu-dm-lab/ev $work" "$img" >/dev/null 2>&1
debugfs -R 'cat /var/lib/qemu-dm-lab/scenario.log' "$img" >"$work/scenario.log" 2>/dev/null
echo "total $((EPOCHSECONDS - t_lab))" >>"$timings"

report=$work/lab.md
python3 "$here/report.py" \
	--results "$work/results.txt" --serial "$serial" --timings "$timings" \
	--steps "${steps:-$all_steps}" --qemu-exit "$qemu_rc" \
	--base "$key ($(cat "$work/base-origin"))" --install "$installed" \
	--capi-flags "${capi_flags//$sdk/<tree>}" \
	--commit "$(git -C "$src" describe --always --dirty 2>/dev/null || echo unknown)" \
	--output "$report"
rc=$?
# The checkout changes only when asked (make update-docs), and only from a full run.
if [[ ${QEMU_DM_UPDATE_DOCS:-} == 1 ]]; then
	if [[ -z $steps ]]; then
		cp "$report" "$src/docs/lab.md" && log "docs/lab.md updated"
	else
		log "docs/lab.md not updated: LAB_STEPS=$steps is not a full run"
	fi
fi
log "report: $report; evidence: $work/ev/, serial log: $serial"
exit $rc
