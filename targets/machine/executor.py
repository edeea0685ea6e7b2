"""The reference machine: executes a `Program` with real numbers and checks it.

Functional model: one byte array per memory space (``program.spaces``); a tensor's data is the
ndarray of its dtype and shape at its Access/BufferPlan offset.  Crossbars hold the blocks set by
``program.programming`` (segment 0) and by ``write`` instructions (`kernels.tile_block`); an
``operand_write`` sets a replica's crossbars from the run-time operand it reads (`ir.written`).
Instructions run in (start_ns, id) order: ``mvm`` computes its output rows from its crossbars'
blocks and the input at its read address (then its op's fused epilogue, `targets.machine.epilogue`);
``vector``/``host`` run onnxruntime (a vector chunk keeps
the output rows it writes, `ir.vector_chunks`); ``transfer`` and
``barrier`` move no data.  So a swapped tile, an overlapped buffer or a wrong address changes the
outputs.  With ``numerics`` (`targets.machine.numerics`) crossbar and vector arithmetic is bit-true
to the target (``int``) or adds device noise (``analog``).

Checks, each a `Violation` (never an exception): ``duration`` (recomputed with `targets.physics.timing`
differs from end - start), ``dependency`` (a dep not finished at the start, or unknown),
``missing-dependency`` (a writer of rows read is neither a dep nor reached through transfer
deps), ``data`` (rows read that nothing wrote, an address outside the memory plan, a missing
output), ``resource`` / ``crossbar`` (two instructions on one unary resource or one physical
crossbar at once; a crossbar holding a tile of another op; tiles not covering the matrix),
``memory-overlap`` (two live BufferPlans share bytes), ``capacity`` (beyond a space or a target
buffer) and ``schema``.  In throughput mode every inference k starts at k x II; BufferPlan and
instruction times are relative to their inference's start, a BufferPlan of ``iteration`` j serves
inferences k = j (mod iterations_in_flight) (a tensor with only iteration-0 plans shares them).
Times in ns, energies in pJ, sizes in bytes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cimopt.ir.chunks import WHOLE, chunk_axis
from cimopt.ir.errors import CimoptError
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.program import Access, BufferPlan, Instruction, Program
from cimopt.ir.vector_chunks import vector_chunk_axis
from cimopt.targets.physics import timing
from cimopt.targets.physics.instructions import Energy, InstrCost, static_energy
from cimopt.targets.machine.crossbars import CrossbarState
from cimopt.targets.machine.epilogue import run_epilogue
from cimopt.targets.machine.kernels import dynamic_inputs, mvm_chunk, rows_view, run_op
from cimopt.targets.machine.costs import crossbar_cover, instruction_cost
from cimopt.targets.machine.checks import Report, Violation, check_static, grid_mask, row_range_error, space_reach, \
    unwritten_outputs
from cimopt.targets.machine.object_pool import ObjectPool, held_dtype, is_object
from cimopt.targets.machine.numerics import NumericsConfig, NumericsEngine, NumericsResult
from cimopt.targets.spec import Target

#: Most bytes the functional machine allocates for a program's memory spaces together.
MAX_MACHINE_BYTES = 1 << 32


@dataclass(frozen=True)
class MachineResult:
    """What a run of a program measured: outputs, makespan and interval (ns), energy, violations."""

    outputs: dict[str, np.ndarray]
    makespan_ns: int
    initiation_interval_ns: int
    energy: Energy                 # pJ, instruction energies recomputed plus static energy
    violations: tuple[Violation, ...]
    instructions: int
    #: with ``capture``: every tensor the machine computed, as it was when its last row was written
    computed: dict[str, np.ndarray] = field(default_factory=dict)
    numerics: NumericsResult | None = None   # int / analog mode: per-layer outputs and ADC counts
    #: (instruction id, start ns, end ns) as the machine timed each one: issued at its scheduled
    #: start, lasting the duration the machine computes from the target (instructions whose cost
    #: could not be computed are absent)
    timeline: tuple[tuple[int, int, int], ...] = ()


class _Machine:
    def __init__(self, program: Program, graph: Graph, target: Target, functional: bool, iterations: int,
                 capture: bool = False, numerics: NumericsConfig | None = None) -> None:
        self.p, self.g, self.t = program, graph, target
        self.num = NumericsEngine(graph, target, numerics) if numerics is not None and functional else None
        self.functional = functional
        self.capture = capture and functional
        self.computed: dict[str, np.ndarray] = {}
        self.iterations = max(1, iterations)
        self.rep = Report()
        self.space_size = dict(program.spaces)
        self.by_id = {i.id: i for i in program.instructions}
        # per (tensor, space, offset): who wrote which rows, and the rows written so far
        self.writers: dict[tuple[str, str, int], list[tuple[int, Access]]] = defaultdict(list)
        self.written: dict[tuple[str, str, int], np.ndarray] = {}
        self.plans: dict[str, list[BufferPlan]] = defaultdict(list)
        for b in program.buffers:
            self.plans[b.tensor].append(b)
        self.mem: dict[str, np.ndarray] = self.allocate() if functional else {}
        self.xb = CrossbarState(graph, self.functional, self.rep)
        self.xbar, self.blocks = self.xb.tiles, self.xb.blocks
        self.sessions: dict[str, object] = {}
        self.pool = ObjectPool()
        self.energy = Energy()
        self.timeline: list[tuple[int, int, int]] = []

    # ---- memory ----------------------------------------------------------------------------
    def allocate(self) -> dict[str, np.ndarray]:
        """One zeroed byte array per space, as long as its reservation or as far as its buffers
        and accesses reach, whichever is shorter (bytes past the reach are never read or written);
        none, and a violation, when that exceeds `MAX_MACHINE_BYTES` (data flow then unchecked)."""
        reach = space_reach(self.p, self.g)
        sizes = {s: min(n, reach.get(s, 0)) for s, n in self.space_size.items()}
        total = sum(sizes.values())
        if total > MAX_MACHINE_BYTES:
            self.rep.add("capacity", f"the program's memory spaces need {total} B, more than the "
                                     f"{MAX_MACHINE_BYTES} B the reference machine holds; data not simulated")
            self.functional = self.capture = False
            return {}
        return {s: np.zeros(n, dtype=np.uint8) for s, n in sizes.items()}

    def view(self, acc: Access, ins: Instruction | None) -> np.ndarray | None:
        """The tensor's ndarray at ``acc``'s address (None, reported, when it does not fit)."""
        spec = self.g.spec(acc.tensor)
        if not spec.known:
            self.rep.add("schema", f"tensor {acc.tensor!r} has no static shape")
            return None
        where = f"instruction {ins.id}" if ins else "input"
        size = self.space_size.get(acc.space)
        if size is None or acc.offset + spec.nbytes > size:
            self.rep.add("capacity", f"{where}: {acc.tensor!r} ({spec.nbytes} B at {acc.offset}) outside space "
                                     f"{acc.space!r} ({size if size is not None else 'not reserved'} B)")
            return None
        if not self.functional:
            return None
        raw = self.mem[acc.space][acc.offset:acc.offset + spec.nbytes]
        return raw.view(held_dtype(spec.dtype)).reshape(spec.shape)

    def check_address(self, ins: Instruction, acc: Access) -> None:
        bad = row_range_error(self.g.tensors.get(acc.tensor), acc)
        if bad:
            self.rep.add("schema", f"instruction {ins.id} {bad}")
        plans = self.plans.get(acc.tensor)
        if plans and not any(b.space == acc.space and b.offset == acc.offset for b in plans):
            self.rep.add("data", f"instruction {ins.id} accesses {acc.tensor!r} at {acc.space}+{acc.offset}, "
                                 f"not an address the memory plan gives it")

    # ---- data flow -------------------------------------------------------------------------
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
        if self.capture and acc.tensor not in self.computed and self.written[key].all():
            spec = self.g.spec(acc.tensor)
            if acc.offset + spec.nbytes <= self.space_size.get(acc.space, -1):
                raw = self.mem[acc.space][acc.offset:acc.offset + spec.nbytes]
                held = raw.view(held_dtype(spec.dtype)).reshape(spec.shape)
                self.computed[acc.tensor] = self.pool.values(spec.dtype, held)

    # ---- crossbars -------------------------------------------------------------------------
    def tiles_of(self, ins: Instruction, op: OpSpec) -> list[tuple[int, int]]:
        """The (core, crossbar) pairs of ``ins`` that hold a tile of its op, checking cover."""
        ok, problems = crossbar_cover(self.g, ins, op, self.xbar)
        for msg in problems:
            self.rep.add("crossbar", msg)
        return ok

    def cost(self, ins: Instruction, op: OpSpec | None, tiles: list[tuple[int, int]]) -> InstrCost:
        """What ``ins`` costs on the target (latency ns, energy pJ), with the tiles it found."""
        return instruction_cost(self.t, self.g, ins, op, [self.xbar[c] for c in tiles])

    # ---- one instruction -------------------------------------------------------------------
    def step(self, ins: Instruction) -> None:
        op = self.g.op(ins.op) if ins.op in self.g.dag else None
        if (ins.kind in ("mvm", "vector", "host", "write") or ins.op) and op is None:
            self.rep.add("schema", f"instruction {ins.id} ({ins.kind}) names unknown op {ins.op!r}")
            return
        if ins.kind == "write" and ins.tile is None:
            self.rep.add("schema", f"instruction {ins.id} (write) has no tile")
            return
        for d in ins.deps:
            dep = self.by_id.get(d)
            if dep is None:
                self.rep.add("dependency", f"instruction {ins.id} depends on unknown instruction {d}")
            elif dep.end_ns > ins.start_ns:
                self.rep.add("dependency", f"instruction {ins.id} starts at {ins.start_ns} ns before its dependency "
                                           f"{d} ends at {dep.end_ns} ns")
        allowed = self.allowed(ins)
        for acc in (*ins.reads, *ins.writes):
            self.check_address(ins, acc)
        for acc in ins.reads:
            self.check_read(ins, acc, allowed)
        tiles = self.tiles_of(ins, op) if ins.kind == "mvm" and op is not None else []
        if ins.kind == "write" and ins.tile is not None:
            self.xb.program(ins.tile, f"instruction {ins.id}")
        elif ins.kind == "operand_write" and op is not None:
            acc = next((a for a in ins.reads if a.tensor in op.inputs[1:2]), None)
            self.xb.write_operand(ins, op, acc is not None, self.view(acc, ins) if acc else None, self.num)
        try:
            c = self.cost(ins, op, tiles)
            self.timeline.append((ins.id, ins.start_ns, ins.start_ns + timing.ns(c)))
            if timing.ns(c) != ins.end_ns - ins.start_ns:
                self.rep.add("duration", f"instruction {ins.id} ({ins.kind} {ins.op}) lasts "
                                         f"{ins.end_ns - ins.start_ns} ns; the target gives {timing.ns(c)} ns")
            self.energy = self.energy + c.energy
        except (ValueError, CimoptError) as e:
            self.rep.add("duration", f"instruction {ins.id} ({ins.kind} {ins.op}): cost not computable: {e}")
        try:
            self.execute_data(ins, op, tiles)
        except Exception as e:  # noqa: BLE001 - numpy and onnxruntime errors on corrupted data become violations
            self.rep.add("data", f"instruction {ins.id} ({ins.kind} {ins.op}) cannot execute: "
                                 f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}")
        for acc in ins.writes:
            self.record_write(ins, acc)

    def execute_data(self, ins: Instruction, op: OpSpec | None, tiles: list[tuple[int, int]]) -> None:
        """The data part of ``ins``: an MVM, a vector or host op, or a transfer's copy."""
        if op is not None and ins.kind == "mvm":
            self.run_mvm(ins, op, tiles)
        elif op is not None and ins.kind in ("vector", "host"):
            self.run_op(ins, op)
        elif ins.kind == "transfer" and self.functional:
            for w in ins.writes:   # a transfer that names a destination buffer copies the rows it writes
                r = next((a for a in ins.reads if a.tensor == w.tensor), None)
                src, dst = (self.view(r, ins), self.view(w, ins)) if r is not None else (None, None)
                if src is not None and dst is not None:
                    rows_view(dst, w.axis, w.row0, w.row1)[...] = np.array(rows_view(src, w.axis, w.row0, w.row1))

    def run_mvm(self, ins: Instruction, op: OpSpec, tiles: list[tuple[int, int]]) -> None:
        rd = next((a for a in ins.reads if a.tensor == op.inputs[0]), None)
        wr = next((a for a in ins.writes if a.tensor == op.outputs[0]), None)
        if rd is None or wr is None:
            self.rep.add("schema", f"instruction {ins.id} (mvm {op.name}) must read {op.inputs[0]!r} and write "
                                   f"{op.outputs[0]!r}")
            return
        ax = chunk_axis(self.g, op)
        if wr.axis not in (WHOLE, ax.axis) or (wr.axis != WHOLE and not 0 <= wr.row0 < wr.row1 <= ax.rows):
            self.rep.add("schema", f"instruction {ins.id} (mvm {op.name}) writes rows {wr.row0}:{wr.row1} on axis "
                                   f"{wr.axis}; the op chunks {ax.rows} rows on axis {ax.axis}")
            return
        x, y = self.view(rd, ins), self.view(wr, ins)
        cin = op.inputs[2] if op.op_type == "Gemm" and len(op.inputs) > 2 else ""
        cacc = next((a for a in ins.reads if cin and a.tensor == cin), None)
        c = self.view(cacc, ins) if cacc is not None and cin not in self.g.constants else None
        if x is None or y is None:
            return
        r0, r1 = (0, ax.rows) if wr.axis == WHOLE else (wr.row0, wr.row1)
        blocks = [(self.xbar[cx], self.blocks[cx]) for cx in tiles]
        acc = self.num.accumulator(op, ins) if self.num else None
        res = mvm_chunk(self.g, op, np.array(x), r0, r1, blocks, c=None if c is None else np.array(c), acc=acc)
        if op.epilogue is not None:   # the fused vector ops, on this chunk's rows (`targets.machine.epilogue`)
            extra = {a.tensor: self.view(a, ins) for a in ins.reads if a.tensor in op.epilogue.inputs()}
            res = run_epilogue(self.g, op, res, ax.axis, r0, r1, extra, self.sessions,
                               self.num.finish_vector if self.num else None)
        rows_view(y, ax.axis, r0, r1)[...] = self.num.finish_mvm(op, ax.axis, r0, r1, res) if self.num else res

    def run_op(self, ins: Instruction, op: OpSpec) -> None:
        args = []
        for t in dynamic_inputs(self.g, op):
            acc = next((a for a in ins.reads if a.tensor == t), None)
            if acc is None:
                self.rep.add("schema", f"instruction {ins.id} ({ins.kind} {op.name}) does not read its input {t!r}")
                return
            held = self.view(acc, ins)
            args.append(None if held is None else self.pool.values(self.g.spec(t).dtype, held))
        outs = [t for t in op.outputs if t]
        accs = [next((a for a in ins.writes if a.tensor == t), None) for t in outs]
        for t, a in zip(outs, accs):
            if a is None and (t in self.g.outputs or self.g.consumers(t)):
                self.rep.add("schema", f"instruction {ins.id} ({ins.kind} {op.name}) does not write its output {t!r}")
        if not self.functional or any(a is None for a in args):
            return
        vax = vector_chunk_axis(self.g, op)
        for a in accs:
            if a is not None and a.axis != WHOLE and (a.axis != vax.axis or not 0 <= a.row0 < a.row1 <= vax.rows):
                self.rep.add("schema", f"instruction {ins.id} ({ins.kind} {op.name}) writes rows {a.row0}:{a.row1} "
                                       f"on axis {a.axis}; the op chunks {vax.rows} rows on axis {vax.axis}")
                return
        # a chunk runs the op on the whole input buffers and keeps its own output rows: they
        # depend only on the input rows its reads name (`ir.vector_chunks`), which the read
        # checks require to be written
        results = run_op(self.g, op, args, self.sessions)
        if self.num and ins.kind == "vector":
            results = self.num.finish_vector(results)
        for a, r in zip(accs, results):
            y = self.view(a, ins) if a is not None else None
            if y is not None and a is not None:
                obj = is_object(self.g.spec(a.tensor).dtype)   # strings: stored as new handles
                r = (self.pool.store(r) if obj else np.asarray(r).astype(y.dtype, copy=False)).reshape(y.shape)
                rows_view(y, a.axis, a.row0, a.row1)[...] = rows_view(r, a.axis, a.row0, a.row1)

    # ---- whole program ---------------------------------------------------------------------
    def load_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        for t in self.g.inputs:
            if t not in inputs:
                self.rep.add("schema", f"no value given for graph input {t!r}")
                continue
            places = {(b.space, b.offset) for b in self.plans.get(t, ()) if b.iteration == 0}
            places |= {(a.space, a.offset) for i in self.p.instructions for a in i.reads if a.tensor == t} \
                if not places else set()
            for space, offset in sorted(places):
                v = self.view(Access(t, space, offset), None)
                if v is None:
                    continue
                a = np.asarray(inputs[t])
                if a.shape != v.shape:
                    self.rep.add("schema", f"input {t!r} has shape {a.shape}; the graph says {v.shape}")
                    continue
                self.pool.put(self.g.spec(t).dtype, v, a)   # numbers cast to the tensor's dtype on assignment

    def read_outputs(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for t in self.g.outputs:
            plans = sorted((b for b in self.plans.get(t, ()) if b.iteration == 0), key=lambda b: b.end_ns)
            places = [(plans[-1].space, plans[-1].offset)] if plans else \
                [(a.space, a.offset) for i in sorted(self.p.instructions, key=lambda i: (i.start_ns, i.id))
                 for a in i.writes if a.tensor == t][-1:]
            v = self.view(Access(t, *places[0]), None) if places else None
            if v is None:
                self.rep.add("data", f"graph output {t!r} has no buffer to read back")
            else:
                out[t] = self.pool.values(self.g.spec(t).dtype, v)
        return out

    def run(self, inputs: Mapping[str, np.ndarray]) -> MachineResult:
        check_static(self.p, self.t, self.rep, self.iterations)
        seg0 = [tw for tw in self.p.programming if tw.segment == 0]
        for tw in seg0:
            if (tw.core, tw.crossbar) in self.xbar:
                self.rep.add("crossbar", f"programming puts two tiles on crossbar {(tw.core, tw.crossbar)}")
            self.xb.program(tw, "programming")
        if self.functional:
            self.load_inputs(inputs)
        for ins in sorted(self.p.instructions, key=lambda i: (i.start_ns, i.id)):
            self.step(ins)
        for t in unwritten_outputs(self.g, self.written):
            self.rep.add("data", f"graph output {t!r} is never completely written")
        outputs = self.read_outputs() if self.functional else {}
        makespan = max((i.end_ns for i in self.p.instructions), default=0)
        ii = self.p.initiation_interval_ns if self.p.mode == "throughput" else makespan
        energy = self.energy + static_energy(self.t, makespan)
        return MachineResult(outputs, makespan, ii, energy, self.rep.result(), len(self.p.instructions),
                             self.computed, self.num.result if self.num else None, tuple(self.timeline))


def execute(program: Program, graph: Graph, target: Target, inputs: Mapping[str, np.ndarray], *,
            functional: bool = True, iterations: int = 3, capture: bool = False,
            numerics: NumericsConfig | None = None) -> MachineResult:
    """Run ``program`` for one inference on ``inputs`` (graph input name -> array) and check it.

    ``functional=False`` only times and checks (no data).  ``numerics`` (None: float) runs the
    crossbar and vector arithmetic bit-true (`targets.machine.numerics`).  In throughput mode resource, crossbar
    and buffer overlaps are checked over max(``iterations``, ceil(makespan / II) + 1) inferences
    started II apart.  ``capture=True`` also returns every computed tensor (`MachineResult.computed`).
    """
    return _Machine(program, graph, target, functional, iterations, capture, numerics).run(inputs)


def validate(program: Program, graph: Graph, target: Target) -> list[Violation]:
    """Every check of `execute` without data."""
    return list(execute(program, graph, target, {}, functional=False).violations)

