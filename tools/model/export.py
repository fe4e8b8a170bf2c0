"""Exports the trained CREMA-D model to ONNX (opset 17) and writes its manifest.

    /usr/bin/python3 tools/model/export.py --checkpoint .cache/model-data/crema6/best.pt --out models/crema6

The graph: input_values float32 [batch, samples] (16 kHz, raw waveform in [-1, 1]; the per-window
zero-mean/unit-variance normalisation is inside the graph, so the manifest says normalization "none")
-> logits float32 [batch, 6].  Checked with onnx.checker and against onnxruntime-node.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crema  # noqa: E402
import onnx_util  # noqa: E402


class Calibrated(torch.nn.Module):
    """The network with its logits divided by the temperature fitted on dev (tools/model/calibrate.py), so
    that softmax(logits) are calibrated probabilities; argmax is unchanged."""

    def __init__(self, net, temperature):
        super().__init__()
        self.net = net
        self.frontend = net.frontend
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)), persistent=False)

    def forward(self, input_values):
        return self.net(input_values) * self.inv_t


def load_model(checkpoint, calibrated=True):
    """The exported computation of a checkpoint: its network (with its recorded front-end configuration),
    the conv front end, and its temperature when it has one."""
    ck = torch.load(checkpoint, map_location="cpu")
    model = crema.CremaNet(**ck.get("config", {}))
    model.load_state_dict(ck["state_dict"])
    model.eval()
    model.frontend.use_conv = True  # the exported computation
    if calibrated and ck.get("temperature"):
        model = Calibrated(model, ck["temperature"]).eval()
    return model, ck


def manifest(ck, model_id, name):
    man = {
        "id": model_id,
        "name": name,
        "labels": list(ck.get("labels") or crema.LABELS),
        "sample_rate": 16000,
        "input": "input_values",
        "output": "logits",
        "output_kind": "logits",
        "normalization": "none",
        "window": {"min_s": 1.0, "recommended_s": 2.0, "hop_s": 0.5},
        "metrics": {},
    }
    if "corpora" not in ck:  # the CREMA-D-only recipe
        man["source"] = {"kind": "trained", "data": "CREMA-D (ODbL 1.0 / DbCL 1.0), train speakers of speaker_split.csv",
                         "training": "tools/model/train.sh", "epoch": ck.get("epoch"),
                         "dev_acc": ck.get("dev_acc"), "dev_mulaw_acc": ck.get("dev_mulaw_acc")}
        return man
    import corpora
    man["temperature"] = ck.get("temperature", 1.0)
    man["task"] = ck.get("task", "emotion")
    man["source"] = {
        "kind": "trained", "training": "tools/model/train.sh", "epoch": ck.get("epoch"),
        "dev_score": ck.get("dev_score"),
        "corpora": [{"id": c, "language": corpora.language_of(c), "licence": corpora.licence_of(c),
                     "train_clips": ck.get("train_clips", {}).get(c)} for c in ck["corpora"]],
        "data": "train speakers of tools/model/splits/speakers.csv (CREMA-D: its speaker_split.csv)",
        "licence_note": "trained on corpora whose terms include non-commercial and research-only use: "
                        "see MODEL_CARD.md before any commercial use",
    }
    return man


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--id", default="crema6")
    ap.add_argument("--name", default="CREMA-D 6-emotion log-mel CNN-transformer (from scratch)")
    a = ap.parse_args()
    crema.setup_threads()
    model, ck = load_model(a.checkpoint)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "model.onnx")
    onnx_util.export_onnx(model, path, n_samples=32000)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, 32000)).astype(np.float32) * 0.1,
          rng.standard_normal((1, 17777)).astype(np.float32) * 0.05,
          rng.standard_normal((3, 48000)).astype(np.float32) * 0.3]
    with torch.no_grad():
        ref = [model(torch.from_numpy(x)).numpy() for x in xs]
        model.frontend.use_conv = False
        ref_stft = [model(torch.from_numpy(x)).numpy() for x in xs]
        model.frontend.use_conv = True
    info = {"onnx_bytes": os.path.getsize(path),
            "max_abs_diff_conv_vs_stft_frontend": float(max(np.abs(a_ - b).max() for a_, b in zip(ref, ref_stft)))}
    if onnx_util.node_available():
        got = onnx_util.run_node(path, xs)
        info["max_abs_diff_onnxruntime_node_vs_pytorch"] = float(max(np.abs(g - r).max() for g, r in zip(got, ref)))
    man = manifest(ck, a.id, a.name)
    mp = os.path.join(a.out, "manifest.json")
    if os.path.exists(mp):  # keep metrics written by evaluate.py earlier
        with open(mp) as f:
            man["metrics"] = json.load(f).get("metrics", {})
    with open(mp, "w") as f:
        json.dump(man, f, indent=2)
        f.write("\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
