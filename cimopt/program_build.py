"""The Program from a finished pipeline context: instructions, buffers, metrics and the record
of what ran (method, note, limits per stage) and every stage's stats."""
from __future__ import annotations

import time
from dataclasses import asdict

from cimopt import emit
from cimopt.cost.matmul_units import CROSSBAR_WRITTEN
from cimopt.e2e import e2e_metrics
from cimopt.frontend import Frontend
from cimopt.ir.program import Instruction, Program
from cimopt.ir.program_expand import compact
from cimopt.options import CompileOptions
from cimopt.solver.context import Context
from cimopt.solver.stats import SolveStats
from cimopt.targets.machine.checks.links import held_route, link_loads_ns
from cimopt.targets.physics.instructions import static_energy
from cimopt.targets.spec import Target


def build_program(ctx: Context, fe: Frontend, model_hash: str, stats: dict[str, SolveStats],
                  options: CompileOptions, times: dict[str, float], t0: float) -> tuple[Program, dict[str, int]]:
    """The program, its instructions compact (`ir.program_expand.compact`), and the max-live bound
    per memory space (bytes).  ``times`` are the steps'
    wall seconds so far and ``t0`` the compile's start (`time.perf_counter`)."""
    mapping, tg, schedule, memory = ctx.mapping, ctx.tasks, ctx.schedule, ctx.memory
    assert mapping is not None and tg is not None and schedule is not None and memory is not None, \
        "the pipeline has not finished"
    makespan, ii = ctx.makespan_ns, ctx.interval_ns
    inst = memory.instance
    buffers, where, spaces, bounds = emit.buffers(inst, memory.plan)
    instrs = emit.instructions(tg, schedule.start_ns, where)
    energy = sum(i.energy_pj for i in instrs) + static_energy(ctx.target, makespan).total
    used = sum(len(v) for v in mapping.where.values())
    total = ctx.target.total_crossbars
    metrics = {
        "makespan_ns": float(makespan), "initiation_interval_ns": float(ii),
        "inferences_per_s": ctx.batch * 1e9 / ii if ii else 0.0, "energy_pj": float(energy),
        "batch": float(ctx.batch),
        "crossbars_used": float(mapping.crossbars_used()), "crossbars_total": float(total),
        "crossbar_utilisation": mapping.crossbars_used() / total,
        "tile_copies": float(used), "tasks": float(len(tg.tasks)),
        "memory_peak_bytes": float(sum(spaces.values()) // max(1, inst.copies)),
        "memory_bound_bytes": float(sum(bounds.values())),
        "compile_s": time.perf_counter() - t0,
    }
    for k, v in times.items():
        metrics[f"stage_s.{k}"] = v
    noc_cut = stats["routing"].bound if "routing" in stats else 0.0
    e2e = e2e_metrics(fe.graph, fe.workload, ctx.target, ctx.cost, ctx.mode, tg.tasks,
                      ii if ctx.mode == "throughput" else makespan, ctx.batch, noc_cut)
    metrics.update(e2e.metrics)
    metrics.update(noc_metrics(instrs, ctx.target, stats))
    # where each MatMul of two activations runs, and the estimates the cost model compared
    if fe.matmuls:
        metrics["matmuls_crossbar_written"] = float(sum(d.unit == CROSSBAR_WRITTEN for d in fe.matmuls))
    extra = e2e.extra + tuple(("model_note", n) for n in fe.graph.notes) + \
        tuple(("warning", w) for w in ctx.warnings) + \
        tuple((f"matmul.{d.op}", d.describe()) for d in fe.matmuls)
    program = Program(
        model=fe.workload.name, model_hash=model_hash, target=ctx.target.name, target_hash=ctx.target.digest(),
        mode=ctx.mode,  # throughput with segments: batches back to back, one reprogramming each
        input_shapes=tuple((n, tuple(fe.graph.shape(n))) for n in fe.graph.inputs),
        programming=emit.programming(mapping, frozenset(w.name for w in fe.workload.ops if w.written)),
        instructions=compact(instrs), buffers=buffers,   # runs of repetitions as one instruction
        spaces=tuple(sorted(spaces.items())), makespan_ns=makespan, initiation_interval_ns=ii,
        segments=len(mapping.segments), iterations_in_flight=inst.copies,
        metrics=tuple(metrics.items()), solvers=tuple(solver_record(stats, options).items()),
        stats=tuple((k, tuple((a, _plain(b)) for a, b in asdict(s).items())) for k, s in stats.items()),
        extra=extra,
    )
    return program, bounds


def noc_metrics(instrs: tuple[Instruction, ...], target: Target, stats: dict[str, SolveStats]) -> dict[str, float]:
    """The network's figures of a program (one run of its instructions): the largest link load
    (bytes over bandwidth, ns), its bytes x links, the transfers, and the routing stage's lower
    bound of the largest link load (ns) when it ran."""
    loads = link_loads_ns(instrs, target)
    out = {"noc_max_link_load_ns": max(loads.values(), default=0.0),
           "noc_byte_hops": float(sum(i.nbytes * len(held_route(i, target)) for i in instrs)),
           "noc_transfers": float(sum(i.kind == "transfer" for i in instrs))}
    if "routing" in stats:
        out["noc_link_load_bound_ns"] = stats["routing"].bound
    return out


def solver_record(stats: dict[str, SolveStats], options: CompileOptions) -> dict[str, str]:
    """What ran per stage, from the stats themselves: method, status and note; then the limits."""
    out = {k: f"{s.method} ({s.kind or ('exact' if s.exact else 'heuristic')}, {s.status.value})"
              + (f"; solution from {s.produced_by} (fallback)" if s.produced_by else "")
              + "".join(f"; fallback: {a}" for a in s.attempts) + (f"; {s.note}" if s.note else "")
           for k, s in stats.items()}
    out["limits"] = f"time_limit_s={options.time_limit_s}, seed={options.seed}, workers={options.workers}"
    return out


def _plain(v: object) -> object:
    """A stats field as JSON can hold it: enums by value, attempts as text, non-finite floats as text."""
    if hasattr(v, "value"):
        return v.value  # enums
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return str(v.get("what", "")) + ": " + str(v.get("why", "")) + f" ({v.get('wall_s', 0.0):.2f} s)"
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    return v
