"""Every valid model compiles: legal-but-unusual ONNX (empty tensors, infinite constants, zero-sized
optional inputs, old opsets, sequences, strings) compiles, runs on the machine and matches
onnxruntime; a NaN or Inf that would become a crossbar weight is refused naming tensor and op."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import valid_models as vm
from cimopt.cli.main import main
from cimopt.ir import opset
from cimopt.ir.errors import ModelError
from cimopt.ir.load import load, read_model
from cimopt.ir.regions import contract, REGION_OP


def _onnxruntime_runs(m: onnx.ModelProto) -> None:
    import onnxruntime as ort

    onnx.checker.check_model(m, full_check=True)
    if opset.default_opset(m) >= opset.MIN_OPSET:
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])


def _compile_and_run(m: onnx.ModelProto, tmp: Path, capsys: pytest.CaptureFixture[str], target: str = "isaac",
                     extra: list[str] | None = None) -> str:
    path, prog = tmp / "m.onnx", tmp / "p.json"
    onnx.save(m, path)
    assert main(["compile", str(path), "-t", target, "-o", str(prog), "--quiet", *(extra or [])]) == 0
    summary = capsys.readouterr().out
    assert main(["run", str(prog), str(path)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "match: yes" in out and " 0 violation(s)" in out, out
    return summary


@pytest.mark.parametrize("name", sorted(vm.VALID))
def test_legal_construct_compiles_and_matches(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = vm.VALID[name]()
    _onnxruntime_runs(m)  # the construct is legal: the checker and onnxruntime accept it
    _compile_and_run(m, tmp_path, capsys)


def test_legal_constructs_on_a_target_without_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Empty and infinite constants are handled by the front end, not by a host fallback."""
    for name in ("resize_empty_roi", "infinite_constants", "zero_channel_concat"):
        _compile_and_run(vm.VALID[name](), tmp_path, capsys, target="edge")


def test_old_opset_is_upgraded_and_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = vm.old_opset(6)
    up = read_model(m)
    assert opset.default_opset(up) >= opset.MIN_OPSET and opset.upgraded_from(up) == 6
    assert opset.upgraded_from(read_model(vm.resize_empty_roi())) is None  # a modern model is left as it is
    summary = _compile_and_run(m, tmp_path, capsys)
    assert "upgraded to opset" in summary and "opset 6" in summary


def test_legacy_broadcast_axis_keeps_its_meaning() -> None:
    """Opset-6 ``Add(broadcast=1, axis=1)`` of a (C,) bias aligns it with dim 1: after the rewrite
    the bias is C x 1 x 1, so numpy broadcasting gives the same sum (the converter alone pads it
    to C x 1 x 1 x 1, a different tensor)."""
    m = opset.explicit_legacy_broadcast(vm.old_opset(6))
    add = next(n for n in m.graph.node if n.op_type == "Add")
    assert not any(a.name == "axis" for a in add.attribute)
    unsq = next(n for n in m.graph.node if n.output[0] == add.input[1])
    assert unsq.op_type == "Unsqueeze" and list(unsq.attribute[0].ints) == [1, 2]
    names = [n.name for n in m.graph.node]
    assert names.index(unsq.name) < names.index(add.name)  # still topologically sorted


def test_unconvertible_old_opset_is_a_clear_error() -> None:
    """An opset-1 model with an op the converter has no adapter for is refused, naming the opset."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Upsample", ["x"], ["y"], height_scale=1.0, width_scale=1.0, mode="nearest")
    m = helper.make_model(helper.make_graph([node], "g", [x], [y]), opset_imports=[helper.make_opsetid("", 1)])
    m.ir_version = 3
    try:
        read_model(m)
    except ModelError as e:
        assert "opset 1" in str(e) and "\n" not in str(e)


@pytest.mark.parametrize(("value", "where", "tensor", "op"), [(np.nan, "conv", "w1", "conv1"),
                                                               (np.inf, "gemm", "fc", "fc")])
def test_nonfinite_crossbar_weight_is_refused_by_name(value: float, where: str, tensor: str, op: str,
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = vm.nonfinite_weight(value, where)
    _onnxruntime_runs(m)  # legal ONNX: onnxruntime computes with it; the chip cannot hold it
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    assert main(["compile", str(path), "-o", str(tmp_path / "p.json"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"node {op} (" in err and repr(tensor) in err and "crossbar" in err and "Traceback" not in err


def _sequence_model() -> onnx.ModelProto:
    """Conv -> SplitToSequence along channels -> SequenceAt(1) -> Relu, and a sequence that leaves
    the region and comes back (SequenceInsert of a tensor computed outside from the region's output)."""
    rng = np.random.default_rng(0)
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 4, 3, 3], rng.normal(0, 0.3, (8, 4, 3, 3)).ravel())
    one = helper.make_tensor("one", TensorProto.INT64, [], [1])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("SplitToSequence", ["c"], ["seq"], axis=1, keepdims=1, name="split"),
             helper.make_node("SequenceAt", ["seq", "one"], ["part"], name="at"),
             helper.make_node("Relu", ["part"], ["r"], name="relu"),
             helper.make_node("SequenceInsert", ["seq", "r"], ["seq2"], name="insert"),
             helper.make_node("ConcatFromSequence", ["seq2"], ["cat"], axis=1, name="concat"),
             helper.make_node("Sigmoid", ["cat"], ["y"], name="sigmoid")]
    g = helper.make_graph(nodes, "seq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 9, 6, 6])], [w, one])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_sequences_stay_inside_one_convex_host_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = _sequence_model()
    _onnxruntime_runs(m)
    c = contract(m, "m")
    kinds = [n.op_type for n in c.graph.node]
    # Relu lies between two members (at -> relu -> insert): it joins the region, so no cycle
    assert kinds == ["Conv", REGION_OP, "Sigmoid"], kinds
    region = c.graph.node[1]
    assert list(region.input) == ["c", "one"] and list(region.output) == ["cat"]
    g = load(m)
    assert [op.op_type for op in g.ops()] == ["Conv", REGION_OP, "Sigmoid"]
    _compile_and_run(m, tmp_path, capsys)


def test_sequence_graph_output_is_a_clear_error() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    s = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, [2, 3])
    m = helper.make_model(helper.make_graph([helper.make_node("SequenceConstruct", ["x"], ["s"])], "g", [x], [s]),
                          opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelError, match="graph output 's' is a sequence"):
        load(m)


def test_string_model_runs_on_the_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.STRING, [4])
    y = helper.make_tensor_value_info("y", TensorProto.STRING, [4])
    # locale "C": the default en_US.UTF-8 may not be installed, and onnxruntime then refuses the op
    node = helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action="UPPER", locale="C",
                            name="normalize")
    m = helper.make_model(helper.make_graph([node], "s", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    _onnxruntime_runs(m)
    _compile_and_run(m, tmp_path, capsys)
    ins, outs = tmp_path / "in.npz", tmp_path / "out.npz"
    np.savez(ins, x=np.array(["ab", "Cd", "", "xyz"]))
    assert main(["run", str(tmp_path / "p.json"), str(tmp_path / "m.onnx"), "--inputs", str(ins),
                 "--outputs", str(outs)]) == 0
    assert np.load(outs)["y"].tolist() == ["AB", "CD", "", "XYZ"]


def test_empty_graph_input_given_by_input_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 0 in --input-shape is an empty dim (ONNX allows it); the model's own 0 means "dynamic"."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=1, name="sum"),   # 0 over no elements
             helper.make_node("Add", ["s", "seven"], ["y"], name="add")]
    seven = helper.make_tensor("seven", TensorProto.FLOAT, [1], [7.0])
    m = helper.make_model(helper.make_graph(nodes, "e", [x], [y], [seven]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    g = load(m, {"x": (0,)})
    assert g.shape("x") == (0,)
    _compile_and_run(m, tmp_path, capsys, extra=["--input-shape", "x=0"])


def _matrix_model(op: str, k: int, n: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, k])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, n])
    inits = [helper.make_tensor("w", TensorProto.FLOAT, [k, n], np.ones(k * n)),
             helper.make_tensor("b", TensorProto.FLOAT, [n], np.arange(n))]
    node = helper.make_node(op, ["x", "w", "b"][:3 if op == "Gemm" else 2], ["y"], name="mm")
    m = helper.make_model(helper.make_graph([node], "mm", [x], [y], inits[:2 if op == "Gemm" else 1]),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


@pytest.mark.parametrize(("op", "k", "n"), [("Gemm", 0, 5), ("Gemm", 4, 0), ("MatMul", 4, 0), ("MatMul", 0, 3)])
def test_empty_weight_matrix_runs_on_the_vector_unit(op: str, k: int, n: int, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An empty weight (K or N = 0) is legal ONNX: nothing to program, the output is the bias,
    zeros or empty; no crossbar tile, no division by zero, no violation."""
    m = _matrix_model(op, k, n)
    _onnxruntime_runs(m)
    g = load(m, {"x": (2, k)})
    path, prog = tmp_path / "m.onnx", tmp_path / "p.json"
    onnx.save(m, path)
    assert main(["compile", str(path), "-o", str(prog), "--quiet", "--input-shape", f"x=2x{k}"]) == 0
    assert "crossbars 0 of" in capsys.readouterr().out
    main(["run", str(prog), str(path), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert res["violations"] == [] and res["verdict"] != "mismatch", res
    assert g.shape("y") == (2, n)
