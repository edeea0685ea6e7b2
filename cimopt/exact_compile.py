"""The exact path: the program optimised end to end, not stage by stage.

Stage optima on proxy objectives (byte-hops, the replication estimate) do not compose: an
exact placement with fewer byte-hops can give a slower schedule.  So ``--solver exact`` runs
the heuristic pipeline first (the hint, end to end), then, stage by stage, replaces the
stage's method by its exact one and re-runs the stages after it from a copy of the context;
the change is kept when the program's end-to-end objective (makespan in latency mode, time
per inference in throughput mode; then memory peak) gets better, else dropped.  Then finer
row chunks (task granularity) are tried from the scheduling stage on.  The result is never
worse than the heuristic program, and every pipeline tried is recorded.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cimopt.ir import units
from cimopt.options import CompileOptions
from cimopt.solver.context import Context
from cimopt.solver.interface import Stage
from cimopt.solver.stats import SolverOptions, SolveStats
from cimopt.stage_loop import Progress, run_stages


#: finer task granularities tried, as multiples of the requested chunks per crossbar op
CHUNK_FACTORS = (2, 4)


@dataclass(frozen=True)
class Candidate:
    """One pipeline the exact path ran: its methods, end-to-end objective (ns) and memory peak
    (bytes), and whether it became the best so far."""

    methods: tuple[tuple[str, str], ...]
    changed: str              # "" for the heuristic pipeline, a stage switched to exact, or "chunks=N"
    objective_ns: float
    memory_bytes: int
    kept: bool


def _key(ctx: Context) -> tuple[float, int]:
    assert ctx.memory is not None, "memory has not run"
    return ctx.objective_ns, sum(ctx.memory.plan.peak.values())


def exact_path(ctx: Context, stages: Sequence[Stage[Any, Any]], options: CompileOptions, so: SolverOptions,
               overrides: Mapping[str, str], times: dict[str, float], say: Progress
               ) -> tuple[Context, dict[str, SolveStats], list[Candidate]]:
    """The best pipeline found (its context and stats) and the list of pipelines tried; every
    method gets ``so`` (``options.solver_options()``, converted once by the caller)."""
    methods = {st.name: st.choose("heuristic", overrides) for st in stages}
    snaps: dict[int, Context] = {}
    sols: dict[str, tuple[Any, SolveStats]] = {}
    best = ctx.fork()
    say("exact path: the heuristic pipeline first")
    best_stats, _ = run_stages(best, stages, methods, options, so, times, say, snapshots=snaps, solutions=sols)
    obj, peak = _key(best)
    trail = [Candidate(tuple(methods.items()), "", obj, peak, True)]
    for k, st in enumerate(stages):
        if st.name in overrides or st.exact == methods[st.name] or st.name not in best_stats:
            continue  # chosen by the user, no exact alternative, or not run for this compile
        trial = dict(methods, **{st.name: st.exact})
        trial_snaps = {i: c for i, c in snaps.items() if i < k}
        cand = snaps[k].fork()
        cand_sols = {s.name: sols[s.name] for s in stages[:k] if s.name in sols}
        say(f"exact path: {st.name} with {st.exact}")
        # the same instance as the best pipeline's at this stage: its solution is the hint
        cand_stats, _ = run_stages(cand, stages, trial, options, so, times, say, start=k,
                                   stats={s.name: best_stats[s.name] for s in stages[:k] if s.name in best_stats},
                                   snapshots=trial_snaps, hint=sols[st.name], solutions=cand_sols)
        key = _key(cand)
        kept = key < _key(best)
        trail.append(Candidate(tuple(trial.items()), st.name, key[0], key[1], kept))
        say(f"exact path: {st.name}={st.exact} gives {units.time(key[0], 6)}, {'kept' if kept else 'dropped'} "
            f"(best {units.time(_key(best)[0], 6)})")
        if kept:
            best, best_stats, methods, snaps, sols = cand, cand_stats, trial, trial_snaps, cand_sols
    # task granularity: finer row chunks pipeline consecutive layers more closely, at the cost
    # of more tasks and transfers; tried from the scheduling stage on, with the methods kept
    k = next((i for i, st in enumerate(stages) if st.name == "scheduling"), None)
    if k is not None:
        for chunks in CHUNK_FACTORS:
            cand = snaps[k].fork()
            cand.chunks = ctx.chunks * chunks
            trial_snaps = {i: c for i, c in snaps.items() if i < k}
            say(f"exact path: {cand.chunks} row chunks per crossbar op")
            cand_sols = {s.name: sols[s.name] for s in stages[:k] if s.name in sols}
            cand_stats, _ = run_stages(cand, stages, methods, options, so, times, say, start=k,
                                       stats={s.name: best_stats[s.name] for s in stages[:k] if s.name in best_stats},
                                       snapshots=trial_snaps, solutions=cand_sols)
            key = _key(cand)
            kept = key < _key(best)
            trail.append(Candidate(tuple(methods.items()), f"chunks={cand.chunks}", key[0], key[1], kept))
            if kept:
                best, best_stats, snaps, sols = cand, cand_stats, trial_snaps, cand_sols
    return best, best_stats, trail
