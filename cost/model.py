"""Op-level latency and energy on a target, composed from the per-instruction costs the
reference machine uses (`cimopt.targets.physics.instructions`), so prediction and measurement agree
by construction and differ only where the schedule adds waiting or transfers.

A crossbar op with ``r`` copies runs its ``vectors`` input vectors as ``ceil(vectors / r)``
rounds on each copy, all tiles of a copy in parallel:

    latency(r) = fixed_ns + ceil(vectors / r) * interval_ns

where ``interval_ns`` is the steady-state time per vector (the slowest of the MVM issue
interval, the vector unit's partial-sum and activation work, and local-buffer traffic) and
``fixed_ns`` the pipeline fill.  Energy does not depend on ``r`` apart from static power.
A crossbar-written MatMul (`ir.written`, ``WorkOp.written``) first writes its run-time operand
into each copy's crossbars, all at once (`timing.operand_write_task`): that write is part of
``fixed_ns`` (it does not shrink with copies), and every copy pays its energy.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from cimopt.cost.external import MeasuredCost
from cimopt.ir.graph import OpClass
from cimopt.ir.tiles import Tile, tile_count, tile_matrix
from cimopt.ir.workload import WorkOp
from cimopt.targets.physics import instructions as isa, timing
from cimopt.targets.physics.instructions import Energy
from cimopt.targets.spec import Target


@dataclass(frozen=True)
class OpCost:
    """Latency (ns) and energy (pJ, by component) of one op at a given number of copies."""

    name: str
    latency_ns: float
    energy: Energy
    crossbars: int = 0          # per copy
    interval_ns: float = 0.0    # per input vector per copy (crossbar ops)
    fixed_ns: float = 0.0
    vectors: int = 0
    source: str = "analytic"    # or "measured"

    @property
    def energy_pj(self) -> float:
        return self.energy.total


class CostModel:
    """Costs of workload ops on one target; measured costs, when given, override the analytic ones."""

    def __init__(self, target: Target, measured: Mapping[str, MeasuredCost] | None = None,
                 rows_per_conversion: Mapping[str, int] | None = None) -> None:
        self.target = target
        self.measured = dict(measured or {})
        #: rows driven per ADC conversion per crossbar op (absent: as many as the DACs drive)
        self.rows_per_conversion = dict(rows_per_conversion or {})

    def with_rows_per_conversion(self, rows: Mapping[str, int]) -> CostModel:
        """The same model with crossbar ops reading ``rows`` rows per conversion (`timing.mvm_task`)."""
        return CostModel(self.target, self.measured, rows)

    def crossbars(self, op: WorkOp) -> int:
        """Crossbars one copy of ``op``'s weights takes (0 for vector and host ops)."""
        if op.matrix is None or op.op_class is not OpClass.CROSSBAR:
            return 0
        c = self.target.core
        return tile_count(op.matrix, c.crossbar_rows, c.crossbar_cols, self.target.weight_slices)

    def op(self, op: WorkOp, replicas: int = 1) -> OpCost:
        """Latency and energy of ``op`` with ``replicas`` copies of its weights (crossbar ops)."""
        if op.op_class is OpClass.CROSSBAR and op.matrix is not None:
            cost = self._crossbar(op, max(1, replicas))
        elif op.op_class is OpClass.HOST:
            cost = self._host(op)
        else:
            cost = self._vector(op)
        m = self.measured.get(op.name)
        if m is None:
            return cost
        scale = m.energy_pj / cost.energy.total if cost.energy.total > 0 else 0.0
        energy = cost.energy * scale if scale else Energy(vector=m.energy_pj)
        # a measured latency is for one copy; copies split the per-vector part as before
        ratio = m.latency_ns / cost.latency_ns if cost.latency_ns > 0 else 1.0
        return OpCost(op.name, m.latency_ns if replicas <= 1 else cost.latency_ns * ratio, energy,
                      cost.crossbars, cost.interval_ns * ratio, cost.fixed_ns * ratio, cost.vectors, "measured")

    # ---- the three unit kinds ------------------------------------------------------------
    def tiles(self, op: WorkOp) -> tuple[Tile, ...]:
        """The tiles of one copy of crossbar op ``op`` (`cimopt.ir.tiles.tile_matrix`)."""
        c = self.target.core
        assert op.matrix is not None, f"{op.name} is not a crossbar op"
        return tile_matrix(op.name, op.matrix, c.crossbar_rows, c.crossbar_cols, self.target.weight_slices)

    def _crossbar(self, op: WorkOp, r: int) -> OpCost:
        t = self.target
        m = op.matrix
        assert m is not None, f"{op.name} is not a crossbar op"
        tiles = self.tiles(op)
        act = bool(op.activation)
        rpc = self.rows_per_conversion.get(op.name, 0)
        epi = op.output_stage_per_vector()
        one = timing.mvm_cost(t, tiles, m, 1, act, rpc, epi)
        two = timing.mvm_cost(t, tiles, m, 2, act, rpc, epi)
        interval = two.latency_ns - one.latency_ns
        fixed = one.latency_ns - interval
        latency = timing.mvm_cost(t, tiles, m, math.ceil(m.vectors / r), act, rpc, epi).latency_ns
        energy = timing.mvm_cost(t, tiles, m, m.vectors, act, rpc, epi).energy
        if op.written:
            write = timing.operand_write_task(t, tiles)
            fixed += write.latency_ns
            latency += write.latency_ns
            energy = energy + write.energy * r
        energy = energy + isa.static_energy(t, latency)
        return OpCost(op.name, latency, energy, len(tiles), interval, fixed, m.vectors)

    def _vector(self, op: WorkOp) -> OpCost:
        t = self.target
        v = timing.vector_task(t, op.elements, op.ops, op.bytes_in + op.bytes_out)
        energy = v.energy + isa.static_energy(t, v.latency_ns)
        return OpCost(op.name, v.latency_ns, energy, 0, v.latency_ns, 0.0, 1)

    def _host(self, op: WorkOp) -> OpCost:
        t = self.target
        h = timing.host_task(t, op.ops, op.bytes_in + op.bytes_out)
        energy = h.energy + isa.static_energy(t, h.latency_ns)
        return OpCost(op.name, h.latency_ns, energy, 0, h.latency_ns, 0.0, 1)
