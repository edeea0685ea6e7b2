"""The checks that follow a program in time: one walk over its instructions in (start_ns, id)
order, as the machine runs them, without data.

Per instruction: its op and tile exist (else it is not run), its dependencies exist and end
before it starts (``dependency``), every access names rows inside its tensor, an address the
memory plan gives it and bytes inside its space, every row read was written by an earlier
instruction at that address (``data``) that is a dependency or reached through transfer deps
(``missing-dependency``), an MVM's crossbars hold exactly one copy of its op's tiles and a
tile write or operand write sets a crossbar of the right op and replica (``crossbar``), its
duration is what the target gives (``duration``, `targets.machine.costs`), an MVM or vector op
reads its inputs and writes its outputs on its chunk axis (``schema``).  At the end: every
graph output completely written and readable where the machine reads it back (``data``).

What the walk finds beside violations is what the executor needs to run the data (`Flow`):
the instructions it must not run, each MVM's crossbars and tiles, the tensors an instruction
completes, where each graph input is loaded and each output read back, each instruction's
timing and the dynamic energy.  Times in ns, energies in pJ, sizes in bytes.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from cimopt.ir.chunks import chunk_axis, FLAT, vector_count, VEC, WHOLE
from cimopt.ir.errors import CimoptError
from cimopt.ir.graph import Graph, OpSpec, TensorSpec
from cimopt.ir.program import Access, BufferPlan, Instruction, Program, TileWrite
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.ir.workload import matrix_of
from cimopt.targets.machine.checks.violations import Report
from cimopt.targets.machine.costs import instruction_cost
from cimopt.targets.machine.kernels import dynamic_inputs
from cimopt.targets.physics import timing
from cimopt.targets.physics.instructions import Energy
from cimopt.targets.spec import Target

#: (tensor, space, offset): one place a tensor is held
Place = tuple[str, str, int]
Crossbar = tuple[int, int]


@dataclass
class Flow:
    """What the walk found, for the executor: ``not_run`` instructions whose data part must not
    run (malformed; reported); ``tiles``: per MVM, its crossbars that hold a tile of its op and
    the tile each holds; ``full_after``: per instruction, the places its writes complete;
    ``input_places`` / ``output_places``: where each graph input is loaded and each output read
    back (places that fit their space); ``timeline``: (id, start ns, end ns) as the target times
    each instruction; ``energy``: their energies summed (pJ, no static energy)."""

    not_run: set[int] = field(default_factory=set)
    tiles: dict[int, list[tuple[Crossbar, TileWrite]]] = field(default_factory=dict)
    full_after: dict[int, list[Place]] = field(default_factory=dict)
    input_places: dict[str, list[Place]] = field(default_factory=dict)
    output_places: dict[str, Place] = field(default_factory=dict)
    timeline: list[tuple[int, int, int]] = field(default_factory=list)
    energy: Energy = field(default_factory=Energy)


def grid_mask(shape: tuple[int, ...], acc: Access) -> np.ndarray:
    """Boolean mask of the elements ``acc`` touches, broadcastable to ``shape``: of extent 1 along
    every dimension the access does not restrict (FLAT: the last; `VEC`: the channels, axis 1;
    axis d: all but d), so masks of different accesses combine by broadcasting."""
    nd = len(shape)
    if nd == 0 or acc.axis == WHOLE or acc.axis >= nd or acc.axis < VEC or (acc.axis in (FLAT, VEC) and nd < 2):
        return np.ones((1,) * nd, dtype=bool)
    if acc.axis == FLAT:
        m = np.zeros((*shape[:-1], 1), dtype=bool)
    elif acc.axis == VEC:
        m = np.zeros((shape[0], 1, *shape[2:]), dtype=bool)
    else:
        m = np.zeros(tuple(shape[d] if d == acc.axis else 1 for d in range(nd)), dtype=bool)
        m[(slice(None),) * acc.axis + (slice(acc.row0, acc.row1),)] = True
        return m
    m.reshape(-1)[acc.row0:acc.row1] = True
    return m


def row_range_error(spec: TensorSpec | None, acc: Access) -> str | None:
    """What is wrong when ``acc`` names rows past the end of its axis of the tensor (else None)."""
    shape = spec.shape if spec is not None and spec.shape is not None else ()
    if acc.axis == WHOLE or len(shape) < 2 or acc.axis >= len(shape):
        return None
    if acc.axis == VEC:
        dim = vector_count(shape)
    else:
        dim = int(np.prod(shape[:-1], dtype=np.int64)) if acc.axis == FLAT else shape[acc.axis]
    if acc.row1 <= dim:
        return None
    return f"accesses rows {acc.row0}:{acc.row1} of {acc.tensor!r} on axis {acc.axis}, which has {dim}"


def check_dependencies(ins: Instruction, by_id: dict[int, Instruction], rep: Report) -> None:
    """Every dependency of ``ins`` exists and ends before ``ins`` starts."""
    for d in ins.deps:
        dep = by_id.get(d)
        if dep is None:
            rep.add("dependency", f"instruction {ins.id} depends on unknown instruction {d}")
        elif dep.end_ns > ins.start_ns:
            rep.add("dependency", f"instruction {ins.id} starts at {ins.start_ns} ns before its dependency "
                                  f"{d} ends at {dep.end_ns} ns")


class _Walk:
    def __init__(self, p: Program, g: Graph, t: Target, rep: Report) -> None:
        self.p, self.g, self.t, self.rep = p, g, t, rep
        self.flow = Flow()
        self.space_size = dict(p.spaces)
        self.by_id = {i.id: i for i in p.instructions}
        self.plans: dict[str, list[BufferPlan]] = defaultdict(list)
        for b in p.buffers:
            self.plans[b.tensor].append(b)
        # per place: who wrote which rows, and the rows written so far
        self.writers: dict[Place, list[tuple[int, Access]]] = defaultdict(list)
        self.written: dict[Place, np.ndarray] = {}
        self.xbar: dict[Crossbar, TileWrite] = {}

    # ---- places --------------------------------------------------------------------------------
    def fits(self, acc: Access, where: str) -> bool:
        """The tensor has a static shape and lies inside its space at ``acc``'s address (reported if not)."""
        spec = self.g.spec(acc.tensor)
        if not spec.known:
            self.rep.add("schema", f"tensor {acc.tensor!r} has no static shape")
            return False
        size = self.space_size.get(acc.space)
        if size is None or acc.offset + spec.nbytes > size:
            self.rep.add("capacity", f"{where}: {acc.tensor!r} ({spec.nbytes} B at {acc.offset}) outside space "
                                     f"{acc.space!r} ({size if size is not None else 'not reserved'} B)")
            return False
        return True

    def check_address(self, ins: Instruction, acc: Access) -> None:
        bad = row_range_error(self.g.tensors.get(acc.tensor), acc)
        if bad:
            self.rep.add("schema", f"instruction {ins.id} {bad}")
        plans = self.plans.get(acc.tensor)
        if plans and not any(b.space == acc.space and b.offset == acc.offset for b in plans):
            self.rep.add("data", f"instruction {ins.id} accesses {acc.tensor!r} at {acc.space}+{acc.offset}, "
                                 f"not an address the memory plan gives it")
        if acc.tensor not in self.g.constants:   # the machine reads constants from the graph
            self.fits(acc, f"instruction {ins.id}")

    # ---- data flow -----------------------------------------------------------------------------
    def allowed(self, ins: Instruction) -> set[int]:
        """Deps and, through transfer deps (transitively), their deps."""
        seen: set[int] = set()
        todo = list(ins.deps)
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            dep = self.by_id.get(d)
            if dep is not None and dep.kind == "transfer":
                todo.extend(dep.deps)
        return seen

    def check_read(self, ins: Instruction, acc: Access, allowed: set[int]) -> None:
        t = acc.tensor
        if t in self.g.constants or not self.g.spec(t).known:
            return
        shape = self.g.shape(t)
        mask = grid_mask(shape, acc)
        key = (t, acc.space, acc.offset)
        for wid, wacc in self.writers.get(key, ()):
            if wid in allowed:
                continue
            if acc.axis == wacc.axis and acc.axis != WHOLE:
                hit = acc.row0 < wacc.row1 and wacc.row0 < acc.row1
            else:
                hit = bool((mask & grid_mask(shape, wacc)).any())
            if hit:
                self.rep.add("missing-dependency", f"instruction {ins.id} ({ins.kind} {ins.op}) reads {t!r} rows "
                             f"{acc.row0}:{acc.row1} (axis {acc.axis}) written by instruction {wid} "
                             f"(rows {wacc.row0}:{wacc.row1}), which is not among its dependencies")
        if t not in self.g.inputs:
            done = self.written.get(key)
            if done is None or (mask & ~done).any():
                self.rep.add("data", f"instruction {ins.id} ({ins.kind} {ins.op}) reads rows {acc.row0}:{acc.row1} "
                                     f"(axis {acc.axis}) of {t!r} at {acc.space}+{acc.offset} that no earlier "
                                     f"instruction wrote there")

    def record_write(self, ins: Instruction, acc: Access) -> None:
        if not self.g.spec(acc.tensor).known:
            return
        key = (acc.tensor, acc.space, acc.offset)
        self.writers[key].append((ins.id, acc))
        mask = grid_mask(self.g.shape(acc.tensor), acc)
        old = self.written.get(key)
        self.written[key] = mask if old is None else (old | mask)
        if self.written[key].all():
            self.flow.full_after.setdefault(ins.id, []).append(key)

    # ---- crossbars -----------------------------------------------------------------------------
    def set_tile(self, tw: TileWrite, where: str, operand: str | None = None) -> None:
        """Crossbar ``(tw.core, tw.crossbar)`` now holds ``tw``: from the graph's constants, or
        the run-time tensor ``operand`` an ``operand_write`` read."""
        if tw.op not in self.g.dag:
            self.rep.add("schema", f"{where}: tile of unknown op {tw.op!r}")
            return
        self.xbar[(tw.core, tw.crossbar)] = tw
        op = self.g.op(tw.op)
        if len(op.inputs) < 2 or op.inputs[1] not in (self.g.constants if operand is None else (operand,)):
            self.rep.add("crossbar", f"{where}: a tile of {tw.op!r}, whose matrix is a run-time operand that "
                                     f"only an operand_write instruction can store")

    def operand_write(self, ins: Instruction, op: OpSpec) -> None:
        """An ``operand_write``: it reads the op's second input and sets every tile it lists."""
        if not any(a.tensor in op.inputs[1:2] for a in ins.reads) or not ins.tiles or len(op.inputs) < 2:
            self.rep.add("schema", f"instruction {ins.id} (operand_write {op.name}) must read the op's second "
                                   f"input and list the tiles it writes")
            self.flow.not_run.add(ins.id)
            return
        if {(tw.core, tw.crossbar) for tw in ins.tiles} != set(ins.crossbars):
            self.rep.add("crossbar", f"instruction {ins.id} (operand_write {op.name}) lists crossbars "
                                     f"{sorted(ins.crossbars)} but writes tiles on other ones")
        for tw in ins.tiles:
            if tw.op != op.name or tw.replica != ins.replica:
                self.rep.add("crossbar", f"instruction {ins.id} (operand_write {op.name} replica {ins.replica}) "
                                         f"writes a tile of {tw.op!r} replica {tw.replica}")
            self.set_tile(tw, f"instruction {ins.id}", op.inputs[1])

    def cover(self, ins: Instruction, op: OpSpec) -> list[tuple[Crossbar, TileWrite]]:
        """The crossbars of ``ins`` that hold a tile of its op (reported: a crossbar with no tile
        or another op's, another replica's, missing or duplicate tiles)."""
        ok: list[tuple[Crossbar, TileWrite]] = []
        for cx in ins.crossbars:
            tw = self.xbar.get(cx)
            if tw is None:
                self.rep.add("crossbar", f"instruction {ins.id} ({ins.op}) uses crossbar {cx}, which holds no tile")
            elif tw.op != ins.op:
                self.rep.add("crossbar", f"instruction {ins.id} ({ins.op}) uses crossbar {cx}, which holds tile "
                                         f"{tw.tile} of {tw.op!r}")
            else:
                if tw.replica != ins.replica:
                    self.rep.add("crossbar", f"instruction {ins.id} ({ins.op} replica {ins.replica}) uses crossbar "
                                             f"{cx}, which holds replica {tw.replica}")
                ok.append((cx, tw))
        m = matrix_of(self.g, op)
        keys = [(grp, tw.row0, tw.col0) for _, tw in ok for grp in range(tw.group0, tw.group0 + tw.ngroups)]
        cells = sum(tw.ngroups * (tw.row1 - tw.row0) * (tw.col1 - tw.col0) for _, tw in ok)
        if len(set(keys)) != len(keys) or cells != m.groups * m.k * m.n:
            self.rep.add("crossbar", f"instruction {ins.id} ({ins.op}): its crossbars hold {cells} weights of the "
                                     f"{m.groups * m.k * m.n} of one copy (missing or duplicate tiles)")
        return ok

    # ---- what an op reads and writes -----------------------------------------------------------
    def check_mvm(self, ins: Instruction, op: OpSpec) -> None:
        rd = next((a for a in ins.reads if a.tensor == op.inputs[0]), None)
        wr = next((a for a in ins.writes if a.tensor == op.outputs[0]), None)
        if rd is None or wr is None:
            self.rep.add("schema", f"instruction {ins.id} (mvm {op.name}) must read {op.inputs[0]!r} and write "
                                   f"{op.outputs[0]!r}")
            self.flow.not_run.add(ins.id)
            return
        ax = chunk_axis(self.g, op)
        if wr.axis not in (WHOLE, ax.axis) or (wr.axis != WHOLE and not 0 <= wr.row0 < wr.row1 <= ax.rows):
            self.rep.add("schema", f"instruction {ins.id} (mvm {op.name}) writes rows {wr.row0}:{wr.row1} on axis "
                                   f"{wr.axis}; the op chunks {ax.rows} rows on axis {ax.axis}")
            self.flow.not_run.add(ins.id)

    def check_op(self, ins: Instruction, op: OpSpec) -> None:
        for t in dynamic_inputs(self.g, op):
            if not any(a.tensor == t for a in ins.reads):
                self.rep.add("schema", f"instruction {ins.id} ({ins.kind} {op.name}) does not read its input {t!r}")
                self.flow.not_run.add(ins.id)
                return
        outs = [t for t in op.outputs if t]
        accs = [next((a for a in ins.writes if a.tensor == t), None) for t in outs]
        for t, a in zip(outs, accs):
            if a is None and (t in self.g.outputs or self.g.consumers(t)):
                self.rep.add("schema", f"instruction {ins.id} ({ins.kind} {op.name}) does not write its output {t!r}")
        vax = vector_chunk_axis(self.g, op)
        for a in accs:
            if a is not None and a.axis != WHOLE and (a.axis != vax.axis or not 0 <= a.row0 < a.row1 <= vax.rows):
                self.rep.add("schema", f"instruction {ins.id} ({ins.kind} {op.name}) writes rows {a.row0}:{a.row1} "
                                       f"on axis {a.axis}; the op chunks {vax.rows} rows on axis {vax.axis}")
                self.flow.not_run.add(ins.id)
                return

    # ---- one instruction -----------------------------------------------------------------------
    def step(self, ins: Instruction) -> None:
        op = self.g.op(ins.op) if ins.op in self.g.dag else None
        if (ins.kind in ("mvm", "vector", "host", "write") or ins.op) and op is None:
            self.rep.add("schema", f"instruction {ins.id} ({ins.kind}) names unknown op {ins.op!r}")
            self.flow.not_run.add(ins.id)
            return
        if ins.kind == "write" and ins.tile is None:
            self.rep.add("schema", f"instruction {ins.id} (write) has no tile")
            self.flow.not_run.add(ins.id)
            return
        check_dependencies(ins, self.by_id, self.rep)
        allowed = self.allowed(ins)
        for acc in (*ins.reads, *ins.writes):
            self.check_address(ins, acc)
        for acc in ins.reads:
            self.check_read(ins, acc, allowed)
        tiles = self.cover(ins, op) if ins.kind == "mvm" and op is not None else []
        self.flow.tiles[ins.id] = tiles
        if ins.kind == "write" and ins.tile is not None:
            self.set_tile(ins.tile, f"instruction {ins.id}")
        elif ins.kind == "operand_write" and op is not None:
            self.operand_write(ins, op)
        try:
            c = instruction_cost(self.t, self.g, ins, op, [tw for _, tw in tiles])
            self.flow.timeline.append((ins.id, ins.start_ns, ins.start_ns + timing.ns(c)))
            if timing.ns(c) != ins.end_ns - ins.start_ns:
                self.rep.add("duration", f"instruction {ins.id} ({ins.kind} {ins.op}) lasts "
                                         f"{ins.end_ns - ins.start_ns} ns; the target gives {timing.ns(c)} ns")
            self.flow.energy = self.flow.energy + c.energy
        except (ValueError, CimoptError) as e:
            self.rep.add("duration", f"instruction {ins.id} ({ins.kind} {ins.op}): cost not computable: {e}")
        if op is not None and ins.kind == "mvm":
            self.check_mvm(ins, op)
        elif op is not None and ins.kind in ("vector", "host"):
            self.check_op(ins, op)
        for acc in ins.writes:
            self.record_write(ins, acc)

    # ---- whole program -------------------------------------------------------------------------
    def inputs(self) -> None:
        """Where each graph input is loaded: its iteration-0 buffers, else where instructions read it."""
        for t in self.g.inputs:
            places = {(b.space, b.offset) for b in self.plans.get(t, ()) if b.iteration == 0}
            places |= {(a.space, a.offset) for i in self.p.instructions for a in i.reads if a.tensor == t} \
                if not places else set()
            self.flow.input_places[t] = [(t, s, o) for s, o in sorted(places) if self.fits(Access(t, s, o), "input")]

    def outputs(self) -> None:
        """Every graph output completely written, and the place it is read back from: its last
        iteration-0 buffer, else where the last instruction writing it wrote it."""
        done = {k[0] for k, m in self.written.items() if m.all()}
        for t in self.g.outputs:
            if t not in self.g.inputs and t not in self.g.constants and self.g.spec(t).known and t not in done:
                self.rep.add("data", f"graph output {t!r} is never completely written")
        for t in self.g.outputs:
            plans = sorted((b for b in self.plans.get(t, ()) if b.iteration == 0), key=lambda b: b.end_ns)
            places = [(plans[-1].space, plans[-1].offset)] if plans else \
                [(a.space, a.offset) for i in sorted(self.p.instructions, key=lambda i: (i.start_ns, i.id))
                 for a in i.writes if a.tensor == t][-1:]
            if places and self.fits(Access(t, *places[0]), "graph output"):
                self.flow.output_places[t] = (t, *places[0])
            else:
                self.rep.add("data", f"graph output {t!r} has no buffer to read back")

    def run(self) -> Flow:
        for tw in (tw for tw in self.p.programming if tw.segment == 0):
            if (tw.core, tw.crossbar) in self.xbar:
                self.rep.add("crossbar", f"programming puts two tiles on crossbar {(tw.core, tw.crossbar)}")
            self.set_tile(tw, "programming")
        self.inputs()
        for ins in sorted(self.p.instructions, key=lambda i: (i.start_ns, i.id)):
            self.step(ins)
        self.outputs()
        return self.flow


def check_flow(p: Program, g: Graph, t: Target, rep: Report) -> Flow:
    """Walk ``p`` in time on graph ``g`` and target ``t``: every violation into ``rep``; what the
    executor needs to run the data (see the module docstring)."""
    return _Walk(p, g, t, rep).run()
