"""The reference machine's fused epilogue: vector ops a crossbar op's output stage applies in line
(`ir.passes.epilogue_fusion`) to the rows one MVM instruction computes.

The fused ops are row-local along the crossbar op's chunk axis, so a chunk's output rows depend
only on its own MVM rows and the same rows of the ops' other operands (a residual).  Each op runs
in onnxruntime (`kernels.run_op`) on whole-shaped tensors holding the chunk's rows, and the
chunk keeps its rows of the last op's output, as a vector chunk does.  ``finish`` (the
``int``/``analog`` modes' `NumericsEngine.finish_vector`) rounds the MVM result and each fused
op's result to the target's vector format.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping

import numpy as np

from cimopt.ir.chunks import WHOLE
from cimopt.ir.graph import Graph, OpSpec
from cimopt.targets.machine.kernels import dynamic_inputs, run_op
from cimopt.targets.machine.rows import put_rows, take_rows

#: Rounds a list of results to the target's vector format (`NumericsEngine.finish_vector`).
Finish = Callable[[list[np.ndarray]], list[np.ndarray]]


def run_epilogue(graph: Graph, op: OpSpec, rows: np.ndarray, axis: int, row0: int, row1: int,
                 operands: Mapping[str, np.ndarray | None], sessions: MutableMapping[str, object] | None = None,
                 finish: Finish | None = None, mvm_rows: tuple[int, int] | None = None) -> np.ndarray:
    """Rows ``row0:row1`` (along ``axis``; WHOLE: all) of ``op``'s output, from its MVM's rows ``rows``,
    which are rows ``mvm_rows`` of the MVM's output (default: the same ``row0:row1``; a width pool
    in the output stage reads more, `cimopt.ir.chunks.mvm_vectors`).

    ``operands`` holds the epilogue's other dynamic inputs by name (whole tensors; only the
    chunk's rows are read).  Raises ValueError when ``op`` has no epilogue or an operand is missing.
    """
    epi = op.epilogue
    if epi is None:
        raise ValueError(f"op {op.name} has no fused epilogue")
    missing = [t for t in epi.inputs() if t not in graph.constants and operands.get(t) is None]
    if missing:
        raise ValueError(f"op {op.name}: the epilogue's operand(s) {', '.join(missing)} were not read")
    first = finish([rows])[0] if finish else rows
    if axis == WHOLE:
        full = np.asarray(first, dtype=np.float32)
    else:
        full = np.zeros(graph.shape(epi.tensor), dtype=np.float32)
        m0, m1 = mvm_rows if mvm_rows is not None else (row0, row1)
        put_rows(full, axis, m0, m1, first)
    env: dict[str, np.ndarray] = {t: np.asarray(v) for t, v in operands.items() if v is not None}
    env[epi.tensor] = full
    for e in epi.ops:
        res = run_op(graph, e, [env[t] for t in dynamic_inputs(graph, e)], sessions)
        if finish:
            res = finish(res)
        env[e.outputs[0]] = np.asarray(res[0], dtype=np.float32).reshape(graph.shape(e.outputs[0]))
    out = env[epi.ops[-1].outputs[0]]
    return np.ascontiguousarray(out if axis == WHOLE else take_rows(out, axis, row0, row1), dtype=np.float32)
