#!/usr/bin/env bash
# Runs `ser listen` with an audio file as the microphone (no sound card needed): an ALSA config whose
# default PCM is the `file` plugin reading a raw 16 kHz s16le copy of the file. PortAudio, the capture
# thread and the live engine all run for real; the capture layer paces the file to real time.
# Usage: tools/listen/virtual-mic.sh AUDIO [ser listen options...]   e.g. --json --seconds 20
set -euo pipefail
if [[ $# -lt 1 ]]; then
  echo "usage: $0 AUDIO [ser listen options...]" >&2
  exit 2
fi
audio=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Trailing silence: past the end of its file the plugin repeats stale buffers.
sox "$audio" -r 16000 -c 1 -b 16 -e signed -t raw "$dir/mic.raw" pad 0 10
cat >"$dir/asound.conf" <<CONF
pcm.!default {
    type plug
    slave {
        pcm { type file; slave.pcm { type null }; file "/dev/null"; infile "$dir/mic.raw"; format "raw" }
        format S16_LE
        rate 16000
        channels 1
    }
}
CONF
ALSA_CONFIG_PATH="$dir/asound.conf" JACK_NO_START_SERVER=1 "$root/ser" listen "$@"
