"""Placement solution files: each segment's core per group as JSON; `verify` checks the cores
and capacities and recomputes the byte-hops from the instance."""
from __future__ import annotations

import math
from typing import Any

from cimopt.solver.placement.problem import cost, Placed, Placement, PlacementInstance
from cimopt.solver.solution_verdict import array_schema, object_schema, require_length, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("byte-hops", " ".join("""
Minimise the NoC load per inference: the sum over segments and over traffic pairs (a, b, bytes) of
bytes x the XY hops |row_a - row_b| + |col_a - col_b| between the cores of groups a and b (cores
numbered row-major on the mesh_rows x mesh_cols mesh), each core holding at most crossbars_per_core
crossbars of its groups.
""".split()))


def body(inst: PlacementInstance, s: Placed) -> dict[str, Any]:
    """The core of every group, per segment."""
    return {"cores": [list(c) for c in s.cores]}


def verify(inst: PlacementInstance, body: dict[str, Any]) -> Verdict:
    """The byte-hops summed over segments (NaN with a group off the mesh) and every violation."""
    cores = body["cores"]
    require_length("cores", cores, len(inst.problems), "segments")
    total, out = 0.0, []
    for k, (p, cs) in enumerate(zip(inst.problems, cores)):
        require_length(f"cores[{k}]", cs, p.n_groups, "groups of that segment")
        load = [0] * p.n_cores
        for g, c in enumerate(cs):
            if not 0 <= c < p.n_cores:
                out.append(f"segment {k}: {p.label(g)} on core {c}; the mesh has cores 0..{p.n_cores - 1}")
            else:
                load[c] += p.groups[g]
        out += [f"segment {k}: core {c} holds {used} crossbars, capacity {p.crossbars_per_core}"
                for c, used in enumerate(load) if used > p.crossbars_per_core]
        # the byte-hops of a group off the mesh are undefined
        total += cost(p, Placement(tuple(cs))) if all(0 <= c < p.n_cores for c in cs) else math.nan
    return Verdict(total, tuple(out))


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {
        "cores": array_schema({"type": "array", "items": {"type": "integer"}},
                              "per segment (instance problems[k]), the core (row-major index) of every group"),
    },
    required=["cores"],
)
