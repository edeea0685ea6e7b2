"""The network on chip as data: the [noc] section, its graph and default routes, transfers holding
their links in the schedule and on the machine (two transfers on one link at once are caught)."""
from __future__ import annotations

import copy
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import models
from cimopt.cli.main import main
from cimopt.compiler import compile_model
from cimopt.inputs import compare, random_inputs, reference_outputs
from cimopt.ir.program import Program, save
from cimopt.ir.program_expand import expand
from cimopt.options import CompileOptions
from cimopt.targets.errors import TargetError
from cimopt.targets.load import load_target, parse_target, PRESET_DIR
from cimopt.targets.machine.executor import execute, validate
from cimopt.targets.noc import default_route, default_tree, noc_graph, route_problem, router_of
from cimopt.targets.noc_spec import NocSpec
from cimopt.targets.physics import timing
from cimopt.targets.spec import Target


def _doc(preset: str = "edge", **noc: Any) -> dict[str, Any]:
    d = tomllib.loads((PRESET_DIR / f"{preset}.toml").read_text())
    if noc:
        d["noc"] = noc
    return d


def _target(preset: str = "edge", **noc: Any) -> Target:
    return parse_target(_doc(preset, **noc), "t.toml")


def test_default_network_is_the_mesh_and_keeps_the_presets_figures() -> None:
    for name in ("isaac", "pimcomp", "edge", "puma", "sram-dimc"):
        t = load_target(name)
        g = noc_graph(t)
        rows, cols = t.chip.mesh_rows, t.chip.mesh_cols
        assert g.number_of_nodes() == t.cores
        assert g.number_of_edges() == 2 * (rows * (cols - 1) + cols * (rows - 1))
        assert t.noc is None and not t.multicast
        for a, b in ((0, t.cores - 1), (t.cores // 2, 1)):
            route = default_route(t, a, b)
            assert len(route) == t.hops(a, b)
            assert timing.routed_transfer_task(t, 4096, a, route).latency_ns == pytest.approx(
                timing.transfer_task(t, 4096, a, b).latency_ns)
            assert timing.routed_transfer_task(t, 4096, a, route).energy.total == pytest.approx(
                timing.transfer_task(t, 4096, a, b).energy.total)
    assert load_target("isaac").digest() == parse_target(_doc("isaac"), "x").digest()


def test_xy_route_goes_along_the_row_first() -> None:
    t = load_target("isaac")   # 12 x 14
    route = default_route(t, 0, 2 * 14 + 3)
    assert route == ((0, 1), (1, 2), (2, 3), (3, 17), (17, 31))
    assert default_route(t, 5, 5) == ()
    tree = default_tree(t, 0, (3, 31))
    assert set(tree) == {(0, 1), (1, 2), (2, 3), (3, 17), (17, 31)}


def test_torus_ring_custom_and_express_links() -> None:
    torus = _target("isaac", topology="torus")
    assert noc_graph(torus).has_edge(0, 13) and len(default_route(torus, 0, 13)) == 1
    assert torus.digest() != load_target("isaac").digest()
    ring = _target("edge", topology="ring")
    n = ring.cores
    assert len(default_route(ring, 0, n - 1)) == 1
    express = _target("isaac", links=[{"src": 0, "dst": 13, "bandwidth_bytes_per_ns": 64.0}])
    g = noc_graph(express)
    assert g.edges[0, 13]["bandwidth"] == 64.0 and g.edges[13, 0]["bandwidth"] == 64.0
    assert g.edges[0, 1]["bandwidth"] == express.chip.noc_link_bandwidth_bytes_per_ns
    cores = _target("edge").cores
    clusters = _target("edge", topology="custom", routers=2, core_routers=[k % 2 for k in range(cores)],
                       links=[{"src": 0, "dst": 1}], multicast=True)
    assert clusters.multicast and router_of(clusters, 3) == 1
    assert default_route(clusters, 0, 2) == () and default_route(clusters, 0, 1) == ((0, 1),)
    assert route_problem(clusters, ((0, 1),), 0, (1, 3)) == ""
    assert "does not reach" in route_problem(clusters, (), 0, (1,))


@pytest.mark.parametrize("noc,message", [
    ({"topology": "hypercube"}, "noc.topology"),
    ({"multicast": 1}, "noc.multicast"),
    ({"routers": 3}, "only a custom topology"),
    ({"links": [{"src": 0, "dst": 0}]}, "two different routers"),
    ({"links": [{"src": 0, "dst": 99999}]}, "noc.links[0].dst"),
    ({"links": [{"src": 0, "dst": 1, "bandwidth_bytes_per_ns": 0}]}, "bandwidth_bytes_per_ns"),
    ({"links": [{"src": 0, "dst": 1, "speed": 3}]}, "unknown field"),
    ({"links": [{"src": 0, "dst": 1}, {"src": 1, "dst": 0}]}, "given twice"),
    ({"topology": "custom"}, "needs its links"),
    ({"topology": "custom", "links": [{"src": 0, "dst": 1, "both_ways": False}]}, "not strongly connected"),
    ({"colour": "red"}, "noc.colour"),
])
def test_bad_topology_data_is_a_target_error(noc: dict[str, Any], message: str) -> None:
    with pytest.raises(TargetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _target("edge", **noc)


def _two_transfers_on_one_link(p: Program) -> tuple[int, int]:
    xs = [i for i in p.instructions if i.kind == "transfer" and i.route and i.end_ns > i.start_ns]
    for a in xs:
        for b in xs:
            if a.id < b.id and set(a.route) & set(b.route) and a.resource != b.resource:
                return a.id, b.id
    raise AssertionError("no two transfers share a link")


def test_program_sharing_a_link_at_once_is_caught_by_validate_and_run(tmp_path: Path) -> None:
    m = models.small_cnn(seed=1)
    t = load_target("isaac")
    res = compile_model(m, t, CompileOptions(mode="latency"))
    inputs = random_inputs(res.frontend.graph, 0)
    assert not execute(res.program, res.frontend.graph, t, inputs).violations
    a, b = _two_transfers_on_one_link(res.program)
    ins = list(res.program.instructions)
    ia = ins[a]
    ib = ins[b]
    ins[b] = replace(ib, start_ns=ia.start_ns, end_ns=ia.start_ns + (ib.end_ns - ib.start_ns))
    bad = replace(res.program, instructions=tuple(ins))
    found = [v for v in validate(bad, res.frontend.graph, t) if v.kind == "link"]
    assert found and "on link link" in found[0].message
    assert [v for v in execute(bad, res.frontend.graph, t, inputs).violations if v.kind == "link"]
    path = tmp_path / "bad.json"
    save(bad, path)
    model = tmp_path / "m.onnx"
    model.write_bytes(m.SerializeToString())
    assert main(["validate", str(path), str(model)]) != 0
    assert main(["run", str(path), str(model)]) != 0


def test_a_route_off_the_network_is_caught() -> None:
    m = models.small_cnn(seed=1)
    t = load_target("isaac")
    res = compile_model(m, t, CompileOptions(mode="latency"))
    ins = list(res.program.instructions)
    k = next(i.id for i in ins if i.kind == "transfer" and len(i.route) >= 1)
    ins[k] = replace(ins[k], route=((0, 100),))
    kinds = {v.kind for v in validate(replace(res.program, instructions=tuple(ins)), res.frontend.graph, t)}
    assert "route" in kinds


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_multicast_torus_programs_run_and_match(mode: str) -> None:
    base = load_target("pimcomp")
    t = replace(base, noc=NocSpec(topology="torus", multicast=True))
    m = models.small_cnn(seed=2)
    res = compile_model(m, t, CompileOptions(mode=mode))
    p = res.program
    assert any(len(i.dst_cores) > 1 for i in p.instructions if i.kind == "transfer")
    inputs = random_inputs(res.frontend.graph, 0)
    out = execute(p, res.frontend.graph, t, inputs)
    assert not out.violations, out.violations[:3]
    ok, errs = compare(out.outputs, reference_outputs(m, inputs, list(res.frontend.graph.outputs)))
    assert ok, errs
    assert p.metric("noc_max_link_load_ns") > 0
    assert p.metric("noc_max_link_load_ns") == pytest.approx(res.stats["routing"].objective)


def test_unicast_program_names_its_routes_and_link_load() -> None:
    t = load_target("isaac")
    res = compile_model(models.small_cnn(seed=1), t, CompileOptions(mode="throughput"))
    p = res.program
    xs = [i for i in p.instructions if i.kind == "transfer"]
    assert xs and all(not route_problem(t, i.route, i.src_core, (i.dst_core,)) for i in xs if i.route)
    assert p.metric("noc_max_link_load_ns") >= p.metric("noc_link_load_bound_ns") > 0
    assert p.initiation_interval_ns >= p.metric("noc_max_link_load_ns") - 1
    assert copy.deepcopy(p) == p


def test_links_heat_map_and_trace_link_slices(tmp_path: Path) -> None:
    from matplotlib.collections import LineCollection

    from cimopt.ir import units
    from cimopt.report.program_plots import links_figure
    from cimopt.report.trace import build_trace, LINK_CATEGORY

    t = load_target("isaac")
    p = compile_model(models.small_cnn(seed=1), t, CompileOptions(mode="latency")).program
    fig = links_figure(p, t)
    coll = [c for c in fig.axes[0].collections if isinstance(c, LineCollection)][0]
    scale, _ = units.time_scale(p.metric("noc_max_link_load_ns"))
    assert max(coll.get_array()) * scale == pytest.approx(p.metric("noc_max_link_load_ns"))
    path = tmp_path / "p.json"
    save(p, path)
    assert main(["plot", "links", str(path), "-o", str(tmp_path / "links.png")]) == 0
    assert (tmp_path / "links.png").stat().st_size > 0
    ev = [e for e in build_trace(p)["traceEvents"] if e.get("cat") == LINK_CATEGORY]
    assert len(ev) == sum(len(i.route) for i in expand(p).instructions)   # a slice per repetition
    per_link: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for e in ev:
        per_link.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in per_link.values():   # a link carries one transfer at a time
        spans.sort()
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:]))
