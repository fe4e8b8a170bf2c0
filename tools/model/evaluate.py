"""Evaluates the exported CREMA-D model's PyTorch twin (same computation as model.onnx) on whole clips:
dev and test speakers, Opus audio and the same audio through 8 kHz G.711 mu-law, plus the 60 original-PCM
fixture clips.  Writes models/<id>/metrics.json and the summary into manifest.json "metrics".

    /usr/bin/python3 tools/model/evaluate.py --model-dir models/crema6 [--checkpoint ...best.pt]
"""
import argparse
import glob
import json
import os
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crema  # noqa: E402
import export  # noqa: E402


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getframerate() == 16000 and w.getnchannels() == 1, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def fixture_clips():
    files = sorted(glob.glob(os.path.join(crema.DATA, "fixtures", "clips", "*.wav")))
    return files, [read_wav(f) for f in files], np.array([crema.label_of_name(f) for f in files])


def run(model, waves, y):
    logits = crema.predict(model, waves)
    return crema.metrics(y, logits.argmax(1))


def short(m):
    return {k: round(m[k], 4) for k in ("accuracy", "macro_recall", "macro_f1")} | {"n": m["n"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--checkpoint", default=os.path.join(crema.CACHE, "crema6", "best.pt"))
    a = ap.parse_args()
    crema.setup_threads()
    model, ck = export.load_model(a.checkpoint)
    res = {}
    for split in ("dev", "test"):
        _, w, y = crema.load_split(split)
        f = [x.astype(np.float32) / 32768.0 for x in w]
        res[f"{split}_opus"] = run(model, f, y)
        res[f"{split}_opus_mulaw8k"] = run(model, [crema.telephone(x) for x in f], y)
        print(split, short(res[f"{split}_opus"]), short(res[f"{split}_opus_mulaw8k"]), flush=True)
    files, fw, fy = fixture_clips()
    res["fixtures_pcm"] = run(model, fw, fy)
    res["fixtures_pcm_mulaw8k"] = run(model, [crema.telephone(x) for x in fw], fy)
    print("fixtures", short(res["fixtures_pcm"]), short(res["fixtures_pcm_mulaw8k"]))
    with open(os.path.join(a.model_dir, "metrics.json"), "w") as fh:
        json.dump({"checkpoint_epoch": ck.get("epoch"), "note": "whole clips; mulaw8k = resample to 8 kHz, "
                   "G.711 mu-law encode/decode, resample to 16 kHz (tools/model/crema.py telephone())",
                   "results": res}, fh, indent=2)
        fh.write("\n")
    mp = os.path.join(a.model_dir, "manifest.json")
    with open(mp) as fh:
        man = json.load(fh)
    man["metrics"] = {k: short(v) for k, v in res.items()}
    with open(mp, "w") as fh:
        json.dump(man, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
