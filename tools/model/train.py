"""Trains a six-label emotion model from scratch on several corpora at once, balanced by corpus and label,
with channel augmentation, and selects the checkpoint on the dev speakers of the training corpora.

    tools/model/train.sh                                   # the default model, end to end
    python3 train.py --out DIR --exclude crema-d ...       # a leave-one-corpus-out run (never sees crema-d)
    python3 train.py --out DIR --resume                    # continue a stopped run from its last epoch

Time-bounded: the learning-rate schedule runs on max(step fraction, training-time fraction of
--time-budget-min), and the training time already spent is kept in the checkpoint, so a run that is stopped
and resumed ends where one uninterrupted run would.  Test speakers are never read here.
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment  # noqa: E402
import corpora  # noqa: E402
import crema  # noqa: E402


def sampling_weights(clips, label_power=0.5, labels=crema.LABELS):
    """Per-clip sampling probability: each corpus gets a share proportional to the square root of its size
    (small corpora are seen more often than their size says, but not so often that their few speakers are
    memorised), split equally over the labels it has; then labels that few corpora have (disgust) are lifted
    by (1/their share)^label_power."""
    by_corpus = {}
    for i, c in enumerate(clips):
        by_corpus.setdefault(c.corpus, {}).setdefault(c.label, []).append(i)
    w = np.zeros(len(clips))
    share = {c: np.sqrt(sum(len(v) for v in labs.values())) for c, labs in by_corpus.items()}
    tot = sum(share.values())
    for c, labs in by_corpus.items():
        for lab, idx in labs.items():
            w[idx] = share[c] / tot / len(labs) / len(idx)
    mass = {lab: 0.0 for lab in labels}
    for i, c in enumerate(clips):
        mass[c.label] += w[i]
    for i, c in enumerate(clips):
        w[i] *= (1.0 / max(mass[c.label], 1e-9)) ** label_power
    return w / w.sum()


def make_batch(waves, idx, rng, seg, pool, aug_p):
    out = np.zeros((len(idx), seg), dtype=np.float32)
    for j, i in enumerate(idx):
        w = waves[i].astype(np.float32) / 32768.0
        speed = rng.uniform(0.9, 1.1) if rng.random() < 0.6 else 1.0
        src = int(round(seg * speed))
        if len(w) < src:
            w = np.pad(w, (0, src - len(w)), mode="wrap")
        off = rng.integers(0, len(w) - src + 1)
        x = w[off:off + src]
        if src != seg:
            x = np.interp(np.linspace(0, src - 1, seg), np.arange(src), x).astype(np.float32)
        out[j] = augment.augment(x, rng, pool, aug_p)
    return out


class DevSet:
    """Dev speakers of each training corpus, as recorded and after 8 kHz mu-law."""

    def __init__(self, names, cap=400, task="emotion"):
        self.sets = {}
        for c in names:
            _, w, y = corpora.load([c], ("dev",), task=task)
            if len(w) == 0:
                continue
            if len(w) > cap:  # every k-th clip: keeps the label mix, bounds the cost of an evaluation
                keep = np.linspace(0, len(w) - 1, cap).round().astype(int)
                w, y = [w[i] for i in keep], y[keep]
            f = [x.astype(np.float32) / 32768.0 for x in w]
            self.sets[c] = (f, [crema.telephone(x) for x in f], y)

    def evaluate(self, model):
        """Score = mean over corpora of the macro recall (over the labels each corpus has), Opus and mu-law."""
        per = {}
        for c, (f, t, y) in self.sets.items():
            labs = sorted(set(y.tolist()))
            r = []
            for waves in (f, t):
                pred = crema.predict_fast(model, waves).argmax(1)
                rec = [float(np.mean(pred[y == lab] == lab)) for lab in labs]
                r.append(float(np.mean(rec)))
            per[c] = r
        score = float(np.mean([np.mean(v) for v in per.values()]))
        return score, per


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--task", default="emotion", choices=sorted(corpora.TASKS),
                    help="emotion: six labels; arousal: low/neutral/high (BAVED and mapped categorical corpora)")
    ap.add_argument("--corpora", default="",
                    help="comma-separated (default: the seven emotion corpora; for arousal also baved)")
    ap.add_argument("--exclude", default="", help="corpora left out entirely (leave-one-corpus-out)")
    ap.add_argument("--epochs", type=int, default=400, help="upper bound; the time budget usually ends the run")
    ap.add_argument("--epoch-samples", type=int, default=6000, help="training clips between dev evaluations")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    ap.add_argument("--max-steps", type=int, default=0, help="smoke test: stop after N steps")
    ap.add_argument("--time-budget-min", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--band-norm", type=int, default=1, help="1: per-window log-mel band normalisation")
    ap.add_argument("--aug-p", type=float, default=1.0, help="scales every channel augmentation probability")
    ap.add_argument("--label-power", type=float, default=0.5)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    args = ap.parse_args()

    corpora.require_data()
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    labels = corpora.labels_of(args.task)
    if not args.corpora:
        args.corpora = ",".join(corpora.EMOTION_CORPORA + (["baved"] if args.task == "arousal" else []))
    names = [c for c in args.corpora.split(",") if c and c not in args.exclude.split(",")]
    os.makedirs(args.out, exist_ok=True)
    last_path = os.path.join(args.out, "last.pt")
    resume = torch.load(last_path, map_location="cpu") if args.resume and os.path.exists(last_path) else None
    if args.resume and resume is None:
        print(f"no {last_path} to resume from; starting from scratch", flush=True)
    log = open(os.path.join(args.out, "train_log.jsonl"), "a" if resume else "w")
    t0 = time.time()

    def say(rec):
        rec["t_min"] = round((time.time() - t0) / 60, 2)
        line = json.dumps(rec)
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    tr_c, tr_w, tr_y = corpora.load(names, ("train",), task=args.task)
    dev = DevSet(names, task=args.task)
    weights = sampling_weights(tr_c, args.label_power, labels)
    counts = {}
    for c in tr_c:
        counts[c.corpus] = counts.get(c.corpus, 0) + 1
    config = {"band_norm": bool(args.band_norm), "n_labels": len(labels)}
    model = crema.CremaNet(**config)
    model.specaug = True
    nparam = sum(p.numel() for p in model.parameters())
    steps_per_epoch = args.epoch_samples // args.batch
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.02)
    ema = copy.deepcopy(model) if args.ema > 0 else None
    if ema is not None:
        for p in ema.parameters():
            p.requires_grad_(False)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    step, ep0, spent, best = 0, 0, 0.0, -1.0
    if resume:
        model.load_state_dict(resume["state_dict"])
        opt.load_state_dict(resume["optimizer"])
        if ema is not None and resume.get("ema") is not None:
            ema.load_state_dict(resume["ema"])
        rng.bit_generator.state = resume["rng"]
        torch.set_rng_state(resume["torch_rng"])
        step, ep0, spent, best = resume["step"], resume["epoch"], resume["train_seconds"], resume["best"]
        say({"event": "resume", "epoch": ep0, "step": step, "train_min": round(spent / 60, 2), "best": best,
             "time_budget_min": args.time_budget_min, "threads": args.threads})
    else:
        say({"event": "data", "corpora": names, "train_clips": counts, "dev_clips": {c: len(v[2]) for c, v in dev.sets.items()},
             "args": vars(args), "params": nparam, "config": config})
    budget_s = args.time_budget_min * 60

    def progress(seg_start):
        return max(step / total, (spent + time.time() - seg_start) / budget_s)

    def lr_at(p):  # linear warm-up, cosine decay to 2 % of the peak
        if p < args.warmup:
            return args.lr * (0.1 + 0.9 * p / args.warmup)
        q = min(1.0, (p - args.warmup) / (1 - args.warmup))
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * q)))

    def update_ema():
        with torch.no_grad():
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.dtype.is_floating_point:
                    e.mul_(args.ema).add_(m, alpha=1 - args.ema)
                else:
                    e.copy_(m)

    meta = {"config": config, "corpora": names, "task": args.task, "labels": labels, "excluded": [c for c in args.exclude.split(",") if c],
            "train_clips": counts, "recipe": {k: v for k, v in vars(args).items() if k not in ("out", "resume")}}
    for ep in range(ep0, args.epochs):
        seg_start = time.time()
        model.train()
        tl, tc, tn = 0.0, 0, 0
        for _ in range(steps_per_epoch):
            if progress(seg_start) >= 1.0:
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(progress(seg_start))
            idx = rng.choice(len(tr_w), size=args.batch, p=weights)
            seg = int(rng.uniform(1.2, 2.6) * crema.SR)
            x = torch.from_numpy(make_batch(tr_w, idx, rng, seg, tr_w, args.aug_p))
            y = torch.from_numpy(tr_y[idx])
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            if ema is not None:
                update_ema()
            step += 1
            tl += loss.item() * len(idx)
            tc += int((logits.argmax(1) == y).sum())
            tn += len(idx)
            if args.max_steps and step >= args.max_steps:
                break
        spent += time.time() - seg_start
        p = max(step / total, spent / budget_s)
        # The weight average only pays late in the cycle; from 40 % on it is the candidate (evaluating both
        # would double the cost of every evaluation on two cores).
        late = ema is not None and p >= 0.4
        name, net = ("ema", ema) if late else ("weights", model)
        score, per = dev.evaluate(net)
        rec = {"event": "epoch", "epoch": ep + 1, "train_loss": round(tl / max(tn, 1), 4),
               "train_acc": round(tc / max(tn, 1), 4), "dev_score": round(score, 4),
               "dev_macro_recall": {c: [round(v, 3) for v in r] for c, r in per.items()},
               "lr": round(opt.param_groups[0]["lr"], 6), "progress": round(p, 3), "train_min": round(spent / 60, 2)}
        rec["candidate"] = name
        say(rec)
        if score > best:
            best = score
            torch.save({"state_dict": net.state_dict(), "epoch": ep + 1, "dev_score": score, "dev_macro_recall": per,
                        "weights": name, **meta}, os.path.join(args.out, "best.pt"))
        torch.save({"state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                    "ema": ema.state_dict() if ema is not None else None, "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "step": step, "epoch": ep + 1, "train_seconds": spent,
                    "best": best, **meta}, last_path + ".tmp")
        os.replace(last_path + ".tmp", last_path)
        if (args.max_steps and step >= args.max_steps) or p >= 1.0:
            break
    say({"event": "done", "best_score": best})


if __name__ == "__main__":
    main()
