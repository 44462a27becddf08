#!/bin/bash
# Fails when a tracked C++ file differs from what .clang-format asks for.
# Fix with `make format`.
set -uo pipefail
cd "$1" || exit 2
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find . -name '*.cpp' -o -name '*.h' | grep -v '^./build')
((${#files[@]})) || { echo "no C++ files found"; exit 1; }
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "needs formatting: $f"
		bad=1
	fi
done
echo "checked ${#files[@]} files"
exit $bad
