#!/usr/bin/env bash
# Resumable mutation testing of kernel-model (Stryker.NET, local tool in .config/dotnet-tools.json), one chunk
# of source files at a time. Each chunk mutates only its files (Stryker's `mutate` option) and leaves a
# compact JSON report (the mutation-testing-elements schema without the `source` texts) in
# property-tests/stryker-results/CHUNK.json plus CHUNK.meta (commit, budget, wall time). A chunk that already
# has a report is skipped, so an interrupted run continues where it stopped; FORCE=1 re-runs it.
# property-tests/stryker-score.sh adds the reports up into one score.
#
# Stryker runs on a snapshot of the committed tree (git archive HEAD into $STRYKER_WORK, default
# /tmp/luo-stryker), so building or editing the worktree meanwhile cannot swap the mutated assembly.
#
# Usage: property-tests/stryker-chunks.sh [CHUNK...]   (default: every chunk, in the order below)
#   nohup nice -n 10 property-tests/stryker-chunks.sh > /tmp/stryker-chunks.log 2>&1 &
# Environment: LUO_PROPERTY_RUNS (histories of the whole-model machine per test run, default 20),
#   STRYKER_CONCURRENCY (default 2), STRYKER_LEVEL (mutation level, default Standard), FORCE=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
results="$root/property-tests/stryker-results"
work="${STRYKER_WORK:-/tmp/luo-stryker}"
mkdir -p "$results" "$work"

# Chunk name -> kernel-model source files (the LUO core first: it is what users rely on).
declare -A files=(
  [session]="LuoSession.cs LuoFileOps.cs LuoSerialize.cs LuoDeserialize.cs"
  [ioctl]="LuoIoctl.cs MemfdHandler.cs"
  [blockset]="KhoBlockSet.cs"
  [core]="LuoCore.cs LuoFlb.cs"
  [handlers]="LiveupdateFileHandler.cs TestFileHandler.cs FaultInjector.cs LuoSer.cs MemfdSer.cs LuoFdtAbi.cs"
  [kernel]="Kernel.cs Kernel.Boot.cs Kernel.Files.cs Kernel.Memfd.cs OpenFile.cs ShmemInode.cs ShmemInode.Mode.cs ShmemPageMap.cs FdTable.cs"
  [process]="Process.cs UserMemory.cs LuoSyscalls.cs HostMemfd.cs"
  [misc]="LuoStateSnapshot.cs LuoOptions.cs KernelConfig.cs Kernel.Bench.cs"
  [variants]="LuoUapiV4.cs LuoUapiRfc.cs LuoUapiState.cs LuoUapiVariants.cs LuoSyscallsV4.cs LuoMutant.cs"
  [stat]="Kernel.Stat.cs StatLayouts.cs StatSyscalls.cs"
  [locking]="Locking.cs"
)
order=(session blockset ioctl core handlers kernel process misc variants stat locking)
chunks=("$@")
[ ${#chunks[@]} -gt 0 ] || chunks=("${order[@]}")

export LUO_PROPERTY_RUNS="${LUO_PROPERTY_RUNS:-20}" LUO_PROPERTY_SHRINK=0
# The subset: unit tests of the LUO model, trace checking, the upstream scenarios and the reliability tests
# (variants, exhaustion, corrupted handovers), the in-process CLI runs that drive the model, the cheap
# concurrency tests (not the schedule explorer, ~11 s a run) and the whole-model machine. Chunks measured
# before 2026-11-23 (session, blockset, ioctl, core, misc) used only the first three and the machine.
filter="FullyQualifiedName~LuoModel.Tests.Luo|FullyQualifiedName~LuoModel.Tests.Trace|FullyQualifiedName~LuoModel.Tests.Scenarios"
filter+="|FullyQualifiedName~LuoModel.Tests.Reliability|FullyQualifiedName~LuoModel.Tests.Cli.ImageDumpLuoTests"
filter+="|FullyQualifiedName~LuoModel.Tests.Cli.DemoCliTests|FullyQualifiedName~LuoModel.Tests.Cli.RunCliTests"
filter+="|FullyQualifiedName~LuoModel.Tests.Cli.UapiVariantCatalogTests|FullyQualifiedName~LuoModel.Tests.Concurrency.StressTests"
filter+="|FullyQualifiedName~LuoModel.Tests.Concurrency.SchedulerAndLockTests|FullyQualifiedName~LuoModel.PropertyTests.Luo.LuoMachineTests"
# Without the recorder tests (they build and run C clients under librecorder.so: ~4 s per mutant that they
# cover, which is most of them); chunks measured from 2026-11-23 22:00 on use this subset.
filter="($filter)&FullyQualifiedName!~LuoModel.Tests.Trace.RecorderTests"

for chunk in "${chunks[@]}"; do
  [ -n "${files[$chunk]:-}" ] || { echo "unknown chunk $chunk (known: ${order[*]})" >&2; exit 2; }
  if [ -f "$results/$chunk.json" ] && [ "${FORCE:-0}" != 1 ]; then echo "== $chunk: done, skipped"; continue; fi
  commit="$(git -C "$root" rev-parse --short HEAD)"
  echo "== $chunk ($commit): ${files[$chunk]}  [$(date -u +%H:%M:%S)]"
  src="$work/src"
  # Unchanged files keep their timestamps (copied only when their bytes differ), so the next chunk's build is incremental.
  rm -rf "$work/snap" && mkdir -p "$work/snap" "$src"
  git -C "$root" archive HEAD | tar -x -C "$work/snap"
  ( cd "$work/snap" && find . -type f ) | while IFS= read -r f; do
    cmp -s "$work/snap/$f" "$src/$f" || { mkdir -p "$(dirname "$src/$f")"; cp -p "$work/snap/$f" "$src/$f"; }
  done
  # Files deleted or moved since the last chunk must not linger in the copy (they would still compile).
  ( cd "$src" && find . -type f -not -path '*/bin/*' -not -path '*/obj/*' -not -path '*/StrykerOutput/*' ) | while IFS= read -r f; do
    [ -e "$work/snap/$f" ] || rm -f "$src/$f"
  done
  ( cd "$src" && dotnet tool restore >/dev/null )
  mutate=()
  for f in ${files[$chunk]}; do mutate+=(--mutate "**/$f"); done
  out="$work/out/$chunk"
  rm -rf "$out"
  start=$(date +%s)
  ( cd "$src/tests" && dotnet stryker --project kernel-model.csproj \
      --test-project ../tests/tests.csproj --test-project ../property-tests/property-tests.csproj \
      --test-case-filter "$filter" "${mutate[@]}" \
      --mutation-level "${STRYKER_LEVEL:-Standard}" --concurrency "${STRYKER_CONCURRENCY:-2}" \
      --reporter Dots --reporter Json --reporter Html --output "$out" --skip-version-check )
  secs=$(( $(date +%s) - start ))
  jq '{schemaVersion, thresholds, files: (.files | map_values({language, mutants: [.mutants[]
        | select(.statusReason != "Removed by mutate filter") | {id, mutatorName, replacement, location, status, statusReason}]})
        | with_entries(select(.value.mutants | length > 0)))}' \
    "$out/reports/mutation-report.json" > "$results/$chunk.json.tmp"
  mv "$results/$chunk.json.tmp" "$results/$chunk.json"
  printf 'chunk=%s\ncommit=%s\nfiles=%s\nluo_property_runs=%s\nlevel=%s\nseconds=%s\nfinished=%s\nfilter=%s\n' \
    "$chunk" "$commit" "${files[$chunk]}" "$LUO_PROPERTY_RUNS" "${STRYKER_LEVEL:-Standard}" "$secs" \
    "$(date -u +%FT%TZ)" "$filter" > "$results/$chunk.meta"
  "$root/property-tests/stryker-score.sh" "$results/$chunk.json"
done
