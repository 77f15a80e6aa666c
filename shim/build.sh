#!/bin/sh
# Builds libluoshim.so (LuoModel selftest shim) with gcc. Used by `luo selftest`, by the tests and by
# the Makefile; never by `dotnet build`.
#   sh build.sh [OUTDIR]        CC (default gcc) and SHIM_CFLAGS (default -O2 -g -Wall -Wextra) may be set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
mkdir -p "$out"
tmp="$out/.libluoshim.so.$$"
${CC:-gcc} ${SHIM_CFLAGS:--O2 -g -Wall -Wextra} -fPIC -shared -D_GNU_SOURCE -fvisibility=hidden -Wl,-z,defs \
	-o "$tmp" "$here/luoshim.c" "$here/luoshim_fds.c" "$here/luoshim_ioctl.c" "$here/luoshim_fork.c" -ldl -lpthread
mv -f "$tmp" "$out/libluoshim.so"
# librecorder.so: the trace recorder (docs/trace-format.md §7), independent of the shim
tmp="$out/.librecorder.so.$$"
${CC:-gcc} ${SHIM_CFLAGS:--O2 -g -Wall -Wextra} -fPIC -shared -D_GNU_SOURCE -fvisibility=hidden -Wl,-z,defs \
	-o "$tmp" "$here/luorec.c" "$here/luorec_calls.c" "$here/luorec_ioctl.c" "$here/luorec_sha256.c" -ldl -lpthread
mv -f "$tmp" "$out/librecorder.so"
