#!/usr/bin/env bash
# Leave-one-corpus-out runs of multi6's recipe: for each corpus, train without it (same recipe,
# shorter budget), then evaluate on every clip of it.  Results go to models/multi6/loco.json, which the
# model card and the manifest summarise.
#   tools/model/loco.sh [--budget-min N] [--resume] [CORPUS...]     (default: crema-d nemo ased, 25 minutes)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
CK=$ROOT/.cache/model-data
RES=$ROOT/models/multi6/loco.json
BUDGET=25 RESUME=() LIST=()
while [ $# -gt 0 ]; do
  case "$1" in
    --budget-min) BUDGET=$2; shift ;;
    --resume) RESUME=(--resume) ;;
    -*) echo "loco.sh: unknown option $1" >&2; exit 2 ;;
    *) LIST+=("$1") ;;
  esac
  shift
done
[ ${#LIST[@]} -gt 0 ] || LIST=(crema-d nemo ased)
"$HERE/setup.sh"
"$HERE/decode_cache.sh"
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] && export LD_PRELOAD=$TC
mkdir -p "$(dirname "$RES")"
for c in "${LIST[@]}"; do
  $PY "$HERE/train.py" --out "$CK/loco-$c" --exclude "$c" --time-budget-min "$BUDGET" --epoch-samples 8000 \
    --threads 1 --seed 1234 "${RESUME[@]}"
  nice -n 5 $PY "$HERE/evaluate.py" --loco "$c" --checkpoint "$CK/loco-$c/best.pt" --results "$RES" \
    --tag multi6-recipe --recipe-of multi6 --note "same recipe as multi6, ${BUDGET}-minute budget, 1 thread"
done
