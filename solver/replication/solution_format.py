"""Replication solution files: copies per layer and the segments, with whether they are
reprogrammed; `verify` checks the budget and the order and recomputes the time per inference."""
from __future__ import annotations

import math
from typing import Any

from cimopt.solver.replication.problem import objective, Replicated, Replication, ReplicationInstance
from cimopt.solver.segmentation.cost import evaluate, Segmentation
from cimopt.solver.solution_verdict import array_schema, object_schema, require_length, SolutionError, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("ns", " ".join("""
Layer time t(r) = fixed_ns + ceil(units / r) * granule * interval_ns with units = vectors / granule,
for r copies (1 <= r <= the layer's copy cap). Latency mode: the longest path of the layer DAG
weighted by t; throughput mode: max t. The instance fixes which of two problems it is. When one copy
of every layer fits 'budget' crossbars: one segment without reprogramming, the copies use at most
'budget' crossbars and the objective is that value. Otherwise, with reprogramming: segments run in
turn, each within the budget, and the objective is the sum over segments of the segment's value plus
its largest program_ns. Minimised, in ns per inference.
""".split()))


def body(inst: ReplicationInstance, s: Replicated) -> dict[str, Any]:
    """Copies per layer, the segments, and ``reprogrammed``: true when one copy of the model does not
    fit, which every method segments; a model that fits is one segment whatever method ran
    (`cimopt.solver.replication.stage`: one objective per instance)."""
    return {"copies": list(s.copies), "segments": [list(x) for x in s.segments], "reprogrammed": not inst.fits}


def verify(inst: ReplicationInstance, body: dict[str, Any]) -> Verdict:
    """The objective (ns per inference; NaN when infeasible) and every violation."""
    p = inst.problem
    n = len(p.layers)
    copies, segments = body["copies"], body["segments"]
    require_length("copies", copies, n, "layers")
    order = [i for seg in segments for i in seg]
    if sorted(order) != list(range(n)):
        raise SolutionError(f"solution.segments: must list every layer index 0..{n - 1} exactly once")
    out = []
    for layer, r in zip(p.layers, copies):
        if not 1 <= r <= layer.copy_cap:
            out.append(f"layer {layer.name}: {r} copies outside [1, {layer.copy_cap}]")
    position = {layer: k for k, layer in enumerate(order)}
    out += [f"precedence {p.layers[u].name} -> {p.layers[v].name}: {p.layers[v].name} runs first"
            for u, v in p.edges if position[u] > position[v]]
    for k, seg in enumerate(segments):
        used = sum(p.layers[i].crossbars * copies[i] for i in seg)
        if used > p.budget:
            out.append(f"segment {k}: its copies use {used} crossbars, the budget is {p.budget}")
    if body["reprogrammed"] == inst.fits:
        out.append("one copy of every layer fits the budget: one segment without reprogramming (\"reprogrammed\": "
                   "false)" if inst.fits else "one copy of every layer does not fit the budget: the model runs in "
                   "segments with reprogramming (\"reprogrammed\": true)")
    elif not body["reprogrammed"] and len(segments) != 1:
        out.append(f"{len(segments)} segments without reprogramming: segments other than one need "
                   "\"reprogrammed\": true")
    if out:
        return Verdict(math.nan, tuple(out))
    if not body["reprogrammed"]:
        return Verdict(objective(p, Replication(tuple(copies))), ())
    cuts, at = [], 0
    for seg in segments:
        cuts.append((at, at + len(seg)))
        at += len(seg)
    value = evaluate(p, Segmentation(tuple(order), tuple(cuts), tuple(copies)))
    return Verdict(value, ())


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {
        "copies": array_schema({"type": "integer"}, "copies per layer, in the instance's layer order"),
        "segments": array_schema({"type": "array", "items": {"type": "integer", "minimum": 0}},
                                 "layer indices of each segment, segments in execution order; together a "
                                 "topological order of all layers"),
        "reprogrammed": {"type": "boolean",
                         "description": "true: each segment's weights are written before it on every inference "
                                        "(the objective adds each segment's largest program_ns); false: one "
                                        "segment, weights resident"},
    },
    required=["copies", "segments", "reprogrammed"],
)
