"""ONNX export and the independent check through onnxruntime-node (no Python onnxruntime here)."""
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ORT_TGZ = os.path.join(ROOT, ".cache", "npm", "onnxruntime-node-1.30.0.tgz")
ORT_DIR = os.environ.get("ORT_NODE_DIR", "/tmp/ortnode/package")


def export_onnx(model, path, n_samples=32000, opset=17, input_name="input_values", output_name="logits",
                example=None):
    """Exports model(input_values [batch, samples]) -> logits [batch, labels] with dynamic axes (names and
    example input overridable, e.g. for a head that takes features), then runs onnx.checker on the file."""
    import onnx
    model.eval()
    x = torch.randn(2, n_samples) * 0.1 if example is None else example
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    import warnings
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), path, opset_version=opset, input_names=[input_name],
                          output_names=[output_name], do_constant_folding=True,
                          dynamic_axes={input_name: {0: "batch"} | ({1: "samples"} if example is None else {}),
                                        output_name: {0: "batch"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return m


def node_available():
    if shutil.which("node") is None:
        return False
    if os.path.exists(os.path.join(ORT_DIR, "bin")):
        return True
    if not os.path.exists(ORT_TGZ):
        return False
    os.makedirs(os.path.dirname(ORT_DIR), exist_ok=True)
    with tarfile.open(ORT_TGZ) as t:
        t.extractall(os.path.dirname(ORT_DIR))
    return os.path.exists(os.path.join(ORT_DIR, "bin"))


def run_node(onnx_path, inputs, input_name="input_values", output_name="logits"):
    """Runs each float32 array [b, n] in `inputs` through onnxruntime-node; returns the output arrays."""
    if not node_available():
        raise RuntimeError("node or onnxruntime-node tarball not available")
    with tempfile.TemporaryDirectory() as d:
        items = []
        for i, x in enumerate(inputs):
            x = np.ascontiguousarray(x, dtype="<f4")
            f = os.path.join(d, f"in{i}.f32")
            x.tofile(f)
            items.append({"file": f, "shape": list(x.shape), "out": os.path.join(d, f"out{i}.f32")})
        job = os.path.join(d, "job.json")
        with open(job, "w") as fh:
            json.dump({"model": os.path.abspath(onnx_path), "input": input_name, "output": output_name,
                       "items": items}, fh)
        env = dict(os.environ, ORT_NODE_DIR=ORT_DIR)
        env.pop("LD_PRELOAD", None)
        r = subprocess.run(["node", os.path.join(HERE, "ort_node.js"), job], capture_output=True, text=True,
                           env=env)
        if r.returncode != 0:
            raise RuntimeError("onnxruntime-node failed: " + r.stderr[-2000:])
        outs = []
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        for it, info in zip(items, lines):
            outs.append(np.fromfile(it["out"], dtype="<f4").reshape(info["dims"]))
        return outs


def to_fp16(path, input_name="input_values", output_name="logits"):
    """Rewrites the ONNX file at `path` to compute in float16 with float32 input and output: every float
    initializer and constant becomes float16, every cast to float casts to float16, and a Cast at each end
    keeps the interface (and the runtime's manifest checks) as they were. Half the weights' size; on CUDA,
    tensor-core speed. Returns the model."""
    import onnx
    from onnx import TensorProto, numpy_helper

    m = onnx.load(path)
    g = m.graph

    def half(t):
        a = numpy_helper.to_array(t)
        info = np.finfo(np.float16)
        h = numpy_helper.from_array(np.clip(a, info.min, info.max).astype(np.float16), t.name)
        return h

    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(half(t))
    for node in g.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(half(attr.t))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    # The interface stays float32: a Cast after the input, one before the output.
    inner_in, inner_out = input_name + "_fp16", output_name + "_fp16"
    for node in g.node:
        node.input[:] = [inner_in if x == input_name else x for x in node.input]
        node.output[:] = [inner_out if x == output_name else x for x in node.output]
    g.node.insert(0, onnx.helper.make_node("Cast", [input_name], [inner_in], to=TensorProto.FLOAT16,
                                           name="input_to_fp16"))
    g.node.append(onnx.helper.make_node("Cast", [inner_out], [output_name], to=TensorProto.FLOAT,
                                        name="output_to_fp32"))
    # Intermediate types are inferred again by the runtime.
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return m
