"""The emotional speech corpora in the shared data folder: labels, speakers, the fixed speaker splits and
the decoded audio cache.  Python tooling only; never on the runtime path.

Every corpus is split by speaker, never by clip.  CREMA-D keeps its own speaker_split.csv; the others use
the seeded split written to tools/model/splits/speakers.csv (`python3 tools/model/corpora.py --write-splits`
regenerates it; the file in the repository is the reference and a test checks that it is reproducible).
"""
import argparse
import csv
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crema  # noqa: E402

DATA = crema.DATA
PCM = crema.PCM
SPLITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "splits", "speakers.csv")
SPLIT_SEED = 20261201

# The six outputs of the emotion model.  `calm` (TurEV) is a low-arousal, non-negative state that most
# multi-corpus recipes merge into neutral; `surprise` (nEMO, CASIA, EMOVO) has no counterpart among the six
# and is mixed positive/negative, so its clips are dropped rather than forced onto another label.
LABEL_MAP = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy", "neutral": "neutral",
             "sad": "sad", "calm": "neutral", "surprise": None}

# name -> (language, licence as the corpus states it)
CORPORA = {
    "crema-d": ("en", "Open Database License 1.0 / Database Contents License 1.0 (commercial use allowed, "
                      "attribution, share-alike of the database)"),
    "nemo": ("pl", "CC BY-NC-SA 4.0 (non-commercial, share-alike)"),
    "ased": ("am", "not stated (citation asked)"),
    "turev": ("tr", "CC BY-NC-ND 4.0 (non-commercial, no derivatives)"),
    "casia": ("zh", "not stated; research use"),
    "emovo": ("it", "not stated; research use"),
    "urdu": ("ur", "research use only"),
}
EMOTION_CORPORA = list(CORPORA)


class Clip:
    __slots__ = ("corpus", "file", "speaker", "sex", "label", "raw_label")

    def __init__(self, corpus, file, speaker, sex, label, raw_label):
        self.corpus, self.file, self.speaker, self.sex = corpus, file, speaker, sex
        self.label, self.raw_label = label, raw_label

    @property
    def stem(self):
        return os.path.splitext(self.file)[0]

    def pcm_path(self):
        return os.path.join(PCM, self.corpus, self.stem + ".s16")


def require_data():
    if not os.path.isdir(DATA):
        sys.exit(f"no shared data folder at {DATA}: set SER_DATA to the folder that holds crema-d/, nemo/, ...")


def _crema_clips():
    sexes = {}
    with open(os.path.join(DATA, "crema-d", "VideoDemographics.csv")) as f:
        for row in csv.DictReader(f):
            sexes[row["ActorID"]] = "F" if row["Sex"].strip().lower().startswith("f") else "M"
    out = []
    for fn in sorted(os.listdir(os.path.join(DATA, "crema-d", "audio"))):
        if not fn.endswith(".opus"):
            continue
        actor, _, code, _ = fn[:-5].split("_")
        raw = crema.LABELS[crema.CODES.index(code)]
        out.append(Clip("crema-d", fn, actor, sexes.get(actor, "unknown"), raw, raw))
    return out


def raw_clips(corpus):
    """Every clip of a corpus with its corpus label (before mapping)."""
    if corpus == "crema-d":
        return _crema_clips()
    out = []
    with open(os.path.join(DATA, corpus, "labels.csv")) as f:
        for row in csv.DictReader(f):
            out.append(Clip(corpus, row["file"], row["speaker"], row["sex"], row["label"], row["label"]))
    return out


def clips(corpus):
    """The clips of a corpus that map onto the six emotion labels, label mapped."""
    out = []
    for c in raw_clips(corpus):
        lab = LABEL_MAP.get(c.raw_label)
        if lab is not None:
            c.label = lab
            out.append(c)
    return out


# ------------------------------------------------------------------------------------------ splits

def make_split(corpus, speakers_with_sex):
    """Seeded speaker split: about 20 % test and 15 % dev speakers (at least one each where a corpus has three
    or more), drawn alternately from female and male speakers so both are in every part when possible."""
    seed = int(hashlib.sha256(f"{SPLIT_SEED}:{corpus}".encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    groups = {}
    for spk, sex in sorted(speakers_with_sex.items()):
        groups.setdefault(sex, []).append(spk)
    for g in groups.values():
        rng.shuffle(g)
    order = []
    keys = sorted(groups)
    while any(groups[k] for k in keys):
        for k in keys:
            if groups[k]:
                order.append(groups[k].pop())
    n = len(order)
    n_test = max(1, round(0.2 * n)) if n >= 3 else 0
    n_dev = max(1, round(0.15 * n)) if n >= 3 else 0
    out = {}
    for i, spk in enumerate(order):
        out[spk] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return out


def compute_splits():
    rows = []
    for corpus in EMOTION_CORPORA + ["baved"]:
        if corpus == "crema-d":
            for actor, split in sorted(crema.speaker_split().items()):
                rows.append((corpus, actor, split))
            continue
        if corpus == "baved":
            spk = {}
            for fn in os.listdir(os.path.join(DATA, "baved", "audio")):
                parts = fn.split("-")
                spk[parts[0]] = parts[1]
        else:
            spk = {c.speaker: c.sex for c in raw_clips(corpus)}
        for s, split in sorted(make_split(corpus, spk).items()):
            rows.append((corpus, s, split))
    return rows


def write_splits(path=SPLITS):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["corpus", "speaker", "split"])
        w.writerows(compute_splits())


_split_cache = None


def split_of(corpus, speaker):
    global _split_cache
    if _split_cache is None:
        _split_cache = {}
        with open(SPLITS) as f:
            for row in csv.DictReader(f):
                _split_cache[(row["corpus"], row["speaker"])] = row["split"]
    return _split_cache[(corpus, speaker)]


# ------------------------------------------------------------------------------------------- audio

def load_pcm(clip):
    path = clip.pcm_path()
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run tools/model/decode_cache.sh first")
    return np.fromfile(path, dtype="<i2")


def load(corpora, splits, min_samples=1600):
    """(clips, int16 waves, int labels) for the given corpora and splits ("all" = every speaker).
    Clips shorter than 0.1 s (nearly empty files) are skipped."""
    cs, ws, ys = [], [], []
    for corpus in corpora:
        for c in clips(corpus):
            if splits != "all" and split_of(corpus, c.speaker) not in splits:
                continue
            w = load_pcm(c)
            if len(w) < min_samples:
                continue
            cs.append(c)
            ws.append(w)
            ys.append(crema.LABELS.index(c.label))
    return cs, ws, np.array(ys, dtype=np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-splits", action="store_true", help="regenerate tools/model/splits/speakers.csv")
    ap.add_argument("--check-splits", action="store_true",
                    help="exit 1 unless the committed splits file equals a fresh computation")
    ap.add_argument("--summary", action="store_true", help="clips per corpus, split and label")
    a = ap.parse_args()
    require_data()
    if a.write_splits:
        write_splits()
        print(f"wrote {SPLITS}")
    if a.check_splits:
        with open(SPLITS) as f:
            have = [tuple(r) for r in list(csv.reader(f))[1:]]
        want = compute_splits()
        if have != want:
            sys.exit(f"{SPLITS} differs from the seeded split ({len(have)} vs {len(want)} rows)")
        print(f"splits ok: {len(have)} speakers")
    if a.summary:
        for corpus in EMOTION_CORPORA:
            counts = {}
            for c in clips(corpus):
                key = (split_of(corpus, c.speaker), c.label)
                counts[key] = counts.get(key, 0) + 1
            for split in ("train", "dev", "test"):
                row = {lab: counts.get((split, lab), 0) for lab in crema.LABELS}
                print(corpus, split, sum(row.values()), row)


if __name__ == "__main__":
    main()
