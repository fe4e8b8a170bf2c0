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

# The arousal model's three outputs.  BAVED is labelled this way (levels 0, 1, 2 in its file names).  The
# categorical corpora map where the arousal of a state is not in doubt: sad and calm are low, neutral is
# neutral, angry, fear, happy and surprise are high.  Disgust is dropped: it is acted anywhere from a cold,
# quiet contempt to loud revulsion, so no single level fits it.
AROUSAL_LABELS = ["low", "neutral", "high"]
AROUSAL_MAP = {"sad": "low", "calm": "low", "neutral": "neutral", "angry": "high", "fear": "high",
               "happy": "high", "surprise": "high", "disgust": None,
               "0": "low", "1": "neutral", "2": "high"}
BAVED_LICENCE = "no explicit licence; the authors ask for research use"
TASKS = {"emotion": (crema.LABELS, LABEL_MAP), "arousal": (AROUSAL_LABELS, AROUSAL_MAP)}


def labels_of(task):
    return list(TASKS[task][0])


def licence_of(corpus):
    return CORPORA[corpus][1] if corpus in CORPORA else BAVED_LICENCE


def language_of(corpus):
    return CORPORA[corpus][0] if corpus in CORPORA else "ar"


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


def _baved_clips():
    """BAVED names each file SPEAKER-SEX-AGE-WORD-LEVEL-ID; the level (0, 1, 2) is the label."""
    out = []
    for fn in sorted(os.listdir(os.path.join(DATA, "baved", "audio"))):
        if fn.endswith(".opus"):
            parts = fn[:-5].split("-")
            out.append(Clip("baved", fn, parts[0], parts[1].upper(), parts[4], parts[4]))
    return out


def raw_clips(corpus):
    """Every clip of a corpus with its corpus label (before mapping)."""
    if corpus == "crema-d":
        return _crema_clips()
    if corpus == "baved":
        return _baved_clips()
    out = []
    with open(os.path.join(DATA, corpus, "labels.csv")) as f:
        for row in csv.DictReader(f):
            out.append(Clip(corpus, row["file"], row["speaker"], row["sex"], row["label"], row["label"]))
    return out


def clips(corpus, task="emotion"):
    """The clips of a corpus that map onto the task's labels (six emotions or three arousal levels), mapped."""
    mapping = TASKS[task][1]
    out = []
    for c in raw_clips(corpus):
        lab = mapping.get(c.raw_label)
        if lab is not None:
            c.label = lab
            out.append(c)
    return out


# ------------------------------------------------------------------------------------------ splits

def _split_by_clips(order, clip_counts, shares=(("test", 0.2), ("dev", 0.15), ("train", 0.65))):
    """For corpora whose speakers recorded very different amounts (BAVED: three speakers hold half of the
    clips): speakers, largest first (ties in the seeded order), each go to the part furthest below its share of
    clips, so that test and dev hold about 20 % and 15 % of the clips rather than of the speakers."""
    total = sum(clip_counts.values())
    have = {p: 0 for p, _ in shares}
    out = {}
    rank = {spk: i for i, spk in enumerate(order)}
    for spk in sorted(order, key=lambda s: (-clip_counts.get(s, 0), rank[s])):
        part = max(shares, key=lambda ps: ps[1] * total - have[ps[0]])[0]
        out[spk] = part
        have[part] += clip_counts.get(spk, 0)
    return out


def make_split(corpus, speakers_with_sex, clip_counts=None):
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
    if clip_counts is not None:
        return _split_by_clips(order, clip_counts)
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
        counts = None
        if corpus == "baved":
            spk, counts = {}, {}
            for fn in os.listdir(os.path.join(DATA, "baved", "audio")):
                parts = fn.split("-")
                spk[parts[0]] = parts[1]
                counts[parts[0]] = counts.get(parts[0], 0) + 1
        else:
            spk = {c.speaker: c.sex for c in raw_clips(corpus)}
        for s, split in sorted(make_split(corpus, spk, counts).items()):
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


def load(corpora, splits, min_samples=1600, task="emotion"):
    """(clips, int16 waves, int labels) for the given corpora and splits ("all" = every speaker).
    Clips shorter than 0.1 s (nearly empty files) are skipped."""
    labels = labels_of(task)
    cs, ws, ys = [], [], []
    for corpus in corpora:
        for c in clips(corpus, task):
            if splits != "all" and split_of(corpus, c.speaker) not in splits:
                continue
            w = load_pcm(c)
            if len(w) < min_samples:
                continue
            cs.append(c)
            ws.append(w)
            ys.append(labels.index(c.label))
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
