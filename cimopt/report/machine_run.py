"""What `cimopt run` reports: the machine's results against onnxruntime's, per tensor, as a verdict."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx

from cimopt.ir.errors import UsageError
from cimopt.ir.graph import Graph
from cimopt.targets.machine.kernels import dynamic_inputs, run_op

from cimopt.inputs import reference_outputs
from cimopt.report.verdict import MISMATCH, TensorVerdict, Verdict, judge, judge_tensor


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


def save_outputs(path: str, outputs: Mapping[str, np.ndarray]) -> None:
    """Write the machine's outputs to ``path`` (.npz, one array per graph output; strings as
    fixed-width text, which `numpy.load` reads without pickle)."""
    try:
        with open(path, "wb") as f:
            np.savez(f, **{k: np.asarray(v).astype(str) if np.asarray(v).dtype == object else np.asarray(v)
                           for k, v in outputs.items()})
    except OSError as e:
        raise UsageError(f"--outputs {path}: cannot write ({e.strerror or e})") from None


def verdict_json(v: Verdict) -> dict[str, Any]:
    """The verdict as JSON-ready values (non-finite errors as null)."""
    def num(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    def row(t: TensorVerdict) -> dict[str, Any]:
        return {"status": t.status, "max_abs_error": num(t.max_abs_error), "max_rel_error": num(t.rel_error),
                "scale": num(t.scale), "reason": t.reason}

    return {"verdict": v.status, "first_divergence": v.first_divergence,
            "outputs": {t.name: row(t) for t in v.outputs},
            "intermediates_compared": len(v.intermediates),
            "intermediates_diverging": [t.name for t in v.intermediates if t.status == MISMATCH][:20]}


def verdict_lines(v: Verdict) -> list[str]:
    """Text lines: one per output, the first diverging intermediate, then the summary."""
    lines = [f"  output {t.name}: {t.status}, max abs error {t.max_abs_error:.3g}, max rel error "
             f"{t.rel_error:.3g} (scale {t.scale:.3g})" for t in v.outputs]
    lines.append(f"  intermediate tensors compared: {len(v.intermediates)}, diverging: "
                 f"{sum(t.status == MISMATCH for t in v.intermediates)}")
    return lines


__all__ = ["verdict", "save_outputs", "verdict_json", "verdict_lines", "intermediate_names"]
