"""Channel and room augmentation for training: the model should not be able to tell corpora apart by their
microphones, rooms, codecs or levels.  Each function takes and returns float32 audio at 16 kHz in [-1, 1]
(roughly); `augment` draws a random chain.  numpy/scipy only; Python tooling, never on the runtime path."""
import numpy as np
from scipy.signal import fftconvolve, resample_poly

import crema

SR = crema.SR


def alaw_encode(x16):
    """G.711 A-law encode of int16-range integers -> uint8 codes (ITU-T G.711, even bits inverted)."""
    s = np.asarray(x16, dtype=np.int32)
    sign = np.where(s >= 0, 0x80, 0)
    mag = np.minimum(np.abs(s), 32767) >> 3  # 13-bit magnitude
    exp = np.clip(np.floor(np.log2(np.maximum(mag, 1))).astype(np.int32) - 4, 0, 7)
    mant = np.where(exp == 0, mag >> 1, mag >> exp) & 0x0F
    return ((sign | (exp << 4) | mant) ^ 0x55).astype(np.uint8)


def alaw_decode(u):
    u = np.asarray(u, dtype=np.int32) ^ 0x55
    sign = u & 0x80
    exp = (u >> 4) & 7
    mant = u & 0x0F
    mag = np.where(exp == 0, (mant << 4) + 8, ((mant << 4) + 0x108) << np.maximum(exp - 1, 0))
    return np.where(sign != 0, mag, -mag).astype(np.int32)


def codec(x, rng):
    """8 kHz G.711 round trip (mu-law or A-law) at a random level, back to 16 kHz."""
    n = len(x)
    y = resample_poly(x, 1, 2)
    peak = np.max(np.abs(y)) + 1e-9
    y = y * (rng.uniform(0.05, 0.9) / peak)
    q = np.clip(np.round(y * 32768.0), -32768, 32767)
    if rng.random() < 0.5:
        d = crema.mulaw_decode(crema.mulaw_encode(q))
    else:
        d = alaw_decode(alaw_encode(q))
    return resample_poly(d.astype(np.float64) / 32768.0, 2, 1).astype(np.float32)[:n]


def spectral_shape(x, rng, band_limit=False):
    """Random smooth EQ: a tilt of -6..+6 dB per octave around 1 kHz plus bumps of up to +-8 dB on a
    log-frequency grid; with band_limit, a telephone band (300-3400 Hz, edges jittered) with soft skirts."""
    n = len(x)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1.0 / SR)
    lf = np.log2(np.maximum(f, 50.0) / 1000.0)
    gain_db = rng.uniform(-6, 6) * lf
    grid = np.linspace(lf.min(), lf.max(), 8)
    gain_db += np.interp(lf, grid, rng.uniform(-8, 8, size=grid.shape))
    g = 10.0 ** (gain_db / 20.0)
    if band_limit:
        lo, hi = rng.uniform(200, 400), rng.uniform(3000, 4000)
        g *= 1.0 / (1.0 + (lo / np.maximum(f, 1.0)) ** 8) / (1.0 + (f / hi) ** 12)
    y = np.fft.irfft(spec * g, n).astype(np.float32)
    return y / (np.max(np.abs(y)) + 1e-9) * max(np.max(np.abs(x)), 1e-4)


def reverb(x, rng):
    """Synthetic room: exponentially decaying noise tail (RT60 0.15-0.9 s) after a direct path."""
    rt60 = rng.uniform(0.15, 0.9)
    n = int(min(rt60, 0.5) * SR)
    t = np.arange(n) / SR
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    h[0] = 0.0
    h *= rng.uniform(0.2, 1.0) / (np.sqrt(np.sum(h ** 2)) + 1e-9)
    h[0] = 1.0
    y = fftconvolve(x, h)[: len(x)].astype(np.float32)
    return y / (np.max(np.abs(y)) + 1e-9) * max(np.max(np.abs(x)), 1e-4)


def coloured_noise(n, rng):
    """White, pink or brown noise, unit RMS."""
    w = rng.standard_normal(n)
    kind = rng.integers(0, 3)
    if kind > 0:
        spec = np.fft.rfft(w)
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / SR), 20.0)
        spec /= f ** (0.5 * kind)
        w = np.fft.irfft(spec, n)
    return (w / (np.sqrt(np.mean(w ** 2)) + 1e-12)).astype(np.float32)


def add_noise(x, noise, snr_db):
    p = np.mean(x ** 2) + 1e-10
    pn = np.mean(noise ** 2) + 1e-10
    return x + noise * np.sqrt(p / pn / 10 ** (snr_db / 10))


def babble(pool, n, rng, k=3):
    """Sum of k random other clips (speech of other speakers and corpora), cropped to n samples."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(k):
        w = pool[rng.integers(0, len(pool))].astype(np.float32) / 32768.0
        if len(w) < n:
            w = np.pad(w, (0, n - len(w)), mode="wrap")
        off = rng.integers(0, len(w) - n + 1)
        seg = w[off:off + n]
        out += seg / (np.sqrt(np.mean(seg ** 2)) + 1e-6)
    return out


def edges(x, rng):
    """Leading and trailing digital silence or faint room noise (corpora differ in both)."""
    n = len(x)
    a, b = int(rng.uniform(0, 0.3) * SR), int(rng.uniform(0, 0.3) * SR)
    if a + b >= n // 2:
        return x
    y = x.copy()
    fill = (np.zeros(n, dtype=np.float32) if rng.random() < 0.5
            else coloured_noise(n, rng) * np.sqrt(np.mean(x ** 2) + 1e-10) * 10 ** (-rng.uniform(25, 50) / 20))
    y[:a] = fill[:a]
    if b:
        y[n - b:] = fill[n - b:]
    return y


def augment(x, rng, pool, p=1.0):
    """A random chain; p scales every probability (0 = no channel augmentation)."""
    if rng.random() < 0.25 * p:
        x = reverb(x, rng)
    if rng.random() < 0.5 * p:
        x = spectral_shape(x, rng, band_limit=rng.random() < 0.35)
    if rng.random() < 0.5 * p:
        noise = babble(pool, len(x), rng) if rng.random() < 0.35 else coloured_noise(len(x), rng)
        x = add_noise(x, noise, rng.uniform(5, 30))
    if rng.random() < 0.15 * p:
        x = edges(x, rng)
    x = np.clip(x * rng.uniform(0.1, 3.0), -1.0, 1.0).astype(np.float32)
    if rng.random() < 0.35 * p:
        x = codec(x, rng)
    return x
