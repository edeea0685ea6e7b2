"""The stage interface: every decision of the pipeline is a stage with named methods.

A stage is a small registered object, one `Stage` subclass in its problem's subpackage
(``cimopt.solver.<problem>.stage``) and one entry of `cimopt.solver.registry.STAGES`:

- ``name`` and ``methods``: each `Method` by name, with its kind (`KINDS`: exact only when it
  proves optimality of every instance given time) and one line of help;
  ``heuristic`` and ``exact`` name the methods ``--solver heuristic|exact`` choose;
- ``build(context) -> problem``: the stage's instance, made from what the context holds (the
  front end's graph and workload, the target, the cost model, the mode, and what earlier stages
  decided); it reads the context and never writes it;
- ``solve(problem, method, options) -> (solution, SolveStats)``: pure, no context; the stats'
  bound is a lower bound of the instance whatever method runs (a choice that would make it
  depend on the method belongs in ``build``, as the memory stage's spill rule does); what
  ``apply`` needs travels in the solution;
- ``apply(context, solution)``: records the decision in the context for the stages after it
  (a stage without a field of its own in `Context` records it in ``Context.decisions``);
- ``retry(context, error) -> str | None``: when this stage cannot be solved as built, may change
  the context (e.g. a smaller crossbar budget) and name the earlier stage to resume from; the
  loop records every such retry in the stats;
- for the harness (`cimopt.solver.harness`, generic over the registry): ``solution_format``, the
  module of its solution files (`SolutionFormat`: the objective in words, the JSON Schema, body
  and check) and ``generator``, the module of its random benchmark instances
  (`InstanceGenerator`); None when the stage has none.

The loop that builds, solves and applies the stages in order, with retries, compare mode and
instance export, is `cimopt.stage_loop.run_stages`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from cimopt.ir.errors import CimoptError, UsageError
from cimopt.solver.context import Context
from cimopt.solver.solution_verdict import SolutionError, Verdict
from cimopt.solver.stats import Attempt, SolverOptions, SolveStats, Status

P = TypeVar("P")
S = TypeVar("S")


class SolutionFormat(Protocol):
    """A stage's solution files: a module (``cimopt.solver.<problem>.solution_format``) with these names."""

    #: (unit, definition): what is minimised, in which unit and how it is computed from an instance
    #: and a solution (as `verify` computes it), so that someone else's solver optimises the same
    #: number; the ``description`` of the stage's instance and solution schemas
    OBJECTIVE: tuple[str, str]
    #: JSON Schema of what `body` writes
    SCHEMA: dict[str, Any]

    def body(self, inst: Any, solution: Any) -> dict[str, Any]:
        """``solution`` of ``inst`` as JSON data."""

    def verify(self, inst: Any, body: dict[str, Any]) -> Verdict:
        """The objective of ``body`` recomputed from ``inst`` and every violated constraint;
        `SolutionError` when ``body`` does not fit the instance's shape (an array of the wrong
        length, an unknown name)."""


class InstanceGenerator(Protocol):
    """A stage's random benchmark instances: a module (``cimopt.solver.<problem>.generator``) with these names."""

    #: what an instance's size counts (e.g. "tasks")
    SIZE_UNIT: str

    def instance(self, size: int, seed: int, mode: str) -> Any:
        """A random stage instance of ``size``, seeded and deterministic."""


class StageInfeasible(CimoptError):
    """A stage could not be solved as built; ``resource`` names what ran out."""

    def __init__(self, message: str, resource: str = "", attempts: tuple[Attempt, ...] = ()) -> None:
        super().__init__(message)
        self.resource = resource
        #: what the stage tried before giving up
        self.attempts = attempts


#: what a method is, in `cimopt methods`, summaries, programs and sweeps:
#: ``exact`` proves optimality of every instance given time;
#: ``exact/LNS`` is the whole CP-SAT model up to a size its help names (exact there), large-
#: neighbourhood search above it (no proof);
#: ``LNS`` large-neighbourhood search (sub-problems re-solved exactly, no proof of the whole);
#: ``local search`` moves from a starting solution until none improves;
#: ``heuristic`` a construction (or a DP over a restricted space), optimal only when its
#: objective meets the bound.
KINDS = ("exact", "exact/LNS", "LNS", "local search", "heuristic")


@dataclass(frozen=True)
class Method:
    """One way to solve a stage: its name, its kind (one of `KINDS`), one line of help."""

    name: str
    kind: str
    help: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"method {self.name}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def exact(self) -> bool:
        """Proves optimality of every instance given time."""
        return self.kind == "exact"

    @property
    def improves(self) -> bool:
        """Starts from (or is hinted with) a heuristic's solution and never ends worse than it."""
        return self.kind in ("exact", "exact/LNS", "LNS")


class Stage(ABC, Generic[P, S]):
    """Base class of the pipeline's stages (see the module docstring for the contract)."""

    name: str = ""
    methods: tuple[Method, ...] = ()
    heuristic: str = ""
    exact: str = ""
    #: unit of the objective (e.g. "ns", "byte-hops")
    unit: str = ""
    #: the problem type `build` returns (instances are exported and re-solved through it)
    problem_type: type = object
    #: the module of the stage's solution files (`SolutionFormat`); None: the stage has none
    solution_format: SolutionFormat | None = None
    #: the module of the stage's random benchmark instances (`InstanceGenerator`); None: none
    generator: InstanceGenerator | None = None

    @abstractmethod
    def build(self, ctx: Context) -> P:
        """The stage's instance from what ``ctx`` holds."""

    @abstractmethod
    def solve(self, problem: P, method: str, options: SolverOptions) -> tuple[S, SolveStats]:
        """Solve ``problem`` with ``method`` within ``options``' limits."""

    @abstractmethod
    def apply(self, ctx: Context, solution: S) -> None:
        """Record ``solution`` in ``ctx`` for the stages after this one."""

    def applies(self, ctx: Context) -> bool:
        """Whether the stage runs for this compile (a stage for an optional request says no
        when it was not asked for)."""
        return True

    def run(self, problem: P, method: str, options: SolverOptions,
            hint: tuple[S, SolveStats] | None = None) -> tuple[S, SolveStats]:
        """`solve` with the stats named for the stage and the method as chosen (the solver's
        own name for what it ran, e.g. ``cpsat-rolling-window``, goes first in the note), its
        kind, and ``produced_by``: the stage's other methods that produced the solution (a
        fallback), empty when the chosen method did; all under a wall-clock deadline of
        ``options.time_limit_s`` from now (`SolverOptions.with_deadline`).

        ``hint``: a solution of the same instance (the heuristic's) and its stats.  A method
        that `Method.improves` is never worse than it: when the method ends worse, the hint is returned, its
        objective reported, the better of the two bounds kept, and the note says so.
        """
        options = options.with_deadline()  # wall mode: the whole call ends by the time limit
        chosen = self.method(method)
        solution, s = self.solve(problem, chosen.name, options)
        names = {m.name for m in self.methods}
        produced_by = s.produced_by
        if s.method != method or s.stage != self.name:
            detail = s.method if s.method != method else ""
            ran = sorted({x for x in s.method.split("/") if x in names} - {method})
            if ran and not produced_by:  # a fallback method of this stage produced (part of) the solution
                produced_by, detail = "/".join(ran), ""
            s = replace(s, stage=self.name, method=method, note="; ".join(x for x in (detail, s.note) if x))
        s = replace(s, kind=chosen.kind, produced_by=produced_by)
        if hint is not None and chosen.improves and s.objective > hint[1].objective + _tol(hint[1].objective):
            kept, hs = hint
            bound = max(s.bound, hs.bound)  # both bound the instance: no clamping to an objective
            status = Status.OPTIMAL if hs.objective - bound <= _tol(hs.objective) else Status.FEASIBLE
            note = (f"{method} ended at {s.objective:.6g} {self.unit}, worse than the hint's {hs.objective:.6g} "
                    f"({hs.method}); hint kept" + (f"; {s.note}" if s.note else ""))
            return kept, replace(s, objective=hs.objective, bound=bound, status=status, note=note,
                                 produced_by=hs.method)
        return solution, s

    def retry(self, ctx: Context, error: StageInfeasible) -> str | None:
        """The stage to resume from after changing ``ctx`` so that ``error`` may not recur; None: give up."""
        return None

    @property
    def objective(self) -> tuple[str, str]:
        """(unit, definition) of the objective in words (`SolutionFormat.OBJECTIVE`); ("", "") without one."""
        return self.solution_format.OBJECTIVE if self.solution_format is not None else ("", "")

    @property
    def size_unit(self) -> str:
        """What `generate`'s size counts (e.g. "tasks"); "" when the stage has no generator."""
        return self.generator.SIZE_UNIT if self.generator is not None else ""

    def solution_body(self, problem: P, solution: S) -> dict[str, Any]:
        """``solution`` of ``problem`` as JSON data (a solution file's ``solution``)."""
        return self._format().body(problem, solution)

    def verify_solution(self, problem: P, body: dict[str, Any]) -> Verdict:
        """The objective of the solution ``body`` recomputed from ``problem`` and every violated
        constraint (`SolutionFormat.verify`)."""
        return self._format().verify(problem, body)

    def _format(self) -> SolutionFormat:
        if self.solution_format is None:
            raise SolutionError(f"stage {self.name}: no solution format")
        return self.solution_format

    def generate(self, size: int, seed: int, mode: str) -> P:
        """A random instance of ``size`` (`size_unit`) in ``mode`` (latency | throughput, where the
        problem has modes), the same for the same arguments."""
        if self.generator is None:
            raise UsageError(f"stage {self.name} has no instance generator; `cimopt instances --help` lists the "
                             "stages that have one")
        return self.generator.instance(size, seed, mode)

    def method(self, name: str) -> Method:
        """The method called ``name``; a `UsageError` listing the stage's methods otherwise."""
        for m in self.methods:
            if m.name == name:
                return m
        raise UsageError(f"stage {self.name} has no method {name!r}; its methods are "
                         f"{', '.join(m.name for m in self.methods)} (see `cimopt methods`)")

    def choose(self, solver: str, overrides: Mapping[str, str]) -> str:
        """The method to run: the override for this stage, else the stage's heuristic or exact default."""
        if self.name in overrides:
            return self.method(overrides[self.name]).name
        return self.exact if solver == "exact" else self.heuristic


def _tol(value: float) -> float:
    """Objectives this close are equal (relative 1e-9, absolute 1e-9)."""
    return 1e-9 * max(1.0, abs(value))


def check_overrides(stages: tuple[Stage[Any, Any], ...], overrides: Mapping[str, str]) -> None:
    """Every overridden stage exists and has the named method (a `UsageError` otherwise)."""
    names = {s.name: s for s in stages}
    for stage, method in overrides.items():
        if stage not in names:
            raise UsageError(f"--method {stage}={method}: no stage {stage!r}; the stages are "
                             f"{', '.join(names)} (see `cimopt methods`)")
        names[stage].method(method)
