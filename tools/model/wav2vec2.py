"""Wav2Vec2 / HuBERT sequence classifiers in plain PyTorch (no transformers library).

Module and parameter names follow Hugging Face transformers exactly, so a checkpoint of
`Wav2Vec2ForSequenceClassification`, `HubertForSequenceClassification` or the community
`Wav2Vec2ForSpeechClassification` head loads unchanged:

    wav2vec2.feature_extractor.conv_layers.N.conv / .layer_norm
    wav2vec2.feature_projection.layer_norm / .projection
    wav2vec2.encoder.pos_conv_embed.conv  (weight_g/weight_v or parametrizations.weight.original0/1)
    wav2vec2.encoder.layer_norm
    wav2vec2.encoder.layers.N.attention.{q,k,v,out}_proj, .layer_norm,
        .feed_forward.intermediate_dense / .output_dense, .final_layer_norm
    projector, classifier                       (standard head)
    classifier.dense, classifier.out_proj       (community speech-classification head)
    layer_weights                               (use_weighted_layer_sum)

HuBERT uses the prefix `hubert.` and may lack feature_projection.layer_norm (feat_proj_layer_norm=false)
or use a BatchNorm before the positional conv (conv_pos_batch_norm=true).  Inference only: no attention
mask (the HF processors of these models do not return one), dropout off.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def activation(name):
    name = (name or "gelu").lower()
    if name == "gelu":
        return nn.GELU()
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return nn.GELU(approximate="tanh")
    if name == "relu":
        return nn.ReLU()
    if name in ("swish", "silu"):
        return nn.SiLU()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unsupported activation {name!r}")


class Config:
    """The config.json fields this implementation reads, with transformers' defaults."""

    def __init__(self, d=None):
        d = dict(d or {})
        self.raw = d
        self.model_type = d.get("model_type", "wav2vec2")
        self.conv_dim = list(d.get("conv_dim", [512] * 7))
        self.conv_kernel = list(d.get("conv_kernel", [10, 3, 3, 3, 3, 2, 2]))
        self.conv_stride = list(d.get("conv_stride", [5, 2, 2, 2, 2, 2, 2]))
        self.conv_bias = bool(d.get("conv_bias", False))
        self.feat_extract_norm = d.get("feat_extract_norm", "group")
        self.feat_extract_activation = d.get("feat_extract_activation", "gelu")
        self.hidden_size = int(d.get("hidden_size", 768))
        self.num_hidden_layers = int(d.get("num_hidden_layers", 12))
        self.num_attention_heads = int(d.get("num_attention_heads", 12))
        self.intermediate_size = int(d.get("intermediate_size", 3072))
        self.hidden_act = d.get("hidden_act", "gelu")
        self.layer_norm_eps = float(d.get("layer_norm_eps", 1e-5))
        self.num_conv_pos_embeddings = int(d.get("num_conv_pos_embeddings", 128))
        self.num_conv_pos_embedding_groups = int(d.get("num_conv_pos_embedding_groups", 16))
        self.conv_pos_batch_norm = bool(d.get("conv_pos_batch_norm", False))
        self.do_stable_layer_norm = bool(d.get("do_stable_layer_norm", False))
        self.feat_proj_layer_norm = bool(d.get("feat_proj_layer_norm", True))
        self.classifier_proj_size = int(d.get("classifier_proj_size", 256))
        self.use_weighted_layer_sum = bool(d.get("use_weighted_layer_sum", False))
        self.pooling_mode = d.get("pooling_mode", "mean")
        id2label = d.get("id2label")
        if id2label:
            self.id2label = {int(k): v for k, v in id2label.items()}
        else:
            n = int(d.get("num_labels", 2))
            self.id2label = {i: f"LABEL_{i}" for i in range(n)}
        self.num_labels = len(self.id2label)
        if self.feat_extract_norm not in ("group", "layer"):
            raise ValueError(f"feat_extract_norm must be 'group' or 'layer', got {self.feat_extract_norm!r}")
        if d.get("add_adapter"):
            raise ValueError("add_adapter=true (conv adapter after the encoder) is not supported")


# ------------------------------------------------------------------------------ feature encoder

class ConvLayer(nn.Module):
    """One feature-encoder layer: conv, optional norm ('group' on layer 0 only, or 'layer'), activation."""

    def __init__(self, cfg, i):
        super().__init__()
        cin = cfg.conv_dim[i - 1] if i > 0 else 1
        cout = cfg.conv_dim[i]
        self.conv = nn.Conv1d(cin, cout, cfg.conv_kernel[i], stride=cfg.conv_stride[i], bias=cfg.conv_bias)
        self.norm_kind = None
        if cfg.feat_extract_norm == "layer":
            self.layer_norm = nn.LayerNorm(cout, elementwise_affine=True)
            self.norm_kind = "layer"
        elif i == 0:
            self.layer_norm = nn.GroupNorm(num_groups=cout, num_channels=cout, affine=True)
            self.norm_kind = "group"
        self.activation = activation(cfg.feat_extract_activation)

    def forward(self, x):
        x = self.conv(x)
        if self.norm_kind == "layer":
            x = self.layer_norm(x.transpose(-2, -1)).transpose(-2, -1)
        elif self.norm_kind == "group":
            x = self.layer_norm(x)
        return self.activation(x)


class FeatureEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.conv_layers = nn.ModuleList([ConvLayer(cfg, i) for i in range(len(cfg.conv_dim))])

    def forward(self, input_values):
        x = input_values[:, None]
        for layer in self.conv_layers:
            x = layer(x)
        return x


class FeatureProjection(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.has_norm = cfg.feat_proj_layer_norm
        if self.has_norm:
            self.layer_norm = nn.LayerNorm(cfg.conv_dim[-1], eps=cfg.layer_norm_eps)
        self.projection = nn.Linear(cfg.conv_dim[-1], cfg.hidden_size)

    def forward(self, x):
        if self.has_norm:
            x = self.layer_norm(x)
        return self.projection(x)


# ------------------------------------------------------------------------------------ encoder

class WeightNormConv1d(nn.Module):
    """Grouped Conv1d whose weight is weight_g * weight_v / ||weight_v|| with the norm taken over
    every dimension except dim 2 (torch.nn.utils.weight_norm(conv, dim=2))."""

    def __init__(self, channels, kernel, groups):
        super().__init__()
        self.padding = kernel // 2
        self.groups = groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.empty(channels, channels // groups, kernel))
        self.bias = nn.Parameter(torch.zeros(channels))
        nn.init.kaiming_normal_(self.weight_v)
        with torch.no_grad():
            self.weight_g.copy_(self.weight_v.norm(dim=(0, 1), keepdim=True))

    def weight(self):
        v = self.weight_v
        return self.weight_g * v / v.norm(dim=(0, 1), keepdim=True)

    def forward(self, x):
        return F.conv1d(x, self.weight(), self.bias, padding=self.padding, groups=self.groups)


class PlainConv1d(nn.Conv1d):
    pass


class PositionalConvEmbedding(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        k = cfg.num_conv_pos_embeddings
        if cfg.conv_pos_batch_norm:
            self.batch_norm = nn.BatchNorm1d(cfg.hidden_size)
            self.conv = PlainConv1d(cfg.hidden_size, cfg.hidden_size, k, padding=k // 2,
                                    groups=cfg.num_conv_pos_embedding_groups)
        else:
            self.batch_norm = None
            self.conv = WeightNormConv1d(cfg.hidden_size, k, cfg.num_conv_pos_embedding_groups)
        self.remove = 1 if k % 2 == 0 else 0
        self.activation = activation(cfg.feat_extract_activation)

    def forward(self, x):
        x = x.transpose(1, 2)
        if self.batch_norm is not None:
            x = self.batch_norm(x)
        x = self.conv(x)
        if self.remove:
            x = x[:, :, :-self.remove]
        return self.activation(x).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = d // heads
        if self.head_dim * heads != d:
            raise ValueError("hidden_size must be divisible by num_attention_heads")
        self.scaling = self.head_dim ** -0.5
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        q = (self.q_proj(x) * self.scaling).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)), dim=-1)
        y = torch.matmul(a, v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(y)


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.intermediate_dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.act = activation(cfg.hidden_act)
        self.output_dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.output_dense(self.act(self.intermediate_dense(x)))


class EncoderLayer(nn.Module):
    """Post-LN (base models) or pre-LN 'stable layer norm' (large / XLS-R models)."""

    def __init__(self, cfg):
        super().__init__()
        self.stable = cfg.do_stable_layer_norm
        self.attention = Attention(cfg.hidden_size, cfg.num_attention_heads)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.feed_forward = FeedForward(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        if self.stable:
            x = x + self.attention(self.layer_norm(x))
            return x + self.feed_forward(self.final_layer_norm(x))
        x = self.layer_norm(x + self.attention(x))
        return self.final_layer_norm(x + self.feed_forward(x))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.stable = cfg.do_stable_layer_norm
        self.pos_conv_embed = PositionalConvEmbedding(cfg)
        self.layer_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x):
        """Returns (last_hidden_state, hidden_states) with hidden_states laid out as transformers'
        output_hidden_states: the input of every layer, then the final output."""
        x = x + self.pos_conv_embed(x)
        if not self.stable:
            x = self.layer_norm(x)
        states = []
        for layer in self.layers:
            states.append(x)
            x = layer(x)
        if self.stable:
            x = self.layer_norm(x)
        states.append(x)
        return x, states


class Wav2Vec2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.feature_extractor = FeatureEncoder(cfg)
        self.feature_projection = FeatureProjection(cfg)
        self.encoder = Encoder(cfg)

    def forward(self, input_values):
        feats = self.feature_extractor(input_values).transpose(1, 2)
        return self.encoder(self.feature_projection(feats))


# ---------------------------------------------------------------------------------------- heads

class SpeechClassificationHead(nn.Module):
    """Community head (Wav2Vec2ForSpeechClassification): dense -> tanh -> out_proj."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.out_proj = nn.Linear(cfg.hidden_size, cfg.num_labels)

    def forward(self, x):
        return self.out_proj(torch.tanh(self.dense(x)))


class SequenceClassifier(nn.Module):
    """head='sequence': HF Wav2Vec2ForSequenceClassification / HubertForSequenceClassification
    (optional weighted layer sum -> projector -> mean over time -> classifier).
    head='speech': community Wav2Vec2ForSpeechClassification (pool over time with pooling_mode ->
    classifier.dense -> tanh -> classifier.out_proj)."""

    def __init__(self, cfg, head="sequence", prefix=None):
        super().__init__()
        self.cfg = cfg
        self.head = head
        self.prefix = prefix or ("hubert" if cfg.model_type == "hubert" else "wav2vec2")
        setattr(self, self.prefix, Wav2Vec2Model(cfg))
        if head == "sequence":
            if cfg.use_weighted_layer_sum:
                self.layer_weights = nn.Parameter(torch.ones(cfg.num_hidden_layers + 1) / (cfg.num_hidden_layers + 1))
            self.projector = nn.Linear(cfg.hidden_size, cfg.classifier_proj_size)
            self.classifier = nn.Linear(cfg.classifier_proj_size, cfg.num_labels)
        elif head == "speech":
            self.classifier = SpeechClassificationHead(cfg)
        else:
            raise ValueError(head)

    @property
    def backbone(self):
        return getattr(self, self.prefix)

    def forward(self, input_values):
        last, states = self.backbone(input_values)
        if self.head == "sequence":
            if self.cfg.use_weighted_layer_sum:
                w = torch.softmax(self.layer_weights, dim=-1)
                h = (torch.stack(states, dim=1) * w.view(1, -1, 1, 1)).sum(dim=1)
            else:
                h = last
            return self.classifier(self.projector(h).mean(dim=1))
        mode = self.cfg.pooling_mode
        if mode == "mean":
            pooled = last.mean(dim=1)
        elif mode == "sum":
            pooled = last.sum(dim=1)
        elif mode == "max":
            pooled = last.max(dim=1)[0]
        else:
            raise ValueError(f"unsupported pooling_mode {mode!r}")
        return self.classifier(pooled)

    # -------------------------------------------------------------------------------- loading

    def load_hf_state_dict(self, sd, strict=True):
        """Loads a transformers state dict: renames weight-norm parametrizations, drops
        masked_spec_embed and other training-only tensors.  Returns the list of ignored keys."""
        own = self.state_dict()
        out, ignored = {}, []
        for k, v in sd.items():
            nk = k
            nk = nk.replace("pos_conv_embed.conv.parametrizations.weight.original0", "pos_conv_embed.conv.weight_g")
            nk = nk.replace("pos_conv_embed.conv.parametrizations.weight.original1", "pos_conv_embed.conv.weight_v")
            if nk.endswith("pos_conv_embed.conv.weight") and not self.cfg.conv_pos_batch_norm:
                # a checkpoint saved with weight norm removed: plain weight == g * v / ||v|| with g = ||v||
                out[nk[:-len("weight")] + "weight_v"] = v
                out[nk[:-len("weight")] + "weight_g"] = v.norm(dim=(0, 1), keepdim=True)
                continue
            if nk in own:
                out[nk] = v
            else:
                ignored.append(k)
        missing = [k for k in own if k not in out]
        if strict and missing:
            raise KeyError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:5]}")
        bad = [k for k in out if tuple(out[k].shape) != tuple(own[k].shape)]
        if bad:
            raise ValueError("shape mismatch: " + ", ".join(f"{k} {tuple(out[k].shape)} != {tuple(own[k].shape)}"
                                                            for k in bad[:5]))
        self.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in out.items()},
                             strict=strict)
        unexpected = [k for k in ignored if not (k.endswith("masked_spec_embed") or "quantizer" in k
                                                  or k.startswith("lm_head") or k.endswith("num_batches_tracked"))]
        if strict and unexpected:
            raise KeyError(f"checkpoint has {len(unexpected)} tensors this model does not use, e.g. {unexpected[:5]}")
        return ignored

    def hf_state_dict(self, parametrizations=False):
        """This model's weights named as transformers saves them (for tests)."""
        sd = {}
        for k, v in self.state_dict().items():
            if parametrizations:
                k = k.replace("pos_conv_embed.conv.weight_g", "pos_conv_embed.conv.parametrizations.weight.original0")
                k = k.replace("pos_conv_embed.conv.weight_v", "pos_conv_embed.conv.parametrizations.weight.original1")
            sd[k] = v.clone()
        return sd


def detect_head(keys):
    """'speech' for the community head (classifier.dense / classifier.out_proj), else 'sequence'."""
    keys = set(keys)
    if "classifier.dense.weight" in keys and "classifier.out_proj.weight" in keys:
        return "speech"
    if "projector.weight" in keys and "classifier.weight" in keys:
        return "sequence"
    raise ValueError("no known classification head (projector+classifier or classifier.dense+out_proj)")


def detect_prefix(keys):
    for k in keys:
        if k.startswith("hubert."):
            return "hubert"
        if k.startswith("wav2vec2."):
            return "wav2vec2"
    raise ValueError("no wav2vec2. or hubert. backbone in the checkpoint")
