#!/usr/bin/env bash
# Adds Stryker JSON reports up into one mutation score (Stryker's definitions):
#   score         = (killed + timeout) / (killed + timeout + survived + no coverage)
#   covered score = (killed + timeout) / (killed + timeout + survived)
# Compile errors and ignored mutants count in neither. When a source file appears in several reports, the
# newest report (by modification time) that tested it wins, so a re-run chunk replaces its old figures (a chunk
# also reports compile errors in files outside it; such entries never replace a tested one).
# Usage: property-tests/stryker-score.sh [REPORT.json...]   (default: property-tests/stryker-results/*.json)
#   SURVIVORS=1 also lists every surviving and uncovered mutant (file:line mutator: replacement).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
reports=("$@")
if [ ${#reports[@]} -eq 0 ]; then
  mapfile -t reports < <(ls -tr "$root"/property-tests/stryker-results/*.json 2>/dev/null)
fi
[ ${#reports[@]} -gt 0 ] || { echo "no reports" >&2; exit 1; }
# Oldest first, so later reports overwrite a file's entry.
out="$(jq -s -r --arg survivors "${SURVIVORS:-0}" '
  def tested($f): [$f.mutants[] | select(.status | IN("Killed", "Timeout", "Survived", "NoCoverage"))] | length > 0;
  (reduce .[] as $r ({}; reduce ($r.files | to_entries[] | .key |= sub(".*/kernel-model/"; "")) as $e (.;
     if has($e.key) and (tested($e.value) | not) then . else .[$e.key] = $e.value end))) as $files
  | def count($m; $s): [$m[] | select(.status == $s)] | length;
  def line($m): "\(count($m; "Killed"))\t\(count($m; "Timeout"))\t\(count($m; "Survived"))\t\(count($m; "NoCoverage"))\t\(count($m; "CompileError"))\t\(count($m; "Ignored"))\t\($m | length)";
  def pct($a; $b): if $b == 0 then "n/a" else "\((1000 * $a / $b | round) / 10) %" end;
  [$files | to_entries[] | .value.mutants[]] as $all
  | (count($all; "Killed") + count($all; "Timeout")) as $det
  | ("file\tkilled\ttimeout\tsurvived\tnocov\tcompile\tignored\ttotal",
     ($files | to_entries | sort_by(.key)[] | "\(.key)\t\(line(.value.mutants))"),
     "TOTAL\t\(line($all))",
     "score \(pct($det; $det + count($all; "Survived") + count($all; "NoCoverage")))   covered score \(pct($det; $det + count($all; "Survived")))   files \($files | length)"),
    (if $survivors == "1" then "--",
       ($files | to_entries | sort_by(.key)[] | .key as $f | .value.mutants | sort_by(.location.start.line)[]
        | select(.status == "Survived" or .status == "NoCoverage")
        | "\(.status)\t\($f):\(.location.start.line)\t\(.mutatorName): \(.replacement // "" | gsub("\n"; " ") | .[0:100])")
     else empty end)
' "${reports[@]}")"
sed '/^--$/,$d' <<< "$out" | column -t -s $'\t'
if grep -q '^--$' <<< "$out"; then echo; sed '1,/^--$/d' <<< "$out"; fi
