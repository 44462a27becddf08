#!/bin/bash
# bash completion of qemu-dmctl (packaging/bash-completion/qemu-dmctl):
# commands, options, and the domids of running device models, which it
# takes from `qemu-dmctl list` (a stand-in here prints two of them).
#
#   tests/package/completion-test.sh SOURCE_ROOT
set -uo pipefail

bc=/usr/share/bash-completion/bash_completion
[[ -r $bc ]] || { echo "FAIL: $bc is missing (apt-get install bash-completion)"; exit 1; }
# shellcheck source=/dev/null
source "$bc"
# shellcheck source=/dev/null
source "$1/packaging/bash-completion/qemu-dmctl"
complete -p qemu-dmctl >/dev/null || { echo "FAIL: no completion registered for qemu-dmctl"; exit 1; }

qemu-dmctl() { # stand-in: the output format of `qemu-dmctl list --no-legend`
	[[ $1 == list && $2 == --no-legend ]] || return 1
	printf '%6s  %-24s %-10s %-10s %8s  %s\n' \
		5 qemu-dm@5.service active running 117 xen-qemuuser-5 \
		12 qemu-dm@12.service active running 230 xen-qemuuser-12
}
compopt() { :; } # only valid while readline completes

failed=0
expect() { # EXPECTED WORD...: complete the last word of "WORD..."
	local want=$1
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_qemu_dmctl
	local got="${COMPREPLY[*]}"
	if [[ $got == "$want" ]]; then
		echo "ok   [$*] -> $got"
	else
		echo "FAIL [$*] -> '$got', expected '$want'"
		failed=1
	fi
}

expect 'start stop kill status list policy check audit cdrom help --help --version --verbose' qemu-dmctl ''
expect 'start stop status' qemu-dmctl st
expect '5 12' qemu-dmctl stop ''
expect '12' qemu-dmctl status 1
expect '5 12' qemu-dmctl kill ''
expect '--signal' qemu-dmctl kill 5 ''
expect 'SIGTERM' qemu-dmctl kill 5 --signal SIGTE
expect '--timeout --kill' qemu-dmctl stop 5 --
expect '--json --no-pager' qemu-dmctl status 5 ''
expect '--json --no-legend --no-pager' qemu-dmctl list ''
expect '--json' qemu-dmctl check --j
expect '' qemu-dmctl start ''
expect '--type' qemu-dmctl start 5 --ty
expect 'hvm pv pvh' qemu-dmctl start 5 --type ''
expect '--no-restrict --no-domain-check' qemu-dmctl policy 5 --no-
expect '--qmp-fd' qemu-dmctl start 5 --q
expect '' qemu-dmctl start 5 --name ''
expect '--vnc-localhost' qemu-dmctl start 5 --v
expect '5 12 --pid' qemu-dmctl audit ''
expect '--json' qemu-dmctl audit 5 ''
expect '5 12' qemu-dmctl cdrom ''
expect 'hdc' qemu-dmctl cdrom 5 hdc
expect '--eject' qemu-dmctl cdrom 5 hdc --e
expect '--qmp-socket --timeout' qemu-dmctl cdrom 5 hdc --eject ''
exit $failed
