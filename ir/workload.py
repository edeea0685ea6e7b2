"""Lowering: a legalised Graph becomes a Workload, the solver's view of the model.

Each crossbar op carries its weight matrix per group (K rows x N columns after im2col),
its input vectors (batch x output positions; input positions for ConvTranspose) and MACs;
each vector or host op its output elements and arithmetic operations.  Sizes in bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cimopt.ir.errors import ShapeError
from cimopt.ir.graph import Graph, OpClass, OpSpec
from cimopt.ir.written import is_written, written_geometry


@dataclass(frozen=True)
class Matrix:
    """A crossbar op's weight matrix: ``groups`` independent K x N blocks, applied to ``vectors`` inputs."""

    groups: int
    k: int
    n: int
    vectors: int

    @property
    def macs(self) -> int:
        return self.groups * self.k * self.n * self.vectors


@dataclass(frozen=True)
class WorkOp:
    name: str
    op_type: str
    op_class: OpClass
    inputs: tuple[str, ...]        # dynamic (non-constant) input tensors
    outputs: tuple[str, ...]
    macs: int                      # multiply-accumulates (Conv, ConvTranspose, Gemm, MatMul, Linear)
    elements: int                  # output elements
    ops: float                     # arithmetic operations for the vector unit or host
    bytes_in: int                  # dynamic input bytes
    bytes_out: int
    weight_bytes: int = 0
    matrix: Matrix | None = None
    activation: str = ""           # fused activation op type, if any
    #: crossbar op whose matrix is its second input, written into the crossbars at run time
    #: (`ir.written`): a MatMul of two activations
    written: bool = False
    epilogue: tuple[str, ...] = ()  # op types fused into a crossbar op's output stage, in order
    epilogue_ops: float = 0.0      # their arithmetic operations (also counted in ``ops``)
    epilogue_reads: int = 0        # elements they read beyond the MVM's own output (a residual's other operand)

    def output_stage_per_vector(self) -> tuple[float, float]:
        """(epilogue operations, epilogue elements read) per input vector of a crossbar op (0, 0 without one)."""
        v = self.matrix.vectors if self.matrix is not None else 0
        return (self.epilogue_ops / v, self.epilogue_reads / v) if v > 0 else (0.0, 0.0)


@dataclass(frozen=True)
class Workload:
    name: str
    ops: tuple[WorkOp, ...]                        # topological order
    edges: tuple[tuple[str, str, int], ...]        # (producer op, consumer op, bytes)
    inputs: tuple[tuple[str, int], ...]            # (graph input tensor, bytes)
    outputs: tuple[tuple[str, int], ...]

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    def op(self, name: str) -> WorkOp:
        for o in self.ops:
            if o.name == name:
                return o
        raise KeyError(name)


#: Arithmetic operations per output element of vector/host ops (a documented estimate).
OPS_PER_ELEMENT: dict[str, float] = {
    "Softmax": 5.0, "LogSoftmax": 6.0, "LayerNormalization": 8.0, "BatchNormalization": 2.0,
    "InstanceNormalization": 8.0, "GroupNormalization": 8.0, "LRN": 10.0, "Resize": 4.0, "Upsample": 4.0,
    "Gelu": 8.0, "Erf": 6.0, "Exp": 4.0, "Tanh": 4.0, "Sigmoid": 4.0, "HardSwish": 3.0, "HardSigmoid": 2.0,
    "Mish": 8.0, "Softplus": 4.0, "Pow": 4.0, "Sqrt": 4.0, "Div": 2.0,
    # data movement: one op per element moved
    "Concat": 1.0, "Split": 1.0, "Slice": 1.0, "Transpose": 1.0, "Pad": 1.0, "Gather": 1.0, "Tile": 1.0,
    "Expand": 1.0, "DepthToSpace": 1.0, "SpaceToDepth": 1.0,
    # views: no data moves
    "Reshape": 0.0, "Flatten": 0.0, "Squeeze": 0.0, "Unsqueeze": 0.0, "Identity": 0.0, "Dropout": 0.0,
    "Shape": 0.0, "Size": 0.0,
}


def _prod(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def matrix_of(graph: Graph, op: OpSpec) -> Matrix:
    """The weight-matrix geometry of a crossbar op."""
    t = op.op_type
    if t == "Conv":
        w = graph.shape(op.inputs[1])
        y = graph.shape(op.mvm_output)
        g = int(op.attr("group", 1))
        return Matrix(g, _prod(w[1:]), w[0] // g, y[0] * _prod(y[2:]))
    if t == "ConvTranspose":
        w = graph.shape(op.inputs[1])
        x = graph.shape(op.inputs[0])
        g = int(op.attr("group", 1))
        return Matrix(g, w[0] // g, _prod(w[1:]), x[0] * _prod(x[2:]))
    if t == "Gemm":
        a = graph.shape(op.inputs[0])
        b = graph.shape(op.inputs[1])
        m = a[1] if op.attr("transA", 0) else a[0]
        k, n = (b[1], b[0]) if op.attr("transB", 0) else (b[0], b[1])
        return Matrix(1, k, n, m)
    if t == "MatMul" and is_written(graph, op):
        geo = written_geometry(graph, op)
        if geo is None:
            raise ShapeError(f"op {op.name}: MatMul of {graph.shape(op.inputs[0])} x {graph.shape(op.inputs[1])} "
                             "cannot be written into crossbars (see ir.written)")
        return Matrix(*geo)
    # MatMul / Linear with a constant 2-D weight
    a = graph.shape(op.inputs[0])
    w = graph.shape(op.inputs[1])
    vectors = _prod(a[:-1]) if len(a) > 1 else 1
    y = graph.shape(op.mvm_output)
    vectors = max(vectors, _prod(y[:-1]) if len(y) > 1 else 1)
    return Matrix(1, w[0], w[1], vectors)


def _dynamic_matmul_macs(graph: Graph, op: OpSpec) -> int:
    a = graph.shape(op.inputs[0])
    y = graph.shape(op.outputs[0])
    return _prod(y) * (a[-1] if a else 1)


def _activation_ops(op: OpSpec, elements: int) -> float:
    """Operations of ``op``'s fused activation over its ``elements`` outputs (0 without one)."""
    return OPS_PER_ELEMENT.get(op.activation.op_type, 1.0) * elements if op.activation else 0.0


def _vector_ops(graph: Graph, op: OpSpec, elements: int) -> float:
    """Arithmetic operations of a vector or host op (fused activation excluded) over its ``elements`` outputs."""
    if op.op_type in ("MatMul", "Gemm", "Conv", "ConvTranspose"):
        return 2.0 * (_dynamic_matmul_macs(graph, op) if op.op_type == "MatMul" else matrix_of(graph, op).macs)
    if op.op_type in ("MaxPool", "AveragePool", "LpPool"):
        return float(elements * _prod(tuple(op.attr("kernel_shape", (1,)))))
    if op.op_type in ("GlobalAveragePool", "GlobalMaxPool") or op.op_type.startswith("Reduce"):
        first = next((t for t in op.inputs if t and t not in graph.constants), "")
        return float(graph.spec(first).elements) if first else 0.0
    return OPS_PER_ELEMENT.get(op.op_type, 1.0) * elements


def _epilogue(graph: Graph, op: OpSpec) -> tuple[float, int]:
    """(operations, elements of tensors read from outside the chain) of a crossbar op's fused epilogue."""
    if op.epilogue is None:
        return 0.0, 0
    ops = 0.0
    for e in op.epilogue.ops:
        n = graph.spec(e.outputs[0]).elements
        ops += _vector_ops(graph, e, n) + _activation_ops(e, n)
    reads = sum(graph.spec(t).elements for t in op.epilogue.inputs() if t not in graph.constants)
    return ops, reads


def lower_op(graph: Graph, op: OpSpec) -> WorkOp:
    if op.op_class is None:
        raise ValueError(f"op {op.name} is not legalised; run passes.legalize first")
    dyn_in = tuple(t for t in (*op.inputs, *op.extra_inputs()) if t and t not in graph.constants)
    try:
        bytes_in = sum(graph.spec(t).nbytes for t in dyn_in)
        outs = tuple(t for t in op.outputs if t)
        bytes_out = sum(graph.spec(t).nbytes for t in outs if graph.spec(t).known)
        elements = sum(graph.spec(t).elements for t in outs if graph.spec(t).known)
    except ShapeError as e:
        raise ShapeError(f"op {op.name} ({op.op_type}): {e}") from None
    act = op.activation.op_type if op.activation else ""
    if op.op_class is OpClass.CROSSBAR:
        m = matrix_of(graph, op)
        wbytes = sum(graph.constants[t].nbytes for t in op.inputs[1:] if t in graph.constants)
        epi_ops, epi_reads = _epilogue(graph, op)
        act_ops = _activation_ops(op, graph.spec(op.mvm_output).elements)
        epi = tuple(e.op_type for e in op.epilogue.ops) if op.epilogue else ()
        return WorkOp(op.name, op.op_type, op.op_class, dyn_in, outs, m.macs, elements, act_ops + epi_ops,
                      bytes_in, bytes_out, wbytes, m, act, written=is_written(graph, op), epilogue=epi,
                      epilogue_ops=epi_ops, epilogue_reads=epi_reads)
    macs = _dynamic_matmul_macs(graph, op) if op.op_type == "MatMul" else (
        matrix_of(graph, op).macs if op.op_type in ("Gemm", "Conv", "ConvTranspose") else 0)
    return WorkOp(op.name, op.op_type, op.op_class, dyn_in, outs, macs, elements,
                  _vector_ops(graph, op, elements) + _activation_ops(op, elements), bytes_in, bytes_out, 0, None, act)


def lower(graph: Graph) -> Workload:
    """Lower a legalised graph (every op has ``op_class``) to a Workload."""
    ops = tuple(lower_op(graph, op) for op in graph.ops())
    edges = []
    for op in graph.ops():
        for t in op.outputs:
            if not t or not graph.spec(t).known:
                continue
            nbytes = graph.spec(t).nbytes
            for c in graph.consumers(t):
                edges.append((op.name, c.name, nbytes))
    ins = tuple((t, graph.spec(t).nbytes) for t in graph.inputs)
    outs = tuple((t, graph.spec(t).nbytes) for t in graph.outputs)
    return Workload(graph.name, ops, tuple(edges), ins, outs)

