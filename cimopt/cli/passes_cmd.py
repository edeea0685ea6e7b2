"""The `passes` command: every registered graph pass with its options, or the front end's pass
sequence for a target with the option values it runs with."""
from __future__ import annotations

import argparse
import json
from dataclasses import fields
from typing import Any


def _cmd_passes(a: argparse.Namespace) -> int:
    from cimopt.ir.passes.catalog import passes
    from cimopt.ir.passes.manager import describe

    if a.target:
        from cimopt.cost.matmul_units import MatMulUnitChoice
        from cimopt.frontend import frontend_passes
        from cimopt.targets.load import load_target

        target = load_target(a.target)
        seq = [describe(p) for p in frontend_passes(target, MatMulUnitChoice(target))]
        print(json.dumps(seq, indent=2) if a.json else "\n".join(f"{k + 1:>2}. {d}" for k, d in enumerate(seq)))
        return 0
    rows: list[dict[str, Any]] = []
    for name, cls in passes().items():
        opts = [f"{f.name}: {f.type}" for f in fields(cls)]
        rows.append({"name": name, "module": cls.__module__, "options": opts,
                     "help": " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())})
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['name']:<22} {r['help']}")
        if r["options"]:
            print(f"{'':<22}   options: {', '.join(r['options'])}")
    print("\n`cimopt passes --target NAME` prints the front end's sequence with its option values")
    return 0


def register(sub: Any) -> None:
    """Add the `passes` command to ``sub`` (argparse subparsers)."""
    p = sub.add_parser("passes", help="every graph pass and its options; with --target, the front end's sequence")
    p.add_argument("--target", help="a preset name or TOML file: print the sequence the front end runs for it")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_passes)
