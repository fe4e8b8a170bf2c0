"""Writes models/<id>/parity.json: for each of the 60 fixture clips (path relative to the shared data
directory), the PyTorch logits of the whole clip as one window and the top-1 label.  The C# test runs
model.onnx on the same clips and checks its logits within 1e-4 absolute.  Also checks the ONNX file
through onnxruntime-node here and records the largest difference.

    /usr/bin/python3 tools/model/parity.py --model-dir models/crema6
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
import evaluate  # noqa: E402
import export  # noqa: E402
import onnx_util  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--checkpoint", default=os.path.join(crema.CACHE, "crema6", "best.pt"))
    a = ap.parse_args()
    crema.setup_threads()
    model, ck = export.load_model(a.checkpoint)
    labels = list(ck.get("labels") or crema.LABELS)
    files, waves, y = evaluate.fixture_clips()
    items = []
    with torch.no_grad():
        logits = [model(torch.from_numpy(w)[None])[0].numpy() for w in waves]
    for f, w, lg, t in zip(files, waves, logits, y):
        items.append({"path": os.path.relpath(f, crema.DATA), "samples": int(len(w)),
                      "label": crema.LABELS[int(t)], "logits": [float(v) for v in lg],
                      "top1": labels[int(np.argmax(lg))]})
    out = {"model": "model.onnx", "labels": labels, "input": "input_values", "output": "logits",
           "tolerance_abs": 1e-4,
           "note": "input = the clip's PCM16 samples / 32768 as float32, shape [1, samples]; no normalisation "
                   "outside the graph (manifest normalization 'none')",
           "items": items}
    onnx_path = os.path.join(a.model_dir, "model.onnx")
    if onnx_util.node_available():
        got = onnx_util.run_node(onnx_path, [w[None] for w in waves])
        out["onnxruntime_node_max_abs_diff"] = float(max(np.abs(g[0] - l).max() for g, l in zip(got, logits)))
    with open(os.path.join(a.model_dir, "parity.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(json.dumps({"clips": len(items), "onnxruntime_node_max_abs_diff": out.get("onnxruntime_node_max_abs_diff"),
                      "top1_accuracy": float(np.mean([i["label"] == i["top1"] for i in items]))
                      if labels == list(crema.LABELS) else None}))


if __name__ == "__main__":
    main()
