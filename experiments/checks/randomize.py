"""Gives the onnx package's light graphs real-looking weights, so functional checks mean something.

The light graphs build every weight with ConstantOfShape (one value everywhere), so their
logits are all equal and a softmax output is 1/1000 whatever the arithmetic did. This
writes copies whose weights are random (He-scaled for Conv/Gemm, sane BatchNorm
statistics), as plain initializers, and output logits (a final Softmax becomes Identity).

Usage: python experiments/checks/randomize.py OUT_DIR [SEED]     Writes OUT_DIR/light_*.onnx and OUT_DIR/light.tsv.
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import model_set  # noqa: E402


def randomize(path: str, out: str, rng: np.random.Generator) -> None:
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    use = {}
    for n in m.graph.node:
        for k, i in enumerate(n.input):
            use.setdefault(i, (n.op_type, k))
    outputs = {o.name for o in m.graph.output}
    keep = []
    for n in m.graph.node:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            # compare logits, not a softmax that can saturate and hide errors
            n.op_type = "Identity"
            del n.attribute[:]
        if n.op_type != "ConstantOfShape" or n.input[0] not in inits:
            keep.append(n)
            continue
        shape = [int(d) for d in inits[n.input[0]]]
        op, k = use.get(n.output[0], ("", -1))
        if op in ("Conv", "Gemm") and k == 1:
            fan_in = int(np.prod(shape[1:])) if op == "Conv" else shape[-1]
            w = rng.normal(0.0, np.sqrt(2.0 / max(fan_in, 1)), shape)
        elif op == "BatchNormalization" and k in (1, 4):
            w = rng.uniform(0.5, 1.5, shape)
        else:
            w = rng.normal(0.0, 0.1, shape)
        m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), n.output[0]))
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m.ir_version = max(m.ir_version, 7)  # initializers need not be graph inputs from IR 4 on
    onnx.save(m, out)


def main(out_dir: str, seed: int = 0) -> None:
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(os.path.join(out_dir, "light.tsv"), "w") as tsv:
        for name, path, _ in model_set("light"):
            randomize(path, os.path.join(out_dir, name + ".onnx"), rng)
            tsv.write(f"{name}\t{name}.onnx\t-\tlight graph with random weights\n")
    print(out_dir)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
