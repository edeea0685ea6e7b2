"""Human-readable summaries of a compilation and of a heuristic-vs-exact comparison."""
from __future__ import annotations

from typing import Any

from cimopt.compiler import CompileResult
from cimopt.e2e import BOUNDS, metric_name
from cimopt.ir import units
from cimopt.ir.errors import UsageError
from cimopt.solver.registry import stage
from cimopt.solver.stats import relative_gap, SolveStats



def _time(ns: float) -> str:
    return units.time(ns)


def _bytes(n: float) -> str:
    return units.nbytes(n)


def stats_line(s: SolveStats) -> str:
    """One stage's line: the method asked for (``method*`` when a fallback produced the solution:
    `compile_summary` names it below), its kind, status, objective, bound (as the solver proved
    it, never clamped), gap, wall time."""
    unit = _unit_of(s.stage)
    method = f"{s.method}*" if s.produced_by else s.method
    return (f"{s.stage:<12} {method:<16} {s.kind or '':<12} {s.status.value:<20} "
            f"objective {units.by_unit(s.objective, unit):<20} "
            f"bound {units.by_unit(s.bound, unit):<20} gap {100 * s.gap:6.2f} %  {s.wall_s:7.2f} s  ({s.bound_kind})")


def _unit_of(name: str) -> str:
    """The unit of a stage's objective ('' for a stage the registry does not know)."""
    try:
        return stage(name).unit
    except UsageError:  # a stage the registry does not know prints its bare number
        return ""


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
    lines.extend(f"  model: {n}" for k, n in p.extra if k == "model_note")
    batch = int(m.get("batch", 1) or 1)
    if p.mode == "throughput":
        per = f" per batch of {batch} ({_time(p.initiation_interval_ns / batch)} per inference)" if batch > 1 else ""
        lines.append(f"  initiation interval (II) {_time(p.initiation_interval_ns)}{per} -> "
                     f"{units.rate(m['inferences_per_s'])} inferences/s; one "
                     f"{'batch' if batch > 1 else 'inference'} takes {_time(p.makespan_ns)} from start to end")
    else:
        what = f"a batch of {batch}" if batch > 1 else "one inference"
        lines.append(f"  makespan of {what} {_time(p.makespan_ns)} -> "
                     f"{units.rate(batch * 1e9 / max(p.makespan_ns, 1))} inferences/s back to back")
    if batch > 1:
        lines.append(f"  batch of {batch} inferences per reprogramming of the {p.segments} segments")
    lines.append(f"  energy {units.energy(m['energy_pj'] / batch)} per inference")
    lines.append(f"  crossbars {units.count(m['crossbars_used'])} of {units.count(m['crossbars_total'])} "
                 f"({units.percent(m['crossbar_utilisation'])}), {units.count(m['tile_copies'])} tile copies")
    lines.append(f"  memory peak {_bytes(m['memory_peak_bytes'])} (max-live bound {_bytes(m['memory_bound_bytes'])})"
                 + (f", {p.iterations_in_flight} inferences in flight" if p.iterations_in_flight > 1 else ""))
    lines.extend(end_to_end_lines(p.mode, m, dict(p.extra)))
    matmuls = [(k[len("matmul."):], v) for k, v in p.extra if k.startswith("matmul.")]
    if matmuls:
        lines.append("  MatMuls of two activations (estimates per inference):")
        lines.extend(f"    {op}: {why}" for op, why in matmuls)
    lines.append("  stages:")
    for k, s in res.stats.items():
        lines.append("    " + stats_line(s))
        if s.produced_by:
            lines.append(f"      * solution from {s.produced_by} (fallback for {s.method})")
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


def end_to_end_lines(mode: str, m: dict[str, float], extra: dict[str, str]) -> list[str]:
    """The summary's end-to-end lines: the objective, the granularity-free bound ("x % of it"),
    the bound at the granularity used, the physical limit of the mode (latency mode: the physical
    latency limit; throughput: every crossbar busy all the time) and the idle-crossbars note."""
    if "e2e_bound_ns" not in m:
        return []
    obj = m["e2e_objective_ns"]
    what = "makespan" if mode == "latency" else "time per inference"
    lines = [f"  end to end ({what}): {_time(obj)}"]
    for key, name in BOUNDS:
        if metric_name(key, "bound_ns") not in m:   # a program compiled before the bound existed
            continue
        bound, limited = m[metric_name(key, "bound_ns")], extra.get(metric_name(key, "limited_by"), "?")
        lines.append(f"    at {_percent(bound, obj)} of the {name}: {_time(bound)}, limited by {limited} "
                     f"(time / bound {_ratio(obj, bound)})")
    if mode == "latency":
        limit = m["latency_limit_ns"]
        lines.append(f"    physical latency limit {_time(limit)} (every crossbar busy all the time, each op one "
                     f"vector behind its producers; time / limit {_ratio(obj, limit)})")
    else:
        limit = m["physical_limit_ns"]
        lines.append(f"    physical limit {_time(limit)} (every crossbar busy all the time; "
                     f"time / limit {_ratio(obj, limit)})")
    if "program_crossbar_ns" in m:
        lines.append(f"    this program's MVMs hold the crossbars {_time(m['program_crossbar_ns'])} per inference")
    idle = idle_crossbars_note(int(m["crossbars_used"]), int(m["crossbars_total"]),
                               extra.get("e2e_limited_by", "?"))
    if idle:
        lines.append(f"  note: {idle}")
    return lines


def _percent(bound_ns: float, time_ns: float) -> str:
    """``bound / time`` as a percentage: how close a program of ``time_ns`` is to the bound."""
    return units.percent(bound_ns / time_ns) if time_ns > 0 else "n/a"


def _ratio(time_ns: float, reference_ns: float) -> str:
    """``time / reference`` with 3 significant digits ("n/a" without a reference)."""
    return units.count(time_ns / reference_ns, 3) if reference_ns > 0 else "n/a"


def compare_rows(h: CompileResult, x: CompileResult) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per stage, heuristic vs exact on the heuristic pipeline's own instance; end to end, both programs.

    ``exact`` is the best objective among the compared methods, ``bound`` the largest bound any
    method ran on that instance proved (each is a lower bound of the instance, so the largest is
    one too; it is printed as it is, never clamped to an objective), ``bound_method`` the method
    that proved it."""
    rows = []
    for k, hs in h.stats.items():
        others = h.compare.get(k, {})
        if not others:
            continue
        xs = min(others.values(), key=lambda s: s.objective)
        exact = xs.objective  # hinted with the heuristic (Stage.run): never worse than it
        bs = max([hs, *others.values()], key=lambda s: s.bound)
        rows.append({"stage": k, "unit": stage(k).unit, "heuristic": hs.objective, "exact": exact, "bound": bs.bound,
                     "gap": relative_gap(exact, bs.bound), "heuristic_s": hs.wall_s, "exact_s": xs.wall_s,
                     "status": xs.status.value, "heuristic_method": hs.method, "exact_method": xs.method,
                     "exact_kind": stage(k).method(xs.method).kind if _known(k, xs.method) else "",
                     "bound_kind": bs.bound_kind, "bound_method": bs.method})
    e2e = {}
    for name, r in (("heuristic", h), ("exact", x)):
        m = dict(r.program.metrics)
        e2e[name] = {"makespan_ns": r.program.makespan_ns, "initiation_interval_ns": r.program.initiation_interval_ns,
                     "inferences_per_s": m["inferences_per_s"], "energy_pj": m["energy_pj"],
                     "memory_peak_bytes": m["memory_peak_bytes"], "compile_s": m["compile_s"],
                     "e2e_objective_ns": m.get("e2e_objective_ns", 0.0),
                     "physical_limit_ns": m.get("physical_limit_ns", 0.0),
                     "latency_limit_ns": m.get("latency_limit_ns", 0.0)}
        for key, _ in BOUNDS:
            e2e[name].update({metric_name(key, "bound_ns"): m.get(metric_name(key, "bound_ns"), 0.0),
                              metric_name(key, "gap"): m.get(metric_name(key, "gap"), 0.0),
                              metric_name(key, "limited_by"): dict(r.program.extra).get(metric_name(key, "limited_by"), "")})
    return rows, e2e


def _known(stage_name: str, method: str) -> bool:
    return any(m.name == method for m in stage(stage_name).methods)


def compare_text(rows: list[dict[str, Any]], e2e: dict[str, Any]) -> str:
    head = f"{'stage':<12} {'heuristic':>14} {'exact':>14} {'bound':>14} {'gap':>8} {'heur s':>7} {'exact s':>8}  status"
    lines = [head, "-" * len(head)]
    for r in rows:
        u = r["unit"]
        lines.append(f"{r['stage']:<12} {units.by_unit(r['heuristic'], u):>14} {units.by_unit(r['exact'], u):>14} "
                     f"{units.by_unit(r['bound'], u):>14} "
                     f"{100 * r['gap']:>7.2f}% {r['heuristic_s']:>7.2f} {r['exact_s']:>8.2f}  {r['status']} "
                     f"({r['exact_method']}" + (f" [{r['exact_kind']}]" if r.get("exact_kind") else "")
                     + f" vs {r['heuristic_method']}; bound from {r.get('bound_method', '?')})")
    h, x = e2e["heuristic"], e2e["exact"]
    lines.append("")
    lines.append(f"end to end      {'heuristic':>14} {'exact':>14}  (free bound: granularity-free; "
                 "rows bound: at the granularity used, a Conv's vectors, a MatMul's rows)")
    lines.append(f"makespan        {_time(h['makespan_ns']):>14} {_time(x['makespan_ns']):>14}")
    lines.append(f"inferences/s    {units.rate(h['inferences_per_s']):>14} {units.rate(x['inferences_per_s']):>14}")
    lines.append(f"energy          {units.energy(h['energy_pj']):>14} {units.energy(x['energy_pj']):>14}")
    lines.append(f"memory peak     {_bytes(h['memory_peak_bytes']):>14} {_bytes(x['memory_peak_bytes']):>14}")
    lines.append(f"objective       {_time(h['e2e_objective_ns']):>14} {_time(x['e2e_objective_ns']):>14}")
    for key, label in (("free", "free"), ("chunked", "rows")):
        lines.append(f"{label + ' bound':<16}{_time(h[metric_name(key, 'bound_ns')]):>14} "
                     f"{_time(x[metric_name(key, 'bound_ns')]):>14}  (limited by {h[metric_name(key, 'limited_by')]})")
        lines.append(f"{'gap to ' + label:<16}{100 * h[metric_name(key, 'gap')]:>13.1f}% {100 * x[metric_name(key, 'gap')]:>13.1f}%")
    lines.append(f"physical limit  {_time(h['physical_limit_ns']):>14} {_time(x['physical_limit_ns']):>14}")
    if h.get("latency_limit_ns"):
        lines.append(f"latency limit   {_time(h['latency_limit_ns']):>14} {_time(x['latency_limit_ns']):>14}")
    return "\n".join(lines)
