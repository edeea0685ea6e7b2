"""Accuracy solution files: rows per ADC conversion by layer; `verify` checks each is one of
the layer's options and the error budget holds, and recomputes the cost."""
from __future__ import annotations

import math
from typing import Any

from cimopt.solver.accuracy.knapsack import AccuracyProblem, Choice
from cimopt.solver.solution_verdict import object_schema, SolutionError, Verdict

#: the objective: (unit, what is minimised and how it is computed from an instance and a solution)
OBJECTIVE: tuple[str, str] = ("ns or pJ", " ".join("""
Minimise the sum over layers of the chosen option's cost (latency_ns when the instance's objective
is 'latency', energy_pj when 'energy'), subject to floor + sum of the chosen options' error <=
budget (relative noise power).
""".split()))


def body(inst: AccuracyProblem, s: Choice) -> dict[str, Any]:
    """Rows per ADC conversion, by layer."""
    return {"rows_per_conversion": dict(s.rows_per_conversion)}


def verify(inst: AccuracyProblem, body: dict[str, Any]) -> Verdict:
    """The summed cost (ns or pJ; NaN when an option is not one of the layer's) and every violation."""
    rpc = body["rows_per_conversion"]
    if set(rpc) != set(inst.layers):
        raise SolutionError(f"solution.rows_per_conversion: needs exactly the layers {', '.join(inst.layers)}")
    out, cost, error = [], 0.0, inst.floor
    for i, layer in enumerate(inst.layers):
        js = [j for j, o in enumerate(inst.options[i]) if o.rows_per_conversion == rpc[layer]]
        if not js:
            out.append(f"layer {layer}: {rpc[layer]} rows per conversion is not one of its options "
                       f"{', '.join(str(o.rows_per_conversion) for o in inst.options[i])}")
            continue
        cost += inst.cost(i, js[0])
        error += inst.options[i][js[0]].error
    if not out and error > inst.budget + inst.budget * 1e-12:
        out.append(f"error budget: floor + chosen errors = {error:.4g} exceeds the budget {inst.budget:.4g} "
                   f"(predicted output SQNR {-10 * math.log10(error):.2f} dB < {inst.min_sqnr_db:.2f} dB)")
    return Verdict(cost if len(out) == 0 or out[0].startswith("error") else math.nan, tuple(out))


#: JSON Schema of a solution body (`body`)
SCHEMA: dict[str, Any] = object_schema(
    {
        "rows_per_conversion": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 1},
            "description": ("rows activated per ADC conversion, by layer name (one of the layer's "
                            "options)"),
        },
    },
    required=["rows_per_conversion"],
)
