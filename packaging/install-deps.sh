#!/bin/bash
# Install the Debian 12 packages qemu-dm needs to build, test and demo.
# Idempotent: installs only what is missing. Run as root (CI and `make` do).
set -euo pipefail

build=(meson ninja-build pkgconf g++ libsystemd-dev libfmt-dev libxen-dev libseccomp-dev libacl1-dev
       googletest libgtest-dev libgmock-dev libdbus-1-dev)
# The Debian package (packaging/build-deb.sh, suite package): its Build-Depends
# beyond the above, and the tools that build, check and install it.
package=(debhelper dpkg-dev pandoc bash-completion lintian debootstrap debian-archive-keyring)
test=(systemd systemd-container dbus util-linux iproute2 procps psmisc
      qemu-system-x86 qemu-system-xen python3 clang-format socat bc
      debootstrap e2fsprogs gcc) # the last line: the Xen lab (tests/lab/)

missing=()
for p in "${build[@]}" "${package[@]}" "${test[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ $(id -u) != 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
