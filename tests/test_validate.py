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
    (lambda: q.conv_model(w_shape=(8, 0, 3, 3)), ["initializer 'w'", "zero-sized dim"]),
    (q.nan_weight, ["initializer 'w'", "non-finite", "(2, 1, 0, 0)"]),
    (lambda: q.typed_input(TensorProto.STRING), ["graph input 'x'", "string"]),
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
