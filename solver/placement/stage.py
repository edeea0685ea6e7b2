"""The placement stage: which crossbars of which core hold every tile of every copy.

Groups for placement are (op, replica, part): one copy of an op's tiles, cut into parts of at
most one core's crossbars.  When best-fit decreasing cannot pack those parts although the chip
has the crossbars (replication fills the chip), the parts it cannot place are cut again at the
free space of a core (`packable_groups`), so every method solves the same, packable problem; the
stats' note says how many parts were cut.  A copy cut over several cores runs as one unit
(`cimopt.solver.scheduling.tasks`), as a copy larger than a core always has.  Traffic between
groups follows the workload's data edges, with vector/host ops in between contracted (the data
still flows from one crossbar op to the next); an edge's bytes flow between the groups whose
shares of the data overlap (group i of an op with G groups holds the fraction [i/G, (i+1)/G) of
its rows).  Each segment is placed on its own (the crossbars are reprogrammed between segments).
The solution (`Placed`) carries the groups it places, from which ``apply`` writes the mapping.

When the chosen method cannot pack a segment's groups (greedy heuristics never backtrack),
the other first-fit orders and then CP-SAT are tried, each attempt a line in the stats; when
none packs, the stage asks the pipeline to replicate again under a smaller crossbar budget.
"""
from __future__ import annotations

import time
from dataclasses import replace

from cimopt.ir.errors import CapacityError
from cimopt.ir.graph import OpClass
from cimopt.ir.workload import Workload
from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage, StageInfeasible
from cimopt.solver.mapping import Mapping
from cimopt.solver.placement import (
    exact as px, generator as placement_generator, heuristic as pl, solution_format as placement_solutions)
from cimopt.solver.placement.problem import Group, Placed, Placement, PlacementInstance, PlacementProblem, require_fit
from cimopt.solver.stats import Attempt, SolverOptions, SolveStats, worst_status

#: the methods tried, in order, when a method cannot pack the groups; CP-SAT only after an exact method
FALLBACKS = ("pack+ls", "snake+ls", "inorder+ls")
EXACT_FALLBACK = "exact"


class PlacementStage(Stage[PlacementInstance, Placed]):
    name = "placement"
    methods = (
        Method("inorder", "heuristic", "first fit in core order (PUMA-like)"),
        Method("snake", "heuristic", "first fit along a boustrophedon path (MNSIM-like)"),
        Method("greedy", "heuristic", "communication-greedy: heaviest traffic first, nearest free core"),
        Method("pack", "heuristic", "best-fit decreasing bin packing along the snake order"),
        Method("inorder+ls", "local search", "inorder, then pairwise-swap local search"),
        Method("snake+ls", "local search", "snake, then pairwise-swap local search"),
        Method("greedy+ls", "local search", "greedy, then pairwise-swap local search"),
        Method("pack+ls", "local search", "pack, then pairwise-swap local search"),
        Method("exact", "exact/LNS", "LNS from the best heuristic, then CP-SAT to prove or improve when groups x "
                                     f"cores <= {px.CPSAT_MAX_VARS}; LNS alone above"),
        Method("cpsat", "exact", "CP-SAT over group-to-core, hinted with the best heuristic"),
        Method("hungarian", "local search", "linear assignments of independent groups (Hungarian method) from the best heuristic"),
        Method("lns", "LNS", "large-neighbourhood search with CP-SAT sub-problems from the best heuristic"),
    )
    heuristic = "greedy+ls"
    exact = "exact"
    problem_type = PlacementInstance
    unit = "byte-hops"
    solution_format = placement_solutions
    generator = placement_generator

    def build(self, ctx: Context) -> PlacementInstance:
        m = ctx.mapping
        assert m is not None, "replication has not run"
        per_core = ctx.target.core.crossbars
        chip = ctx.target.chip
        problems, groups, cut = [], [], 0
        for seg_ops in m.segments:
            gs, k = packable_groups(_groups(m, seg_ops, per_core), per_core, chip.mesh_rows, chip.mesh_cols)
            if not gs:
                continue
            cut += k
            problems.append(PlacementProblem(tuple(n for *_, n in gs), _traffic(ctx.workload, set(seg_ops), gs),
                                                chip.mesh_rows, chip.mesh_cols, per_core,
                                                tuple(f"{op}#r{r}" for op, r, _, _ in gs)))
            groups.append(tuple(gs))
        return PlacementInstance(tuple(problems), tuple(groups), cut)

    def solve(self, problem: PlacementInstance, method: str,
              options: SolverOptions) -> tuple[Placed, SolveStats]:
        self.method(method)
        t0 = time.perf_counter()
        parts: list[SolveStats] = []
        cores = []
        for k, p in enumerate(problem.problems):
            placement, st = _solve_with_fallbacks(p, method, options, k, self.method(method).improves)
            parts.append(st)
            cores.append(placement.core_of)
        if not parts:
            return Placed(()), SolveStats(self.name, method, worst_status([]), 0.0, 0.0, 0.0, "no groups")
        st = _sum_stats(parts, time.perf_counter() - t0)
        other = [(k, s.method) for k, s in enumerate(parts) if s.method != method]
        if other:  # a fallback placed these segments (`_solve_with_fallbacks`)
            st = replace(st, produced_by=", ".join(f"segment {k}: {m}" if len(parts) > 1 else m for k, m in other))
        if problem.cut:
            st = replace(st, note=f"{st.note}; {problem.cut} groups cut at a core's free space to pack")
        return Placed(tuple(cores), problem.groups), st

    def apply(self, ctx: Context, solution: Placed) -> None:
        assert ctx.mapping is not None, "replication has not run"
        # a new mapping: contexts copied before this stage (by the exact path) keep theirs
        m = replace(ctx.mapping, where={}, home={})
        ctx.mapping = m
        for groups, cores in zip(solution.groups, solution.cores):
            used = [0] * ctx.target.cores
            for (op, r, first, n), core in zip(groups, cores):
                slots = m.where.setdefault((op, r), [])
                for t in m.tiles[op][first:first + n]:
                    slots.append((core, used[core], t))
                    used[core] += 1
        _homes(m, ctx.workload)

    def retry(self, ctx: Context, error: StageInfeasible) -> str | None:
        """Replicate again under a smaller budget: first the one-copy need, then 90 % steps."""
        assert ctx.tiles is not None, "tiling has not run"
        need = sum(len(t) for t in ctx.tiles.values())
        budget = ctx.budget
        shrunk = int(budget * 0.9)
        new = need if shrunk < need < budget else shrunk
        if new < 1:
            return None
        ctx.budget = new
        return "replication"


def _solve_with_fallbacks(p: PlacementProblem, method: str, options: SolverOptions,
                          segment: int, exact: bool) -> tuple[Placement, SolveStats]:
    """``method``, then `FALLBACKS` (and CP-SAT after an exact method) when it cannot pack the
    groups; every failure an `Attempt`."""
    attempts: list[Attempt] = []
    chain = FALLBACKS + ((EXACT_FALLBACK,) if exact else ())
    for m in (method, *[f for f in chain if f != method]):
        t = time.perf_counter()
        try:
            placement, st = solve_placement(p, m, options)
        except CapacityError as e:
            attempts.append(Attempt(f"segment {segment}: {m}", str(e), time.perf_counter() - t))
            continue
        if attempts:
            st = replace(st, attempts=tuple(attempts) + st.attempts)
        return placement, st
    raise StageInfeasible(f"segment {segment}: {', '.join(a.what.split(': ')[-1] for a in attempts)} cannot pack "
                          f"{len(p.groups)} groups of {sum(p.groups)} crossbars on {p.n_cores} cores of "
                          f"{p.crossbars_per_core}", resource="crossbars", attempts=tuple(attempts))


def solve_placement(p: PlacementProblem, method: str,
                    options: SolverOptions) -> tuple[Placement, SolveStats]:
    """One placement problem with any placement method by name (heuristic or exact)."""
    if method in ("exact", "cpsat", "hungarian", "lns"):
        require_fit(p)
        return px.solve_exact(p, method, options)
    return pl.solve(p, method, options)


def _sum_stats(parts: list[SolveStats], wall_s: float) -> SolveStats:
    methods = sorted({s.method for s in parts})
    return replace(parts[0], method="/".join(methods), objective=sum(s.objective for s in parts),
                   bound=sum(s.bound for s in parts), wall_s=wall_s,
                   status=worst_status([s.status for s in parts]),
                   attempts=tuple(a for s in parts for a in s.attempts),
                   note=f"{len(parts)} segment(s)" + (f"; {parts[0].note}" if parts[0].note else ""))


def packable_groups(groups: list[Group], per_core: int, mesh_rows: int,
                    mesh_cols: int) -> tuple[list[Group], int]:
    """``groups`` and 0 when best-fit decreasing (`placement.pack`) packs them, or when they need
    more crossbars than the mesh has (placement then says so); otherwise the same tiles in pieces
    that it packs, each piece a run of one group's tiles, pieces of a group adjacent and in tile
    order, and the number of pieces added.

    The pieces come from best-fit decreasing that cuts a group it cannot place at the largest
    free space left; if best-fit decreasing does not pack those pieces again, the groups are cut
    along first fit in core order instead, which `placement.inorder` packs by construction.
    """
    def packs(gs: list[Group], how: str) -> bool:
        p = PlacementProblem(tuple(n for *_, n in gs), (), mesh_rows, mesh_cols, per_core)
        try:
            pl.pack(p) if how == "pack" else pl.inorder(p)
        except CapacityError:
            return False
        return True

    if not groups or sum(n for *_, n in groups) > per_core * mesh_rows * mesh_cols or packs(groups, "pack"):
        return groups, 0
    cut = _split(groups, _bfd_pieces([n for *_, n in groups], per_core, mesh_rows * mesh_cols))
    if not packs(cut, "pack"):
        cut = _split(groups, _fill_pieces([n for *_, n in groups], per_core))
    return cut, len(cut) - len(groups)


def _bfd_pieces(sizes: list[int], per_core: int, n_cores: int) -> list[list[int]]:
    """Piece sizes per group: best fit decreasing, a group that fits no core cut at the largest free space."""
    free = [per_core] * n_cores
    pieces: list[list[int]] = [[] for _ in sizes]
    queue = sorted(((s, g) for g, s in enumerate(sizes)), key=lambda x: (-x[0], x[1]))
    while queue:
        s, g = queue.pop(0)
        fits = [c for c in range(n_cores) if free[c] >= s]
        if fits:
            core = min(fits, key=lambda c: (free[c], c))
            free[core] -= s
            pieces[g].append(s)
            continue
        core = max(range(n_cores), key=lambda c: (free[c], -c))
        part = free[core]
        free[core] = 0
        pieces[g].append(part)
        rest = (s - part, g)
        queue.insert(next((k for k, q in enumerate(queue) if (-q[0], q[1]) > (-rest[0], rest[1])), len(queue)), rest)
    return pieces


def _fill_pieces(sizes: list[int], per_core: int) -> list[list[int]]:
    """Piece sizes per group: groups in order filling cores in order, cut at each core's end."""
    pieces: list[list[int]] = []
    room = per_core
    for s in sizes:
        mine: list[int] = []
        while s > 0:
            part = min(s, room)
            mine.append(part)
            s -= part
            room -= part
            if room == 0:
                room = per_core
        pieces.append(mine)
    return pieces


def _split(groups: list[Group], pieces: list[list[int]]) -> list[Group]:
    """Each group replaced by its pieces (sizes summing to its tiles), in tile order."""
    out: list[Group] = []
    for (op, r, first, n), sizes in zip(groups, pieces):
        assert sum(sizes) == n, (op, r, sizes, n)
        for size in sizes:
            out.append((op, r, first, size))
            first += size
    return out


def _groups(mapping: Mapping, seg_ops: list[str], per_core: int) -> list[Group]:
    out = []
    for op in seg_ops:
        tiles = mapping.tiles.get(op)
        if not tiles:
            continue
        for r in range(mapping.copies[op]):
            for first in range(0, len(tiles), per_core):
                out.append((op, r, first, min(per_core, len(tiles) - first)))
    return out


def _traffic(workload: Workload, seg_ops: set[str], groups: list[Group]) -> tuple[tuple[int, int, float], ...]:
    by_op: dict[str, list[int]] = {}
    for i, (op, *_) in enumerate(groups):
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
