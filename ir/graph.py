"""The graph IR: frozen tensor and operator specs held in a mutable networkx DiGraph.

Nodes of `Graph.dag` are operator names with the frozen `OpSpec` under the key ``"op"``;
an edge ``a -> b`` means some output of ``a`` is an input of ``b``.  Tensors carry a shape,
a dtype and their size in bytes; constant tensors (initialisers and folded values) are numpy
arrays in `Graph.constants`.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx
import numpy as np

from cimopt.ir.errors import ShapeError

#: Domains of the standard ONNX operator sets ("" is the default ai.onnx domain).
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training"})
#: Domain of the operators cimopt's passes introduce (exported back to standard ONNX).
CIMOPT_DOMAIN = "ai.cimopt"


class OpClass(enum.Enum):
    """Which unit of a CIM chip runs an operator."""

    CROSSBAR = "crossbar"
    VECTOR = "vector"
    HOST = "host"


@dataclass(frozen=True)
class TensorSpec:
    """A tensor: name, static shape (``None`` when unknown) and element type (numpy name)."""

    name: str
    shape: tuple[int, ...] | None
    dtype: str = "float32"

    @property
    def known(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) and d >= 0 for d in self.shape)

    @property
    def elements(self) -> int:
        """Number of elements; raises ShapeError when the shape is unknown."""
        if not self.known:
            raise ShapeError(f"tensor {self.name!r} has no static shape ({self.shape}); "
                             "give its graph input a size with --input-shape NAME=D0xD1x...")
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        """Size in bytes."""
        return self.elements * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class Activation:
    """An activation fused into the op that produces its input (Relu, Clip, LeakyRelu, ...)."""

    op_type: str
    attrs: tuple[tuple[str, Any], ...] = ()
    #: Extra constant inputs of the activation (Clip's min/max), as tensor names in `Graph.constants`.
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Epilogue:
    """Vector ops fused into a crossbar op's output stage (`ir.passes.epilogue_fusion`).

    ``tensor`` is the crossbar's own output (after its fused activation), which no op of the graph
    produces any more; ``ops`` are the fused ops in order, each a standard-domain `OpSpec`, the
    first reading ``tensor`` and the last writing the crossbar op's output.
    """

    tensor: str
    ops: tuple[OpSpec, ...]

    def inputs(self) -> tuple[str, ...]:
        """Tensors the fused ops read from outside the chain (constants included), each once."""
        inside = {self.tensor} | {t for op in self.ops for t in op.outputs}
        out: list[str] = []
        for op in self.ops:
            for t in (*op.inputs, *(op.activation.inputs if op.activation else ())):
                if t and t not in inside and t not in out:
                    out.append(t)
        return tuple(out)


@dataclass(frozen=True)
class OpSpec:
    """One operator.  ``inputs`` may hold ``""`` for an omitted optional input."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: tuple[tuple[str, Any], ...] = ()
    domain: str = ""
    activation: Activation | None = None
    op_class: OpClass | None = None
    #: vector ops fused into a crossbar op's output stage (None: none)
    epilogue: Epilogue | None = None

    def attr(self, key: str, default: Any = None) -> Any:
        for k, v in self.attrs:
            if k == key:
                return v
        return default

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.attrs)

    def with_attrs(self, **changes: Any) -> OpSpec:
        d = dict(self.attrs)
        d.update(changes)
        return replace(self, attrs=tuple(sorted(d.items())))

    @property
    def mvm_output(self) -> str:
        """The tensor a crossbar op's MVM itself writes: its output, or its epilogue's input."""
        return self.epilogue.tensor if self.epilogue is not None else self.outputs[0]

    def extra_inputs(self) -> tuple[str, ...]:
        """Tensors read beyond ``inputs``: the fused activation's and the epilogue's."""
        act = self.activation.inputs if self.activation is not None else ()
        epi = self.epilogue.inputs() if self.epilogue is not None else ()
        return tuple(dict.fromkeys(t for t in (*act, *epi) if t and t not in self.inputs))


def freeze_attrs(attrs: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Attributes as a sorted tuple of pairs, lists turned into tuples."""
    out = []
    for k, v in sorted(attrs.items()):
        if isinstance(v, list):
            v = tuple(v)
        out.append((k, v))
    return tuple(out)


@dataclass
class Graph:
    """A mutable graph of frozen ops.  Use the methods to change it so the edges stay right."""

    name: str
    dag: nx.DiGraph = field(default_factory=nx.DiGraph)
    tensors: dict[str, TensorSpec] = field(default_factory=dict)
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    opsets: dict[str, int] = field(default_factory=dict)
    #: what the front end changed about the model as given, for the user (an opset upgrade)
    notes: list[str] = field(default_factory=list)
    _producer: dict[str, str] = field(default_factory=dict, repr=False)
    _consumers: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _order: dict[str, int] = field(default_factory=dict, repr=False)
    _next: int = field(default=0, repr=False)

    # ---- queries -------------------------------------------------------------------------
    def op(self, name: str) -> OpSpec:
        return self.dag.nodes[name]["op"]

    def ops(self) -> list[OpSpec]:
        """All ops in a deterministic topological order (ties broken by insertion order)."""
        order = self._order
        return [self.dag.nodes[n]["op"]
                for n in nx.lexicographical_topological_sort(self.dag, key=lambda n: order[n])]

    def __len__(self) -> int:
        return self.dag.number_of_nodes()

    def __iter__(self) -> Iterator[OpSpec]:
        return iter(self.ops())

    def producer(self, tensor: str) -> OpSpec | None:
        name = self._producer.get(tensor)
        return None if name is None else self.op(name)

    def consumers(self, tensor: str) -> list[OpSpec]:
        return [self.op(n) for n in sorted(self._consumers.get(tensor, ()), key=self._order.__getitem__)]

    def is_constant(self, tensor: str) -> bool:
        return tensor in self.constants

    def spec(self, tensor: str) -> TensorSpec:
        if tensor in self.tensors:
            return self.tensors[tensor]
        if tensor in self.constants:
            a = self.constants[tensor]
            return TensorSpec(tensor, tuple(int(d) for d in a.shape), a.dtype.name)
        return TensorSpec(tensor, None)

    def shape(self, tensor: str) -> tuple[int, ...]:
        s = self.spec(tensor)
        if not s.known:
            raise ShapeError(f"tensor {tensor!r} has no static shape; give the graph inputs sizes with "
                             "--input-shape NAME=D0xD1x...")
        assert s.shape is not None
        return s.shape

    # ---- changes -------------------------------------------------------------------------
    def add_op(self, op: OpSpec, after: str | None = None) -> None:
        """Add an op; its edges follow from the tensors it reads and writes."""
        if op.name in self.dag:
            raise ValueError(f"duplicate op name {op.name!r}")
        self.dag.add_node(op.name, op=op)
        self._order[op.name] = self._order[after] if after is not None else self._next
        self._next += 1
        for t in op.outputs:
            if t:
                self._producer[t] = op.name
                for c in self._consumers.get(t, ()):
                    self.dag.add_edge(op.name, c)
        for t in op.inputs:
            if t:
                self._consumers.setdefault(t, set()).add(op.name)
                p = self._producer.get(t)
                if p is not None:
                    self.dag.add_edge(p, op.name)
        for t in op.extra_inputs():
            self._consumers.setdefault(t, set()).add(op.name)
            p = self._producer.get(t)
            if p is not None:
                self.dag.add_edge(p, op.name)

    def remove_op(self, name: str) -> OpSpec:
        op = self.op(name)
        for t in op.outputs:
            if self._producer.get(t) == name:
                del self._producer[t]
        for t in (*op.inputs, *op.extra_inputs()):
            s = self._consumers.get(t)
            if s is not None:
                s.discard(name)
                if not s:
                    del self._consumers[t]
        self.dag.remove_node(name)
        del self._order[name]
        return op

    def replace_op(self, new: OpSpec) -> None:
        """Replace the op of the same name, keeping its place in the order."""
        order = self._order[new.name]
        self.remove_op(new.name)
        self.add_op(new)
        self._order[new.name] = order

    def replace_uses(self, old: str, new: str) -> None:
        """Make every reader of tensor ``old`` (ops and graph outputs) read ``new`` instead."""
        for c in list(self._consumers.get(old, ())):
            op = self.op(c)
            act = op.activation
            if act is not None and old in act.inputs:
                act = replace(act, inputs=tuple(new if t == old else t for t in act.inputs))
            epi = op.epilogue
            if epi is not None and old in epi.inputs():
                epi = replace(epi, ops=tuple(replace(e, inputs=tuple(new if t == old else t for t in e.inputs))
                                             for e in epi.ops))
            self.replace_op(replace(op, inputs=tuple(new if t == old else t for t in op.inputs), activation=act,
                                    epilogue=epi))
        self.outputs = [new if t == old else t for t in self.outputs]

    def fresh_name(self, base: str) -> str:
        """A tensor/op name not used yet in this graph."""
        name, i = base, 0
        while name in self.tensors or name in self.constants or name in self.dag or name in self._producer:
            i += 1
            name = f"{base}_{i}"
        return name

    def used_tensors(self) -> set[str]:
        used = set(self.outputs)
        for t, cs in self._consumers.items():
            if cs:
                used.add(t)
        return used

    def copy(self) -> Graph:
        g = Graph(self.name, self.dag.copy(), dict(self.tensors), dict(self.constants), list(self.inputs),
                  list(self.outputs), dict(self.opsets), list(self.notes))
        g._producer = dict(self._producer)
        g._consumers = {k: set(v) for k, v in self._consumers.items()}
        g._order = dict(self._order)
        g._next = self._next
        return g

    def prune_constants(self) -> None:
        """Drop constants and tensor specs that nothing reads or writes any more."""
        live = self.used_tensors() | set(self._producer) | set(self.inputs)
        for t in [t for t in self.constants if t not in live]:
            del self.constants[t]
        for t in [t for t in self.tensors if t not in live]:
            del self.tensors[t]


def build_graph(name: str, ops: Iterable[OpSpec], tensors: Mapping[str, TensorSpec],
                constants: Mapping[str, np.ndarray], inputs: Iterable[str], outputs: Iterable[str],
                opsets: Mapping[str, int]) -> Graph:
    g = Graph(name, tensors=dict(tensors), constants=dict(constants), inputs=list(inputs),
              outputs=list(outputs), opsets=dict(opsets))
    for op in ops:
        g.add_op(op)
    return g
