"""What the latency bound reads of the graph (`solver.e2e_bound_reads`): window checks along one
axis, head rules and covering edges of a small conv chain (a stride-2 1x1 conv skips pixels; a
1x1 conv padded by 1 has windows wholly in the padding)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cimopt.frontend import prepare
from cimopt.solver.e2e_bound_reads import (_every_input_read, _every_window_reads, covering_edges, head_rule,
                                           whole_from)
from cimopt.targets.load import load_target


def test_windows_along_one_axis() -> None:
    # (input size, output size, kernel, stride, leading pad, dilation)
    assert _every_input_read(8, 8, 3, 1, 1, 1) and _every_window_reads(8, 8, 3, 1, 1, 1)
    assert not _every_input_read(8, 4, 1, 2, 0, 1)       # 1x1 stride 2: odd pixels skipped
    assert _every_input_read(8, 4, 2, 2, 0, 1)           # 2x2 stride 2: tiles the input
    assert not _every_window_reads(4, 6, 1, 1, 1, 1)     # 1x1 padded by 1: border outputs read padding only
    assert not _every_input_read(10, 4, 3, 2, 0, 1)      # the last pixel left out by the floor
    assert _every_input_read(9, 4, 3, 2, 0, 1)
    assert not _every_input_read(5, 1, 3, 1, 0, 2)       # one dilated window: 0, 2, 4 read, 1 and 3 not
    assert _every_input_read(5, 2, 3, 1, 0, 2)            # two: 0, 2, 4 and 1, 3, (5)


def _chain() -> onnx.ModelProto:
    r = np.random.default_rng(0)
    n = helper.make_node
    nodes = [n("Conv", ["x", "wa"], ["a"], pads=[1, 1, 1, 1], name="conv_a"),
             n("Conv", ["a", "wb"], ["b"], strides=[2, 2], name="conv_s2"),
             n("Conv", ["b", "wc"], ["c"], name="conv_c"),
             n("Conv", ["c", "wd"], ["y"], pads=[1, 1, 1, 1], name="conv_pad")]
    inits = {k: r.normal(0, 0.3, s).astype(np.float32) for k, s in
             (("wa", (8, 4, 3, 3)), ("wb", (8, 8, 1, 1)), ("wc", (8, 8, 3, 3)), ("wd", (4, 8, 1, 1)))}
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_head_rules_and_covering_edges_of_a_conv_chain() -> None:
    fe = prepare(_chain(), load_target("isaac"))
    names = [w.name for w in fe.workload.ops]
    assert names == ["conv_a", "conv_s2", "conv_c", "conv_pad"]
    heads = {name: head_rule(fe.graph, fe.graph.op(name)) for name in names}
    assert heads == {"conv_a": "every", "conv_s2": "every", "conv_c": "every", "conv_pad": "none"}
    assert all(whole_from(fe.graph, fe.graph.op(name), False) == () for name in names)
    cov = covering_edges(fe.graph, names, [(0, 1), (1, 2), (2, 3)])
    assert cov == frozenset({(1, 2), (2, 3)})           # conv_s2 skips conv_a's odd pixels
