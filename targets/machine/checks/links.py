"""The network links a program's transfers hold, and the checks of their routes against the target.

A transfer holds every link of its ``route`` from its start to its end (wormhole routing: the
links of a path, or of a multicast tree, are held together); a transfer between cores on
different routers without a route takes the network's default route
(`cimopt.targets.noc.default_tree`: XY on a mesh), as a router without tables does.  Two
transfers on one link at the same time are an overlap (`checks.overlaps`, kind ``link``).
"""
from __future__ import annotations

from collections.abc import Iterable

from cimopt.ir.program import Instruction, Program
from cimopt.targets.machine.checks.violations import Report
from cimopt.targets.noc import default_tree, link_name, noc_graph, Route, route_problem
from cimopt.targets.spec import Target


def destinations(ins: Instruction) -> tuple[int, ...]:
    """The cores a transfer delivers to: ``dst_cores`` of a multicast, else ``dst_core``."""
    return ins.dst_cores or ((ins.dst_core,) if ins.dst_core >= 0 else ())


def held_route(ins: Instruction, t: Target) -> Route:
    """The links ``ins`` holds (module doc); () for anything but a transfer between two cores."""
    if ins.kind != "transfer":
        return ()
    if ins.route:
        return ins.route
    dsts = destinations(ins)
    if ins.src_core < 0 or not dsts or not all(0 <= c < t.cores for c in (ins.src_core, *dsts)):
        return ()
    return default_tree(t, ins.src_core, dsts)


def timed_route(ins: Instruction, t: Target) -> Route:
    """The route a transfer's duration and energy are computed on: its own when the network has
    it (`check_routes` reports it otherwise), else the default route."""
    route = held_route(ins, t)
    dsts = destinations(ins)
    if ins.route and route_problem(t, route, ins.src_core, dsts):
        return default_tree(t, ins.src_core, dsts) if dsts and 0 <= ins.src_core < t.cores else ()
    return route


def held_links(p: Program, t: Target) -> dict[int, tuple[str, ...]]:
    """Instruction id -> the names of the links it holds (`cimopt.targets.noc.link_name`)."""
    out: dict[int, tuple[str, ...]] = {}
    for ins in p.instructions:
        route = held_route(ins, t)
        if route:
            out[ins.id] = tuple(link_name(ln) for ln in route)
    return out


def check_routes(p: Program, t: Target, rep: Report) -> None:
    """Each transfer's route is made of the network's links and reaches each of its destinations
    from its source; routes and multicast destinations only on transfers; a multicast only where
    the routers replicate packets."""
    for ins in p.instructions:
        if ins.kind != "transfer":
            if ins.route or ins.dst_cores:
                rep.add("schema", f"instruction {ins.id} ({ins.kind}) has a route or destinations; only a "
                                  f"transfer does")
            continue
        if ins.dst_cores and ins.dst_cores[0] != ins.dst_core:
            rep.add("schema", f"instruction {ins.id}: dst_cores {list(ins.dst_cores)} does not start with "
                              f"dst_core {ins.dst_core}")
        if len(ins.dst_cores) > 1 and not t.multicast:
            rep.add("route", f"instruction {ins.id}: a multicast to {len(ins.dst_cores)} cores, but the routers "
                             f"of {t.name} do not replicate packets")
        dsts = destinations(ins)
        if not ins.route or ins.src_core < 0 or not all(0 <= c < t.cores for c in (ins.src_core, *dsts)):
            continue
        why = route_problem(t, ins.route, ins.src_core, dsts)
        if why:
            rep.add("route", f"instruction {ins.id}: its route does not carry core {ins.src_core} -> "
                             f"{', '.join(map(str, dsts))}: {why}")


def link_bytes(instrs: Iterable[Instruction], t: Target) -> dict[tuple[int, int], int]:
    """Bytes each link carries over a program's instructions (one run: ``batch`` inferences),
    from the routes its transfers hold (`held_route`)."""
    out: dict[tuple[int, int], int] = {}
    for ins in instrs:
        for ln in held_route(ins, t):
            out[ln] = out.get(ln, 0) + ins.nbytes
    return out


def link_loads_ns(instrs: Iterable[Instruction], t: Target) -> dict[tuple[int, int], float]:
    """Each link's bytes over its bandwidth (ns per run of the instructions), links that carry any."""
    g = noc_graph(t)
    return {ln: b / g.edges[ln]["bandwidth"] for ln, b in link_bytes(instrs, t).items() if g.has_edge(*ln)}
