"""The reference machine: executes a `Program` with real numbers and checks it.

Functional model: one byte array per memory space (``program.spaces``); a tensor's data is the
ndarray of its dtype and shape at its Access/BufferPlan offset.  Crossbars hold the blocks set by
``program.programming`` (segment 0) and by ``write`` instructions (`kernels.tile_block`); an
``operand_write`` sets a replica's crossbars from the run-time operand it reads (`ir.written`).
Instructions run in (start_ns, id) order: ``mvm`` computes its output rows from its crossbars'
blocks and the input at its read address (then its op's fused epilogue, `targets.machine.epilogue`);
``vector``/``host`` run onnxruntime (a vector chunk keeps
the output rows it writes, `ir.vector_chunks`); a ``transfer`` that names a destination buffer
copies the rows it writes; ``barrier`` moves no data.  So a swapped tile, an overlapped buffer or a wrong address changes the
outputs.  With ``numerics`` (`targets.machine.numerics_engine`) crossbar and vector arithmetic is bit-true
to the target (``int``) or adds device noise (``analog``).

A compact program (`ir.program`: an instruction of ``count`` > 1 stands for its repetitions) runs
as its flat form (`targets.machine.checks.compact.flat_program`, which reports a malformed compact
instruction).  Every check of the program against its target runs once, before any data moves
(`targets.machine.checks.program_checks.check_program`); what the checks' walk finds (`Flow`: the
instructions not to run, each MVM's tiles, where inputs are loaded and outputs read back) drives
the data.  The executor adds what only execution finds (``data``: an instruction that cannot
execute on the values it reads; ``crossbar``: a tile that cannot be built from its matrix;
``schema``: a missing or misshapen input value; ``capacity``: a program larger than the
machine holds).  Each is a `Violation`, never an exception.
Times in ns, energies in pJ, sizes in bytes.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cimopt.ir.chunks import chunk_axis, mvm_vectors, WHOLE
from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.program import Access, Instruction, Program
from cimopt.targets.machine.checks.compact import flat_program
from cimopt.targets.machine.checks.flow import Flow, Place
from cimopt.targets.machine.checks.program_checks import check_program
from cimopt.targets.machine.checks.violations import Report, Violation
from cimopt.targets.machine.crossbars import CrossbarState
from cimopt.targets.machine.epilogue import run_epilogue
from cimopt.targets.machine.kernels import dynamic_inputs, mvm_chunk, run_op
from cimopt.targets.machine.rows import put_rows, take_rows
from cimopt.targets.machine.numerics_engine import NumericsConfig, NumericsEngine, NumericsResult
from cimopt.targets.machine.object_pool import held_dtype, is_object, ObjectPool
from cimopt.targets.physics.instructions import Energy, static_energy
from cimopt.targets.spec import Target

__all__ = ["MAX_MACHINE_BYTES", "MachineResult", "Violation", "execute", "validate"]

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
    instructions: int              # instructions run: each repetition of a compact one counted
    #: with ``capture``: every tensor the machine computed, as it was when its last row was written
    computed: dict[str, np.ndarray] = field(default_factory=dict)
    numerics: NumericsResult | None = None   # int / analog mode: per-layer outputs and ADC counts
    #: (instruction id, start ns, end ns) as the machine timed each one: issued at its scheduled
    #: start, lasting the duration the machine computes from the target (instructions whose cost
    #: could not be computed are absent)
    timeline: tuple[tuple[int, int, int], ...] = ()


def space_reach(p: Program, graph: Graph) -> dict[str, int]:
    """Bytes of each memory space that the program's buffers and accesses reach (offset + size)."""
    reach: dict[str, int] = defaultdict(int)
    for b in p.buffers:
        reach[b.space] = max(reach[b.space], b.offset + b.size_bytes)
        if b.tensor in graph.inputs:
            reach[b.space] = max(reach[b.space], b.offset + graph.spec(b.tensor).nbytes)
    for ins in p.instructions:
        for a in (*ins.reads, *ins.writes):
            spec = graph.tensors.get(a.tensor)
            if spec is not None and spec.known:
                reach[a.space] = max(reach[a.space], a.offset + spec.nbytes)
    return dict(reach)


class _Machine:
    """The data side of a run: memory, crossbar matrices, kernels, driven by the checks' `Flow`."""

    def __init__(self, program: Program, graph: Graph, target: Target, functional: bool, iterations: int,
                 capture: bool = False, numerics: NumericsConfig | None = None) -> None:
        self.rep = Report()
        self.p, self.g, self.t = flat_program(program, self.rep), graph, target   # repetitions expanded
        self.num = NumericsEngine(graph, target, numerics) if numerics is not None and functional else None
        self.functional = functional
        self.capture = capture and functional
        self.computed: dict[str, np.ndarray] = {}
        self.iterations = max(1, iterations)
        self.space_size = dict(program.spaces)
        self.flow = Flow()
        self.mem: dict[str, np.ndarray] = {}
        self.xb = CrossbarState(graph, self.rep)
        self.sessions: dict[str, object] = {}
        self.pool = ObjectPool()

    # ---- memory ----------------------------------------------------------------------------
    def allocate(self) -> dict[str, np.ndarray]:
        """One zeroed byte array per space, as long as its reservation or as far as its buffers
        and accesses reach, whichever is shorter (bytes past the reach are never read or written);
        none, and a violation, when that exceeds `MAX_MACHINE_BYTES` (data then not simulated)."""
        reach = space_reach(self.p, self.g)
        sizes = {s: min(n, reach.get(s, 0)) for s, n in self.space_size.items()}
        total = sum(sizes.values())
        if total > MAX_MACHINE_BYTES:
            self.rep.add("capacity", f"the program's memory spaces need {total} B, more than the "
                                     f"{MAX_MACHINE_BYTES} B the reference machine holds; data not simulated")
            self.functional = self.capture = False
            return {}
        return {s: np.zeros(n, dtype=np.uint8) for s, n in sizes.items()}

    def view(self, acc: Access) -> np.ndarray | None:
        """The tensor's ndarray at ``acc``'s address (None when not functional, or when it has no
        static shape or does not fit its space, which the checks report)."""
        spec = self.g.spec(acc.tensor)
        size = self.space_size.get(acc.space)
        if not self.functional or not spec.known or size is None or acc.offset + spec.nbytes > size:
            return None
        raw = self.mem[acc.space][acc.offset:acc.offset + spec.nbytes]
        return raw.view(held_dtype(spec.dtype)).reshape(spec.shape)

    def keep(self, place: Place) -> None:
        """With ``capture``: the tensor a write just completed at ``place``, as it is now."""
        t, space, offset = place
        if t in self.computed:
            return
        v = self.view(Access(t, space, offset))
        if v is not None:
            self.computed[t] = self.pool.values(self.g.spec(t).dtype, v)

    # ---- one instruction -------------------------------------------------------------------
    def step(self, ins: Instruction) -> None:
        op = self.g.op(ins.op) if ins.op in self.g.dag else None
        if ins.kind == "write" and ins.tile is not None:
            self.xb.program(ins.tile, f"instruction {ins.id}")
        elif ins.kind == "operand_write" and op is not None:
            acc = next(a for a in ins.reads if a.tensor in op.inputs[1:2])
            self.xb.write_operand(ins, op, self.view(acc), self.num)
        try:
            self.execute_data(ins, op)
        except Exception as e:  # noqa: BLE001 - numpy and onnxruntime errors on corrupted data become violations
            self.rep.add("data", f"instruction {ins.id} ({ins.kind} {ins.op}) cannot execute: "
                                 f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}")

    def execute_data(self, ins: Instruction, op: OpSpec | None) -> None:
        """The data part of ``ins``: an MVM, a vector or host op, or a transfer's copy."""
        if op is not None and ins.kind == "mvm":
            self.run_mvm(ins, op)
        elif op is not None and ins.kind in ("vector", "host"):
            self.run_op(ins, op)
        elif ins.kind == "transfer":
            for w in ins.writes:   # a transfer that names a destination buffer copies the rows it writes
                r = next((a for a in ins.reads if a.tensor == w.tensor), None)
                src, dst = (self.view(r), self.view(w)) if r is not None else (None, None)
                if src is not None and dst is not None:
                    put_rows(dst, w.axis, w.row0, w.row1, np.array(take_rows(src, w.axis, w.row0, w.row1)))

    def run_mvm(self, ins: Instruction, op: OpSpec) -> None:
        """The rows ``ins`` writes of ``op``'s output (the checks saw it read and write them)."""
        rd = next(a for a in ins.reads if a.tensor == op.inputs[0])
        wr = next(a for a in ins.writes if a.tensor == op.outputs[0])
        ax = chunk_axis(self.g, op)
        x, y = self.view(rd), self.view(wr)
        cin = op.inputs[2] if op.op_type == "Gemm" and len(op.inputs) > 2 else ""
        cacc = next((a for a in ins.reads if cin and a.tensor == cin), None)
        c = self.view(cacc) if cacc is not None and cin not in self.g.constants else None
        if x is None or y is None:
            return
        r0, r1 = (0, ax.rows) if wr.axis == WHOLE else (wr.row0, wr.row1)
        blocks = [(tw, self.xb.blocks[cx]) for cx, tw in self.flow.tiles[ins.id]]
        acc = self.num.accumulator(op, ins) if self.num else None
        y0, y1 = mvm_vectors(self.g, op, r0, r1)   # the MVM's own rows (a width pool reads more)
        res = mvm_chunk(self.g, op, np.array(x), y0, y1, blocks, c=None if c is None else np.array(c), acc=acc)
        if op.epilogue is not None:   # the fused vector ops, on this chunk's rows (`targets.machine.epilogue`)
            extra = {a.tensor: self.view(a) for a in ins.reads if a.tensor in op.epilogue.inputs()}
            res = run_epilogue(self.g, op, res, ax.axis, r0, r1, extra, self.sessions,
                               self.num.finish_vector if self.num else None, (y0, y1))
        put_rows(y, ax.axis, r0, r1, self.num.finish_mvm(op, ax.axis, r0, r1, res) if self.num else res)

    def run_op(self, ins: Instruction, op: OpSpec) -> None:
        """A vector or host op on onnxruntime (the checks saw it read its inputs)."""
        args = []
        for t in dynamic_inputs(self.g, op):
            held = self.view(next(a for a in ins.reads if a.tensor == t))
            args.append(None if held is None else self.pool.values(self.g.spec(t).dtype, held))
        accs = [next((a for a in ins.writes if a.tensor == t), None) for t in op.outputs if t]
        if any(a is None for a in args):
            return
        # a chunk runs the op on the whole input buffers and keeps its own output rows: they
        # depend only on the input rows its reads name (`ir.vector_chunks`), which the read
        # checks require to be written
        results = run_op(self.g, op, args, self.sessions)
        if self.num and ins.kind == "vector":
            results = self.num.finish_vector(results)
        for a, r in zip(accs, results):
            y = self.view(a) if a is not None else None
            if y is not None and a is not None:
                obj = is_object(self.g.spec(a.tensor).dtype)   # strings: stored as new handles
                r = (self.pool.store(r) if obj else np.asarray(r).astype(y.dtype, copy=False)).reshape(y.shape)
                put_rows(y, a.axis, a.row0, a.row1, take_rows(r, a.axis, a.row0, a.row1))

    # ---- whole program ---------------------------------------------------------------------
    def load_inputs(self, inputs: Mapping[str, np.ndarray]) -> None:
        for t in self.g.inputs:
            if t not in inputs:
                self.rep.add("schema", f"no value given for graph input {t!r}")
                continue
            for _, space, offset in self.flow.input_places.get(t, ()):
                v = self.view(Access(t, space, offset))
                if v is None:
                    continue
                a = np.asarray(inputs[t])
                if a.shape != v.shape:
                    self.rep.add("schema", f"input {t!r} has shape {a.shape}; the graph says {v.shape}")
                    continue
                self.pool.put(self.g.spec(t).dtype, v, a)   # numbers cast to the tensor's dtype on assignment

    def read_outputs(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for t, (_, space, offset) in self.flow.output_places.items():
            v = self.view(Access(t, space, offset))
            if v is not None:
                out[t] = self.pool.values(self.g.spec(t).dtype, v)
        return out

    def run(self, inputs: Mapping[str, np.ndarray]) -> MachineResult:
        self.flow = check_program(self.p, self.t, self.g, self.rep, self.iterations) or Flow()
        self.mem = self.allocate() if self.functional else {}
        if self.functional:   # (allocate turns it off for a program larger than the machine)
            for tw in self.p.programming:
                if tw.segment == 0:
                    self.xb.program(tw, "programming")
            self.load_inputs(inputs)
            for ins in sorted(self.p.instructions, key=lambda i: (i.start_ns, i.id)):
                if ins.id not in self.flow.not_run:
                    self.step(ins)
                if self.capture:
                    for place in self.flow.full_after.get(ins.id, ()):
                        self.keep(place)
        outputs = self.read_outputs() if self.functional else {}
        makespan = max((i.end_ns for i in self.p.instructions), default=0)
        ii = self.p.initiation_interval_ns if self.p.mode == "throughput" else makespan
        energy = self.flow.energy + static_energy(self.t, makespan)
        return MachineResult(outputs, makespan, ii, energy, self.rep.result(), len(self.p.instructions),
                             self.computed, self.num.result if self.num else None, tuple(self.flow.timeline))

def execute(program: Program, graph: Graph, target: Target, inputs: Mapping[str, np.ndarray], *,
            functional: bool = True, iterations: int = 3, capture: bool = False,
            numerics: NumericsConfig | None = None) -> MachineResult:
    """Run ``program`` for one inference on ``inputs`` (graph input name -> array) and check it.

    ``functional=False`` only times and checks (no data).  ``numerics`` (None: float) runs the
    crossbar and vector arithmetic bit-true (`targets.machine.numerics_engine`).  Every check runs once,
    first (`targets.machine.checks.program_checks.check_program`); in throughput mode resource, crossbar
    and buffer overlaps are checked over the stream of inferences started II apart (one inference
    folded modulo II, or ``iterations`` inferences replayed when a unit is busy longer than II).  ``capture=True`` also returns every computed tensor (`MachineResult.computed`).
    """
    return _Machine(program, graph, target, functional, iterations, capture, numerics).run(inputs)


def validate(program: Program, graph: Graph, target: Target) -> list[Violation]:
    """Every check of `execute` without data."""
    return list(execute(program, graph, target, {}, functional=False).violations)

