"""The one CP-SAT runner: every exact method of every stage solves its models through `solve_model`.

Build, solve, extract are separate steps: a stage builds a ``CpModel`` (and adds its hint with
``add_hint``), `solve_model` solves it and maps the outcome once, and the stage reads its solution
back through `CpResult.value` / `CpResult.boolean_value`.  Rules of `solve_model`:

1. The solver gets the time limit (``time_limit_s`` or ``options.time_limit_s``, cut to what is
   left before ``options.deadline`` in wall mode, at least 10 ms),
   the seed, the worker count and the logging switch of the options, and the one optimality
   tolerance (`REL_TOL`, `ABS_TOL`) as its gap limits.  With ``options.deterministic`` the limit
   is CP-SAT's deterministic time (``max_deterministic_time``, deterministic s), the wall limit
   only a safety net (`SAFETY_FACTOR` × the limit + `SAFETY_S`), and more than one worker are
   interleaved deterministically (``interleave_search``).  The deterministic time used is
   recorded in `CpResult.deterministic_s` and, with ``budget``, charged to that budget.
2. Status, once: OPTIMAL when the best objective is within the tolerance of the best bound
   (`within_tolerance`); FEASIBLE when a solution is known (CP-SAT's or the hint's) but not proven;
   INFEASIBLE only when CP-SAT proves it and no hint was given; NO_SOLUTION_IN_TIME when the limit
   stopped the search with nothing found.  MODEL_INVALID, an UNKNOWN stop that CP-SAT explains in
   its ``solution_info``, and an infeasibility proof of a hinted model raise `SolverError`.
3. Never worse than the hint: ``hint_objective`` is the model objective of the hinted solution
   (a known solution of the model).  ``improved`` is True only when CP-SAT found a strictly
   better objective; otherwise the caller keeps its heuristic solution and says so with
   `CpResult.kept_note`.
4. Export: with ``options.export_dir`` set, the model is written as ``<name>-<n>.pb`` (binary
   ``CpModelProto``, hints included) and ``<name>-<n>.json`` (the caller's plain-data ``instance``,
   status, objective, bound, wall time and parameters), ``n`` the first number not yet used.
"""
from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ortools
from ortools.sat import cp_model_pb2
from ortools.sat.python import cp_model

from cimopt.solver.budget import Budget
from cimopt.solver.errors import SolverError
from cimopt.solver.stats import SolverOptions, Status

REL_TOL = 1e-9  # relative gap of the objective under which a solution counts as optimal
ABS_TOL = 1e-6  # absolute gap (model units) under which a solution counts as optimal
MIN_TIME_LIMIT_S = 0.01  # shortest limit given to CP-SAT (lets presolve of tiny models finish)
#: deterministic mode: wall limit = SAFETY_FACTOR × limit + SAFETY_S (s).  CP-SAT's presolve took
#: up to ~50 wall s per deterministic s on the 2-core development machine at load 18, so the net
#: is wide: it must not decide a result on a loaded machine
SAFETY_FACTOR = 100.0
SAFETY_S = 10.0

#: The plain-data description of an instance, or a function that builds it on demand.
Instance = Mapping[str, object] | Callable[[], Mapping[str, object]]


def within_tolerance(objective: float, bound: float) -> bool:
    """True when ``bound`` proves ``objective`` optimal (minimisation) within the one tolerance."""
    if math.isinf(objective):
        return False
    return objective - bound <= max(ABS_TOL, REL_TOL * abs(objective))


def kept_note(spent: float, deterministic: bool = False) -> str:
    """The stats note of a caller that keeps its heuristic solution after ``spent`` of CP-SAT
    (wall s, or deterministic s when ``deterministic``)."""
    unit = "deterministic s" if deterministic else "s"
    return f"CP-SAT found nothing better in {spent:.3g} {unit}; heuristic kept"


@dataclass(frozen=True)
class CpResult:
    """The outcome of one CP-SAT solve; objective and bound in the model's own units.

    ``objective`` is that of the solution the result stands for: CP-SAT's when ``improved``,
    else the hint's (inf when neither exists).  ``bound`` is CP-SAT's best objective bound (inf
    when proved infeasible, -inf when CP-SAT found no solution, 0 for a model without
    objective).  ``found``: CP-SAT returned a solution, so `value` can read it (it may still be
    worse than the hint).  ``time_limit_s`` is the limit given (deterministic s when
    ``deterministic``, else wall s); ``deterministic_s`` the deterministic time CP-SAT used.
    """

    name: str
    status: Status
    objective: float
    bound: float
    wall_s: float
    time_limit_s: float
    found: bool
    improved: bool
    cp_objective: float | None
    hint_objective: float | None
    export_stem: str | None
    deterministic: bool
    deterministic_s: float
    _solver: cp_model.CpSolver = field(repr=False, compare=False)

    def value(self, expr: cp_model.LinearExprT) -> int:
        """The value of ``expr`` in CP-SAT's solution (`SolverError` if it found none)."""
        self._require_solution()
        return int(self._solver.value(expr))

    def boolean_value(self, literal: cp_model.LiteralT) -> bool:
        """The value of ``literal`` in CP-SAT's solution (`SolverError` if it found none)."""
        self._require_solution()
        return bool(self._solver.boolean_value(literal))

    def kept_note(self) -> str:
        """The stats note of a caller that keeps its heuristic solution."""
        if self.deterministic:
            return kept_note(self.deterministic_s, True)
        return kept_note(self.wall_s)

    @property
    def stopped_on_limit(self) -> bool:
        """True when a deterministic solve ended on its deterministic limit (not on a proof)."""
        return (self.deterministic and self.status in (Status.FEASIBLE, Status.NO_SOLUTION_IN_TIME)
                and self.deterministic_s >= self.time_limit_s)

    def limit_note(self) -> str:
        """"" or the note that the solve stopped on its deterministic limit, or on the wall-clock
        safety net (then the result is not reproducible)."""
        if not self.deterministic or self.status not in (Status.FEASIBLE,
                                                         Status.NO_SOLUTION_IN_TIME):
            return ""
        if self.stopped_on_limit:
            return f"stopped on its deterministic limit of {self.time_limit_s:.3g} deterministic s"
        if self.wall_s >= safety_wall_s(self.time_limit_s):
            return (f"stopped on the wall-clock safety net of {safety_wall_s(self.time_limit_s):.3g} s "
                    "before its deterministic limit: not reproducible")
        return ""

    def _require_solution(self) -> None:
        if not self.found:
            raise SolverError(f"CP-SAT model {self.name!r} has no solution to read ({self.status.name})")


def safety_wall_s(limit: float) -> float:
    """The wall-clock safety net (s) of a deterministic solve limited to ``limit`` deterministic s."""
    return SAFETY_FACTOR * limit + SAFETY_S


def solve_model(model: cp_model.CpModel, options: SolverOptions, *, name: str,
                time_limit_s: float | None = None, hint_objective: float | None = None,
                instance: Instance | None = None, budget: Budget | None = None) -> CpResult:
    """Solve ``model`` under ``options`` and map the outcome once (rules in the module docstring).

    ``name`` names the model in errors and export files (letters, digits, ``_``, ``-``);
    ``instance`` is the plain-data (JSON-able) description of the instance for the export, or a
    function returning it (called only when exporting).  ``budget``: charged with the
    deterministic time the solve used (the limit is still ``time_limit_s``).
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"CP-SAT model name {name!r} must be letters, digits, '_' or '-'")
    limit = max(MIN_TIME_LIMIT_S, options.wall_left(options.time_limit_s if time_limit_s is None
                                                    else time_limit_s))
    solver = cp_model.CpSolver()
    params = solver.parameters
    if options.deterministic:
        params.max_deterministic_time = limit
        params.max_time_in_seconds = safety_wall_s(limit)
        params.interleave_search = options.workers > 1
    else:
        params.max_time_in_seconds = limit
    params.random_seed = options.seed
    params.num_workers = max(1, options.workers)
    params.log_search_progress = options.verbose
    params.relative_gap_limit = REL_TOL
    params.absolute_gap_limit = ABS_TOL
    stem = _export_stem(options.export_dir, name) if options.export_dir else None
    if stem is not None and not model.export_to_file(f"{stem}.pb"):
        raise SolverError(f"could not write CP-SAT model {name!r} to {stem}.pb")
    t0 = time.perf_counter()
    code = solver.solve(model)
    wall = time.perf_counter() - t0
    result = _map(model, solver, code, name, wall, limit, hint_objective, stem,
                  options.deterministic)
    if budget is not None:
        budget.spend(result.deterministic_s)
    if stem is not None:
        _write_json(stem, result, options, code, instance)
    return result


def _map(model: cp_model.CpModel, solver: cp_model.CpSolver, code: int, name: str, wall: float,
         limit: float, hint_objective: float | None, stem: str | None,
         deterministic: bool) -> CpResult:
    """Rules 2 and 3 of the module docstring."""
    if code == cp_model.MODEL_INVALID:
        why = model.validate() or solver.solution_info()
        raise SolverError(f"CP-SAT rejected model {name!r} as invalid (a cimopt bug): {why}")
    if code == cp_model.UNKNOWN and solver.solution_info():
        raise SolverError(f"CP-SAT stopped on model {name!r} without a result: {solver.solution_info()}")
    det = float(solver.deterministic_time)
    has_objective = model.has_objective()
    found = code in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    if code == cp_model.INFEASIBLE:
        if hint_objective is not None:
            raise SolverError(f"CP-SAT proved model {name!r} infeasible although its hint is a "
                              f"solution of objective {hint_objective:g} (a cimopt bug)")
        return CpResult(name, Status.INFEASIBLE, math.inf, math.inf, wall, limit, False, False,
                        None, None, stem, deterministic, det, solver)
    cp_objective = (float(solver.objective_value) if has_objective else 0.0) if found else None
    if not has_objective:
        bound = 0.0
    elif found:
        bound = float(solver.best_objective_bound)
    else:  # stopped before any solution: CP-SAT's bound may not even be computed yet
        bound = -math.inf
    improved = cp_objective is not None and (hint_objective is None or cp_objective < hint_objective)
    if cp_objective is not None and improved:
        objective = cp_objective
    elif hint_objective is not None:
        objective = float(hint_objective)
    else:
        objective = math.inf
    if math.isinf(objective):
        status = Status.NO_SOLUTION_IN_TIME
    elif code == cp_model.OPTIMAL and improved or within_tolerance(objective, bound):
        status = Status.OPTIMAL
    else:
        status = Status.FEASIBLE
    return CpResult(name, status, objective, bound, wall, limit, found, improved, cp_objective,
                    hint_objective, stem, deterministic, det, solver)


def _export_stem(folder: str, name: str) -> str:
    """``folder/<name>-<n>`` with ``n`` the first number whose files do not exist yet."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    taken = {int(m.group(1)) for p in path.iterdir()
             if (m := re.fullmatch(re.escape(name) + r"-(\d+)\.(?:pb|json)", p.name))}
    n = next(k for k in range(len(taken) + 1) if k not in taken)
    return str(path / f"{name}-{n}")


def _finite(x: float | None) -> float | None:
    """JSON has no infinity: non-finite numbers become null."""
    return x if x is not None and math.isfinite(x) else None


def _write_json(stem: str, result: CpResult, options: SolverOptions, code: int,
                instance: Instance | None) -> None:
    if callable(instance):
        instance = instance()
    record = {
        "name": result.name,
        "model_file": Path(f"{stem}.pb").name,
        "instance": dict(instance) if instance is not None else None,
        "status": result.status.value,
        "cp_sat_status": cp_model_pb2.CpSolverStatus.Name(code),
        "objective": _finite(result.objective),
        "bound": _finite(result.bound),
        "cp_objective": _finite(result.cp_objective),
        "hint_objective": _finite(result.hint_objective),
        "improved": result.improved,
        "wall_s": result.wall_s,
        "deterministic_s": result.deterministic_s,
        "parameters": {
            "time_limit_s": result.time_limit_s, "deterministic": result.deterministic,
            "seed": options.seed,
            "workers": max(1, options.workers), "relative_gap_limit": REL_TOL,
            "absolute_gap_limit": ABS_TOL, "ortools": ortools.__version__,
        },
    }
    Path(f"{stem}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
