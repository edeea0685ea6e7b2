"""Small real-structured ONNX models built in code for the tests (seeded random weights)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(arr.astype(np.float32) if arr.dtype.kind == "f" else arr, name)


def small_cnn(seed: int = 0, batch: int | str = 1, hw: int = 16) -> onnx.ModelProto:
    """Conv+BN+Relu, a residual block, a depthwise conv with HardSwish, Resize, ConvTranspose,
    global pooling, Flatten and Gemm: the structures detectors and mobile CNNs use."""
    r = np.random.default_rng(seed)
    inits = []

    def w(name: str, *shape: int, scale: float | None = None) -> str:
        fan = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale if scale is not None else np.sqrt(2.0 / fan)
        inits.append(_init(name, r.normal(0, s, shape)))
        return name

    def bn(prefix: str, c: int) -> list[str]:
        inits.extend([_init(f"{prefix}_s", r.uniform(0.5, 1.5, c)), _init(f"{prefix}_b", r.normal(0, 0.1, c)),
                      _init(f"{prefix}_m", r.normal(0, 0.1, c)), _init(f"{prefix}_v", r.uniform(0.5, 1.5, c))])
        return [f"{prefix}_s", f"{prefix}_b", f"{prefix}_m", f"{prefix}_v"]

    n = helper.make_node
    nodes = [
        n("Conv", ["x", w("c1_w", 16, 3, 3, 3), w("c1_b", 16, scale=0.1)], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        n("BatchNormalization", ["c1", *bn("bn1", 16)], ["b1"], name="bn1"),
        n("Relu", ["b1"], ["r1"], name="relu1"),
        n("Conv", ["r1", w("c2_w", 16, 16, 3, 3)], ["c2"], pads=[1, 1, 1, 1], name="conv2"),
        n("BatchNormalization", ["c2", *bn("bn2", 16)], ["b2"], name="bn2"),
        n("Add", ["b2", "r1"], ["res"], name="residual"),
        n("Relu", ["res"], ["r2"], name="relu2"),
        n("Conv", ["r2", w("dw_w", 16, 1, 3, 3)], ["dw"], pads=[1, 1, 1, 1], strides=[2, 2], group=16, name="depthwise"),
        n("HardSwish", ["dw"], ["hs"], name="hswish"),
        n("Conv", ["hs", w("pw_w", 24, 16, 1, 1), w("pw_b", 24, scale=0.1)], ["pw"], name="pointwise"),
        n("Resize", ["pw", "", "scales"], ["up"], mode="nearest", name="upsample"),
        n("ConvTranspose", ["up", w("ct_w", 24, 8, 2, 2)], ["ct"], strides=[2, 2], name="deconv"),
        n("LeakyRelu", ["ct"], ["lr"], alpha=0.1, name="leaky"),
        n("GlobalAveragePool", ["lr"], ["gap"], name="gap"),
        n("Flatten", ["gap"], ["flat"], name="flatten"),
        n("Gemm", ["flat", w("fc_w", 10, 8), w("fc_b", 10, scale=0.1)], ["y"], transB=1, name="fc"),
    ]
    inits.append(_init("scales", np.array([1, 1, 2, 2], np.float32)))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, hw, hw])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])
    g = helper.make_graph(nodes, "small_cnn", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def tiny_encoder(seed: int = 0, vocab: int = 50, d: int = 32, heads: int = 2) -> onnx.ModelProto:
    """A one-layer Transformer encoder with symbolic batch and sequence dims: embedding Gather,
    Q/K/V MatMul+Add, attention (Q.K^T, Softmax, .V), LayerNormalization, a Relu MLP."""
    r = np.random.default_rng(seed)
    inits = []

    def w(name: str, *shape: int) -> str:
        inits.append(_init(name, r.normal(0, 1 / np.sqrt(shape[0]), shape)))
        return name

    def b(name: str, k: int) -> str:
        inits.append(_init(name, r.normal(0, 0.1, (k,))))
        return name

    dh = d // heads
    n = helper.make_node
    inits += [_init("split_shape", np.array([0, 0, heads, dh], np.int64)),
              _init("merge_shape", np.array([0, 0, d], np.int64)),
              _init("scale", np.array(1 / np.sqrt(dh), np.float32)),
              _init("ln_g", r.uniform(0.5, 1.5, d)), _init("ln_b", r.normal(0, 0.1, d))]
    nodes = [n("Gather", [w("emb", vocab, d), "ids"], ["e"], axis=0, name="embed")]
    for t in "qkv":
        nodes += [n("MatMul", ["e", w(f"w{t}", d, d)], [f"{t}0"], name=f"{t}_proj"),
                  n("Add", [f"{t}0", b(f"b{t}", d)], [f"{t}1"], name=f"{t}_bias"),
                  n("Reshape", [f"{t}1", "split_shape"], [f"{t}2"], name=f"{t}_split"),
                  n("Transpose", [f"{t}2"], [f"{t}3"], perm=[0, 2, 1, 3] if t != "k" else [0, 2, 3, 1],
                    name=f"{t}_heads")]
    nodes += [
        n("MatMul", ["q3", "k3"], ["s0"], name="qk"),
        n("Mul", ["s0", "scale"], ["s1"], name="scale_scores"),
        n("Softmax", ["s1"], ["p"], axis=-1, name="softmax"),
        n("MatMul", ["p", "v3"], ["a0"], name="attn_v"),
        n("Transpose", ["a0"], ["a1"], perm=[0, 2, 1, 3], name="merge_heads"),
        n("Reshape", ["a1", "merge_shape"], ["a2"], name="merge"),
        n("MatMul", ["a2", w("wo", d, d)], ["o0"], name="out_proj"),
        n("Add", ["o0", b("bo", d)], ["o1"], name="out_bias"),
        n("Add", ["o1", "e"], ["h0"], name="residual"),
        n("LayerNormalization", ["h0", "ln_g", "ln_b"], ["h1"], axis=-1, epsilon=1e-5, name="ln"),
        n("MatMul", ["h1", w("w1", d, 2 * d)], ["f0"], name="ff1"),
        n("Add", ["f0", b("b1", 2 * d)], ["f1"], name="ff1_bias"),
        n("Relu", ["f1"], ["f2"], name="ff_relu"),
        n("MatMul", ["f2", w("w2", 2 * d, d)], ["f3"], name="ff2"),
        n("Add", ["f3", b("b2", d)], ["y"], name="ff2_bias"),
    ]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", d])
    g = helper.make_graph(nodes, "tiny_encoder", [ids], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def resnet18(seed: int = 0, hw: int = 224, classes: int = 1000) -> onnx.ModelProto:
    """torchvision's ResNet-18 architecture (basic blocks [2, 2, 2, 2]) with Conv, BatchNormalization,
    Relu, MaxPool, Add, GlobalAveragePool, Flatten and Gemm as PyTorch exports them; seeded He weights."""
    r = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    n = helper.make_node

    def conv_bn(x: str, name: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
        inits.append(_init(f"{name}.w", r.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))))
        inits.extend([_init(f"{name}.bn.s", r.uniform(0.5, 1.5, cout)), _init(f"{name}.bn.b", r.normal(0, 0.1, cout)),
                      _init(f"{name}.bn.m", r.normal(0, 0.1, cout)), _init(f"{name}.bn.v", r.uniform(0.5, 1.5, cout))])
        nodes.append(n("Conv", [x, f"{name}.w"], [f"{name}.c"], kernel_shape=[k, k], strides=[stride, stride],
                       pads=[k // 2] * 4, name=name))
        nodes.append(n("BatchNormalization", [f"{name}.c", f"{name}.bn.s", f"{name}.bn.b", f"{name}.bn.m",
                                              f"{name}.bn.v"], [f"{name}.bn"], name=f"{name}.bn"))
        if not relu:
            return f"{name}.bn"
        nodes.append(n("Relu", [f"{name}.bn"], [f"{name}.r"], name=f"{name}.relu"))
        return f"{name}.r"

    x = conv_bn("x", "conv1", 3, 64, 7, 2, True)
    nodes.append(n("MaxPool", [x], ["pool1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], name="maxpool"))
    x, cin = "pool1", 64
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"layer{stage}.{block}"
            h = conv_bn(x, f"{name}.conv1", cin, cout, 3, stride, True)
            h = conv_bn(h, f"{name}.conv2", cout, cout, 3, 1, False)
            skip = conv_bn(x, f"{name}.downsample", cin, cout, 1, stride, False) if stride != 1 or cin != cout else x
            nodes.append(n("Add", [h, skip], [f"{name}.add"], name=f"{name}.add"))
            nodes.append(n("Relu", [f"{name}.add"], [f"{name}.out"], name=f"{name}.relu"))
            x, cin = f"{name}.out", cout
    inits.extend([_init("fc.w", r.normal(0, np.sqrt(1.0 / 512), (classes, 512))), _init("fc.b", r.normal(0, 0.1, classes))])
    nodes += [n("GlobalAveragePool", [x], ["gap"], name="avgpool"), n("Flatten", ["gap"], ["flat"], axis=1, name="flatten"),
              n("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "resnet18", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, hw, hw])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m
