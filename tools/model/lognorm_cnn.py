"""An experiment for issue #25, kept so its figures in general6's card can be reproduced: a small CNN on log-mel
frames normalised per speaker (each band by that speaker's running mean and deviation, as general6's functionals
are), judged leave-one-corpus-out on its own and averaged with general6's adapted head. Not a shipped model.

    /usr/bin/python3 tools/model/lognorm_cnn.py features                  # log-mel of every emotion clip, cached
    /usr/bin/python3 tools/model/lognorm_cnn.py loco crema-d nemo ased    # one held-out corpus after another

The front end is general6's (8 kHz, 40 bands, 40 ms / 20 ms frames, frames within 35 dB of the clip's loudest are
active); clips longer than 6 s keep their middle 6 s. Training crops 3 s at random; each held-out speaker's clips
come in random order with causal statistics and a prior of 3 clips, as general.causal_zscore does for the head.
About 7 minutes per held-out corpus on one core (30 epochs).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpora  # noqa: E402
import evaluate  # noqa: E402
import general as G  # noqa: E402

MAX_FRAMES, CROP, PRIOR_CLIPS = 300, 150, 3
PATH = os.path.join(G.CACHE, "lognorm-mel.npz")


@torch.no_grad()
def step_features(a):
    fx = G.Functionals().eval()
    n = sum(len(corpora.clips(c)) for c in corpora.EMOTION_CORPORA)
    M = np.zeros((n, fx.MELS, MAX_FRAMES), np.float16)
    A = np.zeros((n, MAX_FRAMES), bool)
    meta = {"corpus": [], "speaker": [], "split": [], "y": [], "clip": []}
    i = 0
    for c in corpora.EMOTION_CORPORA:
        cs, ws, ys = corpora.load([c], "all")
        for clip, w, y in zip(cs, ws, ys):
            x = torch.from_numpy(w.astype(np.float32) / 32768.0)[None]
            x8 = F.conv1d(x.unsqueeze(1), fx.lowpass, stride=2, padding=15)
            spec = F.conv1d(x8, fx.basis, stride=fx.HOP)
            k = spec.shape[1] // 2
            power = spec[:, :k] ** 2 + spec[:, k:] ** 2 + 1e-10
            mel = torch.log(torch.matmul(fx.fb, power) + 1e-8)[0]
            energy = torch.log(power.sum(1) + 1e-8)[0]
            act = energy > energy.max() - 8.06
            s0 = max(0, (mel.shape[1] - MAX_FRAMES) // 2)
            mel, act = mel[:, s0:s0 + MAX_FRAMES], act[s0:s0 + MAX_FRAMES]
            M[i, :, :mel.shape[1]] = mel.numpy()
            A[i, :len(act)] = act.numpy()
            for key, v in (("corpus", c), ("speaker", f"{c}/{clip.speaker}"), ("split", corpora.split_of(c, clip.speaker)),
                           ("y", int(y)), ("clip", clip.stem)):
                meta[key].append(v)
            i += 1
        print(f"features: {c} done, {i} clips", flush=True)
    os.makedirs(G.CACHE, exist_ok=True)
    np.savez(PATH, M=M[:i], A=A[:i], **{k: np.array(v) for k, v in meta.items()})


def band_stats(M, A, idx):
    m = M[idx].astype(np.float32)
    w = A[idx][:, None, :].astype(np.float32)
    return (m * w).sum((0, 2)), (m * m * w).sum((0, 2)), w.sum()


def normalise(d, held):
    """Training speakers by their own statistics; the held-out corpus's speakers causally (clips in random order,
    running statistics plus a prior of PRIOR_CLIPS clips' frames)."""
    M, A, S = d["M"], d["A"], d["speaker"]
    tr = (d["corpus"] != held) & (d["split"] == "train")
    te = d["corpus"] == held
    Z = np.zeros(M.shape, np.float16)
    means, variances, frames = [], [], []
    for s in np.unique(S[tr]):
        idx = np.where(tr & (S == s))[0]
        s1, s2, n = band_stats(M, A, idx)
        mu, var = s1 / n, np.maximum(s2 / n - (s1 / n) ** 2, 1e-4)
        means.append(mu)
        variances.append(var)
        frames.append(n / len(idx))
        Z[idx] = (M[idx].astype(np.float32) - mu[None, :, None]) / np.sqrt(var)[None, :, None]
    pm, pv, pn = np.mean(means, 0), np.mean(variances, 0), PRIOR_CLIPS * np.mean(frames)
    rs = np.random.RandomState(0)
    for s in np.unique(S[te]):
        idx = np.where(te & (S == s))[0]
        rs.shuffle(idx)
        s1, s2, n = pn * pm, pn * (pv + pm * pm), pn
        for i in idx:
            a1, a2, an = band_stats(M, A, [i])
            s1, s2, n = s1 + a1, s2 + a2, n + an
            mu, var = s1 / n, np.maximum(s2 / n - (s1 / n) ** 2, 1e-4)
            Z[i] = (M[i].astype(np.float32) - mu[:, None]) / np.sqrt(var)[:, None]
    return Z * A[:, None, :], tr, te


class Net(nn.Module):
    """Three dilated 1-D convolutions over the bands (residual), mean and deviation over the active frames."""

    def __init__(self, ch, bands=40, labels=6):
        super().__init__()
        self.c1 = nn.Conv1d(bands, ch, 5, padding=2)
        self.c2 = nn.Conv1d(ch, ch, 5, padding=4, dilation=2)
        self.c3 = nn.Conv1d(ch, ch, 5, padding=8, dilation=4)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(2 * ch, labels)

    def forward(self, x, active):
        h = F.gelu(self.c1(x))
        h = h + F.gelu(self.c2(h))
        h = h + F.gelu(self.c3(h))
        w = active.unsqueeze(1)
        n = w.sum(-1).clamp(min=1)
        m = (h * w).sum(-1) / n
        sd = torch.sqrt(((h - m.unsqueeze(-1)) ** 2 * w).sum(-1) / n + 1e-5)
        return self.out(self.drop(torch.cat([m, sd], 1)))


def train_cnn(Z, d, tr, epochs, ch):
    torch.manual_seed(G.SEED)
    rs = np.random.RandomState(G.SEED)
    rows = np.where(tr)[0]
    W = torch.tensor(G.weights(d["corpus"][rows], d["y"][rows]), dtype=torch.float32)
    net = Net(ch)
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=epochs * ((len(rows) + 127) // 128))
    started = time.time()
    for epoch in range(epochs):
        net.train()
        perm = rs.permutation(len(rows))
        for b in range(0, len(perm), 128):
            pick = perm[b:b + 128]
            x = np.zeros((len(pick), Z.shape[1], CROP), np.float32)
            act = np.zeros((len(pick), CROP), np.float32)
            for j, i in enumerate(rows[pick]):
                frames = int(d["A"][i].nonzero()[0].max() + 1) if d["A"][i].any() else 1
                s0 = rs.randint(0, max(1, frames - CROP + 1))
                n = min(CROP, frames - s0)
                x[j, :, :n] = Z[i, :, s0:s0 + n]
                act[j, :n] = d["A"][i, s0:s0 + n]
            out = net(torch.from_numpy(x), torch.from_numpy(act))
            loss = (F.cross_entropy(out, torch.tensor(d["y"][rows[pick]]), reduction="none", label_smoothing=0.1)
                    * W[pick]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"  epoch {epoch + 1}/{epochs}, {time.time() - started:.0f} s", flush=True)
    return net.eval()


@torch.no_grad()
def cnn_logits(net, Z, A, idx):
    return np.concatenate([net(torch.from_numpy(Z[idx[b:b + 256]].astype(np.float32)),
                               torch.from_numpy(A[idx[b:b + 256]].astype(np.float32))).numpy()
                           for b in range(0, len(idx), 256)])


def step_loco(a):
    torch.set_num_threads(1)
    if not os.path.exists(PATH):
        sys.exit(f"{PATH} is missing: run `lognorm_cnn.py features` first")
    d = dict(np.load(PATH))
    f = G.load_features("opus")
    row_of = {(c, s): i for i, (c, s) in enumerate(zip(f["corpus"], f["clip"]))}
    for held in a.corpora:
        Z, tr, te = normalise(d, held)
        net = train_cnn(Z, d, tr, a.epochs, a.channels)
        idx = np.where(te)[0]
        cnn = cnn_logits(net, Z, d["A"], idx)
        ftr = (f["corpus"] != held) & (f["split"] == "train")
        fte = np.where(f["corpus"] == held)[0]
        # the head as the card's "shipped recipe" row (43.0 % over the three): no perturbed copies
        head = G.fit(*G.train_rows(f["X"][ftr], f["speaker"][ftr], f["corpus"][ftr], f["y"][ftr], perturbed=()))
        Zf = G.causal_zscore(f["X"][fte], f["speaker"][fte], G.prior_of(f["X"][ftr], f["speaker"][ftr]), G.PRIOR_CLIPS)
        by_row = dict(zip(fte, G.logits_of(head, Zf)))
        hl = np.stack([by_row[row_of[(c, s)]] for c, s in zip(d["corpus"][idx], d["clip"][idx])])
        y = d["y"][idx]

        def logp(z):
            return torch.log_softmax(torch.tensor(z), 1).numpy()

        for name, z in (("CNN", cnn), ("head", hl), ("mean of log-probabilities, CNN 0.5", 0.5 * logp(cnn) + 0.5 * logp(hl)),
                        ("mean of log-probabilities, CNN 0.3", 0.3 * logp(cnn) + 0.7 * logp(hl))):
            m = evaluate.score(z, y)
            print(f"{held} {name}: macro recall {100 * m['macro_recall']:.1f} ("
                  + ", ".join(f"{k} {100 * v:.0f}" for k, v in m["recall"].items()) + ")", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["features", "loco"])
    ap.add_argument("corpora", nargs="*", default=["crema-d", "nemo", "ased"])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--channels", type=int, default=96)
    a = ap.parse_args()
    corpora.require_data()
    torch.set_num_threads(int(os.environ.get("SER_THREADS", "1")))
    {"features": step_features, "loco": step_loco}[a.step](a)


if __name__ == "__main__":
    main()
