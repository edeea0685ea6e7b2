"""`compile_model`: the solver pipeline from an ONNX model to an executable Program.

The pipeline is a loop over `cimopt.solver.stages.STAGES` (tile -> replicate (or segment) ->
place -> schedule -> allocate memory), then emission.  The loop does, once for every stage:
choosing the method (``--solver`` default or ``--method`` override), timing, progress, compare
mode (other methods on the same instance), exporting instances, recording retries, and the
program's record of what ran.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import onnx

from cimopt.cost.external import MeasuredCost
from cimopt.cost.model import CostModel
from cimopt.ir.errors import CapacityError, UsageError
from cimopt.ir.program import Program
from cimopt.solver import instances
from cimopt.solver.context import Context
from cimopt.solver.stage import Stage, StageInfeasible, check_overrides
from cimopt.solver.stages import STAGES
from cimopt.solver.stats import Attempt, SolveStats
from cimopt.targets.spec import Target

from .frontend import Frontend, prepare
from .options import CompileOptions
from .program_build import build_program

Progress = Callable[[str], None]
#: retries of earlier stages (e.g. replication under a smaller budget) before giving up
MAX_RETRIES = 12


@dataclass
class CompileResult:
    """The program, the front end's graph and workload, and what every stage did.

    ``stats``: stage -> the stats of the method that produced the program (its ``attempts``
    list every fallback and retry); ``stage_s``: wall seconds per step, adding up to the
    compile's wall time; ``compare``: stage -> method -> stats of the other methods on the same
    instance (compare mode); ``warnings``: requests honoured another way.
    """

    program: Program
    frontend: Frontend
    stats: dict[str, SolveStats]
    stage_s: dict[str, float] = field(default_factory=dict)
    compare: dict[str, dict[str, SolveStats]] = field(default_factory=dict)
    memory_bound: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def model_hash(model: str | os.PathLike[str] | onnx.ModelProto) -> str:
    """First 16 hex digits of the SHA-256 of the model file's bytes (or of the serialised proto)."""
    if isinstance(model, onnx.ModelProto):
        data = model.SerializeToString()
    else:
        with open(model, "rb") as f:
            data = f.read()
    return hashlib.sha256(data).hexdigest()[:16]


def compile_model(model: str | os.PathLike[str] | onnx.ModelProto, target: Target,
                  options: CompileOptions = CompileOptions(),
                  input_shapes: Mapping[str, Sequence[int]] | None = None,
                  measured: Mapping[str, MeasuredCost] | None = None,
                  progress: Progress | None = None) -> CompileResult:
    """Compile ``model`` for ``target``: every stage's SolveStats and the wall time of each step."""
    say = progress or (lambda _msg: None)
    overrides = dict(options.methods)
    check_overrides(STAGES, overrides)
    t0 = time.perf_counter()
    say("front end: load, fold, fuse, legalise, lower")
    fe = prepare(model, target, input_shapes)
    times: dict[str, float] = {"frontend": time.perf_counter() - t0}
    ctx = Context(fe.graph, fe.workload, target, CostModel(target, measured), options.mode, options.chunks)
    stats, compare = run_stages(ctx, STAGES, options, overrides, times, say)
    for w in ctx.warnings:
        say(f"warning: {w}")
    t = time.perf_counter()
    say("emitting the program")
    program, bounds = build_program(ctx, fe, model_hash(model), stats, options, times, t0)
    times["emit"] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    return CompileResult(program, fe, stats, times, compare, bounds, list(ctx.warnings), wall)


def run_stages(ctx: Context, stages: Sequence[Stage[Any, Any]], options: CompileOptions,
               overrides: Mapping[str, str], times: dict[str, float], say: Progress
               ) -> tuple[dict[str, SolveStats], dict[str, dict[str, SolveStats]]]:
    """Run ``stages`` in order on ``ctx``, resuming from an earlier stage when one asks to retry.

    Returns the stats per stage and, in compare mode, the stats of the compared methods.
    ``times`` gets each stage's wall seconds (retries and compared methods included).
    """
    so = options.solver_options()
    stats: dict[str, SolveStats] = {}
    compare: dict[str, dict[str, SolveStats]] = {}
    carried: dict[str, list[Attempt]] = {}
    index = {s.name: k for k, s in enumerate(stages)}
    retries = 0
    k = 0
    while k < len(stages):
        st = stages[k]
        method = st.choose(options.solver, overrides)
        say(f"{st.name}: {method}")
        t = time.perf_counter()
        try:
            problem = st.build(ctx)
            solution, s = st.run(problem, method, so)
            st.apply(ctx, solution)
        except StageInfeasible as e:
            spent = time.perf_counter() - t
            times[st.name] = times.get(st.name, 0.0) + spent
            budget = ctx.budget
            back = st.retry(ctx, e) if retries < MAX_RETRIES else None
            if back is None:
                raise CapacityError(f"{e} (after {retries} retries)") from None
            retries += 1
            what = f"{st.name} with {method}"
            carried.setdefault(st.name, []).extend(e.attempts)
            carried.setdefault(st.name, []).append(
                Attempt(what, f"{e}; resumed from {back} with the crossbar budget {budget} -> {ctx.budget}",
                        spent - sum(a.wall_s for a in e.attempts)))
            carried.setdefault(back, []).append(
                Attempt(f"{back} under the budget {budget}", f"{st.name} failed; budget now {ctx.budget}", 0.0))
            say(f"{st.name} failed ({e}); resuming from {back} with a budget of {ctx.budget} crossbars")
            k = index[back]
            continue
        s = replace(s, attempts=tuple(carried.pop(st.name, ())) + s.attempts)
        stats[st.name] = s
        if options.export_instances:
            _export(st, problem, s, options)
        times[st.name] = times.get(st.name, 0.0) + time.perf_counter() - t
        if options.compare:
            compare[st.name] = _compare(st, problem, method, options, times, say)
        k += 1
    return stats, compare


def _export(st: Stage[Any, Any], problem: Any, s: SolveStats, options: CompileOptions) -> None:
    """Write the stage's instance with the method, limits and stats that solved it."""
    folder = options.export_instances
    assert folder is not None, "no export folder"
    try:
        os.makedirs(folder, exist_ok=True)
        meta = {"method": s.method, "seed": options.seed, "time_limit_s": options.time_limit_s,
                "workers": options.workers, "stats": {"status": s.status.value, "objective": s.objective,
                                                      "bound": s.bound, "wall_s": s.wall_s}}
        instances.save(st, problem, os.path.join(folder, f"{st.name}.json"), meta)
    except OSError as e:
        raise UsageError(f"--export-instances {folder}: cannot write ({e.strerror or e})") from None


def _compare(st: Stage[Any, Any], problem: Any, chosen: str, options: CompileOptions,
             times: dict[str, float], say: Progress) -> dict[str, SolveStats]:
    """Other methods of ``st`` on the same instance: its exact default, or every method with
    ``options.compare == "all"``; a method that cannot solve the instance is left out with a note."""
    names = [m.name for m in st.methods] if options.compare == "all" else [st.exact]
    if options.compare == "all":
        names = [n for n in names if n != chosen]
    out: dict[str, SolveStats] = {}
    t = time.perf_counter()
    for name in names:
        say(f"{st.name}: comparing {name}")
        try:
            out[name] = st.run(problem, name, options.solver_options())[1]
        except (StageInfeasible, CapacityError) as e:
            say(f"{st.name}: {name} could not solve the instance: {e}")
    times["compare"] = times.get("compare", 0.0) + time.perf_counter() - t
    return out
