"""`cimopt inspect`: what every op of a model costs on a target and whether it fits."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cimopt.cost.model import CostModel, OpCost
from cimopt.ir import units
from cimopt.ir.workload import Workload, WorkOp
from cimopt.targets.spec import Target


@dataclass(frozen=True)
class InspectRow:
    op: WorkOp
    cost: OpCost


def inspect(workload: Workload, target: Target, model: CostModel | None = None) -> list[InspectRow]:
    """One row per op with its cost at one copy of its weights."""
    cm = model or CostModel(target)
    return [InspectRow(op, cm.op(op, 1)) for op in workload.ops]


def totals(rows: list[InspectRow]) -> dict[str, Any]:
    return {
        "macs": int(sum(r.op.macs for r in rows)),
        "crossbars": int(sum(r.cost.crossbars for r in rows)),
        "latency_ns": float(sum(r.cost.latency_ns for r in rows)),
        "energy_pj": float(sum(r.cost.energy_pj for r in rows)),
        "weights": int(sum((r.op.matrix.groups * r.op.matrix.k * r.op.matrix.n) if r.op.matrix else 0 for r in rows)),
    }


def to_json(workload: Workload, target: Target, rows: list[InspectRow]) -> dict[str, Any]:
    tot = totals(rows)
    ops = []
    for r in rows:
        m = r.op.matrix
        ops.append({
            "name": r.op.name, "type": r.op.op_type, "class": r.op.op_class.value,
            "activation": r.op.activation or None,
            "epilogue": list(r.op.epilogue) or None,
            "matrix": None if m is None else {"groups": m.groups, "k": m.k, "n": m.n, "vectors": m.vectors},
            "crossbars": r.cost.crossbars, "macs": r.op.macs,
            "latency_ns": r.cost.latency_ns, "energy_pj": r.cost.energy_pj,
            "energy_breakdown_pj": asdict(r.cost.energy), "cost_source": r.cost.source,
        })
    return {
        "model": workload.name, "target": target.name,
        "ops": ops, "totals": tot,
        "capacity": {"crossbars": target.total_crossbars, "weights": target.weight_capacity},
        "fits": tot["crossbars"] <= target.total_crossbars,
    }


def _si(x: float, unit: str) -> str:
    return units.si_count(x, unit)


def _time(ns: float) -> str:
    return units.time(ns, 3)


def to_text(workload: Workload, target: Target, rows: list[InspectRow]) -> str:
    js = to_json(workload, target, rows)
    head = f"{'op':<32} {'type':<18} {'class':<8} {'matrix (g x K x N)':>20} {'xbars':>6} {'MACs':>9} {'latency':>10} {'energy':>10}"
    lines = [f"{workload.name} on {target.name}: {len(rows)} ops", head, "-" * len(head)]
    for r in rows:
        m = r.op.matrix
        mat = f"{m.groups}x{m.k}x{m.n}" if m else ""
        typ = "+".join((r.op.op_type, *((r.op.activation,) if r.op.activation else ()), *r.op.epilogue))
        lines.append(f"{r.op.name[:32]:<32} {typ[:18]:<18} {r.op.op_class.value:<8} {mat:>20} "
                     f"{r.cost.crossbars or '':>6} {_si(r.op.macs, '') if r.op.macs else '':>9} "
                     f"{_time(r.cost.latency_ns):>10} {units.energy(r.cost.energy_pj, 3):>10}")
    t = js["totals"]
    lines.append("-" * len(head))
    lines.append(f"total: {_si(t['macs'], 'MAC')}, {t['crossbars']} crossbars for one copy "
                 f"({t['weights']:,} weights), {_time(t['latency_ns'])} summed op latency, "
                 f"{units.energy(t['energy_pj'], 3)}")
    cap = js["capacity"]
    if js["fits"]:
        lines.append(f"fits: yes - {t['crossbars']} of {cap['crossbars']} crossbars "
                     f"({100 * t['crossbars'] / cap['crossbars']:.1f} %)")
    else:
        lines.append(f"fits: no - needs {t['crossbars']} crossbars, the chip has {cap['crossbars']}; "
                     "compile will segment it and reprogram the crossbars between segments")
    return "\n".join(lines)
