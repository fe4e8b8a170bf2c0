#!/usr/bin/env bash
# Decodes every corpus in the shared data folder (Opus) to raw 16 kHz mono s16le under
# .cache/model-data/pcm/<corpus>/<clip>.s16 (ffmpeg -ar 16000 -ac 1 -f s16le; idempotent; niced;
# 2 workers, 40 clips per ffmpeg process).   tools/model/decode_cache.sh [CORPUS...]   (default: all)
set -euo pipefail
DATA=${SER_DATA:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -d "$DATA" ]; then
  echo "decode_cache.sh: no data folder at $DATA (set SER_DATA to the shared data folder)" >&2; exit 1
fi
command -v ffmpeg >/dev/null || { echo "decode_cache.sh: ffmpeg is missing (tools/model/setup.sh installs it)" >&2; exit 1; }
corpora=("$@")
[ ${#corpora[@]} -gt 0 ] || corpora=(crema-d nemo ased turev casia emovo urdu baved)
for c in "${corpora[@]}"; do
  SRC=$DATA/$c/audio
  OUTD=$ROOT/.cache/model-data/pcm/$c
  [ -d "$SRC" ] || { echo "decode_cache.sh: $SRC is missing" >&2; exit 1; }
  mkdir -p "$OUTD"
  rm -f "$OUTD"/*.tmp
  todo=()
  for p in "$SRC"/*.opus; do
    f=$(basename "$p" .opus)
    [ -e "$OUTD/$f.s16" ] || todo+=("$f")
  done
  if [ ${#todo[@]} -gt 0 ]; then
    printf '%s\n' "${todo[@]}" | SRC="$SRC" OUTD="$OUTD" nice -n 19 xargs -d '\n' -n 40 -P 2 sh -c '
      cmd="ffmpeg -nostdin -v error -y"
      for f in "$@"; do cmd="$cmd -i $SRC/$f.opus"; done
      i=0
      for f in "$@"; do cmd="$cmd -map $i:a -ar 16000 -ac 1 -f s16le $OUTD/$f.s16.tmp"; i=$((i+1)); done
      $cmd && for f in "$@"; do mv "$OUTD/$f.s16.tmp" "$OUTD/$f.s16"; done' _
  fi
  echo "decoded $c: $(ls "$OUTD" | grep -c '\.s16$')"
done
