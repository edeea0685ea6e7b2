"""The one way cimopt configures CP-SAT: time limit, seed, worker count and logging."""
from __future__ import annotations

from ortools.sat.python import cp_model

from .stats import SolverOptions


def cpsat_solver(options: SolverOptions, time_limit_s: float | None = None) -> cp_model.CpSolver:
    """A CP-SAT solver limited to ``time_limit_s`` seconds (default ``options.time_limit_s``; at
    least 10 ms), with the seed, worker count (8 keeps the parallel portfolio even on 2 cores) and
    logging of ``options``."""
    solver = cp_model.CpSolver()
    limit = options.time_limit_s if time_limit_s is None else time_limit_s
    solver.parameters.max_time_in_seconds = max(0.01, limit)
    solver.parameters.random_seed = options.seed
    solver.parameters.num_workers = max(1, options.workers)
    solver.parameters.log_search_progress = options.verbose
    return solver
