#!/usr/bin/env bash
# Decodes CREMA-D Opus clips to raw 16 kHz mono s16le under .cache/model-data/pcm
# (ffmpeg -ar 16000 -ac 1 -f s16le; idempotent; niced; 2 workers, 40 clips per ffmpeg process).
set -euo pipefail
DATA=${SER_DATA:-/work/shared/data}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUTD=$ROOT/.cache/model-data/pcm
SRC=$DATA/crema-d/audio
mkdir -p "$OUTD"
rm -f "$OUTD"/*.tmp
todo=()
for p in "$SRC"/*.opus; do
  f=$(basename "$p" .opus)
  [ -e "$OUTD/$f.s16" ] || todo+=("$f")
done
if [ ${#todo[@]} -gt 0 ]; then
  printf '%s\n' "${todo[@]}" | SRC="$SRC" OUTD="$OUTD" nice -n 19 xargs -n 40 -P 2 sh -c '
    args=""; set -- "$@"
    cmd="ffmpeg -nostdin -v error -y"
    for f in "$@"; do cmd="$cmd -i $SRC/$f.opus"; done
    i=0
    for f in "$@"; do cmd="$cmd -map $i:a -ar 16000 -ac 1 -f s16le $OUTD/$f.s16.tmp"; i=$((i+1)); done
    $cmd && for f in "$@"; do mv "$OUTD/$f.s16.tmp" "$OUTD/$f.s16"; done' _
fi
echo "decoded: $(ls "$OUTD" | grep -c '\.s16$')"
