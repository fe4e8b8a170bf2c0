#!/usr/bin/env bash
# One command to reproduce the multi-corpus emotion model, multi6: set-up, decode cache, train on every corpus's
# train speakers (balanced by corpus and label, channel augmentation, fixed seed), calibrate on dev,
# export, evaluate (in-corpus test speakers, dev, fixtures; each also after 8 kHz mu-law), parity, card.
#   tools/model/train.sh [--resume] [--budget-min N] [--threads N]
#     --resume       continue a stopped run from its last epoch (the time budget counts what was spent)
#     --budget-min   training time budget in minutes (default 85; the shipped run began with 100 and was
#                    shortened to 85 at minute 65 by a resume, see its MODEL_CARD.md)
#     --threads      torch threads (default 1: the shipped run shared the 2 cores with the LOCO runs)
# Leave-one-corpus-out figures for the same recipe: tools/model/loco.sh.  Time-bounded training: a busier
# or slower machine sees fewer epochs in the same minutes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
CK=$ROOT/.cache/model-data
ID=multi6
OUT=$ROOT/models/$ID
RESUME=() BUDGET=85 THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --resume) RESUME=(--resume) ;;
    --budget-min) BUDGET=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    *) echo "train.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done
"$HERE/setup.sh"
"$HERE/decode_cache.sh"
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] && export LD_PRELOAD=$TC
$PY "$HERE/train.py" --out "$CK/$ID" --time-budget-min "$BUDGET" --epoch-samples 10000 --threads "$THREADS" \
  --seed 1234 "${RESUME[@]}"
mkdir -p "$OUT"
cp "$CK/$ID/train_log.jsonl" "$OUT/train_log.jsonl"
# model.pt: the checkpoint with its dev-fitted temperature (tools/bench/torch_baseline.py runs it eagerly)
nice -n 19 $PY "$HERE/calibrate.py" --checkpoint "$CK/$ID/best.pt" --out "$OUT/model.pt"
nice -n 19 $PY "$HERE/export.py" --checkpoint "$OUT/model.pt" --out "$OUT" --id $ID \
  --name "Multi-corpus 6-emotion log-mel CNN-transformer (7 corpora, 7 languages, from scratch)"
nice -n 19 $PY "$HERE/evaluate.py" --model-dir "$OUT" --checkpoint "$OUT/model.pt" --results "$OUT/loco.json"
nice -n 19 $PY "$HERE/parity.py" --model-dir "$OUT" --checkpoint "$OUT/model.pt"
nice -n 19 $PY "$HERE/model_card.py" --model-dir "$OUT"
