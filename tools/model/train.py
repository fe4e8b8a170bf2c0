"""Trains the default CREMA-D emotion model (six labels) from scratch on the train speakers,
selects the epoch by dev accuracy, and saves the checkpoint.  Reproducible: fixed seed, fixed epochs.

    tools/model/train.sh            # the real run, on an otherwise idle machine (see README.md)
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
import crema  # noqa: E402


def augment_batch(waves, idx, rng, seg):
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
        x = np.clip(x * rng.uniform(0.3, 3.0), -1.0, 1.0)
        if rng.random() < 0.5:
            p = np.mean(x ** 2) + 1e-10
            snr = rng.uniform(10, 40)
            x = x + rng.standard_normal(seg).astype(np.float32) * np.sqrt(p / 10 ** (snr / 10))
        if rng.random() < 0.3:
            x = crema.telephone(np.clip(x, -1, 1), rng)
        out[j] = x
    return out


def evaluate(model, waves, y):
    logits = crema.predict_fast(model, waves)
    pred = logits.argmax(1)
    m = crema.metrics(y, pred)
    return m["accuracy"], m["macro_recall"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--max-steps", type=int, default=0, help="smoke test: stop after N steps")
    ap.add_argument("--time-budget-min", type=float, default=42.0,
                    help="the LR schedule runs on max(step fraction, time fraction): on a busy machine the run "
                         "ends after this many minutes instead of after all epochs")
    ap.add_argument("--out", default=os.path.join(crema.CACHE, "crema6"))
    ap.add_argument("--init", help="continue from this checkpoint (a second, shorter cycle); its dev score "
                                   "is the one to beat, so best.pt is the best over both runs")
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--ema", type=float, default=0.0,
                    help="also keep an exponential moving average of the weights (decay per step, e.g. 0.998); "
                         "from 40 % of the cycle on, each epoch the better of the two on dev is the candidate for best.pt")
    args = ap.parse_args()

    crema.setup_threads()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "train_log.jsonl"), "w")

    def say(rec):
        rec["t_min"] = round((time.time() - t0) / 60, 2)
        line = json.dumps(rec)
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    t0 = time.time()
    _, tr_w, tr_y = crema.load_split("train")
    _, dv_w, dv_y = crema.load_split("dev")
    dv_f = [w.astype(np.float32) / 32768.0 for w in dv_w]
    dv_t = [crema.telephone(w) for w in dv_f]
    say({"event": "data", "train": len(tr_w), "dev": len(dv_w), "args": vars(args)})

    model = crema.CremaNet()
    model.specaug = True
    best = -1.0
    if args.init:
        ck = torch.load(args.init, map_location="cpu")
        model.load_state_dict(ck["state_dict"])
        acc, rec = evaluate(model, dv_f, dv_y)
        acc_t, rec_t = evaluate(model, dv_t, dv_y)
        best = (acc + acc_t) / 2
        torch.save({"state_dict": model.state_dict(), "epoch": ck.get("epoch"), "dev_acc": acc, "dev_mulaw_acc": acc_t,
                    "dev_macro_recall": rec, "dev_mulaw_macro_recall": rec_t, "init": args.init},
                   os.path.join(args.out, "best.pt"))
        say({"event": "init", "from": args.init, "epoch": ck.get("epoch"), "dev_acc": round(acc, 4),
             "dev_mulaw_acc": round(acc_t, 4)})
    ep0 = int(ck.get("epoch") or 0) if args.init else 0
    nparam = sum(p.numel() for p in model.parameters())
    steps_per_epoch = len(tr_w) // args.batch
    total = steps_per_epoch * args.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.02)
    budget_s = args.time_budget_min * 60

    def progress():
        return max(step / total, (time.time() - t_train) / budget_s)

    def lr_at(p):  # linear warm-up 5 %, cosine decay to 2 % of the peak
        w = args.warmup
        if p < w:
            return args.lr * (0.1 + 0.9 * p / w)
        q = min(1.0, (p - w) / (1 - w))
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * q)))
    say({"event": "model", "params": nparam, "steps": total})
    ema = None
    if args.ema > 0:
        ema = copy.deepcopy(model)
        for p in ema.parameters():
            p.requires_grad_(False)

    def update_ema():
        with torch.no_grad():
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.dtype.is_floating_point:
                    e.mul_(args.ema).add_(m, alpha=1 - args.ema)
                else:
                    e.copy_(m)

    step = 0
    t_train = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = rng.permutation(len(tr_w))
        tl, tc, tn = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            if progress() >= 1.0:
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(progress())
            seg = int(rng.uniform(1.2, 2.6) * crema.SR)
            x = torch.from_numpy(augment_batch(tr_w, idx, rng, seg))
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
        # The average only pays late in the cycle; evaluating it earlier would only cost training time.
        late = ema is not None and progress() >= 0.4
        candidates = [("weights", model)] + ([("ema", ema)] if late else [])
        results = []
        for name, net in candidates:
            acc, rec = evaluate(net, dv_f, dv_y)
            acc_t, rec_t = evaluate(net, dv_t, dv_y)
            results.append(((acc + acc_t) / 2, name, net, acc, rec, acc_t, rec_t))
        score, name, net, acc, rec, acc_t, rec_t = max(results, key=lambda r: r[0])
        rec_out = {"event": "epoch", "epoch": ep0 + ep + 1, "train_loss": round(tl / max(tn, 1), 4),
                   "train_acc": round(tc / max(tn, 1), 4), "dev_acc": round(acc, 4), "dev_macro_recall": round(rec, 4),
                   "dev_mulaw_acc": round(acc_t, 4), "dev_mulaw_macro_recall": round(rec_t, 4),
                   "lr": round(opt.param_groups[0]["lr"], 6), "progress": round(progress(), 3)}
        if late:
            rec_out["selected"] = name
            rec_out["dev_score_weights"] = round(results[0][0], 4)
            rec_out["dev_score_ema"] = round(results[1][0], 4)
        say(rec_out)
        if score > best:
            best = score
            torch.save({"state_dict": net.state_dict(), "epoch": ep0 + ep + 1, "dev_acc": acc, "dev_mulaw_acc": acc_t,
                        "dev_macro_recall": rec, "dev_mulaw_macro_recall": rec_t, "weights": name},
                       os.path.join(args.out, "best.pt"))
        torch.save({"state_dict": model.state_dict(), "epoch": ep0 + ep + 1}, os.path.join(args.out, "last.pt"))
        if args.max_steps and step >= args.max_steps:
            break
        if progress() >= 1.0:
            break
    say({"event": "done", "best_score": best})


if __name__ == "__main__":
    main()
