"""Random routing instances for the benchmarks (`cimopt instances --stage routing`): a square-ish
mesh of about ``size / 4`` routers, ``size`` unicast flows (or multicast to 2-4 routers in
``mode == "multicast"``) between random routers, 1 KiB - 64 KiB each, XY default routes.
Seeded and deterministic."""
from __future__ import annotations

import math
import random

from cimopt.solver.routing.problem import Flow, NocLink, Route, RoutingProblem

#: what an instance's size counts
SIZE_UNIT = "flows"


def mesh_instance(rows: int, cols: int, flows: list[tuple[int, tuple[int, ...], int]],
                  bandwidth: float = 32.0, multicast: bool = False) -> RoutingProblem:
    """``flows`` (source, destinations, bytes) on a rows x cols mesh, XY default routes."""
    links = []
    for r in range(rows):
        for c in range(cols):
            a = r * cols + c
            for b in ([a + 1] if c + 1 < cols else []) + ([a + cols] if r + 1 < rows else []):
                links += [NocLink(a, b, bandwidth), NocLink(b, a, bandwidth)]

    def xy(s: int, d: int) -> Route:
        (r, c), (r1, c1) = divmod(s, cols), divmod(d, cols)
        nodes = [s]
        while c != c1:
            c += 1 if c1 > c else -1
            nodes.append(r * cols + c)
        while r != r1:
            r += 1 if r1 > r else -1
            nodes.append(r * cols + c)
        return tuple(zip(nodes, nodes[1:]))

    fl = tuple(Flow(s, tuple(sorted(set(ds) - {s})), b) for s, ds, b in flows if set(ds) - {s})
    default = tuple(tuple(sorted({ln for d in f.dsts for ln in xy(f.src, d)})) if len(f.dsts) > 1
                    else xy(f.src, f.dsts[0]) for f in fl)
    cuts = tuple(tuple(r * cols + c for r in range(rows) for c in range(k)) for k in range(1, cols)) + \
        tuple(tuple(range(k * cols)) for k in range(1, rows))
    return RoutingProblem(rows * cols, tuple(sorted(links, key=lambda ln: (ln.src, ln.dst))), fl, default, cuts,
                          multicast)


def instance(size: int, seed: int, mode: str) -> RoutingProblem:
    """``size`` random flows on a mesh of about ``size / 4`` routers (module doc)."""
    rng = random.Random(seed)
    n = max(4, size // 4)
    rows = max(2, int(math.sqrt(n)))
    cols = max(2, -(-n // rows))
    multicast = mode == "multicast"
    flows = []
    for _ in range(size):
        s = rng.randrange(rows * cols)
        k = rng.randint(2, min(4, rows * cols - 1)) if multicast else 1
        dsts = tuple(rng.sample([v for v in range(rows * cols) if v != s], k))
        flows.append((s, dsts, rng.randint(1, 64) * 1024))
    return mesh_instance(rows, cols, flows, multicast=multicast)
