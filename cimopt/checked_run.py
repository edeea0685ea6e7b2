"""A program run on the reference machine and judged against onnxruntime: what `cimopt run`,
`cimopt demo` and a sweep task with ``run`` all do (`checked_run`).

The machine (`targets.machine.executor.execute`, capturing every tensor it computes) runs the
program on the given inputs; onnxruntime runs the model on the same inputs; `verdict` judges
every graph output and every intermediate tensor the original model also names
(`cimopt.report.verdict`); `run_on_machine` and `judged` are its two halves, for a caller that
keeps the machine's results (a trace, its outputs) before onnxruntime runs.  The run passes (`CheckedRun.ok`) when the verdict is a match and the
machine reported no violation.  Times in s, errors in the tensors' own units.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import onnx

from cimopt.inputs import reference_outputs
from cimopt.ir.graph import Graph
from cimopt.ir.program import Program
from cimopt.report.verdict import judge, judge_tensor, TensorVerdict, Verdict
from cimopt.targets.machine.executor import execute, MachineResult
from cimopt.targets.machine.kernels import dynamic_inputs, run_op
from cimopt.targets.spec import Target


@dataclass(frozen=True)
class CheckedRun:
    """The machine's result, the verdict on it, onnxruntime's reference tensors and the wall
    seconds the machine took (``run_s``, the machine alone, not onnxruntime)."""

    machine: MachineResult
    verdict: Verdict
    reference: dict[str, np.ndarray]
    run_s: float

    @property
    def violations(self) -> list[str]:
        """Every violation as ``"kind: message"``."""
        return [f"{x.kind}: {x.message}" for x in self.machine.violations]

    @property
    def ok(self) -> bool:
        """The outputs and intermediates match and the machine reported no violation."""
        return self.verdict.match and not self.machine.violations

    @property
    def max_abs_error(self) -> float:
        """Largest finite max |ours - reference| over the graph outputs (0 when none is finite)."""
        return max((t.max_abs_error for t in self.verdict.outputs if math.isfinite(t.max_abs_error)), default=0.0)

    @property
    def max_rel_error(self) -> float:
        """Largest relative error (to the tensor's own scale) over the outputs with a finite error."""
        return max((t.rel_error for t in self.verdict.outputs if math.isfinite(t.max_abs_error)), default=0.0)


def checked_run(program: Program, graph: Graph, target: Target, model: onnx.ModelProto,
                inputs: Mapping[str, np.ndarray]) -> CheckedRun:
    """Run ``program`` (compiled to ``graph`` for ``target``) on ``inputs`` and judge its tensors
    against onnxruntime running ``model`` (the original model: its tensor names are the ones judged)."""
    return judged(run_on_machine(program, graph, target, inputs), graph, model, inputs)


def run_on_machine(program: Program, graph: Graph, target: Target,
                inputs: Mapping[str, np.ndarray]) -> tuple[MachineResult, float]:
    """The machine's run of ``program`` on ``inputs``, every computed tensor captured, and its wall seconds."""
    t0 = time.perf_counter()
    res = execute(program, graph, target, inputs, capture=True)
    return res, time.perf_counter() - t0


def judged(run: tuple[MachineResult, float], graph: Graph, model: onnx.ModelProto,
           inputs: Mapping[str, np.ndarray]) -> CheckedRun:
    """A `run_on_machine` judged against onnxruntime running ``model`` on the same ``inputs``."""
    res, run_s = run
    v, ref = verdict(graph, model, inputs, res.outputs, res.computed)
    return CheckedRun(res, v, ref, run_s)


def intermediate_names(graph: Graph, proto: onnx.ModelProto, computed: Mapping[str, np.ndarray]) -> list[str]:
    """Tensors the machine computed that the original model's main graph also produces, in the
    order of ``graph``'s ops (graph outputs excluded: they are judged as outputs)."""
    produced = {t for n in proto.graph.node for t in n.output if t}
    outs = set(graph.outputs)
    return [t for op in graph.ops() for t in op.outputs
            if t and t in computed and t in produced and t not in outs]


def verdict(graph: Graph, proto: onnx.ModelProto, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray],
            computed: Mapping[str, np.ndarray]) -> tuple[Verdict, dict[str, np.ndarray]]:
    """The verdict (`cimopt.report.verdict`) over outputs and intermediates, and the reference tensors.

    The local re-check of a differing tensor re-runs its producing op in onnxruntime on the
    machine's own values of that op's inputs, when each is a graph input or verified.
    """
    inter = intermediate_names(graph, proto, computed)
    ref = reference_outputs(proto, inputs, list(graph.outputs), inter)
    ours = {**computed, **outputs}
    sessions: dict[str, object] = {}

    def local(name: str, verified: set[str]) -> TensorVerdict | None:
        op = graph.producer(name)
        if op is None:
            return None
        args = dynamic_inputs(graph, op)
        if any(t not in graph.inputs and t not in verified for t in args):
            return None
        vals = [np.asarray(inputs[t]) if t in graph.inputs else ours[t] for t in args]
        try:
            res = dict(zip([t for t in op.outputs if t], run_op(graph, op, vals, sessions)))
        except Exception:  # noqa: BLE001 - onnxruntime's own types: no local verdict, the end-to-end one stands
            return None
        if name not in res:
            return None
        return judge_tensor(name, ours[name], np.asarray(res[name]))

    return judge(ours, ref, list(graph.outputs), inter, local), ref
