#!/usr/bin/env bash
# Leave-one-corpus-out runs of a model's recipe: for each corpus, train without it (same recipe,
# shorter budget), then evaluate on every clip of it.  Results go to models/<ID>/loco.json, which the
# model card and the manifest summarise.
#   tools/model/loco.sh [--model multi6|arousal3] [--budget-min N] [--resume] [CORPUS...]
#     default: multi6, crema-d nemo ased, 25 minutes (arousal3: 20 minutes)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
CK=$ROOT/.cache/model-data
ID=multi6 BUDGET= RESUME=() LIST=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) ID=$2; shift ;;
    --budget-min) BUDGET=$2; shift ;;
    --resume) RESUME=(--resume) ;;
    -*) echo "loco.sh: unknown option $1" >&2; exit 2 ;;
    *) LIST+=("$1") ;;
  esac
  shift
done
[ ${#LIST[@]} -gt 0 ] || LIST=(crema-d nemo ased)
case "$ID" in
  multi6) TASK=emotion; BUDGET=${BUDGET:-25}; RUN=loco; EXTRA=() ;;
  arousal3) TASK=arousal; BUDGET=${BUDGET:-20}; RUN=loco-arousal; EXTRA=(--band-norm 0) ;;
  *) echo "loco.sh: --model must be multi6 or arousal3" >&2; exit 2 ;;
esac
RES=$ROOT/models/$ID/loco.json
"$HERE/setup.sh"
"$HERE/decode_cache.sh"
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] && export LD_PRELOAD=$TC
mkdir -p "$(dirname "$RES")"
for c in "${LIST[@]}"; do
  $PY "$HERE/train.py" --task "$TASK" --out "$CK/$RUN-$c" --exclude "$c" --time-budget-min "$BUDGET" \
    --epoch-samples 8000 --threads 1 --seed 1234 "${EXTRA[@]}" "${RESUME[@]}"
  SER_THREADS=1 nice -n 5 $PY "$HERE/evaluate.py" --loco "$c" --checkpoint "$CK/$RUN-$c/best.pt" --results "$RES" \
    --tag "$ID-recipe" --recipe-of "$ID" --note "same recipe as $ID, ${BUDGET}-minute budget, 1 thread"
done
