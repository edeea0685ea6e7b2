"""The network on chip as a directed graph (networkx): routers, directed links with bandwidth
(bytes/ns), latency (ns per traversal) and energy (pJ per byte), the router of each core, and the
routes a transfer can take.

Built from the target's ``[noc]`` section (`cimopt.targets.noc_spec`), or, without it, the 2-D
mesh of the chip fields (router ``i`` = core ``i``, row-major; a link each way between
neighbours).  A *link* is the pair ``(u, v)`` of routers; a *route* is a tuple of links: a path
from the source core's router to the destination's, or, for a multicast, a tree from the source
router reaching every destination router.  The default route (`default_route`) is
dimension-order XY on a mesh (along the row first, then the column), shortest-direction XY on a
torus and ring, and the shortest path by hops (smallest router numbers first) on a custom graph.
"""
from __future__ import annotations

from collections import deque
from functools import lru_cache

import networkx as nx

from cimopt.targets.errors import TargetError
from cimopt.targets.noc_spec import LinkSpec, NocSpec
from cimopt.targets.spec import ChipSpec, Target

Link = tuple[int, int]
Route = tuple[Link, ...]


def _mesh_links(rows: int, cols: int, wrap: bool) -> list[Link]:
    """Undirected neighbour pairs of a rows x cols mesh (with wrap-around for a torus), each once."""
    pairs: set[tuple[int, int]] = set()
    for r in range(rows):
        for c in range(cols):
            a = r * cols + c
            if c + 1 < cols or (wrap and cols > 2):
                pairs.add(tuple(sorted((a, r * cols + (c + 1) % cols))))  # type: ignore[arg-type]
            if r + 1 < rows or (wrap and rows > 2):
                pairs.add(tuple(sorted((a, ((r + 1) % rows) * cols + c))))  # type: ignore[arg-type]
    return sorted(p for p in pairs if p[0] != p[1])


@lru_cache(maxsize=32)
def _graph(chip: ChipSpec, spec: NocSpec) -> nx.DiGraph:
    g = nx.DiGraph()
    cores = chip.cores
    g.add_nodes_from(range(spec.routers or cores))
    default = (chip.noc_link_bandwidth_bytes_per_ns, chip.noc_hop_latency_ns, chip.noc_hop_energy_pj_per_byte)
    base: list[Link] = []
    if spec.topology in ("mesh", "torus"):
        base = _mesh_links(chip.mesh_rows, chip.mesh_cols, spec.topology == "torus")
    elif spec.topology == "ring" and cores > 1:
        base = sorted({tuple(sorted((i, (i + 1) % cores))) for i in range(cores)})  # type: ignore[misc]
    for a, b in base:
        for u, v in ((a, b), (b, a)):
            g.add_edge(u, v, bandwidth=default[0], latency_ns=default[1], energy_pj_per_byte=default[2])
    for ln in spec.links:
        _add(g, ln)
    return g


def _add(g: nx.DiGraph, ln: LinkSpec) -> None:
    g.add_edge(ln.src, ln.dst, bandwidth=ln.bandwidth_bytes_per_ns, latency_ns=ln.latency_ns,
               energy_pj_per_byte=ln.energy_pj_per_byte)


def noc_graph(target: Target) -> nx.DiGraph:
    """The target's network: nodes are routers (ints), edges directed links with attributes
    ``bandwidth`` (bytes/ns), ``latency_ns`` (ns) and ``energy_pj_per_byte`` (pJ/byte).  Shared
    (cached): do not modify it."""
    return _graph(target.chip, target.noc_spec)


def router_of(target: Target, core: int) -> int:
    """The router core ``core`` is attached to."""
    crs = target.noc_spec.core_routers
    return crs[core] if crs else core


def check_noc(target: Target, source: str) -> None:
    """`TargetError` unless every core's router reaches every other core's router (and an express
    link of a mesh or torus joins two routers that exist)."""
    g = noc_graph(target)
    spec = target.noc_spec
    if spec.topology != "custom":
        bad = [ln for ln in spec.links if max(ln.src, ln.dst) >= target.cores]
        if bad:
            raise TargetError(f"{source}: noc.links: link {bad[0].src} -> {bad[0].dst} names a router beyond the "
                              f"{target.cores} of a {spec.topology}")
    used = sorted({router_of(target, c) for c in range(target.cores)})
    if len(used) <= 1:
        return
    reach = nx.descendants(g, used[0]) | {used[0]}
    back = nx.ancestors(g, used[0]) | {used[0]}
    lost = [r for r in used if r not in reach or r not in back]
    if lost:
        core = next(c for c in range(target.cores) if router_of(target, c) == lost[0])
        raise TargetError(f"{source}: noc: the network is not strongly connected: router {lost[0]} (core {core}) "
                          f"and router {used[0]} do not reach each other both ways")


def _ring_steps(a: int, b: int, n: int) -> list[int]:
    """Positions from ``a`` to ``b`` on a ring of ``n``, the shorter way (forward on ties)."""
    fwd = (b - a) % n
    step = 1 if fwd <= n - fwd else -1
    out = []
    while a != b:
        a = (a + step) % n
        out.append(a)
    return out


def default_route(target: Target, src_core: int, dst_core: int) -> Route:
    """The route a router without a routing table takes (module doc): XY on a mesh or torus,
    the shorter way round on a ring, the shortest path by hops on a custom graph; () between two
    cores on one router."""
    a, b = router_of(target, src_core), router_of(target, dst_core)
    if a == b:
        return ()
    spec = target.noc_spec
    g = noc_graph(target)
    nodes: list[int] = [a]
    if spec.topology in ("mesh", "torus"):
        cols, rows = target.chip.mesh_cols, target.chip.mesh_rows
        (ra, ca), (rb, cb) = divmod(a, cols), divmod(b, cols)
        wrap = spec.topology == "torus"
        xs = _ring_steps(ca, cb, cols) if wrap and cols > 2 else list(
            range(ca + 1, cb + 1) if cb >= ca else range(ca - 1, cb - 1, -1))
        ys = _ring_steps(ra, rb, rows) if wrap and rows > 2 else list(
            range(ra + 1, rb + 1) if rb >= ra else range(ra - 1, rb - 1, -1))
        nodes += [ra * cols + c for c in xs] + [r * cols + cb for r in ys]
    elif spec.topology == "ring":
        nodes += _ring_steps(a, b, target.cores)
    else:
        nodes = _bfs_path(g, a, b)
    route = tuple(zip(nodes, nodes[1:]))
    if any(not g.has_edge(u, v) for u, v in route):   # an XY step a custom table removed: shortest path
        nodes = _bfs_path(g, a, b)
        route = tuple(zip(nodes, nodes[1:]))
    return route


def _bfs_path(g: nx.DiGraph, a: int, b: int) -> list[int]:
    """A fewest-hop path from ``a`` to ``b``, ties broken by smaller router numbers."""
    prev: dict[int, int] = {a: a}
    todo = deque([a])
    while todo:
        u = todo.popleft()
        if u == b:
            break
        for v in sorted(g.successors(u)):
            if v not in prev:
                prev[v] = u
                todo.append(v)
    if b not in prev:
        raise TargetError(f"no route from router {a} to router {b}")
    path = [b]
    while path[-1] != a:
        path.append(prev[path[-1]])
    return path[::-1]


def route_problem(target: Target, route: Route, src_core: int, dst_cores: tuple[int, ...]) -> str:
    """Why ``route`` does not carry a transfer from ``src_core`` to every core of ``dst_cores`` on
    this target ("" when it does): a link the network lacks, a link twice, or a destination
    router the route's links do not reach from the source router."""
    g = noc_graph(target)
    for u, v in route:
        if not g.has_edge(u, v):
            return f"link {u}->{v} is not a link of the network"
    if len(set(route)) != len(route):
        return "a link appears twice"
    src = router_of(target, src_core)
    reach = _depths(route, src)
    missing = [d for d in dst_cores if router_of(target, d) not in reach]
    if missing:
        return f"it does not reach core {missing[0]} (router {router_of(target, missing[0])}) from router {src}"
    return ""


def _depths(route: Route, src: int) -> dict[int, float]:
    """Routers the links of ``route`` reach from ``src``, with the link count to each (BFS)."""
    out: dict[int, list[int]] = {}
    for u, v in route:
        out.setdefault(u, []).append(v)
    seen: dict[int, float] = {src: 0}
    todo = deque([src])
    while todo:
        u = todo.popleft()
        for v in out.get(u, ()):
            if v not in seen:
                seen[v] = seen[u] + 1
                todo.append(v)
    return seen


def route_figures(target: Target, route: Route, src_core: int) -> tuple[float, float, float]:
    """(latency of the deepest branch (ns: the sum of its links' latencies), the slowest link's
    bandwidth (bytes/ns; inf for no link), the energy per byte over every link (pJ/byte)) of a
    route from ``src_core``'s router.  A link the network lacks raises `TargetError`."""
    g = noc_graph(target)
    out: dict[int, list[int]] = {}
    bw, energy = float("inf"), 0.0
    for u, v in route:
        if not g.has_edge(u, v):
            raise TargetError(f"link {u}->{v} is not a link of the network of {target.name}")
        e = g.edges[u, v]
        bw = min(bw, e["bandwidth"])
        energy += e["energy_pj_per_byte"]
        out.setdefault(u, []).append(v)
    depth: dict[int, float] = {router_of(target, src_core): 0.0}
    todo = deque(depth)
    while todo:
        u = todo.popleft()
        for v in out.get(u, ()):
            if v not in depth:
                depth[v] = depth[u] + g.edges[u, v]["latency_ns"]
                todo.append(v)
    return max(depth.values()), bw, energy


def link_name(link: Link) -> str:
    """A link as the program's and the scheduler's resources name it: ``link3>4``."""
    return f"link{link[0]}>{link[1]}"


#: chosen routes by (source router, destination routers sorted): what the routing stage decides
RouteTable = dict[tuple[int, tuple[int, ...]], Route]


def flow_key(target: Target, src_core: int, dst_cores: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(source router, the other destination routers sorted): how a route table names a flow."""
    src = router_of(target, src_core)
    return src, tuple(sorted({router_of(target, d) for d in dst_cores} - {src}))


def default_tree(target: Target, src_core: int, dst_cores: tuple[int, ...]) -> Route:
    """The default route to one core, or to several (the union of the default routes: a tree
    from the source on a mesh, where every XY route leaves along the source's row), sorted."""
    links: set[Link] = set()
    for d in dst_cores:
        links.update(default_route(target, src_core, d))
    return tuple(sorted(links)) if len(dst_cores) > 1 else default_route(target, src_core, dst_cores[0])


def route_for(target: Target, table: RouteTable | None, src_core: int, dst_cores: tuple[int, ...]) -> Route:
    """The route of a transfer from ``src_core`` to ``dst_cores``: the table's, else the default."""
    key = flow_key(target, src_core, dst_cores)
    if not key[1]:
        return ()
    if table is not None and key in table:
        return table[key]
    return default_tree(target, src_core, dst_cores)
