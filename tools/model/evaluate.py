"""Evaluates an emotion model's PyTorch twin (the same computation as its model.onnx) on whole clips, each
figure also after 8 kHz G.711 mu-law.

In-corpus (writes models/<id>/metrics.json and the manifest's "metrics"):
    python3 tools/model/evaluate.py --model-dir models/multi6 --checkpoint models/multi6/model.pt
  every training corpus's test speakers, dev speakers, and the 60 original-PCM fixture clips.

Leave-one-corpus-out (adds one entry to RESULTS, a JSON file keyed by tag):
    python3 tools/model/evaluate.py --loco crema-d --checkpoint .cache/model-data/loco-crema-d/best.pt \\
        --results models/multi6/loco.json --tag multi6-recipe
  every clip of the held-out corpus, which the checkpoint must never have seen.

Scores are over the labels the evaluated corpus has (argmax over all six outputs), so a label a corpus lacks
cannot be "recalled" but can still be predicted (and shows in "predicted").
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
import calibrate  # noqa: E402
import corpora  # noqa: E402
import crema  # noqa: E402
import export  # noqa: E402

LABELS = crema.LABELS


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getframerate() == 16000 and w.getnchannels() == 1, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def fixture_clips():
    files = sorted(glob.glob(os.path.join(crema.DATA, "fixtures", "clips", "*.wav")))
    return files, [read_wav(f) for f in files], np.array([crema.label_of_name(f) for f in files])


def score(logits, y, labels=None):
    """Accuracy, macro recall and F1 over the labels present in y; per-class recall; how often each of the
    model's outputs was said; confusion matrix; calibration error."""
    LABELS = labels or globals()["LABELS"]
    pred = logits.argmax(1)
    present = [i for i in range(len(LABELS)) if (y == i).any()]
    rec = {LABELS[i]: float(np.mean(pred[y == i] == i)) for i in present}
    prec = {LABELS[i]: float(np.mean(y[pred == i] == i)) if (pred == i).any() else 0.0 for i in present}
    f1 = {k: 2 * prec[k] * rec[k] / max(prec[k] + rec[k], 1e-9) for k in rec}
    cm = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    return {
        "n": int(len(y)),
        "accuracy": float(np.mean(pred == y)),
        "macro_recall": float(np.mean(list(rec.values()))),
        "macro_f1": float(np.mean(list(f1.values()))),
        "recall": rec,
        "predicted": {LABELS[i]: int((pred == i).sum()) for i in range(len(LABELS))},
        "ece": calibrate.ece(logits, y),
        "confusion": {"rows_true_cols_pred": LABELS, "matrix": cm.tolist()},
    }


def both(model, waves, y, labels=None):
    f = [w.astype(np.float32) / 32768.0 if w.dtype == np.int16 else w for w in waves]
    return {"opus": score(crema.predict(model, f), y, labels),
            "mulaw8k": score(crema.predict(model, [crema.telephone(x) for x in f]), y, labels)}


def task_of(ck):
    """(task, labels) a checkpoint was trained for: six emotions unless it says otherwise."""
    task = ck.get("task", "emotion")
    return task, list(ck.get("labels") or corpora.labels_of(task))


def fixture_arousal(fy):
    """The fixture clips' emotion labels as arousal levels (disgust has none: those clips are left out)."""
    keep = [i for i, v in enumerate(fy) if corpora.AROUSAL_MAP[crema.LABELS[v]] is not None]
    return keep, np.array([corpora.AROUSAL_LABELS.index(corpora.AROUSAL_MAP[crema.LABELS[fy[i]]]) for i in keep])


def short(m):
    return {k: round(m[k], 4) for k in ("accuracy", "macro_recall", "macro_f1")} | {"n": m["n"]}


def line(name, r):
    o, t = r["opus"], r["mulaw8k"]
    low = min(o["recall"].values())
    return (f"{name:10s} n={o['n']:5d} acc {100 * o['accuracy']:5.1f} mrec {100 * o['macro_recall']:5.1f} "
            f"| mulaw acc {100 * t['accuracy']:5.1f} mrec {100 * t['macro_recall']:5.1f} | min recall {100 * low:5.1f}")


def in_corpus(a):
    model, ck = export.load_model(a.checkpoint)
    task, labels = task_of(ck)
    names = ck.get("corpora", ["crema-d"])
    res = {"test": {}, "dev": {}}
    for split in ("test", "dev"):
        for c in names:
            _, w, y = corpora.load([c], (split,), task=task)
            res[split][c] = both(model, w, y, labels)
            print(split, line(c, res[split][c]), flush=True)
    _, fw, fy = fixture_clips()
    if task == "arousal":
        keep, fy = fixture_arousal(fy)
        fw = [fw[i] for i in keep]
    res["fixtures_pcm"] = both(model, fw, fy, labels)
    print(line("fixtures", res["fixtures_pcm"]))
    out = {"format": "multi-corpus", "task": task, "labels": labels, "checkpoint_epoch": ck.get("epoch"), "temperature": ck.get("temperature"),
           "calibration_dev": ck.get("calibration"),
           "note": "whole clips; mulaw8k = resample to 8 kHz, G.711 mu-law encode/decode, resample to 16 kHz "
                   "(tools/model/crema.py telephone()); scores over the labels each corpus has",
           "results": res}
    with open(os.path.join(a.model_dir, "metrics.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    mp = os.path.join(a.model_dir, "manifest.json")
    with open(mp) as fh:
        man = json.load(fh)
    summary = {}
    for c, r in res["test"].items():
        summary[f"test_{c}"] = short(r["opus"])
        summary[f"test_{c}_mulaw8k"] = short(r["mulaw8k"])
    summary["fixtures_pcm"] = short(res["fixtures_pcm"]["opus"])
    man["metrics"] = summary
    summarise_loco(man, a.results)
    with open(mp, "w") as fh:
        json.dump(man, fh, indent=2)
        fh.write("\n")


def summarise_loco(man, results):
    """The model's own leave-one-corpus-out runs (recipe_of = its id) as mean figures in the manifest."""
    if not os.path.exists(results or ""):
        return
    with open(results) as fh:
        loco = json.load(fh)
    own = [v for v in loco.values() if v.get("recipe_of") == man["id"]]
    if own:
        for key in ("macro_recall", "accuracy"):
            man["metrics"][f"loco_mean_{key}"] = round(float(np.mean([v["opus"][key] for v in own])), 4)
            man["metrics"][f"loco_mean_{key}_mulaw8k"] = round(float(np.mean([v["mulaw8k"][key] for v in own])), 4)
        man["metrics"]["loco_corpora"] = sorted(v["held_out"] for v in own)


def loco_summary_only(a):
    mp = os.path.join(a.model_dir, "manifest.json")
    with open(mp) as fh:
        man = json.load(fh)
    summarise_loco(man, a.results)
    with open(mp, "w") as fh:
        json.dump(man, fh, indent=2)
        fh.write("\n")
    print(json.dumps({k: v for k, v in man["metrics"].items() if k.startswith("loco")}))


def loco(a):
    model, ck = export.load_model(a.checkpoint)
    task, labels = task_of(ck)
    seen = ck.get("corpora", ["crema-d"])
    if a.loco in seen:
        sys.exit(f"{a.checkpoint} was trained on {a.loco}: a leave-one-corpus-out figure needs a model that never saw it")
    _, w, y = corpora.load([a.loco], "all", task=task)
    r = both(model, w, y, labels)
    print(line(a.loco, r), flush=True)
    r = {"held_out": a.loco, "task": task, "trained_on": seen, "checkpoint": os.path.relpath(a.checkpoint, crema.ROOT),
         "epoch": ck.get("epoch"), "budget_min": (ck.get("recipe") or {}).get("time_budget_min"),
         "recipe": ck.get("recipe"), "recipe_of": a.recipe_of, "note": a.note} | r
    record(a.results, f"{a.tag}/{a.loco}", r)


def record(results, key, r):
    """Adds one entry to a results file (read, update, rewrite: runs finish one at a time)."""
    res = {}
    if os.path.exists(results):
        with open(results) as fh:
            res = json.load(fh)
    res[key] = r
    with open(results, "w") as fh:
        json.dump(res, fh, indent=1, sort_keys=True)
        fh.write("\n")


def test_of(a):
    """One corpus's test speakers, recorded in RESULTS under TAG/test-CORPUS: compares recipes in-corpus
    without installing their models."""
    model, ck = export.load_model(a.checkpoint)
    task, labels = task_of(ck)
    if a.test not in ck.get("corpora", []):
        sys.exit(f"{a.checkpoint} did not train on {a.test}: use --loco for corpora it never saw")
    _, w, y = corpora.load([a.test], ("test",), task=task)
    r = both(model, w, y, labels)
    print("test", line(a.test, r), flush=True)
    r = {"test_of": a.test, "task": task, "trained_on": ck.get("corpora"), "epoch": ck.get("epoch"),
         "budget_min": (ck.get("recipe") or {}).get("time_budget_min"), "recipe": ck.get("recipe"),
         "note": a.note} | r
    record(a.results, f"{a.tag}/test-{a.test}", r)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="the PyTorch twin of the model (every mode but --loco-summary-only)")
    ap.add_argument("--model-dir", help="in-corpus mode: where metrics.json and manifest.json are")
    ap.add_argument("--loco", help="leave-one-corpus-out mode: the held-out corpus")
    ap.add_argument("--test", help="one training corpus's test speakers, into --results under TAG/test-CORPUS")
    ap.add_argument("--results", help="LOCO results JSON (written in --loco mode, summarised into the manifest "
                                      "in --model-dir mode)")
    ap.add_argument("--tag", default="run", help="LOCO mode: the experiment's name")
    ap.add_argument("--recipe-of", default="", help="LOCO mode: the model id whose recipe this run measures")
    ap.add_argument("--note", default="")
    ap.add_argument("--loco-summary-only", action="store_true",
                    help="with --model-dir and --results: only refresh the manifest's LOCO means")
    a = ap.parse_args()
    if a.model_dir and a.loco_summary_only:
        return loco_summary_only(a)
    if not a.checkpoint:
        sys.exit("--checkpoint is needed")
    corpora.require_data()
    crema.setup_threads()
    if a.loco or a.test:
        if not a.results:
            sys.exit("--loco and --test need --results FILE")
        loco(a) if a.loco else test_of(a)
    elif a.model_dir:
        in_corpus(a)
    else:
        sys.exit("give --model-dir (in-corpus) or --loco CORPUS --results FILE")


if __name__ == "__main__":
    main()
