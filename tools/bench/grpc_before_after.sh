#!/usr/bin/env bash
# Server cost before and after a change, through gRPC: each build's own `ser serve`, measured by this
# checkout's `ser bench live --server` (the proto is unchanged), interleaved (before, after, ...) so that both
# see the same load. Prints each run's result row and the server process's CPU time over the benchmark.
#   tools/bench/grpc_before_after.sh BEFORE_CHECKOUT [ROUNDS=4] [STREAMS=32] [SECONDS=20]
# BEFORE_CHECKOUT is another checkout of this repository (e.g. `git worktree add ../before e432e94`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BEFORE="${1:?usage: $0 BEFORE_CHECKOUT [ROUNDS] [STREAMS] [SECONDS]}"
ROUNDS="${2:-4}" STREAMS="${3:-32}" SECS="${4:-20}"
[ -x "$BEFORE/ser" ] || { echo "$0: $BEFORE has no ./ser: give a checkout of this repository" >&2; exit 2; }
OUT="$ROOT/.cache/bench/grpc-before-after"
mkdir -p "$OUT"
TICKS=$(getconf CLK_TCK)

run() { # checkout label port round
  local dir=$1 label=$2 port=$3 round=$4 pid t0 t1
  (cd "$dir" && exec ./ser serve --port "$port" --metrics-port $((port + 1)) --max-streams 512) \
    >"$OUT/$label-$round-serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 120); do
    curl -s -o /dev/null "http://127.0.0.1:$((port + 1))/metrics" && break
    sleep 1
  done
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  "$ROOT/ser" bench live --server "http://127.0.0.1:$port" --streams "$STREAMS" --seconds "$SECS" \
    -o "$OUT/$label-$round" >/dev/null 2>&1 || echo "$label round $round: bench failed (see $OUT)" >&2
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$label round $round: server CPU $(awk -v d=$((t1 - t0)) -v t="$TICKS" 'BEGIN {printf "%.1f", d / t}') s;" \
    "$(grep -E "^\| *$STREAMS " "$OUT/$label-$round/bench-live.md" | head -1)"
}

echo "building both (first run only)..."
(cd "$BEFORE" && ./ser info >/dev/null)
"$ROOT/ser" info >/dev/null
for r in $(seq "$ROUNDS"); do
  run "$BEFORE" before 57100 "$r"
  run "$ROOT" after 57200 "$r"
done
