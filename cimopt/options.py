"""Options of one compilation."""
from __future__ import annotations

from dataclasses import dataclass

from cimopt.solver.stats import SolverOptions

MODES = ("latency", "throughput")
REPLICATION = ("none", "uniform", "balance")
PLACEMENT = ("inorder", "snake", "greedy")
SOLVERS = ("heuristic", "exact")


@dataclass(frozen=True)
class CompileOptions:
    """What to optimise and how.

    ``solver="exact"`` runs every stage's exact method (hinted with the heuristic named by
    ``replication`` / ``placement``), each limited to ``time_limit_s`` seconds.
    ``chunks``: output-row chunks per crossbar op (at least one per replica) for layer pipelining.
    """

    mode: str = "latency"
    replication: str = "balance"
    placement: str = "greedy"
    solver: str = "heuristic"
    seed: int = 0
    time_limit_s: float = 10.0
    workers: int = 8
    chunks: int = 4
    local_search: bool = True
    #: also solve every stage exactly on the heuristic pipeline's own instances (for `cimopt compare`)
    compare: bool = False
    #: per-stage method overrides, (stage, method) pairs, e.g. (("placement", "lns"),); `--method`
    methods: tuple[tuple[str, str], ...] = ()
    #: inferences per reprogramming of a model in several segments (`cimopt.batching`); 0: chosen
    #: in throughput mode (1 in latency mode), >= 1: as given
    batch: int = 0

    def solver_options(self) -> SolverOptions:
        return SolverOptions(time_limit_s=self.time_limit_s, seed=self.seed, workers=self.workers)

    def describe(self) -> dict[str, str]:
        lim = f"time_limit_s={self.time_limit_s}, seed={self.seed}, workers={self.workers}"
        exact = self.solver == "exact"
        return {
            "replication": ("exact (CP-SAT), hinted with " if exact else "") + self.replication,
            "placement": ("exact (CP-SAT/LNS), hinted with " if exact else "") + self.placement
                         + ("+ls" if self.local_search else ""),
            "scheduling": "exact (CP-SAT intervals), hinted with list" if exact else "list (bottom level)",
            "memory": "exact (CP-SAT NoOverlap2D), hinted with greedy-by-size" if exact else "greedy-by-size",
            "limits": lim,
        }
