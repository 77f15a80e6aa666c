#!/usr/bin/env bash
# Mutation testing (Stryker.NET, local tool in .config/dotnet-tools.json) of kernel-model against a fast,
# seeded test subset: tests/Luo, tests/Trace and the whole-model property machine at a small budget
# (LUO_PROPERTY_RUNS, default 40 histories, no shrinking). Long: run it in the background, e.g.
#   nohup nice -n 10 property-tests/stryker.sh > /tmp/stryker.log 2>&1 &
# Usage: property-tests/stryker.sh [kernel-model|kho]   (reports under tests/StrykerOutput/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-kernel-model}"
cd "$root"
dotnet tool restore >/dev/null
export LUO_PROPERTY_RUNS="${LUO_PROPERTY_RUNS:-40}" LUO_PROPERTY_SHRINK=0
config="$root/property-tests/stryker-config.json"
cd "$root/tests"
if [ "$target" = kho ]; then
  exec dotnet stryker --config-file "$config" --project kho.csproj \
    --test-case-filter "FullyQualifiedName~LuoModel.Tests.Kho|FullyQualifiedName~LuoModel.PropertyTests.Kho|FullyQualifiedName~LuoModel.PropertyTests.Luo.LuoMachineTests"
fi
exec dotnet stryker --config-file "$config"
