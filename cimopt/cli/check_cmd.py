"""The `check` and `export-instance` commands: a solution from any solver verified against a stage
instance, and stage instances written in standard formats (docs/instances.md)."""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

from cimopt.ir.errors import UsageError
from cimopt.solver.harness import exports, instances, solutions
from cimopt.solver.registry import stage, STAGES


def _cmd_check(a: argparse.Namespace) -> int:
    if a.schema:
        print(json.dumps(solutions.stage_schema(stage(a.schema).name), indent=2))
        return 0
    if not a.instance or not a.solution:
        raise UsageError("cimopt check: give INSTANCE.json SOLUTION.json (or --schema STAGE)")
    if a.max_violations < 0:
        raise UsageError("--max-violations must be >= 0")
    st, problem, _ = instances.load(a.instance, STAGES)
    doc = solutions.load(a.solution)
    verdict = solutions.check(st, problem, doc)
    claimed = doc.get("objective")
    objective = verdict.objective if math.isfinite(verdict.objective) else None
    if a.json:
        print(json.dumps({"stage": st.name, "feasible": verdict.feasible, "objective": objective, "unit": st.unit,
                          "claimed_objective": claimed, "violations": list(verdict.violations)}))
        return 0 if verdict.feasible else 1
    value = f"{verdict.objective:.10g} {st.unit}" if objective is not None else "undefined"
    said = "" if claimed is None else f"; the file claims {claimed:.10g}"
    if verdict.feasible:
        print(f"{st.name} solution {a.solution}: FEASIBLE, objective {value} (recomputed from the instance{said})")
        return 0
    n = len(verdict.violations)
    print(f"{st.name} solution {a.solution}: INFEASIBLE, {n} violated constraint{'s' if n != 1 else ''}"
          + (f" (first {a.max_violations})" if n > a.max_violations else "") + ":")
    for v in verdict.violations[:a.max_violations]:
        print(f"  {v}")
    print(f"objective of this infeasible solution: {value} (recomputed from the instance{said})")
    return 1


def _cmd_export(a: argparse.Namespace) -> int:
    want, write, suffix = exports.FORMATS[a.format]
    st, problem, _ = instances.load(a.instance, STAGES)
    if st.name != want:
        formats = [f for f, (s, *_) in exports.FORMATS.items() if s == st.name]
        raise UsageError(f"--format {a.format} is for {want} instances; {a.instance} is a {st.name} instance"
                         + (f" (its formats: {', '.join(formats)})" if formats else " (no standard format)"))
    if a.segment is not None and st.name != "placement":
        raise UsageError("--segment applies to placement instances only")
    text = write(problem, a.segment) if st.name == "placement" else write(problem)
    out = a.output or f"{a.instance.rsplit('.json', 1)[0]}{suffix}"
    try:
        with open(out, "w") as f:
            f.write(text)
    except OSError as e:
        raise UsageError(f"-o {out}: cannot write ({e.strerror or e})") from None
    print(f"{st.name} instance written as {a.format} to {out} (mapping: docs/instances.md)")
    return 0


def register(sub: Any) -> None:
    """Add ``check`` and ``export-instance`` to the ``cimopt`` subparsers."""
    c = sub.add_parser("check", help="verify a solution (from any solver) against a stage instance and print its "
                                     "objective, recomputed from the instance; exit 0 feasible, 1 infeasible, "
                                     "2 malformed")
    c.add_argument("instance", nargs="?", help="instance JSON file (cimopt.instance/1)")
    c.add_argument("solution", nargs="?", help="solution JSON file (cimopt.solution/1, e.g. from solve -o)")
    c.add_argument("--max-violations", type=int, default=5, help="violations printed (default 5; --json: all)")
    c.add_argument("--json", action="store_true")
    c.add_argument("--schema", metavar="STAGE", help="print the JSON Schema of STAGE's solution files instead")
    c.set_defaults(func=_cmd_check)
    e = sub.add_parser("export-instance", help="write a stage instance in a standard format: scheduling as "
                                               "RCPSP/max (psplib), placement as QAPLIB, memory as MiniZinc data")
    e.add_argument("instance", help="instance JSON file (cimopt.instance/1)")
    e.add_argument("--format", required=True, choices=sorted(exports.FORMATS))
    e.add_argument("--segment", type=int, help="placement: the segment to write (a QAPLIB file holds one)")
    e.add_argument("-o", "--output", help="file to write (default: the instance's name with .sch/.dat/.dzn)")
    e.set_defaults(func=_cmd_export)
