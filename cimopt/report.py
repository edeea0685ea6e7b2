"""Human-readable summaries of a compilation and of a heuristic-vs-exact comparison."""
from __future__ import annotations

from typing import Any

from cimopt.solver.stages import stage
from cimopt.solver.stats import SolveStats

from .compiler import CompileResult



def _time(ns: float) -> str:
    for f, u in ((1e9, "s"), (1e6, "ms"), (1e3, "us")):
        if ns >= f:
            return f"{ns / f:.4g} {u}"
    return f"{ns:.4g} ns"


def _bytes(n: float) -> str:
    for f, u in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= f:
            return f"{n / f:.3g} {u}"
    return f"{n:.0f} B"


def stats_line(s: SolveStats) -> str:
    return (f"{s.stage:<12} {s.method:<16} {s.status.value:<20} objective {s.objective:<14.6g} "
            f"bound {s.bound:<14.6g} gap {100 * s.gap:6.2f} %  {s.wall_s:7.2f} s  ({s.bound_kind})")


def idle_crossbars_note(used: int, total: int, limited_by: str) -> str:
    """The warning of a program that leaves more than half the chip's crossbars idle while its
    end-to-end bound is set by the crossbar class (work over every crossbar), else ""."""
    if limited_by != "crossbar" or total <= 0 or 2 * used >= total:
        return ""
    return (f"{total - used} of {total} crossbars ({100 * (total - used) / total:.1f} %) hold no weights while "
            "the end-to-end bound is set by the crossbar class (the work spread over every crossbar): the "
            "program cannot come near that bound without them; try --replication cpsat or --solver exact")


def compile_summary(res: CompileResult) -> str:
    p = res.program
    m = dict(p.metrics)
    lines = [f"{p.model} on {p.target}, {p.mode} mode: {int(m['tasks'])} tasks, {p.segments} segment(s)"]
    if p.mode == "throughput":
        lines.append(f"  initiation interval {_time(p.initiation_interval_ns)} -> {m['inferences_per_s']:.4g} "
                     f"inferences/s; one inference takes {_time(p.makespan_ns)}")
    else:
        lines.append(f"  makespan {_time(p.makespan_ns)} -> {1e9 / max(p.makespan_ns, 1):.4g} inferences/s back to back")
    batch = int(m.get("batch", 1) or 1)
    if batch > 1:
        lines.append(f"  batch of {batch} inferences per reprogramming of the {p.segments} segments")
    lines.append(f"  energy {m['energy_pj'] / batch / 1e6:.4g} uJ per inference")
    lines.append(f"  crossbars {int(m['crossbars_used'])} of {int(m['crossbars_total'])} "
                 f"({100 * m['crossbar_utilisation']:.1f} %), {int(m['tile_copies'])} tile copies")
    lines.append(f"  memory peak {_bytes(m['memory_peak_bytes'])} (max-live bound {_bytes(m['memory_bound_bytes'])})"
                 + (f", {p.iterations_in_flight} inferences in flight" if p.iterations_in_flight > 1 else ""))
    if "e2e_bound_ns" in m:
        limited = dict(p.extra).get("e2e_limited_by", "?")
        lines.append(f"  end to end: {100 * m['e2e_bound_ns'] / max(m['e2e_objective_ns'], 1e-9):.1f} % of the bound "
                     f"({_time(m['e2e_bound_ns'])} per inference), limited by {limited}; "
                     f"physical limit {_time(m['physical_limit_ns'])} (ratio {m['physical_limit_ratio']:.3f})")
        idle = idle_crossbars_note(int(m["crossbars_used"]), int(m["crossbars_total"]), limited)
        if idle:
            lines.append(f"  note: {idle}")
    matmuls = [(k[len("matmul."):], v) for k, v in p.extra if k.startswith("matmul.")]
    if matmuls:
        lines.append("  MatMuls of two activations (estimates per inference):")
        lines.extend(f"    {op}: {why}" for op, why in matmuls)
    lines.append("  stages:")
    for k, s in res.stats.items():
        lines.append("    " + stats_line(s))
        for a in s.attempts:
            lines.append(f"      fallback: {a}")
    if res.exact_path:
        lines.append("  exact path (end to end, each stage's exact method tried in turn):")
        for c in res.exact_path:
            what = (f"{c.changed}={dict(c.methods)[c.changed]}" if c.changed in dict(c.methods)
                    else c.changed or "heuristic pipeline")
            lines.append(f"    {what:<28} {_time(c.objective_ns):>10}  memory {_bytes(c.memory_bytes):>9}  "
                         + ("kept" if c.kept else "dropped"))
    for w in res.warnings:
        lines.append(f"  warning: {w}")
    lines.append("  time per step: " + ", ".join(f"{k} {v:.2f} s" for k, v in res.stage_s.items())
                 + f" (total {sum(res.stage_s.values()):.2f} s of {res.wall_s:.2f} s wall)")
    return "\n".join(lines)


def compare_rows(h: CompileResult, x: CompileResult) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per stage, heuristic vs exact on the heuristic pipeline's own instance; end to end, both programs."""
    rows = []
    for k, hs in h.stats.items():
        others = h.compare.get(k, {})
        if not others:
            continue
        xs = min(others.values(), key=lambda s: s.objective)
        exact = xs.objective  # hinted with the heuristic (Stage.run): never worse than it
        bound = min(max(xs.bound, hs.bound), exact)
        rows.append({"stage": k, "unit": stage(k).unit, "heuristic": hs.objective, "exact": exact, "bound": bound,
                     "gap": (exact - bound) / exact if exact else 0.0, "heuristic_s": hs.wall_s, "exact_s": xs.wall_s,
                     "status": xs.status.value, "heuristic_method": hs.method, "exact_method": xs.method,
                     "bound_kind": xs.bound_kind})
    e2e = {}
    for name, r in (("heuristic", h), ("exact", x)):
        m = dict(r.program.metrics)
        e2e[name] = {"makespan_ns": r.program.makespan_ns, "initiation_interval_ns": r.program.initiation_interval_ns,
                     "inferences_per_s": m["inferences_per_s"], "energy_pj": m["energy_pj"],
                     "memory_peak_bytes": m["memory_peak_bytes"], "compile_s": m["compile_s"],
                     "e2e_objective_ns": m.get("e2e_objective_ns", 0.0), "e2e_bound_ns": m.get("e2e_bound_ns", 0.0),
                     "e2e_gap": m.get("e2e_gap", 0.0), "physical_limit_ns": m.get("physical_limit_ns", 0.0),
                     "e2e_limited_by": dict(r.program.extra).get("e2e_limited_by", "")}
    return rows, e2e


def compare_text(rows: list[dict[str, Any]], e2e: dict[str, Any]) -> str:
    head = f"{'stage':<12} {'heuristic':>14} {'exact':>14} {'bound':>14} {'gap':>8} {'heur s':>7} {'exact s':>8}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['stage']:<12} {r['heuristic']:>14.6g} {r['exact']:>14.6g} {r['bound']:>14.6g} "
                     f"{100 * r['gap']:>7.2f}% {r['heuristic_s']:>7.2f} {r['exact_s']:>8.2f}  {r['status']} "
                     f"({r['unit']}; {r['exact_method']} vs {r['heuristic_method']})")
    h, x = e2e["heuristic"], e2e["exact"]
    lines.append("")
    lines.append(f"end to end      {'heuristic':>14} {'exact':>14}")
    lines.append(f"makespan        {_time(h['makespan_ns']):>14} {_time(x['makespan_ns']):>14}")
    lines.append(f"inferences/s    {h['inferences_per_s']:>14.4g} {x['inferences_per_s']:>14.4g}")
    lines.append(f"energy          {h['energy_pj'] / 1e6:>11.4g} uJ {x['energy_pj'] / 1e6:>11.4g} uJ")
    lines.append(f"memory peak     {_bytes(h['memory_peak_bytes']):>14} {_bytes(x['memory_peak_bytes']):>14}")
    lines.append(f"objective       {_time(h['e2e_objective_ns']):>14} {_time(x['e2e_objective_ns']):>14}")
    lines.append(f"e2e bound       {_time(h['e2e_bound_ns']):>14} {_time(x['e2e_bound_ns']):>14}  "
                 f"(limited by {h['e2e_limited_by']})")
    lines.append(f"gap to bound    {100 * h['e2e_gap']:>13.1f}% {100 * x['e2e_gap']:>13.1f}%")
    lines.append(f"physical limit  {_time(h['physical_limit_ns']):>14} {_time(x['physical_limit_ns']):>14}")
    return "\n".join(lines)
