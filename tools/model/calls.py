"""Two-party calls built from a corpus's test speakers, and how often `ser replay` labels their turns right.

call01 (../shared/data/fixtures) has 28 turns from two speakers: one turn is 3.6 points and the standard error of
its agreement is about 9 points, so a model's turn labels cannot be told from its clip accuracy on that call
alone. This tool builds more calls the way call01 was built (each channel one test speaker; a turn is 2-3 of that
speaker's clips of one emotion back to back; 0.4-1.6 s between turns; line noise at -55 dBFS), replays them
through the real pipeline (VAD, windows, the model, per-channel adaptation, the smoother) and scores each turn by
the label of the finals that overlap it longest, as ReplayCommandTests does for call01.

    /usr/bin/python3 tools/model/calls.py build                 # .cache/calls/crema-d/*.wav + *_truth.json
    /usr/bin/python3 tools/model/calls.py score --model general6 # replay, agreement per call -> models/ID/calls.json

`build --telephone` also writes each call after the 8 kHz G.711 μ-law round trip (as 16 kHz PCM).
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpora  # noqa: E402
import crema  # noqa: E402

SR = 16000
TURNS_PER_CHANNEL = 14
NOISE_DBFS = -55.0


def calls_dir(corpus, split="test"):
    return os.path.join(crema.ROOT, ".cache", "calls", corpus if split == "test" else f"{corpus}-{split}")


def plan(corpus, n_calls, seed, split="test"):
    """Which speaker and clips make each turn: speakers paired at random, each channel's 14 turns cover every
    label the speaker has at least twice, in random order."""
    rs = np.random.RandomState(seed)
    by_speaker = {}
    for c in corpora.clips(corpus):
        if corpora.split_of(corpus, c.speaker) == split:
            by_speaker.setdefault(c.speaker, []).append(c)
    speakers = sorted(by_speaker)
    rs.shuffle(speakers)
    n_calls = min(n_calls, len(speakers) // 2)
    calls = []
    for k in range(n_calls):
        channels = []
        for sp in speakers[2 * k: 2 * k + 2]:
            pool = {}
            for c in by_speaker[sp]:
                pool.setdefault(c.label, []).append(c)
            for v in pool.values():
                rs.shuffle(v)
            labels = sorted(pool)
            seq = labels * 2 + list(rs.choice(labels, TURNS_PER_CHANNEL - 2 * len(labels)))
            rs.shuffle(seq)
            turns = []
            for lab in seq:
                n = int(rs.randint(2, 4))
                if len(pool[lab]) < n:  # a label used up: refill from the speaker's clips of it
                    pool[lab] = [c for c in by_speaker[sp] if c.label == lab]
                    rs.shuffle(pool[lab])
                turns.append((lab, [pool[lab].pop() for _ in range(min(n, len(pool[lab])))]))
            channels.append(turns)
        calls.append({"name": f"{corpus}{'' if split == 'test' else '-' + split}_call{k + 1:02d}", "speakers": speakers[2 * k: 2 * k + 2],
                      "channels": channels})
    return calls, rs


def render(call, rs):
    """Stereo int16 samples and the truth (call01's format: segments with channel, start, end, emotion, clips)."""
    pieces, segments, t = [], [], 0.4
    order = [(ch, i) for i in range(TURNS_PER_CHANNEL) for ch in (0, 1)]
    for ch, i in order:
        lab, clips = call["channels"][ch][i]
        wav = np.concatenate([corpora.load_pcm(c).astype(np.float64) for c in clips])
        pieces.append((ch, int(round(t * SR)), wav))
        segments.append({"channel": ch, "start_s": round(t, 3), "end_s": round(t + len(wav) / SR, 3),
                         "emotion": lab, "clips": [c.stem for c in clips]})
        t += len(wav) / SR + rs.uniform(0.4, 1.6)
    n = int(math.ceil((t + 0.4) * SR))
    out = rs.randn(n, 2) * (32768.0 * 10 ** (NOISE_DBFS / 20))
    for ch, s0, wav in pieces:
        out[s0:s0 + len(wav), ch] += wav
    truth = {"sample_rate_hz": SR, "channels": {"0": "agent", "1": "customer"}, "duration_s": round(n / SR, 3),
             "speakers": call["speakers"], "segments": segments}
    return np.clip(np.round(out), -32768, 32767).astype(np.int16), truth


def write_wav(path, pcm):
    with wave.open(path, "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def build(a):
    calls, rs = plan(a.corpus, a.calls, a.seed, a.split)
    d = calls_dir(a.corpus, a.split)
    os.makedirs(d, exist_ok=True)
    for call in calls:
        pcm, truth = render(call, rs)
        write_wav(os.path.join(d, call["name"] + ".wav"), pcm)
        with open(os.path.join(d, call["name"] + "_truth.json"), "w") as fh:
            json.dump(truth, fh, indent=1)
        if a.telephone:
            tel = np.stack([crema.telephone(pcm[:, ch].astype(np.float32) / 32768.0) for ch in (0, 1)], 1)
            tel = np.clip(np.round(tel * 32768.0), -32768, 32767).astype(np.int16)
            os.makedirs(os.path.join(d, "telephone"), exist_ok=True)
            write_wav(os.path.join(d, "telephone", call["name"] + ".wav"), tel)
        print(f"built {call['name']}: speakers {', '.join(call['speakers'])}, {truth['duration_s']:.0f} s", flush=True)


def turn_labels(truth, events):
    """Each turn's (channel, turn index within its channel, true label, label of the longest-overlapping finals or
    None), as SpeechScoring.TurnLabelAgreement judges them."""
    out, seen = [], {}
    finals = [e for e in events if e.get("final")]
    for seg in truth["segments"]:
        votes = {}
        for e in finals:
            if e["channel"] != seg["channel"]:
                continue
            ov = min(e["end_s"], seg["end_s"]) - max(e["start_s"], seg["start_s"])
            if ov > 0:
                votes[e["label"]] = votes.get(e["label"], 0.0) + ov
        k = seen.get(seg["channel"], 0)
        seen[seg["channel"]] = k + 1
        out.append((seg["channel"], k, seg["emotion"], max(votes, key=votes.get) if votes else None))
    return out


# the first turns of a channel, which the cold-start path answers (model card: first three turns and later)
FIRST_TURNS = 3


def turn_summary(turns):
    """Agreement of the first FIRST_TURNS turns of each channel and of the later ones; anger precision and recall
    over all turns."""
    first = [p == y for _, k, y, p in turns if k < FIRST_TURNS]
    later = [p == y for _, k, y, p in turns if k >= FIRST_TURNS]
    said = [y for _, _, y, p in turns if p == "angry"]
    angry = [p for _, _, y, p in turns if y == "angry"]
    return {"first_turns": FIRST_TURNS, "first": [int(sum(first)), len(first)], "later": [int(sum(later)), len(later)],
            "anger_precision": (sum(y == "angry" for y in said) / len(said)) if said else None,
            "anger_recall": (sum(p == "angry" for p in angry) / len(angry)) if angry else None,
            "anger_said": len(said), "angry_turns": len(angry)}


ALERT_WINDOW_S, ALERT_MIN_SPEECH_S = 30.0, 2.0
THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


def alert_points(truth, events, step=1.0):
    """The dashboard's alert rule, every `step` seconds of each channel: (predicted share of the speech in the last
    ALERT_WINDOW_S that finals call angry, or None under ALERT_MIN_SPEECH_S of speech; true share of that speech in
    angry turns)."""
    finals = [e for e in events if e.get("final")]
    out = []
    t = ALERT_WINDOW_S / 2
    while t <= truth["duration_s"]:
        lo = t - ALERT_WINDOW_S
        for ch in (0, 1):
            fs = [e for e in finals if e["channel"] == ch]
            speech = sum(max(0.0, min(e["end_s"], t) - max(e["start_s"], lo)) for e in fs)
            angry = sum(max(0.0, min(e["end_s"], t) - max(e["start_s"], lo)) for e in fs if e["label"] == "angry")
            segs = [sg for sg in truth["segments"] if sg["channel"] == ch]
            tsp = sum(max(0.0, min(sg["end_s"], t) - max(sg["start_s"], lo)) for sg in segs)
            tang = sum(max(0.0, min(sg["end_s"], t) - max(sg["start_s"], lo)) for sg in segs if sg["emotion"] == "angry")
            if tsp <= 0:
                continue
            out.append((angry / speech if speech >= ALERT_MIN_SPEECH_S else None, tang / tsp))
        t += step
    return out


def alert_table(points):
    """Precision and recall of the alert (predicted share > threshold) against a recent half-minute that is at
    least half angry speech, per threshold."""
    rows = {}
    for th in THRESHOLDS:
        tp = sum(1 for p, y in points if p is not None and p > th and y >= 0.5)
        fp = sum(1 for p, y in points if p is not None and p > th and y < 0.5)
        fn = sum(1 for p, y in points if (p is None or p <= th) and y >= 0.5)
        rows[str(th)] = {"precision": tp / (tp + fp) if tp + fp else None, "recall": tp / (tp + fn) if tp + fn else None,
                         "alerts": tp + fp}
    return rows


def score(a):
    d = calls_dir(a.corpus, a.split)
    variants = {"16 kHz": d, "8 kHz μ-law": os.path.join(d, "telephone")}
    # a model id of models/, or a model folder elsewhere (to compare an earlier version)
    model_dir = a.model if os.path.isdir(a.model) else os.path.join(crema.ROOT, "models", a.model)
    man_path = os.path.join(model_dir, "manifest.json")
    with open(man_path) as fh:
        metrics = json.load(fh)["metrics"]
    # a multi-corpus model names the corpus; a CREMA-D-only one (crema6) has just its test set
    acc = metrics.get(f"test_{a.corpus}", metrics.get("test_opus") if a.corpus == "crema-d" else None)
    if acc is None:
        sys.exit(f"{man_path} has no test accuracy for {a.corpus}: the bar cannot be set")
    acc = acc["accuracy"]
    out = {"model": a.model, "corpus": a.corpus, "clip_accuracy": acc, "bar": acc - 0.10,
           "note": "turn labels of two-party calls built from the corpus's test speakers (tools/model/calls.py); "
                   "bar = the model's clip accuracy on those speakers minus 10 points", "variants": {}}
    for name, vd in variants.items():
        wavs = sorted(glob.glob(os.path.join(vd, "*.wav")))
        if not wavs:
            continue
        res = os.path.join(crema.ROOT, ".cache", "calls", "replay", os.path.basename(model_dir.rstrip("/")),
                           a.split, os.path.basename(vd))
        cmd = [os.path.join(crema.ROOT, "ser"), "replay", *wavs, "--out", res, "--channels", "agent,customer",
               "--quiet", "--model", a.model]
        subprocess.run(cmd, check=True)
        per, agree_all, turns_all, all_turns, points = {}, 0, 0, [], []
        for w in wavs:
            stem = os.path.splitext(os.path.basename(w))[0]
            with open(os.path.join(d, stem + "_truth.json")) as fh:
                truth = json.load(fh)
            with open(os.path.join(res, stem + ".jsonl")) as fh:
                events = [json.loads(line) for line in fh if line.strip()]
            t = turn_labels(truth, events)
            all_turns += t
            points += alert_points(truth, events)
            ag, tu = sum(int(p == y) for _, _, y, p in t), len(t)
            per[stem] = [ag, tu]
            agree_all, turns_all = agree_all + ag, turns_all + tu
        p = agree_all / turns_all
        se = math.sqrt(p * (1 - p) / turns_all)
        out["variants"][name] = {"agree": agree_all, "turns": turns_all, "agreement": p, "ci95": [p - 1.96 * se,
                                 p + 1.96 * se], "per_call": per} | turn_summary(all_turns) | {
                                 "alerts": alert_table(points)}
        print(f"{a.model} {name}: turn labels {agree_all}/{turns_all} = {100 * p:.1f} % (95 % CI "
              f"{100 * (p - 1.96 * se):.1f}-{100 * (p + 1.96 * se):.1f}); clip accuracy {100 * acc:.1f} %, bar "
              f"{100 * (acc - 0.10):.1f} %: {'met' if p >= acc - 0.10 else 'NOT met'}", flush=True)
        v = out["variants"][name]
        print(f"  first {FIRST_TURNS} turns of a channel {v['first'][0]}/{v['first'][1]}, later {v['later'][0]}/"
              f"{v['later'][1]}; anger precision {v['anger_precision']}, recall {v['anger_recall']}", flush=True)
    with open(os.path.join(model_dir, "calls.json" if a.split == "test" else f"calls_{a.split}.json"), "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["build", "score"])
    ap.add_argument("--corpus", default="crema-d")
    ap.add_argument("--calls", type=int, default=7, help="build: calls (two test speakers each)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--telephone", action="store_true", help="build: also the 8 kHz μ-law round trip of each call")
    ap.add_argument("--model", default="general6", help="score: model id, or a model folder")
    ap.add_argument("--split", default="test", help="whose speakers: test (the card's bar) or dev (choices, e.g. the "
                    "alert threshold); dev results go to calls_dev.json")
    a = ap.parse_args()
    corpora.require_data()
    {"build": build, "score": score}[a.step](a)


if __name__ == "__main__":
    main()
