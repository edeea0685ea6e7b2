"""Replication, segmentation and placement: which crossbars of which core hold every tile.

Groups for placement are (op, replica, part): one copy of an op's tiles, cut into parts of at
most one core's crossbars.  Traffic between groups follows the workload's data edges, with
vector/host ops in between contracted (the data still flows from one crossbar op to the next);
an edge's bytes flow between the groups whose shares of the data overlap (group i of an
op with G groups holds the fraction [i/G, (i+1)/G) of its rows).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cimopt.cost.model import CostModel
from cimopt.ir.errors import CapacityError
from cimopt.ir.chunks import WHOLE, chunk_axis
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.tiles import Tile, tile_matrix
from cimopt.ir.workload import Workload
from cimopt.solver import placement as pl
from cimopt.solver import replication as rp
from cimopt.solver import segmentation as sg
from cimopt.solver.stats import SolveStats, SolverOptions
from cimopt.targets import timing
from cimopt.targets.spec import Target

from .options import CompileOptions
from .vector_cores import vector_parallelism


@dataclass
class Mapping:
    """Where every tile lives, per segment."""

    segments: list[list[str]]                       # op names per segment, topological order
    copies: dict[str, int]
    tiles: dict[str, tuple[Tile, ...]]              # one copy's tiles per crossbar op
    where: dict[tuple[str, int], list[tuple[int, int, Tile]]] = field(default_factory=dict)  # (op, replica) -> (core, xbar, tile)
    home: dict[str, int] = field(default_factory=dict)   # op -> core that runs it (-1: host)
    stats: dict[str, SolveStats] = field(default_factory=dict)
    exact_stats: dict[str, SolveStats] = field(default_factory=dict)   # compare mode: exact on the same instances

    def segment_of(self) -> dict[str, int]:
        return {op: s for s, ops in enumerate(self.segments) for op in ops}

    def crossbars_used(self) -> int:
        return max((sum(len(v) for (op, _), v in self.where.items() if op in set(seg)) for seg in self.segments),
                   default=0)


def replication_problem(graph: Graph, workload: Workload, cm: CostModel, budget: int,
                        mode: str) -> rp.ReplicationProblem:
    """Layers for the replication solvers; a crossbar op's copies are capped by its output rows
    (the chunks its copies share), and ops with no row axis (ConvTranspose) get one copy."""
    index = {op.name: i for i, op in enumerate(workload.ops)}
    layers = []
    for op in workload.ops:
        c = cm.op(op, 1)
        if op.op_class is OpClass.CROSSBAR and op.matrix is not None:
            prog = _program_ns(cm, cm.tiles(op))
            ax = chunk_axis(graph, graph.op(op.name))
            cap = 1 if ax.axis == WHOLE else ax.rows
            layers.append(rp.Layer(op.name, c.crossbars, op.matrix.vectors, c.interval_ns, c.fixed_ns,
                                   cap, prog))
        elif op.op_class is OpClass.VECTOR:
            # issue 11: a vector op's row chunks run on several vector units at once
            spread = vector_parallelism(graph, graph.op(op.name), cm.target)
            layers.append(rp.Layer(op.name, 0, 1, c.latency_ns / spread, 0.0, 1, 0.0))
        else:
            layers.append(rp.Layer(op.name, 0, 1, c.latency_ns, 0.0, 1, 0.0))
    edges = tuple(sorted({(index[a], index[b]) for a, b, _ in workload.edges}))
    return rp.ReplicationProblem(tuple(layers), edges, budget, mode)


def _program_ns(cm: CostModel, tiles: list[tuple[int, int]]) -> float:
    """Reprogramming time of one copy: crossbars are written in parallel, so its slowest crossbar."""
    return max((timing.write_task(cm.target, r, c).latency_ns for r, c in tiles), default=0.0)


def _groups(mapping: Mapping, seg_ops: list[str], per_core: int) -> list[tuple[str, int, list[Tile]]]:
    out = []
    for op in seg_ops:
        tiles = mapping.tiles.get(op)
        if not tiles:
            continue
        for r in range(mapping.copies[op]):
            for p in range(0, len(tiles), per_core):
                out.append((op, r, list(tiles[p:p + per_core])))
    return out


def _traffic(workload: Workload, seg_ops: set[str], groups: list[tuple[str, int, list[Tile]]]
             ) -> tuple[tuple[int, int, float], ...]:
    by_op: dict[str, list[int]] = {}
    for i, (op, _, _) in enumerate(groups):
        by_op.setdefault(op, []).append(i)
    succ: dict[str, list[tuple[str, int]]] = {}
    for a, b, nbytes in workload.edges:
        succ.setdefault(a, []).append((b, nbytes))
    pair: dict[tuple[int, int], float] = {}
    for u in by_op:
        # walk forward through non-crossbar ops to the next crossbar ops
        seen, stack = set(), [(b, n) for b, n in succ.get(u, [])]
        while stack:
            v, nbytes = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            if v in by_op:
                # group i of u holds rows [i/Gu, (i+1)/Gu) of the data; group j of v reads
                # [j/Gv, (j+1)/Gv): they exchange the bytes of the overlap
                gu, gv = by_op[u], by_op[v]
                nu, nv = len(gu), len(gv)
                for i, a in enumerate(gu):
                    for j in range(i * nv // nu, min(nv, ((i + 1) * nv + nu - 1) // nu)):
                        b = gv[j]
                        lo, hi = max(i / nu, j / nv), min((i + 1) / nu, (j + 1) / nv)
                        if hi > lo and a != b:
                            key = (min(a, b), max(a, b))
                            pair[key] = pair.get(key, 0.0) + nbytes * (hi - lo)
            elif v in seg_ops:
                stack.extend(succ.get(v, []))
    return tuple((a, b, w) for (a, b), w in sorted(pair.items()) if w > 0)


def map_model(graph: Graph, workload: Workload, target: Target, cm: CostModel, opts: CompileOptions) -> Mapping:
    """Replicate (or segment), then place every segment's tile groups on the mesh."""
    c = target.core
    so = opts.solver_options()
    exact = opts.solver == "exact"
    tiles = {op.name: tile_matrix(op.name, op.matrix, c.crossbar_rows, c.crossbar_cols, target.weight_slices)
             for op in workload.ops if op.op_class is OpClass.CROSSBAR and op.matrix is not None}
    for op, ts in tiles.items():
        if len(ts) > target.total_crossbars:
            raise CapacityError(f"op {op} needs {len(ts)} crossbars for one copy of its weights; the chip has "
                                f"{target.total_crossbars}: choose a larger target")
    need = sum(len(t) for t in tiles.values())
    # a little slack for placement (groups are cut at core boundaries and may not pack perfectly),
    # but never so much that a model that fits gets segmented
    budget = max(target.total_crossbars - target.cores, min(need, target.total_crossbars))
    last_error: CapacityError | None = None
    # placement can fail by fragmentation even when the total fits: shrink the budget and retry
    for _ in range(12):
        problem = replication_problem(graph, workload, cm, budget, opts.mode)
        stats: dict[str, SolveStats] = {}
        exact_stats: dict[str, SolveStats] = {}
        if need <= budget:
            method = "exact" if exact else opts.replication
            rep, st = rp.solve(problem, method, so)
            stats["replication"] = st
            if opts.compare:
                exact_stats["replication"] = rp.solve(problem, "exact", so)[1]
            copies = {op.name: rep.copies[i] for i, op in enumerate(workload.ops)}
            segments = [[op.name for op in workload.ops]]
        else:
            seg, st = sg.segment(problem, "dp" if exact else "greedy", so, inner="exact" if exact else "balance")
            stats["replication"] = st
            if opts.compare:
                exact_stats["replication"] = sg.segment(problem, "dp", so, inner="exact")[1]
            copies = {op.name: seg.copies[i] for i, op in enumerate(workload.ops)}
            segments = [[workload.ops[i].name for i in m] for m in seg.members()]
        mapping = Mapping(segments, copies, tiles, stats=stats, exact_stats=exact_stats)
        try:
            _place(mapping, workload, target, opts, so)
            return mapping
        except CapacityError as e:
            last_error = e
            # try the one-copy need once before falling back to segments smaller than the chip
            shrunk = int(budget * 0.9)
            budget = need if shrunk < need < budget else shrunk
            if budget < 1:
                break
    assert last_error is not None
    raise last_error


def _place(mapping: Mapping, workload: Workload, target: Target, opts: CompileOptions, so: SolverOptions) -> None:
    per_core = target.core.crossbars
    exact = opts.solver == "exact"
    agg: list[SolveStats] = []
    agg_exact: list[SolveStats] = []
    for seg_ops in mapping.segments:
        groups = _groups(mapping, seg_ops, per_core)
        if not groups:
            continue
        problem = pl.PlacementProblem(tuple(len(g[2]) for g in groups), _traffic(workload, set(seg_ops), groups),
                                      target.chip.mesh_rows, target.chip.mesh_cols, per_core,
                                      tuple(f"{op}#r{r}" for op, r, _ in groups))
        method = "exact" if exact else opts.placement + ("+ls" if opts.local_search else "")
        placement, st = _solve_placement(problem, method, so)
        agg.append(st)
        if opts.compare:
            agg_exact.append(pl.solve(problem, "exact", so)[1])
        used = [0] * target.cores
        for (op, r, ts), core in zip(groups, placement.core_of):
            slots = mapping.where.setdefault((op, r), [])
            for t in ts:
                slots.append((core, used[core], t))
                used[core] += 1
    if agg:
        mapping.stats["placement"] = _sum_stats(agg)
    if agg_exact:
        mapping.exact_stats["placement"] = _sum_stats(agg_exact)
    _homes(mapping, workload)


def _solve_placement(problem: pl.PlacementProblem, method: str, so: SolverOptions
                     ) -> tuple[pl.Placement, SolveStats]:
    """``method``; when it cannot pack the groups (greedy never backtracks), the first-fit orders,
    then CP-SAT, before the caller gives up and shrinks the budget."""
    try:
        return pl.solve(problem, method, so)
    except CapacityError as first:
        for fallback in ("snake+ls", "inorder+ls", "exact"):
            if fallback == method:
                continue
            try:
                return pl.solve(problem, fallback, so)
            except CapacityError:
                continue
        raise first


def _sum_stats(parts: list[SolveStats]) -> SolveStats:
    from dataclasses import replace

    worst = max(parts, key=lambda s: list(type(s.status)).index(s.status))
    return replace(parts[0], objective=sum(s.objective for s in parts), bound=sum(s.bound for s in parts),
                   wall_s=sum(s.wall_s for s in parts), status=worst.status,
                   note=f"{len(parts)} segment(s)" + (f"; {parts[0].note}" if parts[0].note else ""))


def _homes(mapping: Mapping, workload: Workload) -> None:
    """The core each op runs on: a crossbar op's first replica's first core; a vector op runs
    beside the producer of its first dynamic input (core 0 for graph inputs); host ops on the host."""
    producer: dict[str, str] = {}
    for op in workload.ops:
        for t in op.outputs:
            producer[t] = op.name
    for op in workload.ops:
        if op.op_class is OpClass.HOST:
            mapping.home[op.name] = -1
        elif op.op_class is OpClass.CROSSBAR:
            mapping.home[op.name] = mapping.where[(op.name, 0)][0][0]
        else:
            home = 0
            for t in op.inputs:
                p = producer.get(t)
                if p is not None and mapping.home.get(p, -1) >= 0:
                    home = mapping.home[p]
                    break
            mapping.home[op.name] = home
