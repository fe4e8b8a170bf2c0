"""Shared pieces for the default CREMA-D model: data access, DSP (G.711 telephone simulation),
the log-mel front end and the classifier network.  Python tooling only; never on the runtime path."""
import csv
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("SER_DATA", os.path.abspath(os.path.join(ROOT, "..", "shared", "data")))
CACHE = os.path.join(ROOT, ".cache", "model-data")
PCM = os.path.join(CACHE, "pcm")
SR = 16000
CODES = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad"]


def setup_threads():
    """All cores, or SER_THREADS (e.g. 1 for an evaluation beside a training run)."""
    torch.set_num_threads(int(os.environ.get("SER_THREADS", "0")) or os.cpu_count() or 1)


# ----------------------------------------------------------------------------------------- data

def speaker_split():
    out = {}
    with open(os.path.join(DATA, "crema-d", "speaker_split.csv")) as f:
        for row in csv.DictReader(f):
            out[row["actor"]] = row["split"]
    return out


def load_split(split):
    """Returns (names, list of int16 arrays, int labels) for one split, from the decoded cache."""
    spk = speaker_split()
    pcm = os.path.join(PCM, "crema-d")
    names = sorted(n[:-4] for n in os.listdir(pcm) if n.endswith(".s16"))
    names = [n for n in names if spk.get(n.split("_")[0]) == split]
    waves, labels = [], []
    for n in names:
        waves.append(np.fromfile(os.path.join(pcm, n + ".s16"), dtype="<i2"))
        labels.append(CODES.index(n.split("_")[2]))
    return names, waves, np.array(labels, dtype=np.int64)


def label_of_name(name):
    return CODES.index(os.path.basename(name).split("_")[2])


# ------------------------------------------------------------------------------------------ DSP

def mulaw_encode(x16):
    """G.711 mu-law encode of int16-range integers -> uint8 codes (ITU-T G.711, bias 0x84)."""
    s = np.asarray(x16, dtype=np.int32)
    sign = (s < 0)
    mag = np.minimum(np.abs(s), 32635) + 0x84
    exp = np.clip(np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 7, 0, 7)
    mant = (mag >> (exp + 3)) & 0x0F
    code = (sign.astype(np.int32) << 7) | (exp << 4) | mant
    return (~code & 0xFF).astype(np.uint8)


def mulaw_decode(u):
    u = (~np.asarray(u, dtype=np.int32)) & 0xFF
    sign = u & 0x80
    exp = (u >> 4) & 7
    mant = u & 0x0F
    s = (((mant << 3) + 0x84) << exp) - 0x84
    return np.where(sign != 0, -s, s).astype(np.int32)


def telephone(x, rng=None):
    """16 kHz float [-1,1] -> 8 kHz G.711 mu-law round trip -> back to 16 kHz (float).
    With rng, the level before the codec is randomised (quantisation noise varies)."""
    from scipy.signal import resample_poly
    y = resample_poly(x, 1, 2)
    if rng is not None:
        peak = np.max(np.abs(y)) + 1e-9
        y = y * (rng.uniform(0.05, 0.9) / peak)
    q = np.clip(np.round(y * 32768.0), -32768, 32767)
    d = mulaw_decode(mulaw_encode(q)).astype(np.float64) / 32768.0
    return resample_poly(d, 2, 1).astype(np.float32)[: len(x)]


# ------------------------------------------------------------------------------------ front end

def mel_filterbank(n_fft=400, n_mels=64, sr=SR, fmin=60.0, fmax=8000.0):
    def hz2mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel2hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    nb = n_fft // 2 + 1
    freqs = np.linspace(0, sr / 2, nb)
    pts = mel2hz(np.linspace(hz2mel(fmin), hz2mel(fmax), n_mels + 2))
    fb = np.zeros((n_mels, nb), dtype=np.float64)
    for m in range(n_mels):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[m] = np.maximum(0, np.minimum(up, down))
    return fb.astype(np.float32)


class LogMel(nn.Module):
    """Waveform [B,N] -> log-mel [B,M,T].  Per-window zero-mean/unit-variance normalisation (eps 1e-7)
    happens here, inside the graph.  Training uses torch.stft; export uses a fixed conv basis
    (torch 1.13 cannot export stft); both give the same numbers."""

    def __init__(self, n_fft=400, hop=160, n_mels=64):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        win = torch.hann_window(n_fft, periodic=True)
        self.register_buffer("window", win, persistent=False)
        n = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)
        ang = 2 * math.pi * k[:, None] * n[None, :] / n_fft
        basis = torch.cat([torch.cos(ang), -torch.sin(ang)], 0) * win.double()[None, :]
        self.register_buffer("basis", basis.float().unsqueeze(1), persistent=False)
        self.register_buffer("fb", torch.from_numpy(mel_filterbank(n_fft, n_mels)), persistent=False)
        self.use_conv = False

    def forward(self, x):
        x = x - x.mean(dim=1, keepdim=True)
        x = x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-7)
        if self.use_conv:
            spec = F.conv1d(x.unsqueeze(1), self.basis, stride=self.hop)  # [B, 2K, T]
            k = spec.shape[1] // 2
            power = spec[:, :k] ** 2 + spec[:, k:] ** 2
        else:
            st = torch.stft(x, self.n_fft, self.hop, self.n_fft, self.window, center=False,
                            return_complex=True)
            power = st.real ** 2 + st.imag ** 2
        mel = torch.matmul(self.fb, power)
        return torch.log(mel + 1e-5)


# ---------------------------------------------------------------------------------------- model

class Block(nn.Module):
    """3x3 conv -> BN -> ReLU, downsampling by `pool` (max-pool for the first block, where the conv is
    cheap, strided conv after it)."""

    def __init__(self, cin, cout, pool, strided):
        super().__init__()
        self.strided = strided
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False, stride=pool if strided else 1)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = pool

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return x if self.strided else F.max_pool2d(x, self.pool)


class EncoderLayer(nn.Module):
    """Pre-LN transformer layer written out by hand (exports cleanly to ONNX)."""

    def __init__(self, d, heads, ff, p):
        super().__init__()
        self.h = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        hd = d // self.h
        q = q.reshape(b, t, self.h, hd).transpose(1, 2)
        k = k.reshape(b, t, self.h, hd).transpose(1, 2)
        v = v.reshape(b, t, self.h, hd).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
        y = torch.matmul(a, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.ln2(x))))))


class CremaNet(nn.Module):
    """log-mel (64 bands, 25 ms / 10 ms) -> 4 conv blocks (/16 in frequency, /8 in time) -> 2 transformer layers ->
    mean+std pooling over time -> linear logits."""

    def __init__(self, n_labels=6, n_mels=64, chans=(16, 32, 64, 128), d=128, layers=2, heads=4,
                 ff=256, dropout=0.15, band_norm=False):
        super().__init__()
        self.frontend = LogMel(n_mels=n_mels)
        # band_norm: each window's log-mel bands lose their own mean over time (the long-term spectrum that a
        # microphone, room or codec imposes) and the window is scaled to unit variance, before the learned norm.
        self.band_norm = band_norm
        self.in_norm = nn.BatchNorm1d(n_mels)
        pools = [(2, 2), (2, 2), (2, 2), (2, 1)]
        blocks, cin = [], 1
        for i, (c, p) in enumerate(zip(chans, pools)):
            blocks.append(Block(cin, c, p, strided=i > 0))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        fdim = chans[-1] * (n_mels // 16)
        self.proj = nn.Linear(fdim, d)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, ff, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(2 * d, n_labels)
        self.specaug = False

    def forward(self, input_values):
        m = self.frontend(input_values)  # [B, M, T]
        if self.band_norm:
            m = m - m.mean(dim=2, keepdim=True)
            m = m / torch.sqrt(m.pow(2).mean(dim=(1, 2), keepdim=True) + 1e-5)
        m = self.in_norm(m)
        if self.training and self.specaug:
            m = spec_augment(m)
        x = self.blocks(m.unsqueeze(1))  # [B, C, M/16, T/8]
        b, c, f, t = x.shape
        x = self.proj(x.permute(0, 3, 1, 2).reshape(b, t, c * f))
        for layer in self.layers:
            x = layer(x)
        x = self.ln(x)
        mean = x.mean(dim=1)
        std = torch.sqrt((x - mean.unsqueeze(1)).pow(2).mean(dim=1) + 1e-5)
        return self.head(self.drop(torch.cat([mean, std], dim=1)))


def spec_augment(m, n_f=2, w_f=8, n_t=2, w_t=20):
    """Vectorised SpecAugment: n_f frequency and n_t time masks per example (set to 0 = the mean)."""
    b, nm, t = m.shape
    keep = torch.ones(b, nm, t, dtype=m.dtype)
    fi = torch.arange(nm)[None, :]
    ti = torch.arange(t)[None, :]
    for _ in range(n_f):
        w = torch.randint(0, w_f + 1, (b, 1))
        s = (torch.rand(b, 1) * (nm - w)).long()
        keep = keep * (~((fi >= s) & (fi < s + w))).to(m.dtype)[:, :, None]
    wt = min(w_t, t // 4)
    for _ in range(n_t):
        w = torch.randint(0, wt + 1, (b, 1))
        s = (torch.rand(b, 1) * (t - w)).long()
        keep = keep * (~((ti >= s) & (ti < s + w))).to(m.dtype)[:, None, :]
    return m * keep


@torch.no_grad()
def predict(model, waves, batch_lengths=False):
    """Whole-clip logits for a list of float32 arrays (one forward per clip)."""
    model.eval()
    out = []
    for w in waves:
        out.append(model(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))[None])[0].numpy())
    return np.stack(out)


@torch.no_grad()
def predict_fast(model, waves, batch=16):
    """Approximate whole-clip logits for model selection: clips sorted by length, batched, each
    centre-cropped to the shortest clip in its batch."""
    model.eval()
    order = np.argsort([len(w) for w in waves])
    out = [None] * len(waves)
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        n = min(len(waves[i]) for i in idx)
        x = np.stack([waves[i][(len(waves[i]) - n) // 2:(len(waves[i]) - n) // 2 + n] for i in idx])
        lg = model(torch.from_numpy(x.astype(np.float32))).numpy()
        for j, i in enumerate(idx):
            out[i] = lg[j]
    return np.stack(out)


def metrics(y, pred, labels=LABELS):
    n = len(labels)
    cm = np.zeros((n, n), dtype=np.int64)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    rec = cm.diagonal() / np.maximum(cm.sum(1), 1)
    prec = cm.diagonal() / np.maximum(cm.sum(0), 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    return {
        "n": int(len(y)),
        "accuracy": float((np.asarray(y) == np.asarray(pred)).mean()),
        "macro_recall": float(rec.mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {l: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i])}
                      for i, l in enumerate(labels)},
        "confusion": {"rows_true_cols_pred": labels, "matrix": cm.tolist()},
    }
