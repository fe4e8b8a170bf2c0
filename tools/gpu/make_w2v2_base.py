"""Writes a random-weight wav2vec2-base sequence classifier (95 M parameters, 6 labels) as a local Hugging Face
checkpoint directory, for GPU speed runs where no pretrained checkpoint can be had. Accuracy is meaningless;
shapes, sizes and cost are those of the real model.

    python3 tools/gpu/make_w2v2_base.py OUT_DIR
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import safetensors_io  # noqa: E402
import wav2vec2  # noqa: E402

LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad"]
CONFIG = {
    "architectures": ["Wav2Vec2ForSequenceClassification"], "model_type": "wav2vec2",
    "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_bias": False, "feat_extract_norm": "group", "feat_extract_activation": "gelu", "hidden_size": 768,
    "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
    "layer_norm_eps": 1e-5, "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False, "classifier_proj_size": 256, "use_weighted_layer_sum": False,
    "id2label": {str(i): l for i, l in enumerate(LABELS)}, "label2id": {l: i for i, l in enumerate(LABELS)},
}


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    cfg = wav2vec2.Config(CONFIG)
    model = wav2vec2.SequenceClassifier(cfg, head="sequence")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0, 0.02)
    model.eval()
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"do_normalize": True, "sampling_rate": 16000, "feature_size": 1,
                   "feature_extractor_type": "Wav2Vec2FeatureExtractor"}, f, indent=2)
    safetensors_io.save(model.hf_state_dict(), os.path.join(out, "model.safetensors"), {"format": "pt"})
    print(f"{out}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main()
