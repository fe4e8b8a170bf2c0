// Independent ONNX check without Python onnxruntime: runs a model through the onnxruntime-node native
// binding (onnxruntime-node 1.30.0, extracted from .cache/npm/onnxruntime-node-1.30.0.tgz).
//   node tools/model/ort_node.js job.json
// job.json: {"model": "...onnx", "input": "input_values", "output": "logits",
//            "items": [{"file": "x.f32", "shape": [b, n], "out": "y.f32"}, ...]}
// Each item's input is raw little-endian float32; the output is written the same way, and its shape
// is printed as one JSON line per item.
'use strict';
const fs = require('fs');
const path = require('path');
const pkg = process.env.ORT_NODE_DIR || '/tmp/ortnode/package';
const binding = require(path.join(pkg, 'bin/napi-v6', process.platform, process.arch, 'onnxruntime_binding.node'));

class Tensor {
  constructor(type, data, dims) {
    this.type = type; this.data = data; this.dims = dims; this.location = 'cpu';
    this.size = dims.reduce((a, b) => a * b, 1);
  }
}

binding.initOrtOnce(3, Tensor, true);
const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const session = new binding.InferenceSession();
session.loadModel(job.model, { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1 });
for (const it of job.items) {
  const buf = fs.readFileSync(it.file);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const feeds = { [job.input]: new Tensor('float32', data, it.shape) };
  const res = session.run(feeds, { [job.output]: null }, {});
  const y = res[job.output];
  fs.writeFileSync(it.out, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  console.log(JSON.stringify({ out: it.out, dims: y.dims }));
}
