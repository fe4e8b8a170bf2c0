"""Tests for the Hugging Face converter (plain unittest; Python tooling only, not part of the C# run).

    /usr/bin/python3 -m unittest tools/model/test_convert.py -v

Writes small randomly initialised checkpoints in exactly Hugging Face's directory layout and naming
(config.json, preprocessor_config.json, and pytorch_model.bin via torch.save of the state dict or
model.safetensors via our own writer), converts them, and checks the ONNX logits from
onnxruntime-node against PyTorch within 1e-4.
"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import convert_hf  # noqa: E402
import onnx_util  # noqa: E402
import safetensors_io  # noqa: E402
import wav2vec2  # noqa: E402

BASE = {
    "conv_dim": [32, 32, 32], "conv_kernel": [10, 3, 3], "conv_stride": [5, 2, 2], "conv_bias": False,
    "feat_extract_norm": "group", "feat_extract_activation": "gelu", "hidden_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
    "layer_norm_eps": 1e-5, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4,
    "do_stable_layer_norm": False, "classifier_proj_size": 16, "use_weighted_layer_sum": False,
    "id2label": {"0": "ang", "1": "Happiness", "2": "neu", "3": "SAD", "4": "calm"},
    "label2id": {"ang": 0, "Happiness": 1, "neu": 2, "SAD": 3, "calm": 4},
    "mask_time_prob": 0.05,
}


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif p.dim() == 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if "norm" in name and name.endswith("weight") else 0.0))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / max(1, p[0].numel()) ** 0.5))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def write_checkpoint(d, cfg_over, head, fmt, seed, parametrizations=False, plain_pos_weight=False,
                     do_normalize=True):
    cfg_d = dict(BASE, **cfg_over)
    is_hubert = cfg_d.get("model_type") == "hubert"
    if head == "speech":
        arch = "Wav2Vec2ForSpeechClassification"
    else:
        arch = "HubertForSequenceClassification" if is_hubert else "Wav2Vec2ForSequenceClassification"
    cfg_d["architectures"] = [arch]
    cfg_d.setdefault("model_type", "wav2vec2")
    cfg = wav2vec2.Config(cfg_d)
    model = wav2vec2.SequenceClassifier(cfg, head=head)
    randomize(model, seed)
    model.eval()
    sd = model.hf_state_dict(parametrizations=parametrizations)
    prefix = "hubert" if is_hubert else "wav2vec2"
    sd[f"{prefix}.masked_spec_embed"] = torch.rand(cfg.hidden_size)  # present in real checkpoints, ignored
    if plain_pos_weight:
        w = model.backbone.encoder.pos_conv_embed.conv.weight().detach().clone()
        for k in [k for k in sd if "pos_conv_embed.conv.weight_" in k]:
            del sd[k]
        sd[f"{prefix}.encoder.pos_conv_embed.conv.weight"] = w
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg_d, f, indent=2)
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump({"do_normalize": do_normalize, "feature_extractor_type": "Wav2Vec2FeatureExtractor",
                   "feature_size": 1, "padding_side": "right", "padding_value": 0.0,
                   "return_attention_mask": False, "sampling_rate": 16000}, f, indent=2)
    if fmt == "bin":
        torch.save(sd, os.path.join(d, "pytorch_model.bin"))
    else:
        safetensors_io.save(sd, os.path.join(d, "model.safetensors"), {"format": "pt"})
    return model


CASES = {
    "w2v2_group_postln_bin": dict(cfg={}, head="sequence", fmt="bin"),
    "w2v2_group_postln_safetensors_param": dict(cfg={}, head="sequence", fmt="safetensors", parametrizations=True),
    "w2v2_layer_stable_weighted_bin": dict(
        cfg={"feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True,
             "use_weighted_layer_sum": True, "num_conv_pos_embeddings": 15}, head="sequence", fmt="bin",
        parametrizations=True),
    "w2v2_speech_head_layer_safetensors": dict(
        cfg={"feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True,
             "pooling_mode": "mean", "final_dropout": 0.1}, head="speech", fmt="safetensors"),
    "w2v2_speech_head_group_bin": dict(cfg={"pooling_mode": "mean"}, head="speech", fmt="bin"),
    "hubert_group_safetensors": dict(cfg={"model_type": "hubert", "feat_proj_layer_norm": False},
                                     head="sequence", fmt="safetensors"),
    "hubert_layer_stable_bin_plainpos": dict(
        cfg={"model_type": "hubert", "feat_extract_norm": "layer", "do_stable_layer_norm": True,
             "conv_bias": True}, head="sequence", fmt="bin", plain_pos_weight=True),
    "hubert_conv_pos_batch_norm": dict(cfg={"model_type": "hubert", "conv_pos_batch_norm": True,
                                            "hidden_act": "gelu_new"}, head="sequence", fmt="safetensors"),
}


class SafetensorsTest(unittest.TestCase):
    def test_round_trip(self):
        t = {"a": torch.randn(3, 4), "b": torch.arange(6).reshape(2, 3), "c": torch.randn(5).half()}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            safetensors_io.save(t, p, {"format": "pt"})
            with open(p, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                header = json.loads(f.read(n))
            self.assertEqual(header["a"]["dtype"], "F32")
            self.assertEqual(header["a"]["shape"], [3, 4])
            u = safetensors_io.load(p)
            for k in t:
                self.assertTrue(torch.equal(t[k], u[k]), k)


class LabelTest(unittest.TestCase):
    def test_aliases(self):
        self.assertEqual([convert_hf.normalize_label(x) for x in
                          ["Anger", "angry", "fearful", "joy", "happiness", "calm", "Surprised", "sadness", "disgust"]],
                         ["angry", "angry", "fear", "happy", "happy", "calm", "surprise", "sad", "disgust"])


@unittest.skipUnless(onnx_util.node_available(), "node + onnxruntime-node tarball needed")
class ConvertTest(unittest.TestCase):
    def _run(self, key, seed):
        c = CASES[key]
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "ckpt"), os.path.join(d, "out")
            ref = write_checkpoint(src, c["cfg"], c["head"], c["fmt"], seed,
                                   parametrizations=c.get("parametrizations", False),
                                   plain_pos_weight=c.get("plain_pos_weight", False))
            res = convert_hf.convert(src, out, model_id=key)
            with open(os.path.join(out, "manifest.json")) as f:
                man = json.load(f)
            self.assertEqual(man["labels"], ["angry", "happy", "neutral", "sad", "calm"])
            self.assertEqual(man["normalization"], "zero_mean_unit_var")
            self.assertEqual(man["input"], "input_values")
            self.assertEqual(man["output"], "logits")
            self.assertEqual(man["sample_rate"], 16000)
            # the converted graph against the model we saved (not the reloaded one)
            rng = np.random.default_rng(seed)
            xs = [rng.standard_normal((3, 8000)).astype(np.float32), rng.standard_normal((1, 12345)).astype(np.float32)]
            got = onnx_util.run_node(os.path.join(out, "model.onnx"), xs)
            with torch.no_grad():
                want = [ref(torch.from_numpy(x)).numpy() for x in xs]
            for g, w in zip(got, want):
                self.assertEqual(g.shape, w.shape)
                np.testing.assert_allclose(g, w, atol=1e-4, rtol=0)
            self.assertLess(res["max_abs_diff"], 1e-4)
            self.assertGreater(float(np.abs(want[0]).max()), 1e-3)  # not trivially zero


for _i, _k in enumerate(CASES):
    setattr(ConvertTest, f"test_{_k}", (lambda k, s: lambda self: self._run(k, s))(_k, 100 + _i))


@unittest.skipUnless(onnx_util.node_available(), "node + onnxruntime-node tarball needed")
class Fp16Test(unittest.TestCase):
    def test_fp16_graph_keeps_float32_io_halves_the_weights_and_stays_close(self):
        import onnx
        c = CASES["w2v2_group_postln_safetensors_param"]
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "ckpt")
            ref = write_checkpoint(src, c["cfg"], c["head"], c["fmt"], 7, parametrizations=True)
            full = convert_hf.convert(src, os.path.join(d, "fp32"), model_id="x")
            half = convert_hf.convert(src, os.path.join(d, "fp16"), model_id="x", fp16=True)
            with open(os.path.join(d, "fp16", "manifest.json")) as f:
                man = json.load(f)
            self.assertEqual(man["precision"], "fp16")
            self.assertEqual(man["parity"]["max_abs_logit_diff"], half["max_abs_diff"])
            m = onnx.load(os.path.join(d, "fp16", "model.onnx"))
            self.assertEqual(m.graph.input[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
            self.assertEqual(m.graph.output[0].type.tensor_type.elem_type, onnx.TensorProto.FLOAT)
            kinds = {t.data_type for t in m.graph.initializer}
            self.assertNotIn(onnx.TensorProto.FLOAT, kinds)
            self.assertIn(onnx.TensorProto.FLOAT16, kinds)
            self.assertLess(os.path.getsize(os.path.join(d, "fp16", "model.onnx")),
                            0.7 * os.path.getsize(os.path.join(d, "fp32", "model.onnx")))  # graph overhead of a tiny model
            # float16 rounding shows, within what half precision allows on these logits
            rng = np.random.default_rng(7)
            x = rng.standard_normal((2, 8000)).astype(np.float32)
            x = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-7)
            got = onnx_util.run_node(os.path.join(d, "fp16", "model.onnx"), [x])[0]
            with torch.no_grad():
                want = ref(torch.from_numpy(x)).numpy()
            scale = float(np.abs(want).max())
            self.assertLess(float(np.abs(got - want).max()), 0.02 * scale + 1e-3)
            self.assertGreater(half["max_abs_diff"], full["max_abs_diff"])
            np.testing.assert_array_equal(got.argmax(1), want.argmax(1))


class ModelMathTest(unittest.TestCase):
    def test_weight_norm_matches_torch(self):
        cfg = wav2vec2.Config(BASE)
        pe = wav2vec2.PositionalConvEmbedding(cfg)
        conv = torch.nn.Conv1d(32, 32, 16, padding=8, groups=4)
        conv = torch.nn.utils.weight_norm(conv, name="weight", dim=2)
        with torch.no_grad():
            pe.conv.weight_g.copy_(conv.weight_g)
            pe.conv.weight_v.copy_(conv.weight_v)
            pe.conv.bias.copy_(conv.bias)
            x = torch.randn(2, 50, 32)
            y = torch.nn.functional.gelu(conv(x.transpose(1, 2))[:, :, :-1]).transpose(1, 2)
            torch.testing.assert_close(pe(x), y)

    def test_conv_output_length(self):
        cfg = wav2vec2.Config(BASE)
        m = wav2vec2.SequenceClassifier(cfg).eval()
        with torch.no_grad():
            last, states = m.backbone(torch.randn(1, 16000))
        n = 16000
        for k, s in zip(cfg.conv_kernel, cfg.conv_stride):
            n = (n - k) // s + 1
        self.assertEqual(last.shape, (1, n, 32))
        self.assertEqual(len(states), cfg.num_hidden_layers + 1)


if __name__ == "__main__":
    unittest.main()
