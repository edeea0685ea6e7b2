"""The match verdict of `cimopt run`: the machine's tensors against onnxruntime's, each relative
to its own scale.

Per tensor (`judge_tensor`), with ``scale = max|reference|`` and ``error = max|ours - reference|``:

* ``mismatch``: missing, another shape, a non-finite value where the reference is finite, or
  ``error > rtol * scale`` (an all-zero or sign-flipped tensor fails at any magnitude);
* ``uninformative``: the reference is degenerate, so agreeing with it proves little: non-finite
  somewhere, all zero, or constant (every element within `CONSTANT_RTOL` x scale of the others,
  for tensors of more than one element);
* ``match`` otherwise.

String tensors (ONNX ``string``) match when every element is equal.

Graph outputs and intermediate tensors (every tensor the machine computed that the original
model also names) are compared end to end; one that differs is judged again on its own (`judge_local`): its producing op is re-run in onnxruntime on the machine's own
inputs of that op, and it diverges only if that fails as well, so rounding that both
implementations carry into a cancelling subtraction is not mistaken for an error.  The first
diverging intermediate in the graph's order is named.

Overall (`Verdict.status`): ``mismatch`` if any output or intermediate diverges, else
``uninformative`` if no output is an informative match (every output's reference is
degenerate), else ``match`` (a degenerate output that agrees is listed as uninformative).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Relative tolerance on a tensor's own scale.
RTOL = 1e-4
#: A tensor whose elements all lie within this fraction of its scale of each other is constant.
CONSTANT_RTOL = 1e-6
MATCH, MISMATCH, UNINFORMATIVE = "match", "mismatch", "uninformative"


@dataclass(frozen=True)
class TensorVerdict:
    name: str
    status: str              # match | mismatch | uninformative
    max_abs_error: float     # max |ours - reference| (inf when not comparable)
    scale: float             # max |reference| over finite elements
    reason: str              # why, in a few words

    @property
    def rel_error(self) -> float:
        """max abs error / scale (the max abs error itself when the scale is 0)."""
        return self.max_abs_error / self.scale if self.scale > 0 else self.max_abs_error


@dataclass(frozen=True)
class Verdict:
    status: str
    outputs: tuple[TensorVerdict, ...]
    intermediates: tuple[TensorVerdict, ...]
    first_divergence: str | None     # name of the first diverging intermediate tensor, if any

    @property
    def match(self) -> bool:
        return self.status == MATCH

    def summary(self) -> str:
        """One line: the overall status and why."""
        if self.status == MATCH:
            weak = [v.name for v in self.outputs if v.status == UNINFORMATIVE]
            also = f"; uninformative: {', '.join(weak)}" if weak else ""
            return (f"match: yes ({len(self.outputs) - len(weak)} output(s) and {len(self.intermediates)} intermediate "
                    f"tensor(s) within {RTOL:g} x their own max|reference|{also})")
        bad = [v for v in self.outputs if v.status != MATCH]
        if self.status == UNINFORMATIVE:
            if not bad:
                return "match: uninformative (the model has no output to compare)"
            return (f"match: uninformative (the reference output {bad[0].name!r} is {bad[0].reason}, so agreeing "
                    "with it shows nothing; if the model's weights are constants, as in the onnx light graphs, compile "
                    "and run with --random-weights; else try other --inputs or --seed)")
        where = f"; first diverging tensor {self.first_divergence!r}" if self.first_divergence else ""
        worst = next((v for v in (*self.outputs, *self.intermediates) if v.status == MISMATCH), None)
        what = f"{worst.name!r}: {worst.reason}" if worst else ""
        return f"match: NO ({what}{where})"


def judge_tensor(name: str, ours: np.ndarray | None, ref: np.ndarray, rtol: float = RTOL) -> TensorVerdict:
    """The verdict on one tensor; see the module docstring."""
    if ours is None:
        return TensorVerdict(name, MISMATCH, float("inf"), 0.0, "missing from the machine's results")
    if ours.shape != ref.shape:
        return TensorVerdict(name, MISMATCH, float("inf"), 0.0, f"shape {ours.shape}, reference {ref.shape}")
    if ref.dtype.kind in "OSU":   # strings: equal or not
        differ = int(np.sum(np.asarray(ours, dtype=object) != np.asarray(ref, dtype=object)))
        if differ:
            return TensorVerdict(name, MISMATCH, float("inf"), 0.0, f"{differ} of {ref.size} string(s) differ")
        return TensorVerdict(name, MATCH if ref.size else UNINFORMATIVE, 0.0, 0.0, "equal" if ref.size else "empty")
    r = np.asarray(ref, dtype=np.float64)
    o = np.asarray(ours, dtype=np.float64)
    fin = np.isfinite(r)
    scale = float(np.abs(r[fin]).max()) if fin.any() else 0.0
    if not fin.all():
        return TensorVerdict(name, UNINFORMATIVE, float("nan"), scale, "non-finite (NaN or Inf)")
    if r.size == 0:
        return TensorVerdict(name, UNINFORMATIVE, 0.0, 0.0, "empty")
    if not np.isfinite(o).all():
        return TensorVerdict(name, MISMATCH, float("inf"), scale, "non-finite values where the reference is finite")
    err = float(np.abs(o - r).max())
    if err > rtol * scale:
        return TensorVerdict(name, MISMATCH, err, scale,
                             f"max error {err:.3g} > {rtol:g} x max|reference| {scale:.3g}")
    if scale == 0.0:
        return TensorVerdict(name, UNINFORMATIVE, err, scale, "all zero")
    if r.size > 1 and float(r.max() - r.min()) <= CONSTANT_RTOL * scale:
        return TensorVerdict(name, UNINFORMATIVE, err, scale, f"constant ({float(r.flat[0]):.6g} everywhere)")
    return TensorVerdict(name, MATCH, err, scale, "within tolerance")


def judge(ours: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray], outputs: Sequence[str],
          intermediates: Sequence[str] = (),
          local: Callable[[str, set[str]], TensorVerdict | None] | None = None) -> Verdict:
    """The verdict over ``outputs`` and ``intermediates`` (names, intermediates in the graph's order).

    ``local(name, verified)``, when given, re-judges a tensor that differs end to end on the
    machine's own inputs of its producer; it must return None (cannot: the end-to-end verdict
    stands) unless every dynamic input of that producer is a graph input or in ``verified``
    (tensors judged so far and not diverging), so a wrong tensor upstream can never be excused.
    Intermediates are judged first, then outputs; an intermediate whose shape differs from the
    reference's is a different tensor under the same name (the passes rewrote it) and is skipped.
    """
    verified: set[str] = set()

    def one(t: str) -> TensorVerdict:
        v = judge_tensor(t, ours.get(t), ref[t])
        if v.status == MISMATCH and local is not None and ours.get(t) is not None and ours[t].shape == ref[t].shape \
                and ref[t].dtype.kind not in "OSU" and np.isfinite(np.asarray(ours[t], dtype=np.float64)).all():
            again = local(t, verified)
            if again is not None and again.status != MISMATCH:
                v = TensorVerdict(t, MATCH, v.max_abs_error, v.scale,
                                  "differs end to end, matches on the machine's own inputs of its op")
        if v.status != MISMATCH:
            verified.add(t)
        return v

    inter: list[TensorVerdict] = []
    first: str | None = None
    out_set = set(outputs)
    for t in intermediates:
        if t not in ref or t not in ours or t in out_set or np.shape(ref[t]) != np.shape(ours[t]):
            continue   # shapes come from the graph, not the program: another shape is another tensor
        v = one(t)
        if v.status == MISMATCH and first is None:
            first = t
        inter.append(v)
    outs = tuple(one(t) for t in outputs)
    if any(v.status == MISMATCH for v in (*outs, *inter)):
        status = MISMATCH
    elif not any(v.status == MATCH for v in outs):
        status = UNINFORMATIVE
    else:
        status = MATCH
    return Verdict(status, outs, tuple(inter), first)
