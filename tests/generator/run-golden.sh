#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Golden-directory tests for qemu-dm-generator (the systemd test-fstab-generator
# pattern). For every case NN-name.expected/ in this folder:
#   input   NN-name.conf      -> /etc/xen/qemu-dm.conf     (absent: no config file)
#           NN-name.conf.d/   -> /etc/xen/qemu-dm.conf.d/  (optional)
#           NN-name.setup     sourced with $conf (the config file's path) and
#                             $confd (the drop-in directory's) set: makes what
#                             git cannot hold (FIFOs, sockets, device nodes,
#                             huge or unreadable files, symlink loops). It may
#                             set wrap=(...), a command prefix for the generator.
#   output  the generator's normal directory, compared file by file with
#           NN-name.expected/ after the temporary prefix is removed from paths.
# Also: exit status 0 within 10 s (a generator must never block boot); no log
# output for a good config, exactly one error line naming the problem for a
# bad one; and, when systemd-analyze is installed,
# `systemd-analyze verify` of the drop-ins on a throwaway template prints nothing.
#
# usage: run-golden.sh GENERATOR [CASE...]
# QEMU_DM_GOLDEN_UPDATE=1 rewrites the expected trees from the actual output.
set -u

gen=${1:?usage: run-golden.sh GENERATOR [CASE...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/qemu-dm-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail=0
cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
	for e in "$here"/*.expected; do
		cases+=("$(basename "$e" .expected)")
	done
fi

report() {
	echo "FAIL $1: $2"
	fail=1
}

for c in "${cases[@]}"; do
	root="$tmp/$c"
	mkdir -p "$root/etc/xen" "$root/out"
	[ -e "$here/$c.conf" ] && cp "$here/$c.conf" "$root/etc/xen/qemu-dm.conf"
	[ -d "$here/$c.conf.d" ] && cp -a "$here/$c.conf.d" "$root/etc/xen/qemu-dm.conf.d"
	wrap=()
	if [ -e "$here/$c.setup" ]; then
		conf="$root/etc/xen/qemu-dm.conf" confd="$root/etc/xen/qemu-dm.conf.d"
		# shellcheck source=/dev/null
		. "$here/$c.setup" || {
			report "$c" "setup failed"
			continue
		}
	fi

	QEMU_DM_CONFIG="$root/etc/xen/qemu-dm.conf" \
		QEMU_DM_CONFIG_DIR="$root/etc/xen/qemu-dm.conf.d" \
		QEMU_DM_LOG_TARGET=console QEMU_DM_LOG_LEVEL=info \
		timeout -s KILL 10 "${wrap[@]}" "$gen" "$root/out" 2>"$root/stderr"
	rc=$?
	[ $rc -eq 137 ] && report "$c" "the generator hung (killed after 10 s)"
	[ $rc -eq 0 ] || report "$c" "exit status $rc: $(cat "$root/stderr")"

	# Paths in the output as they would be on a real system.
	find "$root/out" -type f -print0 | xargs -0 -r sed -i "s|$root||g"
	sed -i "s|$root||g" "$root/stderr"

	if [ -n "${QEMU_DM_GOLDEN_UPDATE:-}" ]; then
		rm -rf "$here/$c.expected"
		cp -a "$root/out" "$here/$c.expected"
	fi

	# The same files, then the same contents.
	want=$(cd "$here/$c.expected" && find . -type f -o -type l | sort)
	got=$(cd "$root/out" && find . -type f -o -type l | sort)
	if [ "$want" != "$got" ]; then
		report "$c" "file lists differ"
		diff -u <(echo "$want") <(echo "$got")
	fi
	diff -ru "$here/$c.expected" "$root/out" || report "$c" "contents differ"

	# Logging: a bad config is logged once, a good one not at all.
	if ls "$root/out/qemu-dm@.service.d/" | grep -q config-invalid; then
		n=$(wc -l <"$root/stderr")
		[ "$n" -eq 1 ] || report "$c" "expected exactly one log line, got $n: $(cat "$root/stderr")"
		grep -q '^qemu-dm-generator: Failed to load the qemu-dm configuration' "$root/stderr" ||
			report "$c" "unexpected log: $(cat "$root/stderr")"
	elif [ -s "$root/stderr" ]; then
		report "$c" "unexpected log output for a good config: $(cat "$root/stderr")"
	fi

	if command -v systemd-analyze >/dev/null; then
		v="$root/verify"
		mkdir -p "$v"
		cp -a "$root/out/qemu-dm@.service.d" "$v/"
		printf '[Service]\nExecStart=/bin/true\n' >"$v/qemu-dm@.service"
		printf '[Unit]\nDescription=test slice\n' >"$v/qemu-dm.slice"
		# never-root binds the DM to these (units/); throwaway stand-ins here too
		for u in qemu-dm-grant@ qemu-dm-ready@; do
			printf '[Service]\nType=oneshot\nExecStart=/bin/true\n' >"$v/$u.service"
		done
		out=$(SYSTEMD_UNIT_PATH="$v:" systemd-analyze verify --man=no "$v/qemu-dm@5.service" 2>&1)
		[ -z "$out" ] || report "$c" "systemd-analyze verify: $out"
	fi
	[ $fail -eq 0 ] && echo "ok $c"
done

# The contract of man systemd.generator: 1 or 3 arguments, nothing else.
QEMU_DM_LOG_TARGET=console "$gen" 2>/dev/null && report "args" "no argument was accepted"
QEMU_DM_LOG_TARGET=console "$gen" a b 2>/dev/null && report "args" "two arguments were accepted"
mkdir -p "$tmp/three"
QEMU_DM_CONFIG=/nonexistent QEMU_DM_CONFIG_DIR=/nonexistent QEMU_DM_LOG_TARGET=console \
	"$gen" "$tmp/three" "$tmp/early" "$tmp/late" || report "args" "three arguments were refused"
[ -e "$tmp/three/qemu-dm@.service.d/50-qemu-dm-hardening.conf" ] || report "args" "nothing in the normal dir"
[ -e "$tmp/early" ] || [ -e "$tmp/late" ] && report "args" "wrote outside the normal directory"

# Exclusive creation: a second run into the same directory must not overwrite.
QEMU_DM_CONFIG=/nonexistent QEMU_DM_CONFIG_DIR=/nonexistent QEMU_DM_LOG_TARGET=console \
	"$gen" "$tmp/three" 2>"$tmp/dup.err" && report "exclusive" "a second run over existing files succeeded"
grep -q 'file exists' "$tmp/dup.err" || report "exclusive" "no 'file exists' error: $(cat "$tmp/dup.err")"
ls -a "$tmp/three/qemu-dm@.service.d" | grep -q '^\.#' && report "exclusive" "a temporary file was left behind"

# Never a template unit file: it would block transient instances.
[ -e "$tmp/three/qemu-dm@.service" ] && report "template" "qemu-dm@.service was written"

exit $fail
