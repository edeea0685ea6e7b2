"""The `demo` command: what `make demo` runs."""
from __future__ import annotations

import argparse
from typing import Any

from cimopt.demo import demo
from cimopt.options import MODES


def _cmd_demo(a: argparse.Namespace) -> int:
    return demo(a.target, a.mode)


def register(sub: Any) -> None:
    """Add ``demo`` to the ``cimopt`` subparsers."""
    d = sub.add_parser("demo", help="compile a bundled model, run it, compare with onnxruntime")
    d.add_argument("--target", default="isaac")
    d.add_argument("--mode", choices=MODES, default="latency")
    d.set_defaults(func=_cmd_demo)
