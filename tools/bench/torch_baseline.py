#!/usr/bin/env python3
"""The stack a user would otherwise reach for: the same emotion model in PyTorch eager mode, driven by a
plain Python streaming loop (fixed windows every hop, one forward pass per window, EMA smoothing) over the
same recordings. Prints one JSON object with throughput and per-window latency, for `tools/bench/refresh`
to set against `ser bench`.

    /usr/bin/python3 tools/bench/torch_baseline.py --checkpoint models/multi6/model.pt RECORDING...

Needs Debian's python3-torch, python3-numpy, python3-scipy, python3-soundfile (tools/model/setup.sh).
Never on the runtime path.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import soundfile
import torch
from scipy.signal import resample_poly

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import export  # noqa: E402  (the model tools' checkpoint loader)


def load_channels(path):
    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if rate != 16000:
        g = np.gcd(rate, 16000)
        audio = resample_poly(audio, 16000 // g, rate // g, axis=0).astype(np.float32)
    return [audio[:, c].copy() for c in range(audio.shape[1])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--hop", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("recordings", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, _ = export.load_model(a.checkpoint)
    model.eval()
    w, h = int(a.window * 16000), int(a.hop * 16000)
    latencies = []
    audio_s = 0.0
    start = time.perf_counter()
    with torch.no_grad():
        for path in a.recordings:
            for channel in load_channels(path):
                audio_s += len(channel) / 16000
                smoothed = None
                for offset in range(0, max(1, len(channel) - w + 1), h):
                    t0 = time.perf_counter()
                    x = torch.from_numpy(channel[offset:offset + w]).unsqueeze(0)
                    p = torch.softmax(model(x), dim=-1)[0].numpy()
                    smoothed = p if smoothed is None else smoothed + 0.4 * (p - smoothed)
                    latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    lat = np.array(latencies)
    print(json.dumps({
        "stack": f"PyTorch {torch.__version__} eager, Python loop, batch 1",
        "threads": torch.get_num_threads(),
        "window_s": a.window, "hop_s": a.hop,
        "windows": len(latencies), "elapsed_s": round(elapsed, 3),
        "windows_per_s": round(len(latencies) / elapsed, 1),
        "channel_audio_s": round(audio_s, 1), "x_realtime_per_channel": round(audio_s / elapsed, 1),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 2),
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 2),
    }))


if __name__ == "__main__":
    main()
