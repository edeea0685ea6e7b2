"""Bad input to `cimopt inspect` gets exit 2 and a short message, never a traceback.

Usage: python experiments/checks/bad_input_check.py        Last line: the figure; exit 0 when all pass.
"""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import cimopt, light_dir  # noqa: E402

d = tempfile.mkdtemp(prefix="cimopt-bad-")
light = os.path.join(light_dir(), "light_squeezenet.onnx")


def write(name, data):
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


garbage = write("garbage.onnx", os.urandom(4096))
trunc = write("trunc.onnx", open(light, "rb").read()[:3000])
empty = write("empty.onnx", b"")
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])
custom_model = helper.make_model(
    helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], "g", [x], [y]),
    opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
custom = os.path.join(d, "custom.onnx"); onnx.save(custom_model, custom)
# a conv net whose batch and spatial dims are symbolic
xi = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
yo = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.01] * 216)
dyn_model = helper.make_model(helper.make_graph(
    [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
    "dyn", [xi], [yo], [w]), opset_imports=[helper.make_opsetid("", 17)])
dyn = os.path.join(d, "dyn.onnx"); onnx.save(dyn_model, dyn)
bad_toml = write("bad.toml", b"this is = not [valid toml\n")
empty_toml = write("empty.toml", b"")

C = cimopt()
cases = {
    "garbage bytes": [C, "inspect", garbage, "--target", "isaac"],
    "truncated model": [C, "inspect", trunc, "--target", "isaac"],
    "empty file": [C, "inspect", empty, "--target", "isaac"],
    "missing file": [C, "inspect", os.path.join(d, "nope.onnx"), "--target", "isaac"],
    "op nobody runs": [C, "inspect", custom, "--target", "isaac"],
    "dynamic dims, no --input-shape": [C, "inspect", dyn, "--target", "isaac"],
    "bad --input-shape": [C, "inspect", dyn, "--target", "isaac", "--input-shape", "x=1xbananax48"],
    "unknown target": [C, "inspect", light, "--target", "no-such-chip"],
    "target file, bad TOML": [C, "inspect", light, "--target", bad_toml],
    "target file, empty": [C, "inspect", light, "--target", empty_toml],
}
ok = 0
for name, cmd in cases.items():
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    good = p.returncode == 2 and "Traceback" not in out and 0 < len(p.stderr.strip().splitlines()) <= 5
    if not good:
        print(f"FAIL {name}: exit {p.returncode}; stderr: {p.stderr.strip()[-160:]!r}")
    ok += good
print(f"bad input: {ok}/{len(cases)} cases give exit 2 with a short message and no traceback")
sys.exit(0 if ok == len(cases) else 1)
