"""Typed errors of sweeps."""
from __future__ import annotations

from cimopt.ir.errors import CimoptError


class SpecError(CimoptError):
    """A sweep specification is missing, malformed or names an unknown key or value."""
