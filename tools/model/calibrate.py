"""Fits a temperature on the dev speakers of the training corpora (Opus and 8 kHz mu-law clips pooled) so that
the model's softmax scores mean what they say, and writes the checkpoint with it (the export divides the
logits by it inside the graph).  Reports expected calibration error (15 equal-width bins of the top score)
and negative log-likelihood on dev, before and after.

    python3 tools/model/calibrate.py --checkpoint .cache/model-data/multi6/best.pt --out models/multi6/model.pt
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpora  # noqa: E402
import crema  # noqa: E402
import export  # noqa: E402


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(logits, y, bins=15):
    p = softmax(logits)
    conf, pred = p.max(1), p.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(float((pred[m] == y[m]).mean()) - float(conf[m].mean()))
    return float(total)


def nll(logits, y):
    p = softmax(logits)
    return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))


def fit_temperature(logits, y):
    """Grid search then refinement over log T: one parameter, so a search is exact enough and cannot diverge."""
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 200))
    t = min(grid, key=lambda t: nll(logits / t, y))
    fine = t * np.exp(np.linspace(-0.05, 0.05, 101))
    return float(min(fine, key=lambda t: nll(logits / t, y)))


def dev_logits(model, names, task="emotion"):
    zs, ys = [], []
    for c in names:
        _, w, y = corpora.load([c], ("dev",), task=task)
        f = [x.astype(np.float32) / 32768.0 for x in w]
        for waves in (f, [crema.telephone(x) for x in f]):
            zs.append(crema.predict(model, waves))
            ys.append(y)
    return np.concatenate(zs), np.concatenate(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    corpora.require_data()
    crema.setup_threads()
    model, ck = export.load_model(a.checkpoint, calibrated=False)
    z, y = dev_logits(model, ck["corpora"], ck.get("task", "emotion"))
    t = fit_temperature(z, y)
    cal = {"fitted_on": "dev speakers of every training corpus, Opus and 8 kHz mu-law, whole clips",
           "n": int(len(y)), "temperature": round(t, 4),
           "ece_before": round(ece(z, y), 4), "ece_after": round(ece(z / t, y), 4),
           "nll_before": round(nll(z, y), 4), "nll_after": round(nll(z / t, y), 4)}
    ck = dict(ck)
    ck["temperature"] = t
    ck["calibration"] = cal
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    torch.save(ck, a.out)
    print(json.dumps(cal))


if __name__ == "__main__":
    main()
