"""Converts a LOCAL Hugging Face audio-classification checkpoint directory (Wav2Vec2 or HuBERT) into
model.onnx + manifest.json for RealtimeSer.  No transformers, no safetensors library, no network.

    /usr/bin/python3 tools/model/convert_hf.py CHECKPOINT_DIR OUT_DIR [--id ID] [--name NAME] [--fp16]

CHECKPOINT_DIR holds config.json, preprocessor_config.json (optional) and model.safetensors,
model.safetensors.index.json (sharded) or pytorch_model.bin.  Supported heads: the standard
Wav2Vec2ForSequenceClassification / HubertForSequenceClassification (projector -> mean -> classifier,
optionally use_weighted_layer_sum) and the community Wav2Vec2ForSpeechClassification
(pool -> classifier.dense -> tanh -> classifier.out_proj).

Normalisation is NOT put into the graph: the manifest's `normalization` says what the runtime must do
to each window before inference ("zero_mean_unit_var" when preprocessor_config.json has
do_normalize=true: (x - mean) / sqrt(var + 1e-7), population variance; otherwise "none").  The same
rule lets the runtime load an unconverted HF ONNX export directory.

--fp16 writes a graph that computes in float16 with float32 input and output (half the file; tensor-core speed
on a GPU). The manifest says `"precision": "fp16"` and records the measured parity: the largest logit
difference from the float32 PyTorch model on the check windows, through onnxruntime-node on the CPU (which
runs float16 kernels, or float32 ones between casts where it has none, so a GPU's figure may differ a little).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import onnx_util  # noqa: E402
import safetensors_io  # noqa: E402
import wav2vec2  # noqa: E402

ALIASES = {
    "ang": "angry", "angry": "angry", "anger": "angry", "mad": "angry",
    "dis": "disgust", "disgust": "disgust", "disgusted": "disgust",
    "fea": "fear", "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "hap": "happy", "happy": "happy", "happiness": "happy", "joy": "happy", "joyful": "happy",
    "neu": "neutral", "neutral": "neutral",
    "calm": "calm",
    "sad": "sad", "sadness": "sad",
    "sur": "surprise", "surprise": "surprise", "surprised": "surprise",
}


def normalize_label(name):
    k = str(name).strip().lower()
    return ALIASES.get(k, k)


def load_weights(d):
    st = os.path.join(d, "model.safetensors")
    idx = os.path.join(d, "model.safetensors.index.json")
    binf = os.path.join(d, "pytorch_model.bin")
    if os.path.exists(st):
        return safetensors_io.load(st), "model.safetensors"
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        sd = {}
        for fn in files:
            sd.update(safetensors_io.load(os.path.join(d, fn)))
        return sd, "model.safetensors.index.json"
    if os.path.exists(binf):
        return torch.load(binf, map_location="cpu"), "pytorch_model.bin"
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {d}")


def build(d):
    """Returns (model in eval mode, config, preprocessor dict, weight file name)."""
    with open(os.path.join(d, "config.json")) as f:
        cfg_d = json.load(f)
    pre = {}
    pp = os.path.join(d, "preprocessor_config.json")
    if os.path.exists(pp):
        with open(pp) as f:
            pre = json.load(f)
    sd, wfile = load_weights(d)
    prefix = wav2vec2.detect_prefix(sd.keys())
    if prefix == "hubert" and "model_type" not in cfg_d:
        cfg_d["model_type"] = "hubert"
    head = wav2vec2.detect_head(sd.keys())
    cfg = wav2vec2.Config(cfg_d)
    model = wav2vec2.SequenceClassifier(cfg, head=head, prefix=prefix)
    model.load_hf_state_dict(sd)
    model.eval()
    return model, cfg, pre, wfile


def manifest_for(cfg, pre, model_id, name, source):
    labels = [normalize_label(cfg.id2label[i]) for i in range(cfg.num_labels)]
    sr = int(pre.get("sampling_rate", 16000))
    if sr != 16000:
        raise ValueError(f"sampling_rate {sr} != 16000 is not supported")
    return {
        "id": model_id,
        "name": name,
        "labels": labels,
        "sample_rate": 16000,
        "input": "input_values",
        "output": "logits",
        "output_kind": "logits",
        "normalization": "zero_mean_unit_var" if pre.get("do_normalize", True) else "none",
        "window": {"min_s": 0.5, "recommended_s": 3.0, "hop_s": 1.0},
        "metrics": {},
        "source": source,
    }


def convert(src, out, model_id=None, name=None, verify=True, fp16=False):
    model, cfg, pre, wfile = build(src)
    model_id = model_id or os.path.basename(os.path.normpath(src))
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "model.onnx")
    onnx_util.export_onnx(model, onnx_path, n_samples=16000)
    if fp16:
        onnx_util.to_fp16(onnx_path)
    arch = (cfg.raw.get("architectures") or ["?"])[0]
    man = manifest_for(cfg, pre, model_id, name or model_id, {
        "kind": "huggingface", "architecture": arch, "model_type": cfg.model_type, "head": model.head,
        "weights": wfile, "original_labels": [cfg.id2label[i] for i in range(cfg.num_labels)],
        "converter": "tools/model/convert_hf.py"})
    man["precision"] = "fp16" if fp16 else "fp32"
    result = {"onnx": onnx_path, "manifest": man}
    if verify and onnx_util.node_available():
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((2, 16000)).astype(np.float32) * 0.1,
              rng.standard_normal((1, 23456)).astype(np.float32) * 0.1]
        if man["normalization"] == "zero_mean_unit_var":
            xs = [(x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-7) for x in xs]
        got = onnx_util.run_node(onnx_path, xs)
        with torch.no_grad():
            ref = [model(torch.from_numpy(x)).numpy() for x in xs]
        result["max_abs_diff"] = float(max(np.abs(g - r).max() for g, r in zip(got, ref)))
        man["parity"] = {"max_abs_logit_diff": result["max_abs_diff"], "against": "PyTorch float32",
                         "runtime": "onnxruntime-node 1.30.0 CPU"}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=2)
        f.write("\n")
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--id")
    ap.add_argument("--name")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--fp16", action="store_true",
                    help="compute in float16 with float32 input and output (see the module's note on parity)")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    r = convert(a.checkpoint_dir, a.out_dir, a.id, a.name, verify=not a.no_verify, fp16=a.fp16)
    print(json.dumps({"onnx": r["onnx"], "labels": r["manifest"]["labels"],
                      "normalization": r["manifest"]["normalization"],
                      "precision": r["manifest"]["precision"],
                      "max_abs_diff_onnxruntime_node": r.get("max_abs_diff")}, indent=2))


if __name__ == "__main__":
    main()
