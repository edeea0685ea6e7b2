"""Options of one compilation."""
from __future__ import annotations

import math
from dataclasses import dataclass

from cimopt.ir.errors import UsageError
from cimopt.solver.stats import SolverOptions

MODES = ("latency", "throughput")
SOLVERS = ("heuristic", "exact")
COMPARE = ("", "exact", "all")


@dataclass(frozen=True)
class CompileOptions:
    """What to optimise and how.

    ``solver`` picks every stage's default method: its heuristic, or its exact method (each
    exact method builds its own starting solution from the stage's heuristics; see
    `cimopt methods`), each stage's solve limited to ``time_limit_s`` wall seconds (deterministic
    seconds with ``deterministic``).  ``methods``
    overrides the choice for single stages.  ``chunks``: the fewest chunks of output per crossbar
    op (at least one per replica) for layer pipelining; ``task_budget``: the MVM tasks (all segments) the
    granularity stage may cut in all (finer chunks where they shorten the estimated makespan;
    at least one per copy whatever the budget).  ``compare``: also solve each stage's instance
    with its exact method ("exact") or with every method ("all"), for `cimopt compare`.
    """

    mode: str = "latency"
    solver: str = "heuristic"
    seed: int = 0
    time_limit_s: float = 10.0
    workers: int = 8
    chunks: int = 4
    task_budget: int = 2000
    compare: str = ""
    #: per-stage method overrides, (stage, method) pairs, e.g. (("placement", "lns"),); `--method`
    methods: tuple[tuple[str, str], ...] = ()
    #: folder to write each stage's instance to (`<stage>.json`, see `cimopt.solver.harness.instances`)
    export_instances: str | None = None
    #: folder to write every CP-SAT model solved to (protobuf plus a JSON of the instance)
    export_models: str | None = None
    #: accuracy budget: the error model's output SQNR (dB) the rows per ADC conversion must keep
    min_sqnr_db: float | None = None
    #: calibration inputs (.npz) for the accuracy budget (default: seeded random inputs)
    calibrate: str | None = None
    #: inferences per reprogramming of a model in several segments (`cimopt.batching`); 0: chosen
    #: in throughput mode (1 in latency mode), >= 1: as given
    batch: int = 0
    #: ``time_limit_s`` in deterministic seconds, not wall seconds (`--deterministic-time`; see
    #: `cimopt.solver.stats.SolverOptions`): reproducible whatever the load, but not a wall limit
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.solver not in SOLVERS:
            raise UsageError(f"solver {self.solver!r}: choose one of {', '.join(SOLVERS)}")
        if self.compare not in COMPARE:
            raise UsageError(f"compare {self.compare!r}: choose one of {COMPARE}")
        if self.chunks < 1:
            raise UsageError(f"chunks must be at least 1, got {self.chunks}")
        if self.task_budget < 1:
            raise UsageError(f"task budget must be at least 1, got {self.task_budget}")
        if self.workers < 1:
            raise UsageError(f"workers must be at least 1, got {self.workers}")
        if self.batch < 0:
            raise UsageError(f"batch must be 0 (chosen) or a number of inferences >= 1, got {self.batch}")

    def solver_options(self) -> SolverOptions:
        return SolverOptions(time_limit_s=self.time_limit_s, seed=self.seed, workers=self.workers,
                             export_dir=self.export_models, deterministic=self.deterministic)


TIME_HELP = ("wall seconds per stage (default 10): every method stops on the clock and returns its best so far "
             "(within 10 %% + 1 s on the benchmark instances, experiments/time_limits.py; one constructive "
             "heuristic or model build cannot be interrupted)")
DETERMINISTIC_HELP = ("limit every stage to SECONDS of *deterministic* time instead of --time-limit: CP-SAT's "
                      "deterministic time plus counted work, so results are reproducible whatever the "
                      "machine's load; NOT a wall-clock limit (wall time may be many times SECONDS on a "
                      "loaded machine; CP-SAT's safety net is 100 x SECONDS + 10 s)")


def time_limits(time_limit: float | None, deterministic_time: float | None) -> tuple[float, bool]:
    """(limit, deterministic) from ``--time-limit`` and ``--deterministic-time`` (at most one given)."""
    if time_limit is not None and deterministic_time is not None:
        raise UsageError("give --time-limit (wall seconds) or --deterministic-time (deterministic "
                         "seconds), not both")
    limit = deterministic_time if deterministic_time is not None else time_limit
    flag = "--deterministic-time" if deterministic_time is not None else "--time-limit"
    limit = 10.0 if limit is None else limit
    if not (limit > 0 and math.isfinite(limit)):
        raise UsageError(f"{flag} must be a positive number of seconds")
    return limit, deterministic_time is not None


def parse_methods(items: list[str]) -> tuple[tuple[str, str], ...]:
    """``["placement=lns,scheduling=cpsat", ...]`` as (stage, method) pairs, the last one per stage winning."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            stage, sep, method = part.partition("=")
            if not sep or not stage.strip() or not method.strip():
                raise UsageError(f"--method {part!r}: expected STAGE=METHOD, e.g. placement=lns "
                                 "(see `cimopt methods`)")
            out[stage.strip()] = method.strip()
    return tuple(out.items())
