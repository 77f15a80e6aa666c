#!/usr/bin/env bash
# Fuzz LuoModel with SharpFuzz + AFL++ (issue 9 §1). Local tool only: CI replays fuzz/corpus/ as tests instead.
#   fuzz/run.sh build                  build, instrument the LuoModel.*.dll, write the seed inputs
#   fuzz/run.sh TARGET SECONDS         fuzz one target (build first if needed) for SECONDS
#   fuzz/run.sh all SECONDS            every target in turn, SECONDS each (one at a time)
#   fuzz/run.sh cmin TARGET            minimise fuzz/out/TARGET's queue (+ the committed corpus) into fuzz/corpus/TARGET
#                                      (afl-cmin, then the smallest inputs up to CORPUS_BUDGET bytes, default 60 KiB)
#   fuzz/run.sh replay TARGET FILE...  run inputs once through the uninstrumented build (crash triage)
# Needs: dotnet, Debian's afl++ (apt-get install -y afl++), the local tool (dotnet tool restore).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
work="$here/out"
bin="$work/bin"
targets=(fdt printers image kho-boot luo-v5 luo-v1 ioctl)

build() {
  mkdir -p "$work"
  (cd "$repo" && dotnet tool restore >/dev/null && dotnet build fuzz/fuzz.csproj -c Release -o "$bin" -v quiet -nologo)
  rm -rf "$work/seeds"
  dotnet "$bin/LuoModel.Fuzz.dll" seeds "$work/seeds"
  for t in fdt printers; do
    mkdir -p "$work/seeds/$t"
    find "$repo/tests/vectors/fdt" -name '*.dtb' -size -8k -exec cp {} "$work/seeds/$t/" \;
  done
  for t in "${targets[@]}"; do
    if [ -d "$here/corpus/$t" ]; then cp "$here/corpus/$t"/* "$work/seeds/$t/" 2>/dev/null || true; fi
  done
  # seeds are written by the plain build: instrumented code only runs under afl-fuzz (SharpFuzz's shared map)
  # instrument the library code only (the targets in LuoModel.Testkit stay plain, so coverage is the model's)
  for dll in LuoModel.Fdt.dll LuoModel.Kho.dll LuoModel.Kernel.dll; do
    (cd "$repo" && dotnet sharpfuzz "$bin/$dll" >/dev/null)
  done
}

afl_env() {
  export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
  export AFL_NO_AFFINITY=1 AFL_SHUFFLE_QUEUE=0 DOTNET_TieredPGO=0
}

fuzz() {
  local t="$1" secs="$2"
  [ -f "$bin/LuoModel.Fuzz.dll" ] || build
  afl_env
  mkdir -p "$work/$t"
  echo "fuzzing $t for ${secs}s -> $work/$t (afl-whatsup $work/$t, fuzzer_stats)"
  nice -n 19 afl-fuzz -i "$work/seeds/$t" -o "$work/$t" -t 10000 -m none -V "$secs" \
    -- dotnet "$bin/LuoModel.Fuzz.dll" run "$t" > "$work/$t.log" 2>&1 || true
  grep -E '^(start_time|last_update|run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg)' \
    "$work/$t/default/fuzzer_stats" || tail -20 "$work/$t.log"
}

cmin() {
  local t="$1"
  afl_env
  local in="$work/cmin-in-$t"
  rm -rf "$in" "$work/cmin-out-$t"
  mkdir -p "$in"
  # the queues of every run of this target (fuzz/out/TARGET and earlier runs kept as fuzz/out/TARGET-*)
  local q n=0
  for q in "$work/$t"/default/queue "$work/$t"-*/default/queue; do
    [ -d "$q" ] || continue
    for f in "$q"/id:*; do cp "$f" "$in/q$n-$(basename "$f" | cut -c1-9)"; n=$((n+1)); done
  done
  if [ -d "$here/corpus/$t" ]; then cp "$here/corpus/$t"/* "$in/" 2>/dev/null || true; fi
  nice -n 19 afl-cmin -i "$in" -o "$work/cmin-out-$t" -t 10000 -m none -- "$(command -v dotnet)" "$bin/LuoModel.Fuzz.dll" run "$t"
  rm -rf "$here/corpus/$t"
  mkdir -p "$here/corpus/$t"
  # keep the committed corpus small: the smallest minimised inputs up to a per-target budget (bytes)
  local budget="${CORPUS_BUDGET:-61440}" total=0 i=0 size
  while read -r f; do
    size=$(stat -c %s "$f")
    if [ $((total + size)) -gt "$budget" ] && [ "$i" -gt 0 ]; then break; fi
    cp "$f" "$here/corpus/$t/$(printf '%04d' $i)-$(sha1sum "$f" | cut -c1-12)"
    total=$((total + size)); i=$((i+1))
  done < <(ls -1Sr "$work/cmin-out-$t"/* )
  echo "$t: $i inputs, $total bytes"
}

case "${1:-}" in
  build) build ;;
  all) for t in "${targets[@]}"; do fuzz "$t" "${2:?seconds}"; done ;;
  cmin) cmin "${2:?target}" ;;
  replay) shift; (cd "$repo" && dotnet run --project fuzz -c Release -- replay "$@") ;;
  fdt|printers|image|kho-boot|luo-v5|luo-v1|ioctl) fuzz "$1" "${2:?seconds}" ;;
  *) sed -n "2,9p" "$0"; exit 2 ;;
esac
