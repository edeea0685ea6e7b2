"""Old opsets: a model below the default-domain opset onnxruntime supports is upgraded.

onnxruntime guarantees support for opset 7 and newer of the default ONNX domain (older
kernels exist for a few ops only: ``Add`` at opset 6 has none), and cimopt's passes read the
modern forms of the ops (``Resize``'s scales input, ``Clip``'s bounds as inputs).  A model
importing an older opset is converted with `onnx.version_converter`, which rewrites each node
to the newer version's signature (attributes that became inputs, legacy broadcasting made
explicit, after `explicit_legacy_broadcast` spelt out what the converter gets wrong) while
keeping what it computes.  The conversion is recorded in the model's
``metadata_props`` under `UPGRADED_KEY` (the original version), so that the compile summary
and the program can say so.  Where the converter fails for every target version the model is
refused with a `ModelError` naming the original opset and the converter's reason.
"""
from __future__ import annotations

import onnx
from onnx import helper

from cimopt.ir.errors import ModelError
from cimopt.ir.skeleton import skeleton
from cimopt.ir.subgraphs import topological_order

#: oldest default-domain opset onnxruntime guarantees (its "supported opset" floor)
MIN_OPSET = 7
#: versions tried in turn when upgrading, newest first: the first the converter and the checker accept
UPGRADE_TARGETS = (17, 13, 11, 9, 7)
#: ``metadata_props`` key holding the opset a model was upgraded from
UPGRADED_KEY = "cimopt.upgraded_from_opset"


def default_opset(proto: onnx.ModelProto) -> int | None:
    """The model's default-domain ("" or "ai.onnx") opset version, or None when it imports none."""
    versions = [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")]
    return max(versions) if versions else None


def upgraded_from(proto: onnx.ModelProto) -> int | None:
    """The opset ``proto`` was upgraded from by `upgrade`, or None when it was not."""
    for p in proto.metadata_props:
        if p.key == UPGRADED_KEY:
            return int(p.value)
    return None


def _ranks(proto: onnx.ModelProto) -> dict[str, int]:
    """Rank of every main-graph value ONNX shape inference (at the model's own opset) can tell."""
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton(proto), check_type=False, strict_mode=False)
    except Exception:  # noqa: BLE001 - no ranks: nothing is rewritten, the converter judges alone
        return {}
    g = inferred.graph
    out = {t.name: len(t.dims) for t in g.initializer}
    for v in (*g.input, *g.value_info, *g.output):
        if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape"):
            out[v.name] = len(v.type.tensor_type.shape.dim)
    return out


def _unsqueeze(g: onnx.GraphProto, node: onnx.NodeProto, i: int, axes: list[int]) -> None:
    """Make ``node``'s input ``i`` go through a new ``Unsqueeze(axes)`` (the attribute form of opsets < 13)."""
    src = node.input[i]
    out = f"{src}__legacy_bcast_{len(g.node)}"
    g.node.append(helper.make_node("Unsqueeze", [src], [out], axes=axes, name=out))
    node.input[i] = out


def explicit_legacy_broadcast(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of an opset < 7 model whose legacy broadcasts are spelt out so that they mean the same
    under numpy-style broadcasting, which opset 7 introduced and `onnx.version_converter` assumes:

    * a binary op with ``broadcast=1`` and ``axis=a`` aligns B's dims with A's from dim ``a``; B gets
      trailing unit dims (``Unsqueeze``) up to A's rank and the ``axis`` attribute goes (the converter
      otherwise pads B to A's rank from the left, ignoring ``axis``);
    * ``PRelu``'s slope of C > 1 elements applies per channel (dim 1 of X); it becomes C x 1 x ... x 1.

    Nodes whose input ranks shape inference cannot tell are left as they are."""
    ranks = _ranks(proto)
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    for node in list(g.node):
        if node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        ra, rb = ranks.get(node.input[0]), ranks.get(node.input[1])
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if ra is None or rb is None:
            continue
        if attrs.get("broadcast") == 1 and "axis" in attrs:
            axis = int(attrs["axis"]) + (ra if int(attrs["axis"]) < 0 else 0)
            trailing = ra - axis - rb
            if trailing > 0:
                _unsqueeze(g, node, 1, list(range(rb, rb + trailing)))
            kept = [a for a in node.attribute if a.name != "axis"]
            del node.attribute[:]
            node.attribute.extend(kept)
        elif node.op_type == "PRelu" and rb == 1 and ra > 2:
            _unsqueeze(g, node, 1, list(range(1, ra - 1)))
    new_nodes = topological_order(list(g.node))  # the Unsqueezes were appended after their readers
    del g.node[:]
    g.node.extend(new_nodes)
    return out


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def upgrade(proto: onnx.ModelProto, where: str) -> onnx.ModelProto:
    """``proto`` itself when its default opset is at least `MIN_OPSET` (or absent); otherwise a
    converted copy at the newest of `UPGRADE_TARGETS` that `onnx.version_converter` reaches and
    the full ONNX checker (strict shape inference) accepts, without the old ``value_info``, marked
    with `UPGRADED_KEY`.  Raises `ModelError` when none does."""
    old = default_opset(proto)
    if old is None or old >= MIN_OPSET:
        return proto
    from onnx import version_converter

    reasons: list[str] = []
    explicit = explicit_legacy_broadcast(proto)
    for target in UPGRADE_TARGETS:
        try:
            new = version_converter.convert_version(explicit, target)
            # the converter keeps value_info of the old graph, some of it stale for the nodes it
            # rewrote (an Unsqueezed bias keeps the old rank); shapes are inferred afresh anyway
            del new.graph.value_info[:]
            onnx.checker.check_model(skeleton(new), full_check=True)
        except Exception as e:  # noqa: BLE001 - the converter and checker raise several types
            reasons.append(f"to {target}: {_first_line(e)}")
            continue
        entry = new.metadata_props.add()
        entry.key, entry.value = UPGRADED_KEY, str(old)
        return new
    raise ModelError(f"{where}: the model imports ONNX opset {old}, older than the {MIN_OPSET} onnxruntime supports, "
                     f"and onnx.version_converter cannot upgrade it ({reasons[0]}); "
                     f"re-export the model with opset >= {MIN_OPSET}")


__all__ = ["MIN_OPSET", "UPGRADE_TARGETS", "UPGRADED_KEY", "default_opset", "explicit_legacy_broadcast", "upgrade",
           "upgraded_from"]
