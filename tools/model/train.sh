#!/usr/bin/env bash
# One command to reproduce the default model: decode cache, train (fixed seeds), export, evaluate,
# parity reference, model card.   tools/model/train.sh      (about 57 minutes of training on 2 CPU cores)
#   phase 1: 42-minute warm-up + cosine cycle from scratch (lr 2e-3, seed 1234)
#   phase 2: 15-minute second cycle from phase 1's best checkpoint (lr 6e-4, seed 1235)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
CK=$ROOT/.cache/model-data
OUT=$ROOT/models/crema6
"$HERE/setup.sh"
"$HERE/decode_cache.sh"
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] && export LD_PRELOAD=$TC
nice -n 19 $PY "$HERE/train.py" --time-budget-min 42 --lr 2e-3 --seed 1234 --out "$CK/crema6"
nice -n 19 $PY "$HERE/train.py" --time-budget-min 15 --lr 6e-4 --warmup 0.1 --seed 1235 \
  --init "$CK/crema6/best.pt" --out "$CK/crema6_ft"
mkdir -p "$OUT"
cat "$CK/crema6/train_log.jsonl" "$CK/crema6_ft/train_log.jsonl" > "$OUT/train_log.jsonl"
nice -n 19 $PY "$HERE/export.py" --checkpoint "$CK/crema6_ft/best.pt" --out "$OUT"
nice -n 19 $PY "$HERE/evaluate.py" --model-dir "$OUT" --checkpoint "$CK/crema6_ft/best.pt"
nice -n 19 $PY "$HERE/parity.py" --model-dir "$OUT" --checkpoint "$CK/crema6_ft/best.pt"
nice -n 19 $PY "$HERE/model_card.py" --model-dir "$OUT"
