"""ir.validate and ir.load: models onnxruntime would reject are refused up front, one line naming
the node or tensor and the reason; exporter quirks (non-positive dims) are accepted."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto

import quirk_models as q
from cimopt.ir import validate
from cimopt.ir.errors import ModelError, ShapeError
from cimopt.ir.graph import TensorSpec
from cimopt.ir.load import load, read_model
from cimopt.ir.value_info import dims_text, static_dim, tensor_spec


@pytest.mark.parametrize("dim", [-1, 0])
def test_non_positive_dim_is_symbolic(dim: int) -> None:
    m = q.conv_model(in_dims=[dim, 3, 8, 8])
    with pytest.raises(ShapeError, match="symbolic or unknown"):
        load(m)
    g = load(m, {"x": (2, 3, 8, 8)})
    assert g.shape("x") == (2, 3, 8, 8)
    assert g.shape("y") == (2, 8, 8, 8)


def test_fixed_dim_still_checked() -> None:
    with pytest.raises(ShapeError, match="dim 1 is fixed to 3"):
        load(q.conv_model(), {"x": (1, 4, 8, 8)})


def test_value_info_helpers() -> None:
    vi = onnx.helper.make_tensor_value_info("t", TensorProto.FLOAT, [-1, "n", 3])
    assert tensor_spec(vi).shape is None
    assert [static_dim(d) for d in vi.type.tensor_type.shape.dim] == [None, None, 3]
    assert dims_text(vi.type.tensor_type.shape.dim) == "-1xnx3"
    assert tensor_spec(onnx.helper.make_tensor_value_info("u", TensorProto.INT64, [2, 5])) == \
        TensorSpec("u", (2, 5), "int64")


@pytest.mark.parametrize(("model", "words"), [
    (lambda: q.with_opset(99), ["opset 99"]),
    (q.no_outputs, ["no outputs"]),
])
def test_read_model_refuses(model, words: list[str]) -> None:  # noqa: ANN001
    with pytest.raises(ModelError) as e:
        read_model(model())
    assert all(w in str(e.value) for w in words) and "\n" not in str(e.value)


@pytest.mark.parametrize(("model", "words"), [
    (lambda: q.softmax_axis(5), ["Softmax", "axis"]),
    (lambda: q.conv_model(w_shape=(8, 3, 3, 3), in_dims=[1, 4, 8, 8]), ["node conv (Conv)", "4 channels"]),
    (lambda: q.conv_model(w_shape=(6, 3, 3, 3), group=4, in_dims=[1, 6, 8, 8]), ["node conv (Conv)", "group 4"]),
    (lambda: q.conv_model(w_shape=(6, 2, 3, 3), group=4, in_dims=[1, 8, 8, 8]), ["node conv (Conv)", "does not divide"]),
])
def test_load_refuses_semantic_errors(model, words: list[str]) -> None:  # noqa: ANN001
    with pytest.raises(ModelError) as e:
        load(model())
    assert all(w in str(e.value) for w in words), str(e.value)


def test_huge_batch_is_refused_before_inference() -> None:
    with pytest.raises(ShapeError, match="more than the"):
        load(q.conv_model(in_dims=[1 << 40, 3, 8, 8]))
    with pytest.raises(ShapeError, match="more than the"):
        load(q.conv_model(in_dims=["n", 3, 8, 8]), {"x": (1 << 40, 3, 8, 8)})


def test_check_tensor_sizes() -> None:
    validate.check_tensor_sizes([TensorSpec("a", (1 << 16, 1 << 15), "float32")], "m")
    with pytest.raises(ShapeError, match="tensor 'b'"):
        validate.check_tensor_sizes([TensorSpec("b", (1 << 16, 1 << 16), "float32")], "m")


def test_check_ops_gemm_inner_dims() -> None:
    g = load(q.conv_model())
    validate.check_ops(g, "m")
    from cimopt.ir.graph import OpSpec
    g.constants["wbad"] = np.ones((5, 4), np.float32)
    g.tensors["gx"] = TensorSpec("gx", (2, 7), "float32")
    g.tensors["gy"] = TensorSpec("gy", (2, 4), "float32")
    g.inputs.append("gx")
    g.add_op(OpSpec("gemm", "Gemm", ("gx", "wbad"), ("gy",), ()))
    with pytest.raises(ModelError, match="node gemm \\(Gemm\\): inner dims differ"):
        validate.check_ops(g, "m")


def test_damaged_text_is_refused(tmp_path) -> None:  # noqa: ANN001
    raw = q.conv_model().SerializeToString()
    name = b"conv"
    i = raw.index(name)
    path = tmp_path / "bad.onnx"
    path.write_bytes(raw[:i] + b"\xdc\xff\xfe\xfd" + raw[i + 4:])
    with pytest.raises(ModelError, match="not valid UTF-8"):
        load(str(path))


def _gemm_with_big_weight(dtype: int = TensorProto.FLOAT) -> onnx.ModelProto:
    """y = x @ W (W 128 x 64, larger than the skeleton's threshold) reshaped by a small shape constant."""
    h = onnx.helper
    w = onnx.numpy_helper.from_array(np.ones((128, 64), np.float32), "W")
    shape = onnx.numpy_helper.from_array(np.array([1, 64], np.int64), "shape")
    nodes = [h.make_node("MatMul", ["x", "W"], ["m"]), h.make_node("Reshape", ["m", "shape"], ["y"])]
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])],
                     [h.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])], [w, shape])
    return h.make_model(g, opset_imports=[h.make_opsetid("", 17)])


def test_skeleton_turns_large_weights_into_typed_inputs() -> None:
    from cimopt.ir.skeleton import skeleton

    m = _gemm_with_big_weight()
    s = skeleton(m)
    assert [t.name for t in s.graph.initializer] == ["shape"]
    assert [i.name for i in s.graph.input] == ["x", "W"]
    w_type = s.graph.input[1].type.tensor_type
    assert [d.dim_value for d in w_type.shape.dim] == [128, 64] and w_type.elem_type == TensorProto.FLOAT
    assert [n.op_type for n in s.graph.node] == ["MatMul", "Reshape"]
    assert s.opset_import == m.opset_import and len(m.graph.initializer) == 2  # the original is unchanged
    onnx.checker.check_model(s, full_check=True)


def test_semantics_still_refused_with_large_weights() -> None:
    m = _gemm_with_big_weight()
    m.graph.initializer[1].CopyFrom(onnx.numpy_helper.from_array(np.array([1, 65], np.int64), "shape"))
    with pytest.raises(ModelError, match="rejects the model"):
        load(m)


def test_large_integer_weight_with_short_data_is_refused() -> None:
    m = _gemm_with_big_weight()
    idx = onnx.numpy_helper.from_array(np.zeros((64, 80), np.int64), "idx")
    idx.raw_data = idx.raw_data[:-8]
    m.graph.initializer.append(idx)
    with pytest.raises(ModelError, match="initializer 'idx' cannot be read"):
        read_model(m)
