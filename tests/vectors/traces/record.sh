#!/bin/sh
# Re-records the traces of this directory (docs/trace-format.md §7): each program runs under
# librecorder.so stacked in front of libluoshim.so against a `luo serve` daemon, as tests/Trace does.
#   sh record.sh LIBDIR BINDIR SOCKET        LIBDIR holds librecorder.so and libluoshim.so (shim/build.sh),
#                                            BINDIR the built clients, SOCKET the daemon's shim socket.
set -eu
lib=$1 bin=$2 sock=$3 out=$(cd "$(dirname "$0")" && pwd)
export LUOSHIM_SOCKET="$sock"
pre="$lib/librecorder.so:$lib/libluoshim.so"
two_stage() { # NAME PROGRAM GET_NAME_VARIANT
	luo serve ctl --socket "$sock" variant "get_name=$3" >/dev/null
	luo serve ctl --socket "$sock" reset >/dev/null
	rm -f "$out/$1.trace"
	LD_PRELOAD=$pre LUOREC_FILE="$out/$1.trace" LUOREC_BOOT=1 LUOREC_STAGE_END=exit "$bin/$2" -s 1
	sleep 0.2
	for pid in $(luo serve ctl --socket "$sock" kexec | sed -n 's/^holders //p'); do kill -9 "$pid"; done
	LD_PRELOAD=$pre LUOREC_FILE="$out/$1.trace" LUOREC_BOOT=2 "$bin/$2" -s 2
}
two_stage kexec_simple shim_kexec_simple merged
two_stage multi_session shim_multi_session merged
two_stage names.mainline trace_names merged
two_stage names.get-name-seed trace_names seed
luo serve ctl --socket "$sock" variant get_name=merged >/dev/null
luo serve ctl --socket "$sock" reset >/dev/null
rm -f "$out/lifetimes.trace"
LD_PRELOAD=$pre LUOREC_FILE="$out/lifetimes.trace" LUOREC_BOOT=1 "$bin/shim_lifetimes" >/dev/null
