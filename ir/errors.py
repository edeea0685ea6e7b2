"""Typed errors for bad user input.  Every message names the problem and what to do about it.

This module holds the base class and the errors the IR raises or that every layer shares (usage,
capacity, programs); a layer's own errors live with it: `cimopt.targets.errors.TargetError`,
`cimopt.sweep.errors.SpecError`, the solver stages' `cimopt.solver.errors`.

The CLI turns any `CimoptError` into exit code 2 and a one-line message; anything else is a bug.
"""
from __future__ import annotations


class CimoptError(Exception):
    """Base class of every error cimopt raises on purpose (bad input, unsupported model, no fit)."""


class ModelError(CimoptError):
    """The ONNX file is missing, unreadable, malformed or fails the ONNX checker."""


class ShapeError(CimoptError):
    """A tensor shape is unknown or symbolic and the user has not given a size for it."""


class UnsupportedOperatorError(CimoptError):
    """An operator that no unit of the target (crossbar, vector unit, host) can run."""


class CapacityError(CimoptError):
    """The model, or one of its buffers, does not fit on the target."""


class ProgramError(CimoptError):
    """A program file is malformed or does not match its schema."""


class UsageError(CimoptError):
    """A command-line argument is malformed."""
