"""Identity elimination: Identity and inference-mode Dropout ops are removed, readers rewired.

Rules
  * Removed: ``Identity`` and ``Dropout`` (standard domain, no fused activation).  A Dropout is
    removed only when its mask output is omitted or unread (and not a graph output) and it is
    in inference mode: no ``training_mode`` input, or a constant false one.
  * When the removed op's output ``y`` is not a graph output, every reader of ``y`` reads the
    op's input ``x`` instead.
  * When ``y`` is a graph output, graph outputs keep their names: if ``x`` is produced by an
    op, is not a graph input, a constant or a graph output itself, that producer's output is
    renamed to ``y`` (its other readers follow).  Otherwise the op stays.

Preconditions: none beyond a well-formed graph.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from cimopt.ir.graph import Graph, OpSpec
from cimopt.ir.passes.manager import PassResult, register


def _removable(graph: Graph, op: OpSpec) -> bool:
    if op.domain not in ("", "ai.onnx") or op.activation is not None or not op.inputs or not op.inputs[0]:
        return False
    if op.op_type == "Identity":
        return True
    if op.op_type != "Dropout":
        return False
    mask = op.outputs[1] if len(op.outputs) > 1 else ""
    if mask and (mask in graph.outputs or graph.consumers(mask)):
        return False
    training = op.inputs[2] if len(op.inputs) > 2 else ""
    if training:
        value = graph.constants.get(training)
        if value is None or bool(value.reshape(-1)[0]):
            return False
    return True


@register
@dataclass(frozen=True)
class IdentityElimination:
    """Remove every removable Identity/Dropout (see the module rules), keeping graph outputs' names.

    Returns the same graph, changed in place; ``modified`` is True when some op was removed.
    """

    name: ClassVar[str] = "identity_elimination"

    def __call__(self, graph: Graph) -> PassResult:
        modified = False
        for op in graph.ops():
            op = graph.op(op.name)  # readers rewired by an earlier removal were replaced
            if not _removable(graph, op):
                continue
            x, y = op.inputs[0], op.outputs[0]
            if y not in graph.outputs:
                graph.remove_op(op.name)
                graph.replace_uses(y, x)
                gone = y
            else:
                producer = graph.producer(x)
                if producer is None or x in graph.inputs or x in graph.constants or x in graph.outputs:
                    continue
                graph.remove_op(op.name)
                graph.replace_op(replace(producer, outputs=tuple(y if t == x else t for t in producer.outputs)))
                graph.replace_uses(x, y)
                gone = x
            for t in (gone, *op.outputs[1:]):
                graph.tensors.pop(t, None)
            modified = True
        if modified:
            graph.prune_constants()
        return PassResult(graph, modified)
