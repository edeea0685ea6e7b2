"""The one result type every solver method of every stage returns with its solution."""
from __future__ import annotations

import dataclasses
import enum
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass


class Status(enum.Enum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    NO_SOLUTION_IN_TIME = "NO_SOLUTION_IN_TIME"


#: statuses from best to worst, for combining the stats of several parts
_ORDER = (Status.OPTIMAL, Status.FEASIBLE, Status.NO_SOLUTION_IN_TIME, Status.INFEASIBLE)


def worst_status(statuses: Iterable[Status]) -> Status:
    """The weakest of ``statuses`` (OPTIMAL only when every part is; OPTIMAL for none)."""
    return max(statuses, key=_ORDER.index, default=Status.OPTIMAL)


@dataclass(frozen=True)
class Attempt:
    """A fallback or retry a solve made: what was tried, why it did not do, how long it took (s)."""

    what: str
    why: str
    wall_s: float

    def __str__(self) -> str:
        return f"{self.what}: {self.why} ({self.wall_s:.2f} s)"


@dataclass(frozen=True)
class SolveStats:
    """What a solve found: method, status, objective (lower is better), best bound, gap, wall time.

    ``bound`` is a lower bound of the instance, valid whatever method runs (which bound is said in
    ``bound_kind``); OPTIMAL only when ``objective`` meets a valid bound or the method proved it;
    ``gap = (objective - bound) / objective`` (0 when objective is 0).  ``note`` names, for
    INFEASIBLE, the resource that makes it so; ``attempts`` lists what was tried and failed.
    """

    stage: str
    method: str
    status: Status
    objective: float
    bound: float
    wall_s: float
    bound_kind: str = ""
    exact: bool = False
    note: str = ""
    #: every fallback and retry, in order (the time each took is part of ``wall_s``)
    attempts: tuple[Attempt, ...] = ()
    #: the method's kind (`cimopt.solver.interface.KINDS`), set by `Stage.run`
    kind: str = ""
    #: the stage methods that produced the solution when the one in ``method`` did not (a
    #: fallback), e.g. ``pack+ls`` or ``segment 1: pack+ls``; empty when ``method`` did
    produced_by: str = ""

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.bound)


def relative_gap(objective: float, bound: float) -> float:
    """(objective - bound) / |objective|, 0 when both are 0, inf when objective is inf."""
    if math.isinf(objective):
        return math.inf
    if objective == 0:
        return 0.0 if bound >= 0 else math.inf
    return max(0.0, (objective - bound) / abs(objective))


@dataclass(frozen=True)
class SolverOptions:
    """Limits every exact method takes.

    ``export_dir``: when set, `cimopt.solver.cpsat.solve_model` writes every CP-SAT model it
    solves there (``<name>-<n>.pb`` and ``<name>-<n>.json``) so other solvers can run it.

    ``time_limit_s`` is in wall seconds (``time.perf_counter``) unless ``deterministic``: a whole
    call of a stage's method (`cimopt.solver.interface.Stage.run`) ends within it, give or take the
    work that cannot be interrupted (building a model, one step of a loop).  `Stage.run` turns
    it into ``deadline``, the ``perf_counter`` time by which the call must end; every CP-SAT solve
    (`cimopt.solver.cpsat.solve_model`) and every wall-clock `cimopt.solver.budget.Budget` made
    under these options is cut to that deadline, however the method shares its limit out.

    ``deterministic`` (``--deterministic-time`` on the command line, default False): results
    depend only on the instance, ``seed`` and ``time_limit_s``, not on the machine's load, and
    ``time_limit_s`` is then in *deterministic seconds*, NOT wall-clock: every CP-SAT solve stops
    on CP-SAT's deterministic time (wall time only as a safety net of 100 × the limit plus 10 s)
    and every search loop consumes a `cimopt.solver.budget.Budget` charged with CP-SAT's
    deterministic time and a fixed cost per unit of other work; ``deadline`` is not used.  With
    ``workers > 1`` CP-SAT then runs its workers in deterministic interleaved batches
    (``interleave_search``).  The placement local search counts its work in deterministic mode
    and watches the clock otherwise.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    workers: int = 8
    verbose: bool = False
    export_dir: str | None = None
    #: time_limit_s in deterministic seconds instead of wall seconds (see above)
    deterministic: bool = False
    #: wall mode: ``time.perf_counter()`` by which the whole call must end (set by `Stage.run`)
    deadline: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "deterministic", bool(self.deterministic))

    def wall_left(self, limit: float) -> float:
        """``limit`` (s), cut to what is left before ``deadline`` in wall mode (may be <= 0)."""
        if self.deterministic or self.deadline is None:
            return limit
        return min(limit, self.deadline - time.perf_counter())

    def with_deadline(self) -> SolverOptions:
        """These options with ``deadline`` = now + ``time_limit_s`` (wall mode, none set yet)."""
        if self.deterministic or self.deadline is not None:
            return self
        return dataclasses.replace(self, deadline=time.perf_counter() + self.time_limit_s)

    def limited(self, time_limit_s: float) -> SolverOptions:
        """The same options with another time limit (seconds)."""
        return dataclasses.replace(self, time_limit_s=time_limit_s)
