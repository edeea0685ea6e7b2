"""Independent multiply-accumulate count of an ONNX model, by running it in onnxruntime.

Counts Conv, ConvTranspose, Gemm and MatMul (constant or not), batch included.
Usage: python experiments/checks/macs.py MODEL.onnx [NAME=DxD,...]   -> prints the total.
"""
import sys
import numpy as np
import onnx
import onnxruntime as ort

DT = {1: np.float32, 7: np.int64, 6: np.int32, 10: np.float16, 11: np.float64}


def feeds_for(model, shapes):
    init = {i.name for i in model.graph.initializer}
    feeds = {}
    for i in model.graph.input:
        if i.name in init:
            continue
        t = i.type.tensor_type
        shp = shapes.get(i.name) or [d.dim_value for d in t.shape.dim]
        dt = DT[t.elem_type]
        feeds[i.name] = (np.random.rand(*shp) * (10 if dt != np.float32 else 1)).astype(dt)
    return feeds


def count(path, shapes):
    m = onnx.load(path)
    targets = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul")]
    want = []
    for n in targets:
        want += [n.input[0], n.input[1], n.output[0]]
    have = {o.name for o in m.graph.output}
    for name in dict.fromkeys(want):
        if name not in have and name not in {i.name for i in m.graph.initializer}:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    s = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    vals = dict(zip(names, s.run(None, feeds_for(m, shapes))))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    shp = lambda x: (vals[x] if x in vals else inits[x]).shape
    total = 0
    for n in targets:
        a = {x.name: x for x in n.attribute}
        if n.op_type == "Conv":
            w = shp(n.input[1]); y = shp(n.output[0])
            total += int(np.prod(y)) * int(np.prod(w[1:]))
        elif n.op_type == "ConvTranspose":
            w = shp(n.input[1]); x = shp(n.input[0])
            total += int(np.prod(x)) * int(np.prod(w[1:]))
        elif n.op_type == "Gemm":
            A = shp(n.input[0]); B = shp(n.input[1])
            transA = a["transA"].i if "transA" in a else 0
            transB = a["transB"].i if "transB" in a else 0
            M, K = (A[1], A[0]) if transA else A
            N = B[0] if transB else B[1]
            total += M * K * N
        else:
            y = shp(n.output[0]); A = shp(n.input[0])
            total += int(np.prod(y)) * A[-1]
    return total


if __name__ == "__main__":
    shapes = {}
    if len(sys.argv) > 2 and sys.argv[2] != "-":
        for kv in sys.argv[2].split(","):
            k, v = kv.split("=")
            shapes[k] = [int(d) for d in v.split("x")]
    print(count(sys.argv[1], shapes))
