#!/usr/bin/env bash
# One command to reproduce a multi-corpus model: set-up, decode cache, train on every corpus's train speakers
# (balanced by corpus and label, channel augmentation, fixed seed), calibrate on dev, export, evaluate
# (in-corpus test speakers, dev, fixtures; each also after 8 kHz mu-law), parity, card.
#   tools/model/train.sh [--model multi6|arousal3] [--resume] [--budget-min N] [--threads N]
#     --model        multi6 (default): six emotions from the seven emotion corpora;
#                    arousal3: low/neutral/high from BAVED and the emotion corpora mapped onto arousal
#     --resume       continue a stopped run from its last epoch (the time budget counts what was spent)
#     --budget-min   training time budget in minutes (multi6: 85; the shipped run began with 100 and was
#                    shortened to 85 at minute 65 by a resume, see its MODEL_CARD.md; arousal3: 30)
#     --threads      torch threads (default 1: the shipped runs shared the 2 cores with the LOCO runs)
# Leave-one-corpus-out figures for the same recipe: tools/model/loco.sh.  Time-bounded training: a busier
# or slower machine sees fewer epochs in the same minutes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
CK=$ROOT/.cache/model-data
ID=multi6
RESUME=() BUDGET= THREADS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --model) ID=$2; shift ;;
    --resume) RESUME=(--resume) ;;
    --budget-min) BUDGET=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    *) echo "train.sh: unknown argument $1 (see the header of this script)" >&2; exit 2 ;;
  esac
  shift
done
case "$ID" in
  multi6) TASK=emotion; BUDGET=${BUDGET:-85}; EXTRA=()
    NAME="Multi-corpus 6-emotion log-mel CNN-transformer (7 corpora, 7 languages, from scratch)" ;;
  # No per-window band normalisation for arousal: it would remove loudness, spectral tilt, mean pitch and
  # dynamic range, the main cues of arousal (measured in its MODEL_CARD.md).
  arousal3) TASK=arousal; BUDGET=${BUDGET:-30}; EXTRA=(--band-norm 0)
    NAME="Arousal low/neutral/high log-mel CNN-transformer (BAVED + 7 emotion corpora mapped, from scratch)" ;;
  *) echo "train.sh: --model must be multi6 or arousal3" >&2; exit 2 ;;
esac
OUT=$ROOT/models/$ID
"$HERE/setup.sh"
"$HERE/decode_cache.sh"
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] && export LD_PRELOAD=$TC
$PY "$HERE/train.py" --task "$TASK" --out "$CK/$ID" --time-budget-min "$BUDGET" --epoch-samples 10000 \
  --threads "$THREADS" --seed 1234 "${EXTRA[@]}" "${RESUME[@]}"
mkdir -p "$OUT"
cp "$CK/$ID/train_log.jsonl" "$OUT/train_log.jsonl"
# model.pt: the checkpoint with its dev-fitted temperature (tools/bench/torch_baseline.py runs it eagerly)
nice -n 19 $PY "$HERE/calibrate.py" --checkpoint "$CK/$ID/best.pt" --out "$OUT/model.pt"
nice -n 19 $PY "$HERE/export.py" --checkpoint "$OUT/model.pt" --out "$OUT" --id $ID --name "$NAME"
nice -n 19 $PY "$HERE/evaluate.py" --model-dir "$OUT" --checkpoint "$OUT/model.pt" --results "$OUT/loco.json"
nice -n 19 $PY "$HERE/parity.py" --model-dir "$OUT" --checkpoint "$OUT/model.pt"
nice -n 19 $PY "$HERE/model_card.py" --model-dir "$OUT"  # dispatches on metrics.json format and task
