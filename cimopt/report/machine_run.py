"""What `cimopt run` (and `cimopt demo`) report of a checked run (`cimopt.checked_run`): the
machine's figures, the verdict per output, the violations, as text (`run_lines`) or JSON
(`run_json`); and the machine's outputs written to a .npz (`save_outputs`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cimopt.checked_run import CheckedRun
from cimopt.ir import units
from cimopt.ir.errors import UsageError
from cimopt.ir.program import Program
from cimopt.report.verdict import MISMATCH, TensorVerdict, Verdict


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


def run_json(run: CheckedRun, program: Program) -> dict[str, Any]:
    """`cimopt run --json`: the verdict, the violations, the machine's and the program's figures
    (ns, pJ) and the machine's wall time ``run_s`` (s)."""
    res = run.machine
    return {"match": bool(run.verdict.match), "violations": run.violations, "max_abs_error": run.max_abs_error,
            "max_rel_error": run.max_rel_error, "makespan_ns": float(res.makespan_ns),
            "initiation_interval_ns": float(res.initiation_interval_ns),
            "energy_pj": float(res.energy.total), "program_makespan_ns": float(program.makespan_ns),
            **verdict_json(run.verdict), "run_s": run.run_s}


def run_lines(run: CheckedRun, program: Program) -> list[str]:
    """`cimopt run`'s text: the machine's figures, one line per output, the first 20 violations,
    the summary."""
    res, viol = run.machine, run.violations
    lines = [f"ran {res.instructions} instructions in {run.run_s:.1f} s; machine makespan "
             f"{units.time(res.makespan_ns, 6)} (program says {units.time(program.makespan_ns, 6)}), "
             f"energy {units.energy(res.energy.total)}"]
    lines += verdict_lines(run.verdict)
    lines += [f"  violation {x}" for x in viol[:20]]
    if len(viol) > 20:
        lines.append(f"  ... and {len(viol) - 20} more violations")
    lines.append(f"{run.verdict.summary()}; {len(viol)} violation(s)")
    return lines


__all__ = ["save_outputs", "verdict_json", "verdict_lines", "run_json", "run_lines"]
