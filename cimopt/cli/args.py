"""Argument helpers every `cimopt` command shares: the parser class, model arguments, progress."""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from cimopt.ir.errors import UsageError


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a typed error (exit 2, one line)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """MODEL, --target, --input-shape and --costs, as compile, inspect and compare take them."""
    p.add_argument("model", help="ONNX model file")
    p.add_argument("--target", "-t", default="isaac",
                   help="preset name (see `cimopt targets`) or a target .toml file (default: isaac)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0xD1x...",
                   help="size of a graph input with symbolic dims, e.g. input=1x3x224x224 "
                        "(repeatable, or comma-separated)")
    p.add_argument("--costs", metavar="CSV", help="per-op costs measured by an external CIM simulator "
                                                  "(columns op, latency_ns, energy_pj) overriding the analytic model")


def progress(enabled: bool) -> Callable[[str], None]:
    """A progress callback printing ``[  1.2s] message`` lines on stderr, or nothing."""
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if enabled:
            print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)
    return say
