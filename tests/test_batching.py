"""Batched segments (`cimopt.batching`): a model in several segments runs B inferences per
reprogramming; the machine runs all B and each matches onnxruntime."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import models
from cimopt.batching import batched_model
from cimopt.compiler import compile_model
from cimopt.inputs import compare, random_inputs, reference_outputs
from cimopt.ir.errors import ShapeError
from cimopt.ir.load import load
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute


def _tiny():  # noqa: ANN202 - a Target
    edge = load_target("edge")
    return replace(edge, chip=replace(edge.chip, mesh_rows=1, mesh_cols=1), core=replace(edge.core, crossbars=3))


def test_batched_model_shapes() -> None:
    g = load(batched_model(models.small_cnn(seed=1), 3))
    assert g.shape(g.inputs[0])[0] == 3 and g.shape(g.outputs[0]) == (3, 10)
    with pytest.raises(ShapeError):
        batched_model(models.small_cnn(seed=1, batch=2), 3)


@pytest.mark.parametrize("batch,mode", [(0, "throughput"), (3, "throughput"), (2, "latency")])
def test_batched_segments_match_each_inference(batch: int, mode: str) -> None:
    m = models.small_cnn(seed=3)
    t = _tiny()
    res = compile_model(m, t, CompileOptions(mode=mode, batch=batch))
    p = res.program
    b = int(p.metric("batch"))
    assert p.segments > 1 and p.mode == mode
    assert b == (batch or b) and b > 1
    assert p.metric("inferences_per_s") == pytest.approx(b * 1e9 / p.initiation_interval_ns)
    inputs = random_inputs(res.frontend.graph, 0)
    out = execute(p, res.frontend.graph, t, inputs)
    assert not out.violations, out.violations[:3]
    ref = reference_outputs(m, inputs, list(res.frontend.graph.outputs))
    for k in range(b):    # every inference of the batch on its own
        ok, errs = compare({n: v[k:k + 1] for n, v in out.outputs.items()},
                           {n: v[k:k + 1] for n, v in ref.items()})
        assert ok, (k, errs)
    y = out.outputs[res.frontend.graph.outputs[0]]
    assert not np.allclose(y[0], y[1])     # distinct inputs per inference
    assert 0 < p.metric("e2e_bound_ns") <= p.metric("e2e_objective_ns")
    assert 0 < p.metric("e2e_chunked_bound_ns") <= p.metric("e2e_objective_ns")


@pytest.mark.parametrize("batch,mode,runs", [(3, "throughput", 1), (2, "latency", 1), (0, "latency", 1),
                                             (0, "throughput", 2)])
def test_front_end_runs_once_unless_the_batch_is_chosen(batch: int, mode: str, runs: int,
                                                         frontend_loads: list[object]) -> None:
    """A given batch (or latency mode's 1) is known before the front end, which then runs once;
    a chosen batch is priced on the front end's workload at batch 1 and the front end runs again
    at that batch: the batch-B graph can differ from the batch-1 graph beyond its row counts
    (constant folding bakes values computed from input shapes, e.g. an Expand's target shape,
    into constants; the MatMul unit choice prices the batch's rows), so the rerun is kept."""
    res = compile_model(models.small_cnn(seed=3), _tiny(), CompileOptions(mode=mode, batch=batch))
    b = int(res.program.metric("batch"))
    assert len(frontend_loads) == runs and b == (batch or (b if mode == "throughput" else 1))
    assert mode == "latency" or b > 1


def test_run_side_builds_the_graph_the_program_was_compiled_for() -> None:
    """`cimopt run`/`validate` (`cli.compile_cmd._machine_setup`) call `prepare` with the
    program's batch and input shapes: the same graph, byte for byte, as the compile's."""
    from cimopt.frontend import prepare
    from cimopt.ir.export import to_onnx

    m, t = models.small_cnn(seed=3), _tiny()
    res = compile_model(m, t, CompileOptions(mode="throughput"))
    p = res.program
    again = prepare(m, t, dict(p.input_shapes), int(p.metric("batch")))
    assert to_onnx(again.graph).SerializeToString() == to_onnx(res.frontend.graph).SerializeToString()
    assert [(o.name, o.op_class) for o in again.graph.ops()] == [(o.name, o.op_class) for o in res.frontend.graph.ops()]
    assert again.workload == res.frontend.workload
