"""`compile()`: the solver pipeline from an ONNX model to an executable Program.

tile -> replicate (or segment) -> place -> schedule -> allocate memory -> emit
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import onnx

from cimopt.cost.external import MeasuredCost
from cimopt.cost.model import CostModel
from cimopt.ir.program import Program
from cimopt.solver import scheduling as sch
from cimopt.solver.stats import SolveStats
from cimopt.solver.tiling import tile_workload
from cimopt.targets.instructions import static_energy
from cimopt.targets.spec import Target

from . import emit
from .batching import batched_model, choose_batch, needs_segments
from .e2e import e2e_metrics
from .frontend import Frontend, prepare
from .mapping import map_model
from .options import CompileOptions
from .tasks import build_tasks

Progress = Callable[[str], None]


@dataclass
class CompileResult:
    program: Program
    frontend: Frontend
    stats: dict[str, SolveStats]
    stage_s: dict[str, float] = field(default_factory=dict)
    exact_stats: dict[str, SolveStats] = field(default_factory=dict)   # compare mode
    memory_bound: dict[str, int] = field(default_factory=dict)


def model_hash(model: str | os.PathLike[str] | onnx.ModelProto) -> str:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else open(model, "rb").read()
    return hashlib.sha256(data).hexdigest()[:16]


def compile_model(model: str | os.PathLike[str] | onnx.ModelProto, target: Target,
                  options: CompileOptions = CompileOptions(),
                  input_shapes: Mapping[str, Sequence[int]] | None = None,
                  measured: Mapping[str, MeasuredCost] | None = None,
                  progress: Progress | None = None) -> CompileResult:
    """Compile ``model`` for ``target``; every stage's SolveStats and wall time are returned."""
    say = progress or (lambda _msg: None)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    say("front end: load, fold, fuse, legalise, lower")
    fe = prepare(model, target, input_shapes)
    times["frontend"] = time.perf_counter() - t0
    cm = CostModel(target, measured)
    # issue 11: a model in several segments runs a batch of inferences per reprogramming
    batch = options.batch or (choose_batch(fe.workload, cm) if options.mode == "throughput" else 1)
    batch = batch if needs_segments(fe.workload, cm) or options.batch else 1
    if batch > 1:
        fe = prepare(batched_model(model, batch), target,
                     {k: (batch, *v[1:]) for k, v in (input_shapes or {}).items()})
    stats: dict[str, SolveStats] = {}
    c = target.core

    t = time.perf_counter()
    _, stats["tiling"] = tile_workload(fe.workload, c.crossbar_rows, c.crossbar_cols, target.weight_slices)
    times["tiling"] = time.perf_counter() - t

    t = time.perf_counter()
    say(f"replication and placement ({options.solver})")
    mapping = map_model(fe.graph, fe.workload, target, cm, options)
    stats.update(mapping.stats)
    times["replicate+place"] = time.perf_counter() - t

    t = time.perf_counter()
    # issue 11: a batch's rows hold B inferences; finer chunks keep the layers of a segment pipelined
    tg = build_tasks(fe.graph, fe.workload, target, mapping, options.chunks * min(batch, 8))
    resources = sorted({x.resource for x in tg.tasks if x.resource})
    rindex = {r: i for i, r in enumerate(resources)}
    problem = sch.SchedulingProblem(
        tuple(sch.Task(f"t{i}", x.duration_ns, rindex.get(x.resource, -1)) for i, x in enumerate(tg.tasks)),
        tuple((a, b, 0) for a, b in sorted(tg.edges)), tuple(resources))
    mode = options.mode if len(mapping.segments) == 1 else "latency"   # segments: one batch at a time
    say(f"scheduling {len(tg.tasks)} tasks on {len(resources)} resources ({mode} mode)")
    schedule, stats["scheduling"] = sch.solve(problem, mode, "exact" if options.solver == "exact" else "list",
                                              options.solver_options())
    times["scheduling"] = time.perf_counter() - t
    exact_stats = dict(mapping.exact_stats)
    if options.compare:
        exact_stats["scheduling"] = sch.solve(problem, mode, "exact", options.solver_options())[1]
    start = list(schedule.start_ns)
    makespan = max((s + x.duration_ns for s, x in zip(start, tg.tasks)), default=0)
    ii = schedule.initiation_interval_ns if options.mode == "throughput" and len(mapping.segments) == 1 else makespan

    t = time.perf_counter()
    say("memory planning")
    buffers, where, spaces, copies, stats["memory"], bounds = emit.plan_memory(
        fe.graph, tg, start, makespan, ii, target, options.solver, options.solver_options())
    times["memory"] = time.perf_counter() - t
    if options.compare:
        exact_stats["memory"] = emit.plan_memory(fe.graph, tg, start, makespan, ii, target, "exact",
                                                 options.solver_options())[4]

    instrs = emit.instructions(tg, start, where)
    energy = sum(i.energy_pj for i in instrs) + static_energy(target, makespan).total
    used = sum(len(v) for v in mapping.where.values())
    seg0 = set(mapping.segments[0])
    metrics = {
        "makespan_ns": float(makespan), "initiation_interval_ns": float(ii),
        "inferences_per_s": batch * 1e9 / ii if ii else 0.0, "energy_pj": float(energy), "batch": float(batch),
        "crossbars_used": float(mapping.crossbars_used()), "crossbars_total": float(target.total_crossbars),
        "crossbar_utilisation": mapping.crossbars_used() / target.total_crossbars,
        "tile_copies": float(used), "tasks": float(len(tg.tasks)),
        "memory_peak_bytes": float(sum(spaces.values()) // max(1, copies)),
        "memory_bound_bytes": float(sum(bounds.values())),
        "compile_s": time.perf_counter() - t0,
    }
    for k, v in times.items():
        metrics[f"stage_s.{k}"] = v
    # issue 11: the end-to-end bound and the physical limit, against the mode's objective
    e2e = e2e_metrics(fe.graph, fe.workload, target, cm, options.mode, tg.tasks, ii, batch)
    metrics.update(e2e.metrics)
    describe = options.describe()
    program = Program(
        model=fe.workload.name, model_hash=model_hash(model), target=target.name, target_hash=target.digest(),
        mode=options.mode,
        input_shapes=tuple((n, tuple(fe.graph.shape(n))) for n in fe.graph.inputs),
        programming=emit.programming(tg, mapping.where, seg0), instructions=instrs, buffers=buffers,
        spaces=tuple(sorted(spaces.items())), makespan_ns=makespan, initiation_interval_ns=ii,
        segments=len(mapping.segments), iterations_in_flight=copies,
        metrics=tuple(metrics.items()), solvers=tuple(describe.items()),
        stats=tuple((k, tuple((a, _plain(b)) for a, b in asdict(s).items())) for k, s in stats.items()),
        extra=e2e.extra,
    )
    return CompileResult(program, fe, stats, times, exact_stats, bounds)


def _plain(v: object) -> object:
    if hasattr(v, "value"):
        return v.value  # enums
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    return v
