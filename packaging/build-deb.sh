#!/bin/bash
# Build the Debian packages of this source tree and check them with lintian.
#
#   packaging/build-deb.sh OUTDIR
#
# Copies the working tree (tracked files and untracked files that are not
# ignored, so no build directories) to OUTDIR/.work/, puts packaging/debian
# there as debian/, runs `dpkg-buildpackage -b -us -uc` and lintian, and
# leaves in OUTDIR:
#   qemu-dm_<version>_<arch>.deb  libqemu-dm0_...deb  libqemu-dm-dev_...deb
#   qemu-dm_<version>_<arch>.changes/.buildinfo, build.log, lintian.log,
#   source-hash (what the .debs were built from)
# When OUTDIR already holds the .debs of the same source (same source-hash),
# nothing is rebuilt. Exit status: 0 = packages built (or up to date) and
# lintian reports no errors; 1 = failure (the log names the step).
#
# Needs: dpkg-dev, debhelper, lintian and the Build-Depends of
# packaging/debian/control (packaging/install-deps.sh installs them).
# Runs as root or not (Rules-Requires-Root: no).
set -euo pipefail

if (($# != 1)) || [[ $1 == -* ]]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
say() { echo "build-deb: $*" >&2; }
fail() { say "$*"; exit 1; }

cd "$src"
[[ -f packaging/debian/control ]] || fail "no packaging/debian/control in $src"
# One build per OUTDIR at a time (e.g. CI and the Xen lab sharing one).
exec 9>"$out/.lock"
flock 9

# ---- the source: tracked + untracked-but-not-ignored files that exist ----
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[[ -f $f || -L $f ]] && printf '%s\0' "$f"
		done | sort -z >"$list"
else
	# A tarball: everything except build directories.
	find . -path ./.git -prune -o \( -type d \( -name 'build*' -o -name '_build*' \) -prune \) -o \
		\( -type f -o -type l \) -printf '%P\0' | sort -z >"$list"
fi
[[ -s $list ]] || fail "no source files found in $src"

# What the packages are built from: every path, mode and content, and the build host's tools.
hash=$( {
	xargs -0 -a "$list" sha256sum
	xargs -0 -a "$list" stat -c '%a %n'
	dpkg-query -W -f='${Package} ${Version}\n' debhelper dpkg-dev meson g++ pandoc 2>/dev/null || true
} | sha256sum | cut -d' ' -f1)

pkgs=(qemu-dm libqemu-dm0 libqemu-dm-dev)
uptodate() {
	[[ -f $out/source-hash && $(cat "$out/source-hash") == "$hash" ]] || return 1
	local p
	for p in "${pkgs[@]}"; do
		compgen -G "$out/${p}_*.deb" >/dev/null || return 1
	done
}
if uptodate; then
	say "up to date: $out ($hash)"
	ls "$out"/*.deb
	exit 0
fi

# ---- copy and build (a stable path per OUTDIR, so ccache hits across runs) ----
work=$out/.work
rm -rf "$work"
mkdir -p "$work/src"
tar -C "$src" --null -T "$list" -cf - | tar -C "$work/src" -xf -
rm -rf "$work/src/debian"
cp -a packaging/debian "$work/src/debian"

if command -v ccache >/dev/null; then
	# debhelper points HOME elsewhere: keep using the caller's cache.
	CCACHE_DIR=${CCACHE_DIR:-$(ccache --get-config cache_dir)}
	export CCACHE_DIR
fi
# No -dbgsym packages: OUTDIR is what `apt-get install ./*.deb` installs.
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noddebs"
say "building in $work/src (log: $out/build.log)"
if ! (cd "$work/src" && dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1; then
	tail -n 30 "$out/build.log" >&2
	fail "dpkg-buildpackage failed; see $out/build.log"
fi

changes=$(compgen -G "$work/*.changes" | head -n 1) || fail "dpkg-buildpackage made no .changes file"

# ---- lintian: no errors (warnings are printed) ----
say "lintian (log: $out/lintian.log)"
lintian_rc=0
lintian --fail-on error --info --display-info --pedantic "$changes" >"$out/lintian.log" 2>&1 || lintian_rc=$?
cat "$out/lintian.log" >&2
if ((lintian_rc != 0)); then
	fail "lintian reports errors (exit $lintian_rc); see $out/lintian.log"
fi

# ---- results ----
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
echo "$hash" >"$out/source-hash"
rm -rf "$work"
say "done: $out"
ls "$out"/*.deb
