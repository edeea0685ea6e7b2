"""The one time budget every solver loop consumes: wall seconds, or deterministic seconds.

A `Budget` of ``total`` runs on one of two clocks, and every loop of the exact methods asks it,
never the wall clock, whether to go on:

* **deterministic** (``SolverOptions.deterministic``): ``total`` is in *deterministic seconds*.
  Nothing advances by itself; CP-SAT solves charge the deterministic time they report
  (`cimopt.solver.cpsat.solve_model` with ``budget=``) and other work charges a fixed cost per
  unit of work, the ``*_S`` constants below.  The same instance, seed and limit therefore stop at
  the same point whatever the machine's load.
* **wall**: ``total`` is in seconds of ``time.perf_counter()`` from the budget's creation;
  `Budget.spend` does nothing (the clock counts by itself).  This is the behaviour without
  deterministic mode; `Budget.of` cuts ``total`` to the options' ``deadline``.

The per-unit costs are a stopping rule, not a measurement: the placement ones are the wall time
the work took on the shared 2-core development machine at load average 14-18, where one CP-SAT
deterministic second took 5-50 wall s, so the same machine spends more wall time per budget
second in CP-SAT than in the counted work.  `ROUND_ITEM_S` and `HEURISTIC_LAYER_S` are estimates,
small beside the CP-SAT deterministic time of a round; they only keep loops finite.
"""
from __future__ import annotations

import time

from cimopt.solver.stats import SolverOptions

#: placement local search: deterministic s per group visited (its best move and best swap
#: evaluated, applied when they gain); measured 0.28-0.32 ms for 40-300 groups
LOCAL_SEARCH_VISIT_S = 3e-4
#: placement Hungarian re-assignment: deterministic s per set re-assigned, plus
#: `ASSIGNMENT_ENTRY_S` per (set member × core) entry of its cost matrix (measured 1.5-9.4 ms
#: per set for 40-300 groups)
ASSIGNMENT_SET_S = 1e-3
ASSIGNMENT_ENTRY_S = 1e-5
#: one LNS or rolling-window round (choosing and building the neighbourhood), deterministic s per
#: group, buffer or task of the instance, charged besides the round's CP-SAT deterministic time
ROUND_ITEM_S = 2e-6
#: segmentation DP: deterministic s per layer of an interval replicated without CP-SAT
HEURISTIC_LAYER_S = 1e-5


class Budget:
    """``total`` seconds of one clock (deterministic s or wall s, see the module docstring).

    ``parent``: a budget this one is carved from; every `spend` is charged to it as well, so a
    share given to a sub-step is consumed from the whole.
    """

    def __init__(self, total: float, *, deterministic: bool, parent: Budget | None = None) -> None:
        self.total = float(total)
        self.deterministic = deterministic
        self.parent = parent
        self._spent = 0.0
        self._t0 = time.perf_counter()

    @classmethod
    def of(cls, options: SolverOptions, total: float | None = None) -> Budget:
        """A budget of ``total`` (default ``options.time_limit_s``) on the options' clock."""
        total = options.time_limit_s if total is None else total
        return cls(options.wall_left(total), deterministic=options.deterministic)

    @classmethod
    def counted(cls, total: float, parent: Budget | None = None) -> Budget:
        """A deterministic budget of ``total`` deterministic s whatever the options say (work
        counted, not timed), charging ``parent`` too."""
        return cls(total, deterministic=True, parent=parent)

    def share(self, total: float) -> Budget:
        """A sub-budget of ``total`` on the same clock whose spending is charged to this one."""
        return Budget(total, deterministic=self.deterministic, parent=self)

    def spent(self) -> float:
        """Deterministic s charged so far, or wall s elapsed since creation."""
        return self._spent if self.deterministic else time.perf_counter() - self._t0

    def left(self) -> float:
        """``total`` minus `spent` (negative once overspent)."""
        return self.total - self.spent()

    @property
    def expired(self) -> bool:
        """True once nothing is left."""
        return self.left() <= 0.0

    def spend(self, x: float) -> None:
        """Charge ``x`` deterministic s (to the parents too); a wall-clock budget ignores it."""
        if self.deterministic:
            self._spent += max(0.0, float(x))
        if self.parent is not None:
            self.parent.spend(x)

    def stop_note(self, margin: float = 0.0) -> str:
        """Stats note of a deterministic solve stopped by this budget (at most ``margin`` left,
        the least a loop goes on with); "" otherwise."""
        if self.deterministic and self.left() <= margin:
            return f"stopped on its deterministic limit of {self.total:.3g} deterministic s"
        return ""
