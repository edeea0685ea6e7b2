"""`check_program`: every check of a program against its target, run once per `execute` or
`validate` (`targets.machine.executor`) and by ``cimopt validate`` without a model.

In order: the compact instructions, expanded into the flat program the other checks read
(`compact`), the program's fields against the target (`fields`), the transfers' routes against
its network (`links`), resource / NoC link / crossbar / buffer overlaps over the inferences a
stream overlaps (`overlaps`), then, with the model's graph, the
walk in time (`flow`: dependencies, data flow, crossbars, durations, what each op reads and
writes); without it, only the dependency order (durations and data flow need the model).
"""
from __future__ import annotations

from cimopt.ir.graph import Graph
from cimopt.ir.program import Program
from cimopt.targets.machine.checks.compact import flat_program
from cimopt.targets.machine.checks.fields import check_fields
from cimopt.targets.machine.checks.flow import check_dependencies, check_flow, Flow
from cimopt.targets.machine.checks.links import check_routes, held_links
from cimopt.targets.machine.checks.overlaps import check_overlaps
from cimopt.targets.machine.checks.violations import Report, Violation
from cimopt.targets.spec import Target


def check_program(p: Program, t: Target, graph: Graph | None, rep: Report, iterations: int = 3) -> Flow | None:
    """Every check of ``p`` on ``t`` into ``rep``; with ``graph`` also the walk in time, whose
    `Flow` (what the executor needs to run the data) is returned (None without ``graph``).
    ``iterations``: inferences replayed in throughput mode when a unit is busy longer than II.
    A compact ``p`` is checked in its flat form (`compact.flat_program`); the executor passes
    the flat form it runs."""
    p = flat_program(p, rep)
    check_fields(p, t, rep)
    check_routes(p, t, rep)
    check_overlaps(p, rep, max(1, iterations), held_links(p, t))
    if graph is not None:
        return check_flow(p, graph, t, rep)
    by_id = {i.id: i for i in p.instructions}
    for ins in p.instructions:
        check_dependencies(ins, by_id, rep)
    return None


def validate_without_model(p: Program, t: Target, iterations: int = 3) -> list[Violation]:
    """The checks that need only the program and its target: fields, routes, dependency order, unary
    resources, NoC links, crossbars, buffer overlaps and capacity (durations and data flow need the model)."""
    rep = Report()
    check_program(p, t, None, rep, iterations)
    return list(rep.result())
