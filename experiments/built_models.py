"""Models built with onnx.helper for the issue-11 measurements (random weights, seed given).

* `resnet18`: torchvision-style ResNet-18, 224x224 input, basic blocks [2, 2, 2, 2], BatchNorm
  after every Conv, 1x1 stride-2 downsampling shortcuts, global average pool, 1000-way Gemm.
* `encoder`: a BERT-base-sized Transformer encoder: hidden 768, 12 heads, sequence 128, FFN 3072,
  ``layers`` layers; per layer Q/K/V projections, Q.K^T / sqrt(64), Softmax, .V, output
  projection, residual + LayerNormalization, GELU FFN, residual + LayerNormalization.

Usage: python experiments/built_models.py OUT_DIR  (writes resnet18.onnx and bert_base_2l.onnx)
"""
from __future__ import annotations

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def const(self, arr: np.ndarray, base: str = "w") -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), n))
        return n

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out + "_n", **attrs))
        return out


def _conv_bn(b: _Builder, x: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
    w = b.const(b.rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k)))
    y = b.node("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)
    bn = [b.const(b.rng.uniform(0.5, 1.5, cout)), b.const(b.rng.normal(0, 0.1, cout)),
          b.const(b.rng.normal(0, 0.1, cout)), b.const(b.rng.uniform(0.5, 1.5, cout))]
    y = b.node("BatchNormalization", [y, *bn])
    return b.node("Relu", [y]) if relu else y


def resnet18(seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)
    x = _conv_bn(b, "x", 3, 64, 7, 2, True)
    x = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            y = _conv_bn(b, x, cin, cout, 3, stride, True)
            y = _conv_bn(b, y, cout, cout, 3, 1, False)
            short = _conv_bn(b, x, cin, cout, 1, stride, False) if stride != 1 or cin != cout else x
            x = b.node("Relu", [b.node("Add", [y, short])])
            cin = cout
    x = b.node("Flatten", [b.node("GlobalAveragePool", [x])], axis=1)
    w = b.const(b.rng.normal(0, 0.03, (1000, 512)))
    y = b.node("Gemm", [x, w, b.const(np.zeros(1000))], transB=1)
    x_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])
    g = helper.make_graph(b.nodes, "resnet18", [x_in], [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 1000])],
                          b.inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def encoder(layers: int = 2, seq: int = 128, hidden: int = 768, heads: int = 12, ffn: int = 3072,
            seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)
    dh = hidden // heads

    def linear(x: str, n_in: int, n_out: int) -> str:
        w = b.const(b.rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out)))
        return b.node("Add", [b.node("MatMul", [x, w]), b.const(b.rng.normal(0, 0.02, n_out))])

    def heads_of(x: str) -> str:        # (1, S, H) -> (1, heads, S, dh)
        r = b.node("Reshape", [x, _shape(b, [1, seq, heads, dh])])
        return b.node("Transpose", [r], perm=[0, 2, 1, 3])

    def norm(x: str) -> str:
        return b.node("LayerNormalization", [x, b.const(np.ones(hidden)), b.const(np.zeros(hidden))], axis=-1)

    x = "x"
    for _ in range(layers):
        q, k, v = (heads_of(linear(x, hidden, hidden)) for _ in range(3))
        kt = b.node("Transpose", [k], perm=[0, 1, 3, 2])
        s = b.node("Mul", [b.node("MatMul", [q, kt]), b.const(np.array(1 / np.sqrt(dh)))])
        a = b.node("MatMul", [b.node("Softmax", [s], axis=-1), v])
        a = b.node("Reshape", [b.node("Transpose", [a], perm=[0, 2, 1, 3]), _shape(b, [1, seq, hidden])])
        x = norm(b.node("Add", [linear(a, hidden, hidden), x]))
        h = _gelu(b, linear(x, hidden, ffn))
        x = norm(b.node("Add", [linear(h, ffn, hidden), x]))
    g = helper.make_graph(b.nodes, "encoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, hidden])], b.inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _shape(b: _Builder, dims: list[int]) -> str:
    n = b.name("shape")
    b.inits.append(numpy_helper.from_array(np.array(dims, dtype=np.int64), n))
    return n


def _gelu(b: _Builder, x: str) -> str:
    """x * 0.5 * (1 + erf(x / sqrt(2))) (opset 17 has no Gelu op)."""
    e = b.node("Erf", [b.node("Div", [x, b.const(np.array(np.sqrt(2.0)))])])
    return b.node("Mul", [x, b.node("Mul", [b.node("Add", [e, b.const(np.array(1.0))]), b.const(np.array(0.5))])])


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    onnx.save(resnet18(), os.path.join(out, "resnet18.onnx"))
    onnx.save(encoder(), os.path.join(out, "bert_base_2l.onnx"))
    print("wrote", os.path.join(out, "resnet18.onnx"), os.path.join(out, "bert_base_2l.onnx"))
