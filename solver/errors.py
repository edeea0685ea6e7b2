"""Typed errors of the solver stages."""
from __future__ import annotations

from cimopt.ir.errors import CimoptError


class SolverError(CimoptError):
    """A solver run that cimopt cannot turn into a result: CP-SAT rejected a model as invalid,
    stopped with an error, or proved infeasible a model whose hint is a known solution.  The
    message names the model; each of these is a cimopt bug, not a property of the user's input."""
