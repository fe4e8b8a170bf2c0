#!/usr/bin/env bash
# Installs the Debian packages the model tools need (Python from Debian only; no pip, no PyPI; ffmpeg
# decodes the Opus corpus).
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
PKGS=(python3-torch python3-onnx python3-numpy python3-scipy python3-soundfile
      libopenblas0-pthread libtcmalloc-minimal4 ffmpeg)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup.sh: all packages present"; exit 0
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the candidate for a missing package is unknown
if ! apt-cache policy "${missing[@]}" 2>/dev/null | grep -q "Candidate: [0-9]"; then
  $SUDO apt-get update
fi
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
