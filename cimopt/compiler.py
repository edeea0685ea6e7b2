"""`compile_model`: the solver pipeline from an ONNX model to an executable Program.

The pipeline is a loop over `cimopt.solver.registry.STAGES` (tile -> replicate (or segment) ->
place -> schedule -> allocate memory; `cimopt.stage_loop.run_stages`), then emission.  The loop
does, once for every stage: timing, progress, compare mode (other methods on the same
instance), exporting instances and recording retries.  ``--solver exact`` runs the exact path
(`cimopt.exact_compile`), which optimises the program end to end.
"""
from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import onnx

from cimopt.batching import choose_batch, needs_segments
from cimopt.calibration import calibration_samples, layer_signals
from cimopt.cost.external import MeasuredCost
from cimopt.cost.model import CostModel
from cimopt.exact_compile import Candidate, exact_path
from cimopt.frontend import Frontend, prepare
from cimopt.ir.program import Program
from cimopt.options import CompileOptions
from cimopt.program_build import build_program
from cimopt.solver.context import Context
from cimopt.solver.interface import check_overrides
from cimopt.solver.registry import STAGES
from cimopt.solver.stats import SolveStats
from cimopt.stage_loop import Progress, run_stages
from cimopt.targets.machine.float_reference import calibrate_from, calibration_trace, clipping_power
from cimopt.targets.spec import Target


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
    #: the exact path's pipelines, in the order tried (empty for a heuristic compile)
    exact_path: list[Candidate] = field(default_factory=list)
    #: ``--min-sqnr-db``: the output SQNR (dB) the error model predicts for the chosen rows per conversion
    predicted_sqnr_db: float | None = None


def model_hash(model: str | os.PathLike[str] | onnx.ModelProto) -> str:
    """First 16 hex digits of the SHA-256 of the model file's bytes (or of the serialised proto)."""
    if isinstance(model, onnx.ModelProto):
        data = model.SerializeToString()
    else:
        with open(model, "rb") as f:
            data = f.read()
    return hashlib.sha256(data).hexdigest()[:16]


def _frontend(model: str | os.PathLike[str] | onnx.ModelProto, target: Target, options: CompileOptions,
              input_shapes: Mapping[str, Sequence[int]] | None, cm: CostModel, say: Progress) -> tuple[Frontend, int]:
    """The front end and the batch: ``--batch`` and latency mode fix the batch before the front
    end, which then runs once; in throughput mode a segmented model's batch is chosen from the
    front end at batch 1 (`cimopt.batching.choose_batch`), which runs again only for a batch > 1."""
    batch = options.batch or 1
    if batch > 1:
        say(f"batched segments: {batch} inferences per reprogramming")
    fe = prepare(model, target, input_shapes, batch)
    if not options.batch and options.mode == "throughput" and needs_segments(fe.workload, cm):
        batch = choose_batch(fe.workload, cm)
        if batch > 1:
            say(f"batched segments: {batch} inferences per reprogramming")
            fe = prepare(model, target, input_shapes, batch)
    return fe, batch


def compile_model(model: str | os.PathLike[str] | onnx.ModelProto, target: Target,
                  options: CompileOptions = CompileOptions(),
                  input_shapes: Mapping[str, Sequence[int]] | None = None,
                  measured: Mapping[str, MeasuredCost] | None = None,
                  progress: Progress | None = None, frontend: Frontend | None = None) -> CompileResult:
    """Compile ``model`` for ``target``: every stage's SolveStats and the wall time of each step.

    ``frontend``: the front end an earlier compile of the same model, target, input shapes and
    options ran (`CompileResult.frontend`, e.g. `cimopt compare`'s heuristic compile), reused with
    its batch instead of running the front end again."""
    say = progress or (lambda _msg: None)
    overrides = dict(options.methods)
    check_overrides(STAGES, overrides)
    t0 = time.perf_counter()
    say("front end: load, fold, fuse, legalise, lower")
    cm = CostModel(target, measured)
    # a model in several segments runs a batch of inferences per reprogramming (`cimopt.batching`)
    if frontend is not None:
        fe, batch = frontend, frontend.batch
    else:
        fe, batch = _frontend(model, target, options, input_shapes, cm, say)
    times: dict[str, float] = {"frontend": time.perf_counter() - t0}
    # a batch's rows hold B inferences; finer chunks keep the layers of a segment pipelined
    ctx = Context(fe.graph, fe.workload, target, cm, options.mode, options.chunks * min(batch, 8), batch=batch,
                  task_budget=options.task_budget)
    if options.min_sqnr_db is not None:
        t = time.perf_counter()
        say("calibration: float activations for the ADC error model")
        samples = calibration_samples(options.calibrate, fe.graph, options.seed)
        traces = calibration_trace(fe.graph, samples)
        acts = calibrate_from(traces, target.precision.activation_bits)
        ctx.min_sqnr_db = options.min_sqnr_db
        ctx.adc_signals = layer_signals(fe.graph, target, acts, samples[0], clipping_power(traces))
        times["calibration"] = time.perf_counter() - t
    trail: list[Candidate] = []
    so = options.solver_options()   # once per compile, for every stage and method
    if options.solver == "exact":
        ctx, stats, trail = exact_path(ctx, STAGES, options, so, overrides, times, say)
        compare: dict[str, dict[str, SolveStats]] = {}
    else:
        methods = {st.name: st.choose(options.solver, overrides) for st in STAGES}
        stats, compare = run_stages(ctx, STAGES, methods, options, so, times, say)
    for w in ctx.warnings:
        say(f"warning: {w}")
    t = time.perf_counter()
    say("emitting the program")
    program, bounds = build_program(ctx, fe, model_hash(model), stats, options, times, t0)
    times["emit"] = time.perf_counter() - t
    wall = time.perf_counter() - t0
    return CompileResult(program, fe, stats, times, compare, bounds, list(ctx.warnings), wall, trail,
                         ctx.predicted_sqnr_db)
