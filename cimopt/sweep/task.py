"""One sweep task: compile (and optionally run) one combination, in a child process with a wall budget.

`execute_task` is what a process pool or a Dask worker calls: a plain function of a plain
`SweepTask` returning a plain dict (one result row).  It starts ``python -m cimopt.sweep.task``
(a child process, so a task over its budget can be killed, also inside a daemonic Dask worker),
hands it the task as JSON on stdin and reads the row as JSON from the last line of its stdout.
A task that fails, crashes or exceeds its budget is still a row: ``status`` is ``error`` or
``timeout`` and ``error`` says why.

Row columns: the task's inputs (``key``, ``model``, ``model_path``, ``model_sha256``,
``target``, ``target_hash``, ``mode``, ``solver``, ``methods``, ``seed``, ``time_limit_s``,
``workers``, ``chunks``, ``run``, ``random_weights``, ``budget_s``, ``sweep``, ``deterministic``, versions
``v_cimopt``, ``v_ortools``, ``v_onnx``, ``v_numpy``, ``v_python``); per stage
``<stage>.method``, ``.kind`` (`cimopt methods`), ``.produced_by`` (the fallback method that
produced the solution, empty when ``.method`` did), ``.status``, ``.objective``, ``.bound``, ``.gap``, ``.wall_s`` (objective
units per stage as `cimopt compile` prints them, wall time s); end to end ``makespan_ns``,
``initiation_interval_ns``, ``inferences_per_s``, ``energy_pj``, ``memory_peak_bytes``,
``memory_bound_bytes``, ``tasks``, ``crossbars_used``, ``compile_s``; with ``run``:
``run_ok`` (outputs and intermediates match and no violation: `cimopt run`'s verdict,
`cimopt.checked_run`), ``run_match``, ``run_violations``, ``run_max_abs_error``,
``run_max_rel_error`` (over the outputs with a finite error), ``run_makespan_ns``, ``run_s`` (the
machine's wall time); and ``status``, ``error``, ``task_s`` (the task's wall time, s).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from importlib import metadata
from typing import Any

from cimopt.sweep.grid import SweepTask

Row = dict[str, Any]

#: columns that measure time (they differ between two runs of the same task)
TIMING_COLUMNS = ("task_s", "compile_s", "run_s")


def is_timing_column(name: str) -> bool:
    """True for wall-time columns (``task_s``, ``compile_s``, ``run_s``, ``<stage>.wall_s``)."""
    return name in TIMING_COLUMNS or name.endswith(".wall_s")


def versions() -> dict[str, str]:
    """Installed versions of cimopt, OR-Tools, onnx, numpy and Python."""
    out = {}
    for col, dist in (("v_cimopt", "cimopt"), ("v_ortools", "ortools"), ("v_onnx", "onnx"), ("v_numpy", "numpy")):
        try:
            out[col] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[col] = "not installed"
    out["v_python"] = platform.python_version()
    return out


def input_columns(task: SweepTask) -> Row:
    """The row's input columns (without the hashes, which need the files)."""
    d = asdict(task)
    d["methods"] = task.methods_text()
    d.pop("target_ref")
    return {"key": task.key, **d, **versions()}


def execute_task(task: SweepTask) -> Row:
    """Run ``task`` in a child process killed after ``task.budget_s`` seconds; always returns a row."""
    row = input_columns(task)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cimopt.sweep.task"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(json.dumps(asdict(task)), timeout=task.budget_s)
    except subprocess.TimeoutExpired:
        proc.kill()   # the child runs no processes of its own (CP-SAT uses threads)
        proc.communicate()
        row.update(status="timeout", error=f"exceeded the task budget of {task.budget_s:g} s; killed",
                   task_s=time.perf_counter() - t0)
        return row
    lines = out.strip().splitlines()
    try:
        child = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        child = None
    if proc.returncode != 0 or not isinstance(child, dict):
        tail = (err.strip().splitlines() or ["no output"])[-1][:300]
        row.update(status="error", error=f"task process exited with code {proc.returncode}: {tail}")
    else:
        row.update(child)
    row["task_s"] = time.perf_counter() - t0
    return row


def compute(task: SweepTask) -> Row:
    """Compile (and run) ``task`` in this process: its output columns, ``status`` and ``error``."""
    from cimopt.ir.errors import CimoptError

    out: Row = {}
    try:
        _compute(task, out)
        out.update(status="ok", error="")
    except CimoptError as e:
        out.update(status="error", error=f"{type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - a bug in one task is that task's row, never the sweep's end
        out.update(status="error", error=f"internal error {type(e).__name__}: {str(e)[:300]}")
    return out


def _compute(task: SweepTask, out: Row) -> None:
    import onnx

    from cimopt.ir.errors import ModelError
    from cimopt.ir.random_weights import randomised_file
    from cimopt.targets.load import load_target

    from cimopt.compiler import compile_model
    from cimopt.options import CompileOptions

    target = load_target(task.target_ref)
    out["target_hash"] = target.digest()
    if not os.path.isfile(task.model_path):
        raise ModelError(f"{task.model}: no such model file ({task.model_path})")
    with open(task.model_path, "rb") as f:
        data = f.read()
    model: str | onnx.ModelProto = task.model_path
    if task.random_weights:   # the model `compile --random-weights --weight-seed 0` compiles, named as the file
        model = randomised_file(task.model_path, 0)
        data = model.SerializeToString()
    out["model_sha256"] = hashlib.sha256(data).hexdigest()
    opts = CompileOptions(mode=task.mode, solver=task.solver, seed=task.seed, time_limit_s=task.time_limit_s,
                          workers=task.workers, chunks=task.chunks, methods=task.methods,
                          deterministic=bool(task.deterministic))
    res = compile_model(model, target, opts, None, None, progress=None)
    for stage, s in res.stats.items():
        out.update({f"{stage}.method": s.method, f"{stage}.kind": s.kind, f"{stage}.produced_by": s.produced_by,
                    f"{stage}.status": s.status.value,
                    f"{stage}.objective": _num(s.objective), f"{stage}.bound": _num(s.bound),
                    f"{stage}.gap": _num(s.gap), f"{stage}.wall_s": s.wall_s})
    p = res.program
    for k in ("makespan_ns", "initiation_interval_ns", "inferences_per_s", "energy_pj", "memory_peak_bytes",
              "memory_bound_bytes", "tasks", "crossbars_used", "compile_s"):
        out[k] = p.metric(k, math.nan)
    if task.run:
        out.update(_run(p, res.frontend.graph, target, model))


def _run(program: Any, graph: Any, target: Any, model: Any) -> Row:
    """`cimopt run`'s checks and verdict (`cimopt.checked_run`) with its default inputs (seed 0)."""
    from cimopt.ir.load import read_model

    from cimopt.checked_run import checked_run
    from cimopt.inputs import random_inputs

    proto = model if not isinstance(model, str) else read_model(model, "refuse")
    run = checked_run(program, graph, target, proto, random_inputs(graph, 0))
    return {"run_ok": run.ok, "run_match": bool(run.verdict.match),
            "run_violations": len(run.machine.violations),
            "run_max_abs_error": run.max_abs_error, "run_max_rel_error": run.max_rel_error,
            "run_makespan_ns": float(run.machine.makespan_ns), "run_s": run.run_s}


def _num(x: float) -> float:
    return float(x) if math.isfinite(x) else math.nan


def _child_main() -> int:
    task_d = json.loads(sys.stdin.read())
    task_d["methods"] = tuple(tuple(m) for m in task_d["methods"])
    row = compute(SweepTask(**task_d))
    sys.stdout.write("\n" + json.dumps(row, allow_nan=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
