"""unittest for the multi-corpus training tools: codecs, augmentation, sampling balance, splits, calibration.
    /usr/bin/python3 -m unittest tools/model/test_tools.py -v        (a few seconds; the splits test needs the data)
"""
import os
import sys
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import augment  # noqa: E402
import calibrate  # noqa: E402
import corpora  # noqa: E402
import crema  # noqa: E402
import export  # noqa: E402
import train  # noqa: E402


class Codecs(unittest.TestCase):
    def test_alaw_matches_g711_reference_codes(self):
        # G.711 A-law codes of these linear values (ITU-T G.711 tables; also what Python's audioop gave).
        x = np.array([0, 100, -100, 1000, -1000, 30000, -30000])
        self.assertEqual(augment.alaw_encode(x).tolist(), [213, 211, 83, 250, 122, 168, 40])
        self.assertEqual(augment.alaw_decode(augment.alaw_encode(x)).tolist(),
                         [8, 104, -104, 1008, -1008, 30208, -30208])

    def test_alaw_round_trip_error_is_within_one_segment_step(self):
        x = np.arange(-32768, 32768, 3)
        err = np.abs(augment.alaw_decode(augment.alaw_encode(x)) - x)
        self.assertLessEqual(float(np.max(err / np.maximum(np.abs(x), 256))), 0.0625)

    def test_codec_keeps_length_and_speech_band(self):
        rng = np.random.default_rng(0)
        t = np.arange(16000) / 16000
        x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        y = augment.codec(x, rng)
        self.assertEqual(len(y), len(x))
        corr = np.corrcoef(x[100:-100], y[100:-100])[0, 1]
        self.assertGreater(corr, 0.95)


class Augmentation(unittest.TestCase):
    def test_chain_returns_finite_audio_of_the_same_length(self):
        rng = np.random.default_rng(1)
        pool = [rng.integers(-3000, 3000, 20000).astype(np.int16) for _ in range(4)]
        for _ in range(30):
            x = (rng.standard_normal(24000) * 0.1).astype(np.float32)
            y = augment.augment(x, rng, pool)
            self.assertEqual(y.shape, x.shape)
            self.assertTrue(np.all(np.isfinite(y)))
            self.assertLessEqual(float(np.max(np.abs(y))), 1.5)

    def test_no_augmentation_at_p0_is_only_a_gain(self):
        rng = np.random.default_rng(2)
        x = (rng.standard_normal(8000) * 0.05).astype(np.float32)
        y = augment.augment(x, rng, [], p=0.0)
        ratio = y / np.where(np.abs(x) > 1e-4, x, np.nan)
        self.assertLess(float(np.nanstd(ratio)), 1e-4)

    def test_band_limit_removes_low_frequencies(self):
        rng = np.random.default_rng(3)
        t = np.arange(32000) / 16000
        x = (0.3 * np.sin(2 * np.pi * 80 * t) + 0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
        y = augment.spectral_shape(x, rng, band_limit=True)
        spec = np.abs(np.fft.rfft(y))
        f = np.fft.rfftfreq(len(y), 1 / 16000)
        low = spec[np.argmin(np.abs(f - 80))]
        mid = spec[np.argmin(np.abs(f - 1000))]
        self.assertLess(low, mid / 30)


class Sampling(unittest.TestCase):
    @staticmethod
    def clip(corpus, label):
        return corpora.Clip(corpus, "x.opus", "s", "F", label, label)

    def test_each_corpus_label_pair_has_equal_mass_within_a_corpus(self):
        clips = ([self.clip("a", "angry")] * 90 + [self.clip("a", "sad")] * 10 + [self.clip("b", "angry")] * 25)
        w = train.sampling_weights(clips, label_power=0.0)
        self.assertAlmostEqual(w.sum(), 1.0)
        a_angry, a_sad, b_angry = w[:90].sum(), w[90:100].sum(), w[100:].sum()
        self.assertAlmostEqual(a_angry, a_sad)
        # corpus shares follow sqrt(size): sqrt(100) : sqrt(25) = 2 : 1
        self.assertAlmostEqual((a_angry + a_sad) / b_angry, 2.0)

    def test_rare_labels_are_lifted(self):
        clips = [self.clip("a", lab) for lab in ("angry", "disgust")] * 5 + [self.clip("b", "angry")] * 10
        flat = train.sampling_weights(clips, label_power=0.0)
        lifted = train.sampling_weights(clips, label_power=0.5)
        dis = [i for i, c in enumerate(clips) if c.label == "disgust"]
        self.assertGreater(lifted[dis].sum(), flat[dis].sum())


class Calibration(unittest.TestCase):
    def test_fitted_temperature_undoes_overconfidence(self):
        rng = np.random.default_rng(4)
        y = rng.integers(0, 6, 3000)
        true_logits = rng.standard_normal((3000, 6))
        true_logits[np.arange(3000), y] += 1.5
        # sample labels from the true model, then make it 3x overconfident
        p = calibrate.softmax(true_logits)
        y = np.array([rng.choice(6, p=row) for row in p])
        t = calibrate.fit_temperature(true_logits * 3, y)
        self.assertAlmostEqual(t, 3.0, delta=0.4)
        self.assertLess(calibrate.ece(true_logits * 3 / t, y), calibrate.ece(true_logits * 3, y))

    def test_calibrated_export_divides_logits_and_keeps_argmax(self):
        net = crema.CremaNet(band_norm=True).eval()
        net.frontend.use_conv = True
        wrapped = export.Calibrated(net, 2.0).eval()
        x = torch.randn(2, 16000) * 0.1
        with torch.no_grad():
            a, b = net(x), wrapped(x)
        self.assertTrue(torch.allclose(a / 2.0, b, atol=1e-6))
        self.assertTrue(torch.equal(a.argmax(1), b.argmax(1)))


class BandNorm(unittest.TestCase):
    @staticmethod
    def logits(band_norm, shift):
        torch.manual_seed(0)
        net = crema.CremaNet(band_norm=band_norm).eval()
        front = net.frontend

        class Shifted(torch.nn.Module):  # a microphone/codec gain per mel band, in the log domain
            def forward(self, x):
                m = front(x)
                return m + shift * torch.linspace(-2, 2, m.shape[1])[None, :, None]

        net.frontend = Shifted()
        x = torch.from_numpy((np.random.default_rng(5).standard_normal((1, 32000)) * 0.1).astype(np.float32))
        with torch.no_grad():
            return net(x)

    def test_band_norm_makes_the_model_blind_to_a_fixed_gain_per_band(self):
        self.assertTrue(torch.allclose(self.logits(True, 0.0), self.logits(True, 1.0), atol=1e-4))
        self.assertFalse(torch.allclose(self.logits(False, 0.0), self.logits(False, 1.0), atol=1e-4))


class Arousal(unittest.TestCase):
    def test_mapping_covers_every_corpus_label_and_drops_only_disgust(self):
        for raw in ("angry", "fear", "happy", "surprise"):
            self.assertEqual(corpora.AROUSAL_MAP[raw], "high")
        self.assertEqual(corpora.AROUSAL_MAP["sad"], "low")
        self.assertEqual(corpora.AROUSAL_MAP["calm"], "low")
        self.assertEqual(corpora.AROUSAL_MAP["neutral"], "neutral")
        self.assertIsNone(corpora.AROUSAL_MAP["disgust"])
        self.assertEqual([corpora.AROUSAL_MAP[v] for v in "012"], corpora.AROUSAL_LABELS)
        self.assertEqual(set(corpora.LABEL_MAP) - {"0", "1", "2"}, set(corpora.AROUSAL_MAP) - {"0", "1", "2"})

    def test_sampling_balances_the_three_levels_within_a_corpus(self):
        clips = ([corpora.Clip("baved", "x", "s", "M", "high", "2")] * 30
                 + [corpora.Clip("baved", "x", "s", "M", "low", "0")] * 10)
        w = train.sampling_weights(clips, label_power=0.0, labels=corpora.AROUSAL_LABELS)
        self.assertAlmostEqual(w[:30].sum(), w[30:].sum())

    def test_split_by_clips_gives_parts_their_share_of_clips_not_of_speakers(self):
        counts = {"big1": 300, "big2": 300, "big3": 300} | {f"s{i}": 20 for i in range(30)}
        order = sorted(counts)
        parts = corpora._split_by_clips(order, counts)
        total = sum(counts.values())
        share = {p: sum(n for s, n in counts.items() if parts[s] == p) / total for p in ("train", "dev", "test")}
        self.assertAlmostEqual(share["test"], 0.2, delta=0.05)
        self.assertAlmostEqual(share["dev"], 0.15, delta=0.05)
        self.assertEqual(set(parts), set(counts))


@unittest.skipUnless(os.path.isdir(corpora.DATA), f"needs the shared data folder {corpora.DATA}")
class Splits(unittest.TestCase):
    def test_committed_split_is_the_seeded_one(self):
        import csv
        with open(corpora.SPLITS) as f:
            have = [tuple(r) for r in list(csv.reader(f))[1:]]
        self.assertEqual(have, corpora.compute_splits())

    def test_baved_levels_come_from_file_names_and_every_speaker_has_a_split(self):
        clips = corpora.clips("baved", "arousal")
        self.assertEqual(len(clips), 1935)
        self.assertEqual({c.label for c in clips}, set(corpora.AROUSAL_LABELS))
        parts = {corpora.split_of("baved", c.speaker) for c in clips}
        self.assertEqual(parts, {"train", "dev", "test"})


class General(unittest.TestCase):
    """general6: the features it hears and the normaliser the runtime mirrors."""

    def setUp(self):
        # The DSP tests use steady synthetic tones, which have no quieter stretch: the shipped noise-floor gate
        # (tested on its own below) would count none of their frames as speech. They check the features under
        # the plain peak gate.
        import general
        self._gate = general.GATE
        general.GATE = "peak"

    def tearDown(self):
        import general
        general.GATE = self._gate

    def test_the_noise_floor_gate_leaves_room_noise_out_of_the_statistics(self):
        import general
        rs = np.random.RandomState(0)
        t = np.arange(16000) / 16000.0
        tone = 0.3 * np.sign(np.sin(2 * np.pi * 150 * t))
        noise = rs.randn(32000) * 0.3 * 10 ** (-30 / 20)  # room noise 30 dB down: inside the 35 dB peak gate
        x = noise.copy()
        x[8000:24000] += tone
        x = torch.from_numpy(x.astype(np.float32))[None]
        active = general.FEATURE_NAMES.index("active_ratio")
        got = {}
        for gate in ("peak", "floor"):  # tearDown restores the gate
            general.GATE = gate
            with torch.no_grad():
                got[gate] = general.Functionals().eval()(x)[0].numpy()[active]
        self.assertGreater(got["peak"], 0.95)  # the noise reads as speech
        self.assertAlmostEqual(got["floor"], 0.5, delta=0.05)  # only the tone's half

    def test_pitch_feature_finds_the_period_of_a_voiced_tone(self):
        import general
        fx = general.Functionals().eval()
        t = np.arange(32000) / 16000.0
        for f0 in (110.0, 220.0):
            x = (0.3 * np.sign(np.sin(2 * np.pi * f0 * t))).astype(np.float32)  # rich in harmonics
            with torch.no_grad():
                feats = fx(torch.from_numpy(x)[None])[0].numpy()
            got = np.exp(feats[general.FEATURE_NAMES.index("f0_mean")])
            self.assertLess(abs(got - f0) / f0, 0.05, f"{f0} Hz read as {got:.1f} Hz")
            self.assertGreater(feats[general.FEATURE_NAMES.index("voiced_ratio")], 0.9)

    def test_features_hear_the_telephone_band_only_and_level_shifts_the_bands(self):
        import general
        fx = general.Functionals().eval()
        t = np.arange(32000) / 16000.0
        low = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
        high = low + (0.1 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
        with torch.no_grad():
            a, b, c = (fx(torch.from_numpy(v)[None])[0].numpy() for v in (low, high, 2 * low))
        energy = general.FEATURE_NAMES.index("energy_mean")
        self.assertLess(abs(b[energy] - a[energy]), 0.01)  # a 6 kHz tone as loud adds (almost) nothing
        self.assertAlmostEqual(c[energy] - a[energy], np.log(4.0), places=3)
        band = int(np.argmax(a[:40]))
        self.assertAlmostEqual(c[band] - a[band], np.log(4.0), places=3)  # level is left to the normaliser

    def test_the_model_computes_the_chosen_groups_as_the_cache_holds_them(self):
        import general
        x = torch.from_numpy((0.1 * np.random.RandomState(1).randn(24000)).astype(np.float32))[None]
        with torch.no_grad():
            chosen = general.Functionals().eval()(x)[0].numpy()
            every = general.Functionals(general.FEATURE_GROUPS).eval()(x)[0].numpy()
        self.assertEqual(len(chosen), general.D)
        self.assertEqual(len(every), len(general.ALL_NAMES))
        np.testing.assert_array_equal(chosen, every[general.columns(general.GROUPS)])

    def test_contour_features_follow_a_rising_tone_and_its_bursts(self):
        import general
        fx = general.Functionals(general.FEATURE_GROUPS).eval()
        t = np.arange(32000) / 16000.0
        rising = 0.3 * np.sign(np.sin(2 * np.pi * (120.0 * t + 30.0 * t * t)))  # 120 -> 240 Hz over 2 s
        gate = (np.floor(t * 4.0) % 2 == 0).astype(np.float64)  # 4 bursts of 250 ms
        with torch.no_grad():
            a, b = (fx(torch.from_numpy(v.astype(np.float32))[None])[0].numpy() for v in (rising, 0.3 * np.sign(
                np.sin(2 * np.pi * 150.0 * t)) * gate))
        name = general.ALL_NAMES.index
        self.assertAlmostEqual(a[name("f0_slope")], np.log(2.0) / 2.0, delta=0.1)  # log-Hz per second
        self.assertAlmostEqual(b[name("f0_slope")], 0.0, delta=0.02)
        self.assertAlmostEqual(b[name("voicing_onset_rate")], 3.0 / 1.0, delta=0.5)  # 3 onsets after the first, 1 s voiced
        # 3 gaps of 250 ms in 1.75 s (0.43), less the 40 ms frames that straddle a burst's edges
        self.assertGreater(b[name("pause_ratio")], 0.3)
        self.assertLess(b[name("pause_ratio")], 0.43)
        self.assertAlmostEqual(a[name("pause_ratio")], 0.0, delta=0.02)

    def test_weights_give_crema_d_its_multiple_and_balance_labels_within_each_corpus(self):
        import general
        c = np.array(["crema-d"] * 6 + ["nemo"] * 3 + ["nemo"] * 1)
        y = np.array([0, 1, 1, 2, 2, 2, 0, 0, 0, 5])
        w = general.weights(c, y, crema_weight=8.0)
        for cc in ("crema-d", "nemo"):
            m = c == cc
            per_label = [w[m & (y == k)].sum() for k in np.unique(y[m])]
            np.testing.assert_allclose(per_label, per_label[0])  # every label of a corpus weighs the same
        crema, nemo = w[c == "crema-d"].sum(), w[c == "nemo"].sum()
        self.assertAlmostEqual(crema / nemo, 8.0 * np.sqrt(6) / np.sqrt(4), places=6)  # 8 x its sqrt share
        self.assertAlmostEqual(w.mean(), 1.0, places=9)

    def test_runtime_normaliser_starts_from_the_prior_and_learns_the_speaker(self):
        import general
        prior = (np.array([1.0, -2.0]), np.array([4.0, 0.25]))
        z = general.runtime_zscore(np.array([[3.0, -2.0]]), prior, 3)[0]
        self.assertAlmostEqual(z[0], 1.5 / np.sqrt(3.75), places=6)  # same case as the C# SpeakerAdaptationTests
        self.assertAlmostEqual(z[1], 0.0, places=6)
        rng = np.random.default_rng(0)
        X = np.stack([10 + rng.uniform(-1, 1, 20000), np.full(20000, -2.0)], 1)
        z = general.runtime_zscore(X, prior, 3)
        self.assertLess(abs(z[-2000:, 0].mean()), 0.05)
        self.assertLess(abs(z[-2000:, 0].std() - 1), 0.05)

    def test_causal_statistics_only_use_the_clips_so_far(self):
        import general
        X = np.array([[0.0], [10.0], [0.0], [10.0]])
        prior = (np.array([5.0]), np.array([25.0]))
        speakers = np.array(["a", "a", "b", "b"])
        order = np.array([0, 1])
        np.random.RandomState(0).shuffle(order)  # the order causal_zscore gives speaker a's clips
        z1 = general.causal_zscore(X, speakers, prior, 1, seed=0)
        X2 = X.copy()
        X2[order[1]] = 1000.0  # a's later clip
        z2 = general.causal_zscore(X2, speakers, prior, 1, seed=0)
        self.assertEqual(z1[order[0], 0], z2[order[0], 0])  # the earlier clip did not see it
        self.assertNotEqual(z1[order[1], 0], z2[order[1], 0])
        np.testing.assert_array_equal(z1[2:], z2[2:])  # another speaker is untouched

    def test_vocal_tract_warp_moves_the_mel_bands_and_leaves_pitch(self):
        import coldstart
        import general
        t = np.arange(16000) / 16000
        tone = torch.tensor((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))[None]
        names = general.ALL_NAMES
        plain = general.Functionals(general.FEATURE_GROUPS).eval()
        with torch.no_grad():
            same = coldstart.vtlp_functionals(1.0)(tone)[0].numpy()
            base = plain(tone)[0].numpy()
            up = coldstart.vtlp_functionals(1.1)(tone)[0].numpy()
        np.testing.assert_allclose(same, base, rtol=1e-5, atol=1e-5)
        mel = [names.index(f"mel{i}_mean") for i in range(40)]
        self.assertGreater(int(np.argmax(up[mel])), int(np.argmax(base[mel])))  # 1 kHz is read as 1.1 kHz
        f0 = names.index("f0_mean")
        self.assertEqual(up[f0], base[f0])


class ArousalAdapted(unittest.TestCase):
    """arousal3a: the baseline that reads levels off general6's emotions, and its three-level head."""

    def test_levels_from_emotions_sum_each_levels_emotions_and_leave_disgust_out(self):
        import arousal_adapted as aa
        # angry, disgust, fear, happy, neutral, sad
        p = np.array([[0.1, 0.4, 0.1, 0.1, 0.2, 0.1]])
        lv = np.exp(aa.level_logits(np.log(p)))
        np.testing.assert_allclose(lv[0], [0.1, 0.2, 0.3], atol=1e-6)  # low = sad, neutral, high = the rest
        self.assertLess(lv.sum(), 0.61)  # disgust's 0.4 counts for no level

    def test_fit_gives_a_head_with_one_output_per_level(self):
        import arousal_adapted as aa
        import general
        rs = np.random.RandomState(0)
        y = np.repeat([0, 1, 2], 40)
        Z = rs.normal(size=(120, general.D)) + y[:, None] * 2.0  # separable by level
        net = aa.fit(Z, y, np.ones(len(y)))
        logits = general.logits_of(net, Z)
        self.assertEqual(logits.shape, (120, 3))
        self.assertGreater(float(np.mean(logits.argmax(1) == y)), 0.9)
        # general's own fit still trains a six-label head
        self.assertEqual(general.logits_of(general.fit(Z, y, np.ones(len(y)), epochs=1), Z).shape, (120, 6))



if __name__ == "__main__":
    unittest.main()