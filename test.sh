#!/usr/bin/env bash
# Runs every test of RealtimeSer: set-up (idempotent), format check, warnings-as-errors build, all test
# projects. Tests that need ../shared/data skip with a message when it is absent.
#   ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Vad]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
RESULTS="$ROOT/.cache/test-results"

tools/bootstrap

echo "== format (CSharpier)"
dotnet tool run csharpier check . >/dev/null || {
  echo "test.sh: formatting differs from the checked-in settings; run: dotnet tool run csharpier format ." >&2
  exit 1
}

echo "== build (warnings are errors)"
dotnet build RealtimeSer.sln -c Release -nologo -v q -clp:ErrorsOnly

echo "== tests"
rm -rf "$RESULTS"
status=0
dotnet test RealtimeSer.sln -c Release --no-build -nologo -v q \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$RESULTS" "$@" || status=$?

# One closing line over all assemblies, in the plain form CI reads.
python_free_sum() { # attribute name
  grep -ho "<Counters [^>]*" "$RESULTS"/*.trx 2>/dev/null | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' |
    awk '{s+=$1} END {print s+0}'
}
total=$(python_free_sum total)
passed=$(python_free_sum passed)
failed=$(python_free_sum failed)
executed=$(python_free_sum executed)
skipped=$((total - executed))
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
if [ "$passed" -eq 0 ]; then echo "test.sh: no test ran" >&2; exit 1; fi
