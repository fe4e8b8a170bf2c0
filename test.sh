#!/usr/bin/env bash
# Runs every test of RealtimeSer: set-up (idempotent), format check, warnings-as-errors build, all test
# projects, then the training tools' Python tests where their packages are installed. Ends with every skipped
# test and its reason, and one line: tests: N passed, N failed, N skipped.
#   ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Vad]
# Locally, tests whose data or tools are missing skip, saying so. With CI=true nothing may be missing: the run
# stops at once when ../shared/data, Chromium, the interop client or a model is absent, and any skipped test
# fails it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
RESULTS="$ROOT/.cache/test-results"
PYTHON_TESTS=(tools/model/test_convert.py tools/model/test_tools.py)

tools/bootstrap

if [ "${CI:-}" = true ]; then
  missing=()
  [ -d "$ROOT/../shared/data/fixtures" ] ||
    missing+=("../shared/data beside the clone (the public corpora and fixtures: $ROOT/../shared/data)")
  [ -n "${REALTIMESER_CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
    missing+=("Chromium (apt-get install chromium, or set REALTIMESER_CHROMIUM)")
  [ -d "$ROOT/tests/interop/node_modules" ] || missing+=("tests/interop/node_modules (npm ci in tests/interop)")
  [ -f "$ROOT/.cache/native/models/silero_vad_v5.onnx" ] || missing+=("the Silero VAD model (tools/bootstrap)")
  for model in "$ROOT"/models/*/manifest.json; do
    [ -f "$(dirname "$model")/model.onnx" ] || missing+=("$(dirname "$model")/model.onnx")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "test.sh: CI=true, and what the tests need is missing:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
fi

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

# The training tools' unit tests (about 3 s). PyTorch and its companions are training tools, never installed
# by this script (tools/model/setup.sh installs them); where they are present, the tests run and count.
python_tests() {
  local out="$RESULTS/python.txt" log="$RESULTS/python.log" count
  mkdir -p "$RESULTS"
  count=$(cat "${PYTHON_TESTS[@]}" | grep -c '^    def test_')
  if ! /usr/bin/python3 -c 'import torch, numpy, scipy, soundfile, onnx' 2>/dev/null; then
    printf '0 0 0 %s\nskip: %s tests need python3-torch, -numpy, -scipy, -soundfile and -onnx, training tools this script does not install (tools/model/setup.sh does)\n' \
      "$count" "$count" >"$out"
    return 0
  fi
  # The converter's checks run its ONNX output through onnxruntime-node, fetched once from npm.
  local ort="$ROOT/.cache/npm/onnxruntime-node-1.30.0.tgz"
  if [ ! -f "$ort" ] && command -v npm >/dev/null; then
    (cd "$ROOT/.cache/npm" && npm pack onnxruntime-node@1.30.0 --ignore-scripts --silent >/dev/null 2>&1) ||
      echo "test.sh: could not fetch onnxruntime-node from npm; the converter's ONNX checks will skip" >&2
  fi
  echo "== Python tests (tools/model)"
  local rc=0
  /usr/bin/python3 -m unittest "${PYTHON_TESTS[@]}" >"$log" 2>&1 || rc=$?
  local ran failures errors skipped
  ran=$(grep -o '^Ran [0-9]*' "$log" | grep -o '[0-9]*' || echo 0)
  failures=$(grep -o 'failures=[0-9]*' "$log" | grep -o '[0-9]*' || echo 0)
  errors=$(grep -o 'errors=[0-9]*' "$log" | grep -o '[0-9]*' || echo 0)
  skipped=$(grep -o 'skipped=[0-9]*' "$log" | grep -o '[0-9]*' || echo 0)
  if [ "$rc" -ne 0 ] && [ "$((failures + errors))" -eq 0 ]; then
    errors=$((count > ran ? count - ran : 1)) # the run itself failed (an import error, say)
  fi
  echo "$((ran - failures - errors - skipped)) $((failures + errors)) $skipped 0" >"$out"
  grep -o "skipped '.*'" "$log" | sort | uniq -c | sed "s/^ *\([0-9]*\) skipped '\(.*\)'/skip: \1 test(s): \2/" >>"$out" || true
  if [ "$((failures + errors))" -gt 0 ]; then
    cat "$log" >&2
  fi
}
python_tests

# The closing lines, in the plain form CI reads.
node "$ROOT/tools/test/summary.mjs" "$RESULTS" "$RESULTS/python.txt" || status=1
exit "$status"
