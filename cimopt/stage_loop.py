"""The pipeline loop: stages run in order on a context, each built, solved and applied, with
timing, progress, retries (a stage that cannot be solved sends the loop back to an earlier
one, every retry recorded), compare mode and instance export written once, here."""
from __future__ import annotations

import os
import time
from dataclasses import replace
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cimopt.ir.errors import CapacityError, UsageError
from cimopt.options import CompileOptions
from cimopt.solver.context import Context
from cimopt.solver.harness import instances
from cimopt.solver.interface import Stage, StageInfeasible
from cimopt.solver.stats import Attempt, SolverOptions, SolveStats

Progress = Callable[[str], None]
#: retries of earlier stages (e.g. replication under a smaller budget) before giving up
MAX_RETRIES = 12


def run_stages(ctx: Context, stages: Sequence[Stage[Any, Any]], methods: Mapping[str, str],
               options: CompileOptions, so: SolverOptions, times: dict[str, float], say: Progress, *, start: int = 0,
               stats: Mapping[str, SolveStats] | None = None, snapshots: dict[int, Context] | None = None,
               hint: tuple[Any, SolveStats] | None = None, solutions: dict[str, tuple[Any, SolveStats]] | None = None
               ) -> tuple[dict[str, SolveStats], dict[str, dict[str, SolveStats]]]:
    """Run ``stages[start:]`` on ``ctx`` with ``methods`` (stage -> method), resuming from an
    earlier stage when one asks to retry; every method gets ``so`` (``options.solver_options()``,
    converted once per compile by the caller).

    Returns the stats per stage (``stats`` holds those of the stages before ``start``) and, in
    compare mode, the stats of the compared methods.  ``times`` gets each stage's wall seconds
    (retries and compared methods included); ``snapshots``, if given, a copy of the context
    as each stage found it; ``hint``, a solution of ``stages[start]``'s instance that its method
    must not be worse than (`Stage.run`); ``solutions``, each stage's solution and stats.
    """
    stats = dict(stats or {})
    compare: dict[str, dict[str, SolveStats]] = {}
    carried: dict[str, list[Attempt]] = {}
    index = {s.name: k for k, s in enumerate(stages)}
    retries = 0
    k = start
    while k < len(stages):
        st = stages[k]
        if not st.applies(ctx):
            k += 1
            continue
        method = methods[st.name]
        if snapshots is not None:
            snapshots[k] = ctx.fork()
        say(f"{st.name}: {method}")
        t = time.perf_counter()
        try:
            problem = st.build(ctx)
            solution, s = st.run(problem, method, so, hint if k == start else None)
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
        if solutions is not None:
            solutions[st.name] = (solution, s)
        if options.export_instances:
            _export(st, problem, s, options)
        times[st.name] = times.get(st.name, 0.0) + time.perf_counter() - t
        if options.compare:
            compare[st.name] = _compare(st, problem, (solution, s), method, options, so, times, say)
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


def _compare(st: Stage[Any, Any], problem: Any, hint: tuple[Any, SolveStats], chosen: str, options: CompileOptions,
             so: SolverOptions, times: dict[str, float], say: Progress) -> dict[str, SolveStats]:
    """Other methods of ``st`` on the same instance, exact ones hinted with the chosen method's
    solution (``hint``): its exact default, or every method with ``options.compare == "all"``;
    a method that cannot solve the instance is left out with a note."""
    names = [m.name for m in st.methods] if options.compare == "all" else [st.exact]
    if options.compare == "all":
        names = [n for n in names if n != chosen]
    out: dict[str, SolveStats] = {}
    t = time.perf_counter()
    for name in names:
        say(f"{st.name}: comparing {name}")
        try:
            out[name] = st.run(problem, name, so, hint)[1]
        except (StageInfeasible, CapacityError) as e:
            say(f"{st.name}: {name} could not solve the instance: {e}")
    times["compare"] = times.get("compare", 0.0) + time.perf_counter() - t
    return out
