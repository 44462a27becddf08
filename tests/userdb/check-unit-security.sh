#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Verify the user database units offline and score the service's hardening.
# usage: check-unit-security.sh SYSTEMD_ANALYZE SERVICE SOCKET BINARY UNITDIR PKGLIBEXECDIR THRESHOLD
# THRESHOLD is in tenths (systemd-analyze --threshold): 10 means exposure <= 1.0.
set -eu
analyze=$1 service=$2 socket=$3 binary=$4 unitdir=$5 libexecdir=$6 threshold=$7

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root$unitdir" "$root$libexecdir"
cp "$service" "$socket" "$root$unitdir/"
cp "$binary" "$root$libexecdir/"

"$analyze" verify --man=no --root="$root" \
	"$root$unitdir/$(basename "$service")" "$root$unitdir/$(basename "$socket")"

out=$("$analyze" security --offline=true --root="$root" --threshold="$threshold" \
	"$(basename "$service")" 2>&1) || {
	echo "$out"
	echo "FAIL: exposure above $threshold/10"
	exit 1
}
echo "$out" | tail -n 1
