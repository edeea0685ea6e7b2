"""Every graph pass, by name: importing this module imports each pass module, whose class
registers itself (`manager.register`); `passes()` lists them (`cimopt passes`)."""
from __future__ import annotations

from cimopt.ir.passes import (activation_fusion, assign_units, batchnorm_folding, constant_folding,  # noqa: F401
                              dead_node_elimination, epilogue_fusion, identity_elimination, legalize,
                              matmul_add_fusion, shape_inference, split_oversized)
from cimopt.ir.passes.manager import REGISTRY

#: the modules of `ir/passes` that hold no pass (the manager, helpers, sequences, this list)
NOT_PASSES = frozenset({"__init__", "manager", "fold_eval", "optimize", "catalog"})


def passes() -> dict[str, type]:
    """Pass name -> pass class, sorted by name."""
    return dict(sorted(REGISTRY.items()))
