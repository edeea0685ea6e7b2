"""Rows per ADC conversion per layer under an accuracy budget: a multiple-choice knapsack.

Problem: each crossbar layer i picks one option j (`cost.adc_error.AdcOption`: a rows-per-
conversion value with a cost c_ij -- latency in ns or energy in pJ -- and a predicted relative
noise e_ij); minimise ``sum c`` subject to ``F + sum e <= B`` with ``B = 10^(-min_sqnr_db / 10)``
and F the floor no choice changes (`floor`: weight and input quantisation, clipping,
vector-format rounding); both scaled by `cost.adc_error.PROPAGATION_MARGIN` in `build`, the
error model's output SQNR is ``-10 log10(F + sum e)``.

Methods, all returning (`Choice`, `SolveStats`):

* ``greedy`` (heuristic): start from every layer's cheapest option; while over budget, take the
  upgrade with the least added cost per unit of error removed (moves along each layer's lower
  convex hull first, then any remaining dominated-free upgrade);
* ``dp`` (exact): dynamic programming over the budget cut into ``resolution`` units, each option's
  error rounded *up* to whole units (so every DP solution meets the real budget); optimal for
  that rounded instance, reported OPTIMAL only when it meets the bound; the greedy solution is
  kept when it is cheaper (it may use budget the rounding hides);
* bound (both): the LP relaxation -- per layer the lower convex hull of (error, cost), upgraded
  fractionally in order of cost per error removed -- a lower bound on every feasible choice.

INFEASIBLE (with the shortfall in ``note``) when even the most accurate options exceed the budget.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from cimopt.cost import adc_error
from cimopt.cost.adc_error import AdcOption, LayerSignal
from cimopt.ir.errors import CimoptError, UsageError
from cimopt.ir.graph import OpClass
from cimopt.ir.program import Program
from cimopt.ir.workload import Workload
from cimopt.solver.stats import relative_gap, SolverOptions, SolveStats, Status
from cimopt.targets.spec import Target

STAGE = "accuracy"
METHODS: tuple[str, ...] = ("greedy", "dp")
OBJECTIVES: tuple[str, ...] = ("latency", "energy")


class BudgetUnreachable(CimoptError):
    """No rows-per-conversion choice meets the SQNR budget: ``best_db`` is the best the error
    model predicts for this model on this target (every layer at its most accurate option)."""

    def __init__(self, budget_db: float, best_db: float) -> None:
        super().__init__(f"--min-sqnr-db {budget_db:g}: the budget is unreachable on this target; the best "
                         f"achievable output SQNR is a predicted {best_db:.1f} dB (every layer at its most "
                         f"accurate rows per conversion); ask for at most that")
        self.budget_db = budget_db
        self.best_db = best_db


@dataclass(frozen=True)
class AccuracyProblem:
    layers: tuple[str, ...]
    options: tuple[tuple[AdcOption, ...], ...]   # per layer, fewest rows... as `cost.adc_error.options`
    budget: float                                 # max sum of relative noise powers
    objective: str                                # latency | energy
    resolution: int = 2000                        # dp: budget units
    floor: float = 0.0                            # relative noise no choice changes (quantisation, rounding)

    @property
    def allowance(self) -> float:
        """What the budget leaves the ADC conversions: ``budget - floor``."""
        return self.budget - self.floor

    @property
    def min_sqnr_db(self) -> float:
        return -10 * math.log10(self.budget)

    def cost(self, i: int, j: int) -> float:
        o = self.options[i][j]
        return o.latency_ns if self.objective == "latency" else o.energy_pj


@dataclass(frozen=True)
class Choice:
    rows_per_conversion: dict[str, int]
    objective: float
    error: float                                  # sum of the chosen predicted errors

    @property
    def predicted_sqnr_db(self) -> float:
        return math.inf if self.error == 0 else -10 * math.log10(self.error)


def build(workload: Workload, target: Target, signals: Mapping[str, LayerSignal], min_sqnr_db: float,
          objective: str = "latency") -> AccuracyProblem:
    """The problem for every crossbar op of ``workload`` that has a measured ``signals`` entry."""
    if objective not in OBJECTIVES:
        raise UsageError(f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    if not math.isfinite(min_sqnr_db):
        raise UsageError(f"--min-sqnr-db must be a finite number of dB, got {min_sqnr_db}")
    ops = [op for op in workload.ops if op.op_class is OpClass.CROSSBAR and op.name in signals]
    g = adc_error.PROPAGATION_MARGIN
    return AccuracyProblem(tuple(op.name for op in ops),
                           tuple(tuple(replace(o, error=g * o.error) for o in adc_error.options(target, op, signals[op.name]))
                                 for op in ops),
                           10 ** (-min_sqnr_db / 10), objective, floor=g * floor(workload, target, signals))


def floor(workload: Workload, target: Target, signals: Mapping[str, LayerSignal]) -> float:
    """The error model's relative noise that no rows-per-conversion choice changes: every crossbar
    layer's weight and input quantisation, and one rounding to the vector format per crossbar
    and vector op result (`cost.adc_error`)."""
    fmt = target.numerics.vector_format if target.numerics is not None else "float32"
    rounded = sum(1 for op in workload.ops if op.op_class in (OpClass.CROSSBAR, OpClass.VECTOR))
    return (sum(adc_error.quantisation_error(signals[op.name]) for op in workload.ops
                if op.op_class is OpClass.CROSSBAR and op.name in signals)
            + rounded * adc_error.rounding_error(fmt))


def _choice(p: AccuracyProblem, pick: list[int]) -> Choice:
    return Choice({p.layers[i]: p.options[i][j].rows_per_conversion for i, j in enumerate(pick)},
                  sum(p.cost(i, j) for i, j in enumerate(pick)),
                  p.floor + sum(p.options[i][j].error for i, j in enumerate(pick)))


def _hull(p: AccuracyProblem, i: int) -> list[int]:
    """Option indices on the lower convex hull of (error, cost), from the cheapest to the most accurate."""
    pts = sorted(range(len(p.options[i])), key=lambda j: (p.cost(i, j), p.options[i][j].error))
    frontier: list[int] = []
    for j in pts:   # Pareto: keep options that remove error for their extra cost
        if not frontier or p.options[i][j].error < p.options[i][frontier[-1]].error:
            frontier.append(j)
    hull: list[int] = []
    for j in frontier:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            ea, eb, ej = (p.options[i][k].error for k in (a, b, j))
            ca, cb, cj = p.cost(i, a), p.cost(i, b), p.cost(i, j)
            # b is above the segment a-j: remove it (slopes are cost per error removed)
            if (cb - ca) * (ea - ej) >= (cj - ca) * (ea - eb):
                hull.pop()
            else:
                break
        hull.append(j)
    return hull


def lp_bound(p: AccuracyProblem) -> float:
    """The LP relaxation's optimum: a lower bound on the cost of every choice within budget."""
    hulls = [_hull(p, i) for i in range(len(p.layers))]
    cost = sum(p.cost(i, h[0]) for i, h in enumerate(hulls))
    err = sum(p.options[i][h[0]].error for i, h in enumerate(hulls))
    steps = []
    for i, h in enumerate(hulls):
        for a, b in zip(h, h[1:]):
            de = p.options[i][a].error - p.options[i][b].error
            steps.append(((p.cost(i, b) - p.cost(i, a)) / de, de))
    for slope, de in sorted(steps):
        if err <= p.allowance:
            break
        take = min(de, err - p.allowance)
        cost += slope * take
        err -= take
    return cost if err <= p.allowance + p.budget * 1e-12 else math.inf


def _infeasible(p: AccuracyProblem, method: str, t0: float) -> tuple[Choice, SolveStats] | None:
    best = [min(range(len(o)), key=lambda j: o[j].error) for o in p.options]
    least = sum(p.options[i][j].error for i, j in enumerate(best))
    if least <= p.allowance and (p.allowance > 0 or least == 0):
        return None
    least += p.floor
    sqnr = math.inf if least == 0 else -10 * math.log10(least)
    note = (f"accuracy budget: the most accurate rows per conversion reach a predicted {sqnr:.1f} dB; "
            f"the budget asks {-10 * math.log10(p.budget):.1f} dB")
    return _choice(p, best), SolveStats(STAGE, method, Status.INFEASIBLE, math.inf, math.inf,
                                         time.perf_counter() - t0, "LP relaxation", method == "dp", note)


def greedy(p: AccuracyProblem) -> list[int]:
    pick = [min(range(len(o)), key=lambda j: (p.cost(i, j), o[j].error)) for i, o in enumerate(p.options)]
    err = sum(p.options[i][j].error for i, j in enumerate(pick))
    while err > p.allowance:
        best: tuple[float, int, int] | None = None
        for i, o in enumerate(p.options):
            cur = o[pick[i]]
            for j, opt in enumerate(o):
                de = cur.error - opt.error
                if de <= 0:
                    continue
                rate = (p.cost(i, j) - p.cost(i, pick[i])) / de
                if best is None or rate < best[0]:
                    best = (rate, i, j)
        if best is None:
            break
        _, i, j = best
        err += p.options[i][j].error - p.options[i][pick[i]].error
        pick[i] = j
    return pick


def dp(p: AccuracyProblem) -> list[int] | None:
    """Optimal pick with errors rounded up to ``budget / resolution`` units (None: none fits)."""
    if p.allowance <= 0:   # only lossless conversions fit
        pick = [min(range(len(o)), key=lambda j: (o[j].error, p.cost(i, j))) for i, o in enumerate(p.options)]
        return pick if all(p.options[i][j].error == 0 for i, j in enumerate(pick)) else None
    units = p.resolution
    unit = p.allowance / units
    inf = math.inf
    best = np.zeros(units + 1)                    # best[w]: least cost of the layers so far within w units
    back: list[np.ndarray] = []
    for i, o in enumerate(p.options):
        nxt = np.full(units + 1, inf)
        arg = np.full(units + 1, -1, dtype=np.int64)
        for j, opt in enumerate(o):
            w = math.ceil(opt.error / unit - 1e-12) if opt.error > 0 else 0
            if w > units:
                continue
            cand = np.full(units + 1, inf)
            cand[w:] = best[:units + 1 - w] + p.cost(i, j)
            better = cand < nxt
            nxt[better], arg[better] = cand[better], j
        best = nxt
        back.append(arg)
    if not math.isfinite(best[units]):
        return None
    pick, w = [], units
    for i in range(len(p.options) - 1, -1, -1):
        j = int(back[i][w])
        pick.append(j)
        e = p.options[i][j].error
        w -= math.ceil(e / unit - 1e-12) if e > 0 else 0
    return pick[::-1]


def solve(problem: AccuracyProblem, method: str, options: SolverOptions | None = None) -> tuple[Choice, SolveStats]:
    """Solve with ``method`` (``greedy`` or ``dp``); the bound is the LP relaxation.

    ``options`` is the stage interface's; both methods are polynomial (the DP takes
    layers x options x ``resolution`` steps) and need no time limit, seed or workers.
    """
    if method not in METHODS:
        raise UsageError(f"accuracy method {method!r}: expected one of {', '.join(METHODS)}")
    t0 = time.perf_counter()
    bad = _infeasible(problem, method, t0)
    if bad is not None:
        return bad
    bound = lp_bound(problem)
    pick = greedy(problem)
    note = ""
    if method == "dp":
        exact = dp(problem)
        if exact is not None and _choice(problem, exact).objective <= _choice(problem, pick).objective:
            pick = exact
        else:
            note = "greedy kept: cheaper than the DP optimum of the rounded instance"
    sol = _choice(problem, pick)
    status = Status.OPTIMAL if relative_gap(sol.objective, bound) <= 1e-9 else Status.FEASIBLE
    return sol, SolveStats(STAGE, method, status, sol.objective, bound, time.perf_counter() - t0,
                           "LP relaxation", method == "dp", note)


def apply(program: Program, choice: Choice) -> Program:
    """``program`` with every mvm of a chosen op reading ``rows_per_conversion`` from ``choice``.

    Only the field changes: instruction durations follow from it (`targets.physics.timing.mvm_task`), so
    the schedule must be built with the same choice for the program to validate.
    """
    rows = choice.rows_per_conversion
    ins = tuple(replace(i, rows_per_conversion=rows[i.op]) if i.kind == "mvm" and i.op in rows else i
                for i in program.instructions)
    return replace(program, instructions=ins)
