"""Random placement instances for the benchmarks (`cimopt instances --stage placement`):
layered chains of crossbar groups (`layered_chain`) on a mesh scaled to them
(`placement_instance`, cores for 1.5x the crossbars), so every instance is feasible at every
size.  Seeded and deterministic; traffic in bytes per inference."""
from __future__ import annotations

import math
import random

from cimopt.solver.placement.problem import PlacementInstance, PlacementProblem

#: what an instance's size counts
SIZE_UNIT = "groups"


def layered_chain(n_groups: int, rows: int, cols: int, crossbars_per_core: int,
                  seed: int) -> PlacementProblem:
    """Random layered chain: layers of 3–8 groups of 1–16 crossbars, all-to-all bytes between
    consecutive layers (100–1000 bytes per pair and inference)."""
    rng = random.Random(seed)
    layers: list[list[int]] = []
    groups: list[int] = []
    while len(groups) < n_groups:
        width = min(rng.randint(3, 8), n_groups - len(groups))
        layers.append(list(range(len(groups), len(groups) + width)))
        groups.extend(rng.randint(1, 16) for _ in range(width))
    traffic = tuple((a, b, float(rng.randint(100, 1000)))
                    for before, after in zip(layers, layers[1:]) for a in before for b in after)
    names = tuple(f"L{li}.{gi}" for li, layer in enumerate(layers) for gi in range(len(layer)))
    return PlacementProblem(tuple(groups), traffic, rows, cols, crossbars_per_core, names)


#: crossbars per core of the generated placement instances (PIMCOMP's evaluation chip)
PLACEMENT_CORE_CROSSBARS = 64
#: cores of a generated placement instance hold at least this many times its crossbars
PLACEMENT_SLACK = 1.5


def placement_mesh(crossbars: int, crossbars_per_core: int = PLACEMENT_CORE_CROSSBARS,
                   slack: float = PLACEMENT_SLACK) -> tuple[int, int]:
    """(rows, cols) of the smallest square-ish mesh whose cores hold ``slack`` times ``crossbars``
    plus one core.  Groups of at most a quarter of a core (`layered_chain`'s 1-16 crossbars in 64)
    then always fit with first fit in any order: a core that refuses a group is more than 3/4
    full, so first fit needs at most crossbars / (3/4 core) + 1 cores, fewer than 1.5x + 1."""
    cores = math.ceil(slack * crossbars / crossbars_per_core) + 1
    rows = max(1, math.isqrt(cores))
    cols = math.ceil(cores / rows)
    return rows, cols


def placement_instance(groups: int, seed: int) -> PlacementProblem:
    """`layered_chain` of ``groups`` groups on a mesh of `PLACEMENT_CORE_CROSSBARS`-crossbar cores
    scaled to the instance (`placement_mesh`): feasible at every size (60 groups: ~510 crossbars
    on a 3x5 mesh; 1000 groups: ~8,350 crossbars on a 14x15 mesh)."""
    probe = layered_chain(groups, 1, 1, PLACEMENT_CORE_CROSSBARS, seed)
    rows, cols = placement_mesh(sum(probe.groups))
    return layered_chain(groups, rows, cols, PLACEMENT_CORE_CROSSBARS, seed)


def instance(groups: int, seed: int, mode: str) -> PlacementInstance:
    """The stage instance of `placement_instance`: one segment, each group its own (op, 0, 0,
    crossbars) (``mode`` does not apply to placement)."""
    p = placement_instance(groups, seed)
    return PlacementInstance((p,), (tuple((n, 0, 0, g) for n, g in zip(p.names, p.groups)),))
