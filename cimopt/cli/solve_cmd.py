"""The `solve` and `instances` commands: stage instances as data, re-solved with any method."""
from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any

from cimopt.ir import units
from cimopt.ir.errors import UsageError
from cimopt.options import DETERMINISTIC_HELP, TIME_HELP, time_limits
from cimopt.solver.harness import generators, instances, solutions
from cimopt.solver.registry import stage, STAGES
from cimopt.solver.stats import SolverOptions


def _stats_json(s: Any) -> dict[str, Any]:
    return {"stage": s.stage, "method": s.method, "status": s.status.value, "objective": s.objective,
            "bound": s.bound, "gap": s.gap if math.isfinite(s.gap) else None, "wall_s": s.wall_s,
            "bound_kind": s.bound_kind, "exact": s.exact, "kind": s.kind, "produced_by": s.produced_by,
            "note": s.note,
            "attempts": [str(a) for a in s.attempts]}


def _cmd_solve(a: argparse.Namespace) -> int:
    if a.schema:
        print(json.dumps(instances.schema(stage(a.schema)), indent=2))
        return 0
    if not a.instance:
        raise UsageError("cimopt solve: give an INSTANCE.json (or --schema STAGE)")
    st, problem, meta = instances.load(a.instance, STAGES)
    method = a.method or meta.get("method") or st.heuristic
    limit, deterministic = time_limits(a.time_limit, a.deterministic_time)
    if a.output and not os.access(os.path.dirname(os.path.abspath(a.output)), os.W_OK):
        raise UsageError(f"-o {a.output}: its folder does not exist or is not writable")
    solution, s = st.run(problem, method, SolverOptions(limit, a.seed, a.workers, deterministic=deterministic))
    if a.output:
        try:
            solutions.save(solutions.document(st, problem, solution, method, s.objective), a.output)
        except OSError as e:
            raise UsageError(f"-o {a.output}: cannot write ({e.strerror or e})") from None
    if a.json:
        print(json.dumps(_stats_json(s)))
    else:
        print(f"{s.stage} {s.method} ({s.kind})" + (f" -> {s.produced_by}" if s.produced_by else "")
              + f": {s.status.value}, objective {_exact(s.objective, st.unit)}, "
              f"bound {_exact(s.bound, st.unit)} ({s.bound_kind}), gap {100 * s.gap:.2f} %, {s.wall_s:.2f} s"
              + (f"; {s.note}" if s.note else ""))
        for att in s.attempts:
            print(f"  fallback: {att}")
        if a.output:
            print(f"solution written to {a.output} (verify it with: cimopt check {a.instance} {a.output})")
    return 0


def _exact(value: float, unit: str) -> str:
    """``value`` (in ``unit``) readable and exact: "4.28 MiB (4,484,096 bytes)", "4,226,530 byte-hops"."""
    text = units.by_unit(value, unit)
    return text if text.endswith(f" {unit}") else f"{text} ({units.count(value, 9)} {unit})"


def _cmd_instances(a: argparse.Namespace) -> int:
    what = generators.SIZES[a.stage]
    if a.size < 1:
        raise UsageError(f"--size must be at least 1 ({what})")
    problem = generators.instance(a.stage, a.size, a.seed, a.mode)
    out = a.output or f"{a.stage}-{a.size}-seed{a.seed}.json"
    try:
        instances.save(stage(a.stage), problem, out, {"generator": f"{a.stage} {what}={a.size} seed={a.seed}"})
    except OSError as e:
        raise UsageError(f"-o {out}: cannot write ({e.strerror or e})") from None
    print(f"{a.stage} instance ({what} {a.size}, seed {a.seed}) written to {out}")
    return 0


def register(sub: Any) -> None:
    """Add ``solve`` and ``instances`` to the ``cimopt`` subparsers."""
    s = sub.add_parser("solve", help="solve a stage instance (from compile --export-instances or cimopt instances) "
                                     "with any of that stage's methods")
    s.add_argument("instance", nargs="?", help="instance JSON file")
    s.add_argument("--method", help="method name (default: the one the instance was solved with, else the "
                                    "stage's heuristic; see `cimopt methods`)")
    s.add_argument("--time-limit", type=float, help=TIME_HELP.replace("per stage ", ""))
    s.add_argument("--deterministic-time", type=float, metavar="SECONDS", help=DETERMINISTIC_HELP)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=8, help="CP-SAT workers (default 8)")
    s.add_argument("--json", action="store_true")
    s.add_argument("-o", "--output", metavar="SOLUTION.json",
                   help="write the solution (format cimopt.solution/1; `cimopt check --schema STAGE`)")
    s.add_argument("--schema", metavar="STAGE", help="print the JSON Schema of STAGE's instance files instead")
    s.set_defaults(func=_cmd_solve)
    g = sub.add_parser("instances", help="generate the random stage instances the benchmarks use")
    g.add_argument("--stage", required=True, choices=sorted(generators.SIZES))
    size_units = sorted(set(generators.SIZES.values()))
    g.add_argument("--size", *(f"--{u}" for u in size_units), dest="size", type=int, default=1000,
                   help="instance size, per stage: " + ", ".join(f"{s} {u}" for s, u in generators.SIZES.items())
                   + " (default 1000)")
    g.add_argument("--mode", choices=("latency", "throughput"), default="latency",
                   help="objective of scheduling and replication instances")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("-o", "--output", help="file to write (default STAGE-SIZE-seedN.json)")
    g.set_defaults(func=_cmd_instances)
