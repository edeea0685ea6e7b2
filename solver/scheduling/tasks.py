"""The task graph of one inference (of one batch, `cimopt.batching`): op x replica x chunk of
output rows, plus transfers, crossbar writes between segments and segment barriers, each on a
unary resource.  A crossbar-written MatMul (`ir.written`) also has, per replica, an
``operand_write`` task on that replica's resource: it reads the run-time operand (all of it) and
writes it into the replica's crossbars, and every MVM chunk of the replica depends on it.
Vector ops are chunked by rows too (`ir.vector_chunks`) and their chunks are spread over the
cores' vector units (`cimopt.vector_cores`).

Precedence comes from receptive fields: a chunk of a crossbar op waits only for the chunks of
its producer that write the input rows it reads, so consecutive layers pipeline.  A
dependency between tasks on different cores goes through a NoC transfer task on the
receiving core's port, holding the links of its route.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from cimopt.ir.chunks import (accesses_overlap, chunk_axis, FLAT, mvm_vector_count, needed_rows, position_intervals, split_rows,
                              split_vectors, VEC, vector_count, WHOLE)
from cimopt.ir.graph import Graph, OpClass, OpSpec
from cimopt.ir.program import TileWrite
from cimopt.ir.tiles import Tile
from cimopt.ir.vector_chunks import vector_chunk_axis, vector_needed_rows
from cimopt.ir.workload import Workload, WorkOp
from cimopt.solver.mapping import Mapping
from cimopt.solver.scheduling.vector_cores import assign_vector_cores
from cimopt.targets.noc import Route, route_for, RouteTable
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target


@dataclass
class TaskInfo:
    kind: str                    # mvm | vector | host | transfer | write | operand_write | barrier
    resource: str
    unit: str
    duration_ns: int
    energy_pj: float
    op: str = ""
    replica: int = 0
    segment: int = 0
    axis: int = WHOLE
    row0: int = 0
    row1: int = 0
    core: int = -1
    crossbars: tuple[tuple[int, int], ...] = ()
    nbytes: int = 0
    src_core: int = -1
    dst_core: int = -1
    tile: TileWrite | None = None
    tiles: tuple[TileWrite, ...] = ()   # operand_write: the tile each crossbar of the replica receives
    route: Route = ()                   # transfer: the NoC links it holds (`cimopt.targets.noc`)
    dst_cores: tuple[int, ...] = ()     # transfer: every destination of a multicast (dst_core the first)
    rows_per_conversion: int = 0  # mvm: rows driven per ADC conversion (0: as many as the DACs drive)
    reads: list[tuple[str, int, int, int]] = field(default_factory=list)   # (tensor, axis, row0, row1)
    writes: list[tuple[str, int, int, int]] = field(default_factory=list)


@dataclass
class TaskGraph:
    tasks: list[TaskInfo] = field(default_factory=list)
    edges: set[tuple[int, int]] = field(default_factory=set)
    of_op: dict[str, list[int]] = field(default_factory=dict)

    def add(self, t: TaskInfo) -> int:
        self.tasks.append(t)
        return len(self.tasks) - 1


def tile_write(core: int, xbar: int, t: Tile, replica: int, segment: int) -> TileWrite:
    return TileWrite(core, xbar, t.op, replica, t.index, t.group0, t.ngroups, t.row0, t.row1, t.col0, t.col1, segment)


def op_chunks(graph: Graph, op: OpSpec, axis: int, rows: int, copies: int, chunks: int,
              count: int = 0) -> list[tuple[int, int]]:
    """The output ranges of a crossbar op's MVM tasks, dealt round robin to its ``copies``:
    ``count`` of them when given (at most one per row), else at least ``chunks`` and a multiple
    of the copies (each copy gets ``ceil(rows / copies)`` rows at most); a Conv's ranges of
    vectors (`VEC`) never span two images."""
    if axis == WHOLE:
        return [(0, 1)]
    if count <= 0:
        count = copies * -(-max(1, min(chunks, rows)) // copies)
    count = min(rows, count)
    if axis == VEC:
        images = max(1, graph.shape(op.mvm_output)[0])
        return split_vectors(images, rows // images, count)
    return split_rows(rows, count)


def build_tasks(graph: Graph, workload: Workload, target: Target, mapping: Mapping, chunks: int,
                rows_per_conversion: dict[str, int] | None = None,
                chunk_counts: dict[str, int] | None = None, routes: RouteTable | None = None) -> TaskGraph:
    """Tasks and precedence edges of one inference for this mapping; crossbar ops read
    ``rows_per_conversion[op]`` rows per ADC conversion where given, and are cut into
    ``chunk_counts[op]`` chunks where given (the granularity stage), else `op_chunks`' default;
    transfers take ``routes``."""
    rpc = rows_per_conversion or {}
    tg = TaskGraph()
    producer = {t: op.name for op in workload.ops for t in op.outputs}
    prev_seg_tasks: list[int] = []
    bottleneck = crossbar_bottleneck(workload, target, mapping, rpc)
    in_bytes: dict[int, int] = {}
    for s, seg_ops in enumerate(mapping.segments):
        seg_tasks: list[int] = []
        barrier = -1
        writes_of: dict[tuple[str, int], list[int]] = {}
        if s > 0:
            barrier = tg.add(TaskInfo("barrier", "", "core0", 0, 0.0, segment=s))
            tg.edges.update((p, barrier) for p in prev_seg_tasks)
            for op in seg_ops:
                if workload.op(op).written:
                    continue   # written per inference by its operand_write tasks
                for r in range(mapping.copies.get(op, 1)):
                    for core, x, t in mapping.where.get((op, r), []):
                        cost = timing.write_task(target, t.rows_used, t.cols_used)
                        w = tg.add(TaskInfo("write", f"xbar{core}.{x}", f"core{core}", timing.ns(cost),
                                            cost.energy.total, op=op, replica=r, segment=s, core=core,
                                            crossbars=((core, x),), tile=tile_write(core, x, t, r, s)))
                        tg.edges.add((barrier, w))
                        writes_of.setdefault((op, r), []).append(w)
                        seg_tasks.append(w)
        for name in seg_ops:
            wop = workload.op(name)
            op = graph.op(name)
            ids: list[int] = []
            operand: list[int] = []    # a written op's operand_write tasks, by replica
            if wop.op_class is OpClass.CROSSBAR and wop.matrix is not None:
                m = wop.matrix
                ax = chunk_axis(graph, op)
                r_count = mapping.copies[name]
                # a multiple of the copies, taken round robin: each copy gets ceil(rows / copies) rows at most
                ranges = op_chunks(graph, op, ax.axis, ax.rows, r_count, chunks, (chunk_counts or {}).get(name, 0))
                operand = _operand_writes(tg, wop, mapping, target, s) if wop.written else []
                price: timing.MvmCosts | None = None
                seg_tasks.extend(operand)
                if barrier >= 0:   # its crossbars held the previous segment's tiles
                    tg.edges.update((barrier, w) for w in operand)
                for i, (a, b) in enumerate(ranges):
                    rep = i % r_count
                    slots = mapping.where[(name, rep)]
                    vectors = mvm_vector_count(graph, op, ax, a, b)
                    if price is None:   # every copy holds the same tiles
                        price = timing.MvmCosts(target, [t for _, _, t in slots], m, op.activation is not None,
                                                rpc.get(name, 0), wop.output_stage_per_vector())
                    cost = price(vectors)
                    core = slots[0][0]
                    in_axis, lo, hi = needed_rows(graph, op, a, b) if ax.axis != WHOLE else (WHOLE, 0, 0)
                    # a written op's second input is in its crossbars, not read by its MVMs
                    reads = [(wop.inputs[0], in_axis, lo, hi)] + [(t, WHOLE, 0, 0) for t in wop.inputs[1:]
                                                                  if not wop.written and t not in op.extra_inputs()]
                    # the epilogue's other operands (`ir.passes.epilogue_fusion`): the rows it writes
                    reads += [(t, ax.axis, a, b) if ax.axis != WHOLE else (t, WHOLE, 0, 0)
                              for t in op.extra_inputs() if t not in graph.constants]
                    out_axis = ax.axis
                    writes = [(wop.outputs[0], out_axis, a, b) if out_axis != WHOLE else (wop.outputs[0], WHOLE, 0, 0)]
                    tid = tg.add(TaskInfo("mvm", f"{name}#r{rep}", f"core{core}", timing.ns(cost), cost.energy.total,
                                          op=name, replica=rep, segment=s, axis=out_axis, row0=a, row1=b,
                                          core=core, crossbars=tuple((cc, x) for cc, x, _ in slots),
                                          rows_per_conversion=rpc.get(name, 0), reads=reads, writes=writes))
                    tg.edges.update((w, tid) for w in writes_of.get((name, rep), []))
                    if operand:
                        tg.edges.add((operand[rep], tid))
                    ids.append(tid)
            else:
                nbytes = wop.bytes_in + wop.bytes_out
                if wop.op_class is OpClass.HOST:
                    cost = timing.host_task(target, wop.ops, nbytes)
                    info = TaskInfo("host", "host", "host", timing.ns(cost), cost.energy.total, op=name, segment=s)
                    info.reads = [(t, WHOLE, 0, 0) for t in wop.inputs]
                    info.writes = [(t, WHOLE, 0, 0) for t in wop.outputs]
                    ids.append(tg.add(info))
                else:
                    ids.extend(_vector_chunks(tg, graph, wop, target, s, chunks, bottleneck, in_bytes))
            tg.of_op[name] = ids
            seg_tasks.extend(ids)
            # data dependencies
            for tid in ids + operand:
                for tensor, axis, lo, hi in tg.tasks[tid].reads:
                    p = producer.get(tensor)
                    if p is None:
                        continue
                    shape = tuple(graph.shape(tensor))
                    for pid in tg.of_op[p]:
                        pt = tg.tasks[pid]
                        wr = next(((a, r0, r1) for t, a, r0, r1 in pt.writes if t == tensor), (WHOLE, 0, 0))
                        if accesses_overlap(shape, (axis, lo, hi), wr):
                            tg.edges.add((pid, tid))
        prev_seg_tasks = seg_tasks
    assign_vector_cores(tg.tasks, tg.edges, target, in_bytes)
    _insert_transfers(tg, graph, target, routes)
    return tg


def _operand_writes(tg: TaskGraph, wop: WorkOp, mapping: Mapping, target: Target, segment: int) -> list[int]:
    """One ``operand_write`` task per replica of written op ``wop`` (on the replica's resource,
    all its crossbars at once, `timing.operand_write_task`); their ids by replica."""
    ids = []
    for r in range(mapping.copies[wop.name]):
        slots = mapping.where[(wop.name, r)]
        cost = timing.operand_write_task(target, [t for _, _, t in slots])
        core = slots[0][0]
        info = TaskInfo("operand_write", f"{wop.name}#r{r}", f"core{core}", timing.ns(cost), cost.energy.total,
                        op=wop.name, replica=r, segment=segment, core=core,
                        crossbars=tuple((c, x) for c, x, _ in slots),
                        tiles=tuple(tile_write(c, x, t, r, segment) for c, x, t in slots))
        info.reads = [(wop.inputs[1], WHOLE, 0, 0)]
        ids.append(tg.add(info))
    return ids


def crossbar_bottleneck(workload: Workload, target: Target, mapping: Mapping, rpc: dict[str, int]) -> float:
    """The slowest crossbar op copy's MVM time per inference (ns), ignoring chunk fill."""
    worst = 0.0
    for wop in workload.ops:
        m = wop.matrix
        if wop.op_class is not OpClass.CROSSBAR or m is None or (wop.name, 0) not in mapping.where:
            continue
        vectors = math.ceil(m.vectors / max(1, mapping.copies.get(wop.name, 1)))
        cost = timing.mvm_cost(target, [t for _, _, t in mapping.where[(wop.name, 0)]], m, vectors,
                               bool(wop.activation), rpc.get(wop.name, 0), wop.output_stage_per_vector())
        worst = max(worst, cost.latency_ns)
    return worst


def _vector_chunks(tg: TaskGraph, graph: Graph, wop: WorkOp, target: Target, segment: int, chunks: int,
                   bottleneck: float, in_bytes: dict[int, int]) -> list[int]:
    """A vector op's tasks: row chunks (`ir.vector_chunks`), at least ``chunks``, and enough that
    each lasts at most half the crossbar ``bottleneck`` (ns) so the chunks can be spread over
    vector units (at most four per core); cores are set later (`assign_vector_cores`)."""
    op = graph.op(wop.name)
    nbytes = wop.bytes_in + wop.bytes_out
    vax = vector_chunk_axis(graph, op)
    if vax.axis == WHOLE:
        ranges = [(0, 1)]
    else:
        ranges = split_rows(vax.rows, vector_chunk_count(graph, wop, target, chunks, bottleneck))
    ids = []
    for a, b in ranges:
        cost = timing.vector_chunk_task(target, wop.elements, wop.ops, nbytes, b - a if vax.axis != WHOLE
                                        else vax.rows, vax.rows)
        info = TaskInfo("vector", "", "", timing.ns(cost), cost.energy.total, op=wop.name, segment=segment,
                        axis=vax.axis, row0=a, row1=b)
        if vax.axis == WHOLE:
            info.reads = [(t, WHOLE, 0, 0) for t in wop.inputs]
            info.writes = [(t, WHOLE, 0, 0) for t in wop.outputs]
        else:
            info.reads = [(t, *vector_needed_rows(graph, op, t, a, b)) for t in wop.inputs]
            info.writes = [(wop.outputs[0], vax.axis, a, b)]
        tid = tg.add(info)
        in_bytes[tid] = sum(_rows_bytes(graph, t, ax, lo, hi) for t, ax, lo, hi in info.reads)
        ids.append(tid)
    return ids


def vector_chunk_count(graph: Graph, wop: WorkOp, target: Target, chunks: int, bottleneck: float) -> int:
    """How many row chunks a vector op is cut into: at least ``chunks``, enough that each lasts
    at most half the crossbar ``bottleneck`` (ns), at most four per core and one per row."""
    vax = vector_chunk_axis(graph, graph.op(wop.name))
    if vax.axis == WHOLE:
        return 1
    whole = timing.ns(timing.vector_task(target, wop.elements, wop.ops, wop.bytes_in + wop.bytes_out))
    want = max(chunks, math.ceil(2 * whole / bottleneck) if bottleneck > 0 else 1)
    return max(1, min(want, vax.rows, 4 * target.cores))


def _rows_bytes(graph: Graph, tensor: str, axis: int, r0: int, r1: int) -> int:
    """Bytes of rows ``r0:r1`` of ``tensor`` along ``axis`` (WHOLE: all of it)."""
    spec = graph.spec(tensor)
    if axis == WHOLE:
        return spec.nbytes
    shape = spec.shape or (1,)
    if axis == VEC:
        rows = vector_count(shape)
    else:
        rows = spec.elements // max(1, shape[-1]) if axis == FLAT else shape[axis]
    return spec.nbytes * (r1 - r0) // max(1, rows)


def _insert_transfers(tg: TaskGraph, graph: Graph, target: Target, routes: RouteTable | None = None) -> None:
    """Route every cross-core data edge through a transfer task on the receiving core's NoC port:
    one per (producer task, receiving core), or, when the routers multicast (`Target.multicast`),
    one per producer task reaching all its receiving cores over a tree, carrying the part of the
    producer's output that its consumers read (`_needed_bytes`); each holds the links of its
    route (``routes``, `cimopt.targets.noc.route_for`: the routing stage's, else the default)."""
    readers: dict[tuple[int, int], list[int]] = {}
    new_edges: set[tuple[int, int]] = set()
    for a, b in sorted(tg.edges):
        ta, tb = tg.tasks[a], tg.tasks[b]
        data = ta.kind in ("mvm", "vector") and tb.kind in ("mvm", "vector", "operand_write")
        if not data or ta.core < 0 or tb.core < 0 or ta.core == tb.core:
            new_edges.add((a, b))
            continue
        readers.setdefault((a, -1 if target.multicast else tb.core), []).append(b)
    for (a, _), consumers in sorted(readers.items()):
        ta = tg.tasks[a]
        dsts = tuple(dict.fromkeys(tg.tasks[b].core for b in consumers))
        nbytes = _needed_bytes(graph, ta, [tg.tasks[b] for b in consumers])
        route = route_for(target, routes, ta.core, dsts)
        cost = timing.routed_transfer_task(target, nbytes, ta.core, route)
        x = tg.add(TaskInfo("transfer", f"noc.in{dsts[0]}", "noc", timing.ns(cost), cost.energy.total,
                            op=ta.op, segment=ta.segment, core=dsts[0], nbytes=nbytes,
                            src_core=ta.core, dst_core=dsts[0], route=route,
                            dst_cores=dsts if len(dsts) > 1 else ()))
        new_edges.add((a, x))
        new_edges.update((x, b) for b in consumers)
    tg.edges = new_edges


def _needed_bytes(graph: Graph, producer: TaskInfo, consumers: list[TaskInfo]) -> int:
    """Bytes of ``producer``'s writes that ``consumers`` read: per written tensor, the vectors
    both name (`ir.chunks.position_intervals`), or the whole write when either side is not a set
    of whole vectors."""
    total = 0
    for tensor, axis, r0, r1 in producer.writes:
        whole = _rows_bytes(graph, tensor, axis, r0, r1)
        reads = [(ax, lo, hi) for c in consumers for t, ax, lo, hi in c.reads if t == tensor]
        shape = tuple(graph.shape(tensor))
        mine = position_intervals(shape, axis, r0, r1)
        theirs = [position_intervals(shape, *r) for r in reads]
        if not reads or mine is None or any(t is None for t in theirs):
            total += whole if reads else 0
            continue
        got = _union([iv for t in theirs if t is not None for iv in t])
        common = sum(max(0, min(b, d) - max(a, c)) for a, b in mine for c, d in got)
        count = sum(b - a for a, b in mine)
        total += whole * common // max(1, count)
    return total


def _union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted disjoint ranges covering ``intervals``."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
