"""The reference machine on a hand-built program: Conv+Relu (2 chunks) -> MaxPool (vector unit) ->
NoC transfer -> Conv (2 chunks) on 16 x 16 crossbars with 2 bit slices.  The clean program runs with
no violation and matches onnxruntime; each kind of fault is reported (and corrupts the outputs when
it should)."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from cimopt.ir.chunks import chunk_axis, needed_rows, split_rows
from cimopt.ir.graph import Graph, OpClass
from cimopt.ir.program import Access, BufferPlan, from_json, Instruction, Program, TileWrite, to_json
from cimopt.ir.tiles import tile_matrix
from cimopt.ir.workload import lower_op, matrix_of
from cimopt.targets.load import load_target
from cimopt.targets.physics import timing
from test_kernels import prepared
from cimopt.targets.machine.executor import execute, MachineResult, validate, Violation
from cimopt.targets.spec import Target

RNG = np.random.default_rng(1)


def small_target() -> Target:
    """ISAAC on a 2 x 2 mesh of cores with eight 16 x 16 crossbars, 8-bit weights in 4-bit cells (2 slices)."""
    t = load_target("isaac")
    core = dataclasses.replace(t.core, crossbars=8, crossbar_rows=16, crossbar_cols=16, cell_bits=4,
                               dacs_per_crossbar=16, adcs_per_crossbar=4)
    chip = dataclasses.replace(t.chip, mesh_rows=2, mesh_cols=2)
    return dataclasses.replace(t, chip=chip, core=core, precision=dataclasses.replace(t.precision, weight_bits=8))


def model() -> onnx.ModelProto:
    inits = {"W1": RNG.standard_normal((4, 3, 3, 3)).astype(np.float32),
             "B1": RNG.standard_normal(4).astype(np.float32),
             "W2": RNG.standard_normal((10, 4, 3, 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["X", "W1", "B1"], ["C1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["C1"], ["A"], name="relu"),
             helper.make_node("MaxPool", ["A"], ["P"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Conv", ["P", "W2"], ["Y"], pads=[1, 1, 1, 1], name="conv2")]
    g = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_empty_tensor_value_info("Y")],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return onnx.shape_inference.infer_shapes(m)



def build(g: Graph, t: Target) -> Program:
    """A sequential program: conv1 on core 1, pool on core 1's vector unit, conv2 on core 2."""
    conv1, pool, conv2 = (g.op(n) for n in ("conv1", "pool", "conv2"))
    sl = t.weight_slices
    programming: list[TileWrite] = []
    xbars: dict[str, tuple[tuple[int, int], ...]] = {}
    for core, op in ((1, conv1), (2, conv2)):
        tiles = tile_matrix(op.name, matrix_of(g, op), t.core.crossbar_rows, t.core.crossbar_cols, sl)
        programming += [TileWrite(core, i, op.name, 0, x.index, x.group0, x.ngroups, x.row0, x.row1, x.col0, x.col1)
                        for i, x in enumerate(tiles)]
        xbars[op.name] = tuple((core, i) for i in range(len(tiles)))
    place = {"X": ("core1.local", 0), "A": ("core1.local", 1024), "P": ("global", 0), "Y": ("core2.local", 0)}
    acc = {k: (lambda tensor, axis=-1, r0=0, r1=0, _s=s, _o=o: Access(tensor, _s, _o, axis, r0, r1))
           for k, (s, o) in place.items()}
    instrs: list[Instruction] = []
    clock = 0

    def emit(kind: str, unit: str, cost: timing.InstrCost, deps: tuple[int, ...], **kw: object) -> None:
        nonlocal clock
        start = max([clock] + [instrs[d].end_ns for d in deps])
        end = start + timing.ns(cost)
        instrs.append(Instruction(len(instrs), kind, unit, f"{unit}.{kind}", start, end, deps,
                                  **kw))  # type: ignore[arg-type]
        clock = end

    def mvm(op_name: str, x: str, y: str, core: int, deps: tuple[int, ...]) -> None:
        op = g.op(op_name)
        m, ax = matrix_of(g, op), chunk_axis(g, op)
        for r0, r1 in split_rows(ax.rows, 2):
            in_axis, n0, n1 = needed_rows(g, op, r0, r1)
            tiles = [(p.ngroups * (p.row1 - p.row0), p.ngroups * (p.col1 - p.col0) * sl)
                     for p in programming if p.op == op_name]
            row_tiles = math.ceil(m.k / t.core.crossbar_rows)
            cost = timing.mvm_task(t, tiles, (r1 - r0) * ax.vectors_per_row, row_tiles, m.k * m.groups,
                                   m.n * m.groups, op.activation is not None)
            emit("mvm", f"core{core}", cost, deps, op=op_name, crossbars=xbars[op_name],
                 reads=(acc[x](x, in_axis, n0, n1),), writes=(acc[y](y, ax.axis, r0, r1),))

    mvm("conv1", "X", "A", 1, ())
    w = lower_op(g, pool)
    emit("vector", "core1", timing.vector_task(t, w.elements, w.ops, w.bytes_in + w.bytes_out), (0, 1), op="pool",
         reads=(acc["A"]("A"),), writes=(acc["P"]("P"),))
    nbytes = g.spec("P").nbytes
    emit("transfer", "noc", timing.transfer_task(t, nbytes, 1, 2), (2,), nbytes=nbytes, src_core=1, dst_core=2,
         reads=(acc["P"]("P"),))
    mvm("conv2", "P", "Y", 2, (3,))
    makespan = instrs[-1].end_ns
    life = {"X": (0, instrs[1].end_ns), "A": (0, instrs[2].end_ns), "P": (instrs[2].start_ns, instrs[5].end_ns),
            "Y": (instrs[4].start_ns, makespan)}
    buffers = tuple(BufferPlan(k, place[k][0], place[k][1], g.spec(k).nbytes, *life[k]) for k in place)
    spaces = (("core1.local", 1024 + g.spec("A").nbytes), ("global", g.spec("P").nbytes),
              ("core2.local", g.spec("Y").nbytes))
    return Program("m", "h", t.name, t.digest(), "latency", (("X", (1, 3, 8, 8)),), tuple(programming),
                   tuple(instrs), buffers, spaces, makespan, makespan)


@pytest.fixture(scope="module")
def setup() -> tuple[onnx.ModelProto, Graph, Target, Program, dict[str, np.ndarray], np.ndarray]:
    m = model()
    g = prepared(m)
    assert [o.op_class for o in g.ops()] == [OpClass.CROSSBAR, OpClass.VECTOR, OpClass.CROSSBAR]
    t = small_target()
    x = {"X": RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)}
    (want,) = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    return m, g, t, build(g, t), x, want


def run(setup: tuple, change: Callable[[Program], Program] = lambda p: p) -> tuple[MachineResult, bool]:
    _, g, t, p, x, want = setup
    r = execute(change(p), g, t, x)
    return r, bool(np.allclose(r.outputs.get("Y", np.zeros(1)), want, rtol=1e-4, atol=1e-4))


def kinds(r: MachineResult | list[Violation]) -> set[str]:
    vs = r.violations if isinstance(r, MachineResult) else r
    return {v.kind for v in vs}


def instr(p: Program, i: int, **changes: object) -> Program:
    ins = list(p.instructions)
    ins[i] = dataclasses.replace(ins[i], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(p, instructions=tuple(ins))


def test_clean_program_matches_onnxruntime(setup: tuple) -> None:
    _, g, t, p, _, _ = setup
    r, ok = run(setup)
    assert r.violations == ()
    assert ok
    assert r.makespan_ns == p.makespan_ns and r.instructions == 6
    assert r.energy.total > r.energy.static > 0
    assert validate(p, g, t) == []
    assert validate(from_json(json.loads(json.dumps(to_json(p)))), g, t) == []


def test_swapped_tiles_of_two_ops_change_outputs(setup: tuple) -> None:
    def swap(p: Program) -> Program:
        prog = list(p.programming)
        a = next(i for i, tw in enumerate(prog) if tw.op == "conv1")
        b = next(i for i, tw in enumerate(prog) if tw.op == "conv2")
        prog[a], prog[b] = (dataclasses.replace(prog[a], core=prog[b].core, crossbar=prog[b].crossbar),
                            dataclasses.replace(prog[b], core=prog[a].core, crossbar=prog[a].crossbar))
        return dataclasses.replace(p, programming=tuple(prog))
    r, ok = run(setup, swap)
    assert "crossbar" in kinds(r)
    assert not ok


def test_swapped_tiles_within_one_op_are_equivalent(setup: tuple) -> None:
    def swap(p: Program) -> Program:
        prog = list(p.programming)
        prog[2], prog[3] = (dataclasses.replace(prog[2], crossbar=prog[3].crossbar),
                            dataclasses.replace(prog[3], crossbar=prog[2].crossbar))
        return dataclasses.replace(p, programming=tuple(prog))
    r, ok = run(setup, swap)
    assert r.violations == () and ok


def test_overlapping_live_buffers(setup: tuple) -> None:
    def overlap(p: Program) -> Program:
        bufs = tuple(dataclasses.replace(b, offset=0) if b.tensor == "A" else b for b in p.buffers)
        ins = tuple(dataclasses.replace(i, reads=tuple(dataclasses.replace(a, offset=0) if a.tensor == "A" else a
                                                       for a in i.reads),
                                        writes=tuple(dataclasses.replace(a, offset=0) if a.tensor == "A" else a
                                                     for a in i.writes)) for i in p.instructions)
        return dataclasses.replace(p, buffers=bufs, instructions=ins)
    r, ok = run(setup, overlap)
    assert kinds(r) == {"memory-overlap"}
    assert not ok


def test_wrong_address_changes_outputs(setup: tuple) -> None:
    r, ok = run(setup, lambda p: instr(p, 4, reads=(dataclasses.replace(p.instructions[4].reads[0], offset=8),)))
    assert "data" in kinds(r) and not ok


def test_dropped_dependency(setup: tuple) -> None:
    r, ok = run(setup, lambda p: instr(p, 4, deps=()))
    assert kinds(r) == {"missing-dependency"}
    assert any("instruction 4" in v.message and "instruction 2" in v.message and "'P'" in v.message
               for v in r.violations)
    assert ok


def test_transfer_with_destination_copies(setup: tuple) -> None:
    _, g, t, p, _, _ = setup
    dst = Access("P", "core2.local", 1024)

    def to_local(p: Program, copy: bool = True) -> Program:
        p = instr(p, 3, writes=(dst,) if copy else ())
        for i in (4, 5):
            moved = dataclasses.replace(p.instructions[i].reads[0], space=dst.space, offset=dst.offset)
            p = instr(p, i, reads=(moved,))
        spaces = tuple((k, 1024 + g.spec("P").nbytes) if k == "core2.local" else (k, v) for k, v in p.spaces)
        plan = BufferPlan("P", dst.space, dst.offset, g.spec("P").nbytes, p.instructions[3].start_ns, p.makespan_ns)
        return dataclasses.replace(p, spaces=spaces, buffers=p.buffers + (plan,))
    r, ok = run(setup, to_local)
    assert r.violations == () and ok
    r, ok = run(setup, lambda p: to_local(p, copy=False))
    assert kinds(r) == {"data"} and not ok


def test_consumer_before_producer(setup: tuple) -> None:
    p = setup[3]
    r, ok = run(setup, lambda p: instr(p, 2, start_ns=0, end_ns=p.instructions[2].end_ns - p.instructions[2].start_ns))
    assert {"dependency", "data"} <= kinds(r)
    assert not ok and p.instructions[2].start_ns > 0


def test_crossbar_used_twice_at_once(setup: tuple) -> None:
    p = setup[3]
    d = p.instructions[1].end_ns - p.instructions[1].start_ns
    r, _ = run(setup, lambda p: instr(p, 1, start_ns=0, end_ns=d))
    assert {"crossbar", "resource"} <= kinds(r)


def test_wrong_duration(setup: tuple) -> None:
    last = max(setup[3].instructions, key=lambda i: i.end_ns).id
    k = next(i.id for i in setup[3].instructions if i.id != last and i.end_ns - i.start_ns > 1)
    r, ok = run(setup, lambda p: instr(p, k, end_ns=p.instructions[k].end_ns - 1))
    assert kinds(r) == {"duration"} and ok


def test_capacity(setup: tuple) -> None:
    _, g, t, p, _, _ = setup
    big = dict(p.spaces)
    big["core1.local"] = t.core.local_buffer_bytes + 1
    vs = validate(dataclasses.replace(p, spaces=tuple(big.items())), g, t)
    assert kinds(vs) == {"capacity"}
    small = dict(p.spaces)
    small["global"] = 16
    assert "capacity" in kinds(validate(dataclasses.replace(p, spaces=tuple(small.items())), g, t))


def test_throughput_replay(setup: tuple) -> None:
    _, g, t, p, _, _ = setup
    ok = dataclasses.replace(p, mode="throughput", initiation_interval_ns=p.makespan_ns)
    assert validate(ok, g, t) == []
    tight = dataclasses.replace(ok, initiation_interval_ns=p.instructions[1].end_ns // 2)
    vs = validate(tight, g, t)
    assert {"resource", "crossbar", "memory-overlap"} <= kinds(vs)


def sequential_program(g: Graph, t: Target, chunks: int = 2) -> Program:
    """Any legalised graph as a one-op-at-a-time program: each crossbar op's tiles on their own
    crossbars (cores filled in order), ``chunks`` mvm chunks per op, vector ops on core 0, every
    tensor in DRAM at its own offset (live from its first write to its last read)."""
    sl, per_core = t.weight_slices, t.core.crossbars
    programming: list[TileWrite] = []
    xbars: dict[str, tuple[tuple[int, int], ...]] = {}
    instrs: list[Instruction] = []
    offsets: dict[str, int] = {}
    life: dict[str, list[int]] = {}
    writer: dict[str, list[int]] = {}

    def place(tensor: str) -> Access:
        if tensor not in offsets:
            offsets[tensor] = sum(-(-g.spec(k).nbytes // 64) * 64 for k in offsets)
        return Access(tensor, "dram", offsets[tensor])

    def emit(op_name: str, kind: str, cost: timing.InstrCost, reads: tuple[Access, ...], writes: tuple[Access, ...],
             **kw: object) -> None:
        deps = tuple(sorted({d for a in reads for d in writer.get(a.tensor, ())}))
        start = instrs[-1].end_ns if instrs else 0
        ins = Instruction(len(instrs), kind, "core0", f"core0.{kind}", start, start + timing.ns(cost), deps,
                          op=op_name, reads=reads, writes=writes, **kw)  # type: ignore[arg-type]
        instrs.append(ins)
        for a in (*reads, *writes):
            life.setdefault(a.tensor, [ins.start_ns, ins.end_ns])[1] = ins.end_ns
        for a in writes:
            writer.setdefault(a.tensor, []).append(ins.id)

    for op in g.ops():
        if op.op_class is OpClass.CROSSBAR:
            m, ax = matrix_of(g, op), chunk_axis(g, op)
            tiles = tile_matrix(op.name, m, t.core.crossbar_rows, t.core.crossbar_cols, sl)
            first = len(programming)
            programming += [TileWrite((first + i) // per_core, (first + i) % per_core, op.name, 0, x.index, x.group0,
                                      x.ngroups, x.row0, x.row1, x.col0, x.col1) for i, x in enumerate(tiles)]
            xbars[op.name] = tuple((tw.core, tw.crossbar) for tw in programming[first:])
            used = [(x.rows_used, x.cols_used) for x in tiles]
            packed = m.k <= t.core.crossbar_rows and m.n <= t.core.crossbar_cols // sl
            row_tiles = 1 if packed else math.ceil(m.k / t.core.crossbar_rows)
            ranges = [(0, 1)] if ax.axis == -1 else split_rows(ax.rows, chunks)
            for r0, r1 in ranges:
                n_ax, n0, n1 = needed_rows(g, op, r0, r1)
                vectors = ax.vectors_per_row * (1 if ax.axis == -1 else r1 - r0)
                cost = timing.mvm_task(t, used, vectors, row_tiles, m.k * m.groups, m.n * m.groups,
                                       op.activation is not None)
                x, y = place(op.inputs[0]), place(op.outputs[0])
                emit(op.name, "mvm", cost, (dataclasses.replace(x, axis=n_ax, row0=n0, row1=n1),),
                     (dataclasses.replace(y, axis=ax.axis, row0=r0, row1=r1 if ax.axis != -1 else 0),),
                     crossbars=xbars[op.name])
        else:
            w = lower_op(g, op)
            cost = timing.vector_task(t, w.elements, w.ops, w.bytes_in + w.bytes_out)
            reads = tuple(place(i) for i in dict.fromkeys(i for i in op.inputs if i and i not in g.constants))
            emit(op.name, "vector", cost, reads, tuple(place(o) for o in op.outputs if o))
    makespan = instrs[-1].end_ns
    for o in g.outputs:
        life[o][1] = makespan
    buffers = tuple(BufferPlan(k, "dram", off, g.spec(k).nbytes, *life[k]) for k, off in offsets.items())
    size = max(b.offset + b.size_bytes for b in buffers)
    shapes = tuple((i, g.shape(i)) for i in g.inputs)
    return Program(g.name, "h", t.name, t.digest(), "latency", shapes, tuple(programming), tuple(instrs), buffers,
                   (("dram", size),), makespan, makespan)


def test_sequential_program_end_to_end() -> None:
    rng = np.random.default_rng(2)
    inits = {"W1": rng.standard_normal((6, 3, 3, 3)).astype(np.float32),
             "W2": rng.standard_normal((6, 1, 3, 3)).astype(np.float32),
             "S": rng.uniform(0.5, 1.5, 6).astype(np.float32), "Bb": rng.standard_normal(6).astype(np.float32),
             "M": rng.standard_normal(6).astype(np.float32), "V": rng.uniform(0.5, 1.5, 6).astype(np.float32),
             "WT": rng.standard_normal((6, 4, 2, 2)).astype(np.float32),
             "G": rng.standard_normal((4, 7)).astype(np.float32), "GC": rng.standard_normal(7).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["X", "W1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c1", "S", "Bb", "M", "V"], ["b1"]),
             helper.make_node("Relu", ["b1"], ["r1"]),
             helper.make_node("Conv", ["r1", "W2"], ["c2"], pads=[1, 1, 1, 1], group=6),
             helper.make_node("Add", ["c2", "r1"], ["s"]),
             helper.make_node("ConvTranspose", ["s", "WT"], ["u"], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["u"], ["gp"]),
             helper.make_node("Flatten", ["gp"], ["f"]),
             helper.make_node("Gemm", ["f", "G", "GC"], ["Y"])]
    graph = helper.make_graph(nodes, "e2e", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 3, 12, 10])],
                              [helper.make_empty_tensor_value_info("Y")],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    m = onnx.shape_inference.infer_shapes(m)
    g, t = prepared(m), small_target()
    x = {"X": rng.standard_normal((2, 3, 12, 10)).astype(np.float32)}
    (want,) = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    p = sequential_program(g, t, chunks=3)
    r = execute(p, g, t, x)
    assert r.violations == ()
    np.testing.assert_allclose(r.outputs["Y"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "vgg19"])
def test_light_model_end_to_end(name: str) -> None:
    """A whole ImageNet model (224 x 224) on ISAAC, 4 chunks per crossbar op, against onnxruntime."""
    from cimopt.frontend import prepare
    from pass_helpers import randomized_light

    m, t = randomized_light(name), load_target("isaac")
    g = prepare(m, t).graph
    x = {i: np.random.default_rng(0).standard_normal(g.shape(i)).astype(np.float32) for i in g.inputs}
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, x)
    r = execute(sequential_program(g, t, chunks=4), g, t, x)
    assert r.violations == ()
    for o, w in zip(g.outputs, want):
        np.testing.assert_allclose(r.outputs[o], w, rtol=1e-4, atol=1e-4 * float(np.abs(w).max()))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 9), st.integers(0, 1)), min_size=1, max_size=6),
       st.integers(1, 40))
def test_folded_unit_check_equals_a_long_replay(spans: list[tuple[int, int, int]], extra: int) -> None:
    """Folding one inference modulo II finds an overlap exactly when replaying every inference
    in flight does (units busy at most II per inference, as `_busy_over_ii` leaves them)."""
    from types import SimpleNamespace

    from cimopt.targets.machine.checks.overlaps import _overlaps, _unit_items

    ins = [SimpleNamespace(id=i, start_ns=s, end_ns=s + d, resource=f"u{u}", crossbars=(), kind="vector", tile=None)
           for i, (s, d, u) in enumerate(spans)]
    busy = max(sum(i.end_ns - i.start_ns for i in ins if i.resource == r) for r in ("u0", "u1"))
    ii = busy + extra % 5
    prog = SimpleNamespace(instructions=ins)
    reps = max(i.end_ns for i in ins) // ii + 3
    folded = any(_overlaps(v) for v in _unit_items(prog, ii, 2, True).values())  # type: ignore[arg-type]
    replay = any(_overlaps(v) for v in _unit_items(prog, ii, reps, False).values())  # type: ignore[arg-type]
    assert folded == replay


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 30), st.integers(0, 3), st.integers(0, 2)),
                min_size=1, max_size=6), st.integers(1, 3), st.integers(5, 40))
def test_folded_buffer_check_equals_a_long_replay(bufs: list[tuple[int, int, int, int]], flight: int,
                                                  ii: int) -> None:
    """Buffers folded modulo II x iterations in flight overlap exactly when a replay of every
    inference in flight does (iteration-0-only tensors serve every inference)."""
    from types import SimpleNamespace

    from cimopt.targets.machine.checks.overlaps import _buffer_items

    plans = [SimpleNamespace(tensor=f"t{j % 3}", iteration=it % flight, space="global", offset=8 * off,
                             size_bytes=8, start_ns=s, end_ns=s + d)
             for j, (s, d, off, it) in enumerate(bufs)]
    prog = SimpleNamespace(buffers=plans, iterations_in_flight=flight)
    reps = (max(b.end_ns for b in plans) // ii + 3) * flight + flight

    def overlapping(live: dict) -> bool:
        items = sorted(live["global"]) if live else []
        return any(a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
                   for i, a in enumerate(items) for b in items[i + 1:])

    folded = overlapping(_buffer_items(prog, 0, ii, True))  # type: ignore[arg-type]
    replay = overlapping(_buffer_items(prog, reps, ii, False))  # type: ignore[arg-type]
    assert folded == replay


def test_checks_run_once_per_run(setup: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check of a program runs once per `execute` and per `validate` (`check_program`)."""
    from cimopt.targets.machine import executor

    _, g, t, p, x, _ = setup
    calls: list[int] = []
    real = executor.check_program

    def counted(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(executor, "check_program", counted)
    execute(p, g, t, x)
    assert len(calls) == 1
    validate(p, g, t)
    assert len(calls) == 2


@pytest.mark.parametrize("fault", ["dropped-dependency", "wrong-address", "consumer-first", "bad-rows",
                                   "unknown-op", "missing-read", "swapped-tiles"])
def test_validate_reports_every_check_of_execute(setup: tuple, fault: str) -> None:
    """Without data, `validate` reports the very violations `execute` reports (the checks do not
    depend on the values), for faults of every kind the walk in time finds."""
    _, g, t, p, x, _ = setup
    d2 = p.instructions[2].end_ns - p.instructions[2].start_ns
    read4 = p.instructions[4].reads[0]
    faults: dict[str, Callable[[Program], Program]] = {
        "dropped-dependency": lambda p: instr(p, 4, deps=()),
        "wrong-address": lambda p: instr(p, 4, reads=(dataclasses.replace(read4, offset=8),)),
        "consumer-first": lambda p: instr(p, 2, start_ns=0, end_ns=d2),
        "bad-rows": lambda p: instr(p, 4, reads=(dataclasses.replace(read4, row1=read4.row1 + 50),)),
        "unknown-op": lambda p: instr(p, 2, op="no-such-op"),
        "missing-read": lambda p: instr(p, 2, reads=()),
        "swapped-tiles": lambda p: dataclasses.replace(p, programming=tuple(
            dataclasses.replace(tw, core=p.programming[-1 - k].core, crossbar=p.programming[-1 - k].crossbar)
            for k, tw in enumerate(p.programming))),
    }
    bad = faults[fault](p)
    ran = execute(bad, g, t, x).violations
    checked = validate(bad, g, t)
    assert checked, fault
    # what only execution finds: an instruction that cannot run on its values, a block not cut
    found_by_data = [v for v in ran if "cannot execute" in v.message or "cannot be built" in v.message]
    assert [v for v in ran if v not in found_by_data] == checked


def test_compiling_does_not_import_the_machine() -> None:
    """`cimopt.compiler` (calibration and the ADC error model included) never loads the executor."""
    import subprocess
    import sys

    code = ("import sys, cimopt.compiler; "
            "print([m for m in sys.modules if m.startswith('cimopt.targets.machine.') and 'executor' in m])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
