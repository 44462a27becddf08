#!/bin/bash
# Measures booting + tearing down the test bed, against a baseline measured in
# the same run: `unshare` of the same namespaces running /bin/true.
# Prints times and the ratio; asserts nothing (machines here are noisy).
#   bench/testbed-boot.sh BUILD_DIR [ROUNDS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
tb="$build/tests/testbed/qemu-dm-testbed"
root=$("$tb" install --build="$build")

now() { date +%s%N; }
base=0 bed=0
for ((i = 0; i < rounds; i++)); do
	t0=$(now)
	unshare --fork --pid --mount --mount-proc --cgroup --ipc --uts --net /bin/true
	t1=$(now)
	"$tb" run --root="$root" -- true
	t2=$(now)
	base=$((base + t1 - t0))
	bed=$((bed + t2 - t1))
done
printf 'baseline unshare+true: %6.1f ms\n' "$(echo "$base / $rounds / 1000000" | bc -l)"
printf 'test bed boot+teardown: %6.1f ms\n' "$(echo "$bed / $rounds / 1000000" | bc -l)"
printf 'ratio: %.1fx\n' "$(echo "$bed / $base" | bc -l)"
