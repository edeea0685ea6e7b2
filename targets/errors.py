"""Typed errors of the target layer."""
from __future__ import annotations

from cimopt.ir.errors import CimoptError


class TargetError(CimoptError):
    """A target description is missing, malformed or inconsistent."""
