#!/usr/bin/env bash
# One command to reproduce the default model: decode cache, train (fixed seed), export, evaluate.
#   tools/model/train.sh            (about 45 minutes on 2 CPU cores)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] && export LD_PRELOAD=$TC
"$HERE/setup.sh"
"$HERE/decode_cache.sh"
nice -n 19 $PY "$HERE/train.py" "$@"
mkdir -p "$ROOT/models/crema6" && cp "$ROOT/.cache/model-data/crema6/train_log.jsonl" "$ROOT/models/crema6/"
nice -n 19 $PY "$HERE/export.py" --checkpoint "$ROOT/.cache/model-data/crema6/best.pt" --out "$ROOT/models/crema6"
nice -n 19 $PY "$HERE/evaluate.py" --model-dir "$ROOT/models/crema6"
nice -n 19 $PY "$HERE/parity.py" --model-dir "$ROOT/models/crema6"
nice -n 19 $PY "$HERE/model_card.py" --model-dir "$ROOT/models/crema6"
