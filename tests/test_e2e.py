"""End to end: compile real-structured graphs, run the programs on the reference machine, compare
with onnxruntime; corrupted programs are caught by `run` / `validate`."""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import onnx
import pytest

import models
from cimopt.cli.main import main
from cimopt.compiler import compile_model, CompileResult
from cimopt.inputs import compare, random_inputs, reference_outputs
from cimopt.ir.program import Program
from cimopt.ir.random_weights import randomise_light_graph
from cimopt.options import CompileOptions
from cimopt.solver.registry import stage as cmp_stage
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute, validate


def _run(res: CompileResult, model: onnx.ModelProto, program: Program | None = None):  # noqa: ANN202
    p = program or res.program
    t = load_target(res.program.target)
    inputs = random_inputs(res.frontend.graph, 0)
    out = execute(p, res.frontend.graph, t, inputs)
    ref = reference_outputs(model, inputs, list(res.frontend.graph.outputs))
    ok, errs = compare(out.outputs, ref)
    return out, ok, errs


@pytest.mark.parametrize("preset,mode", [("isaac", "latency"), ("pimcomp", "throughput"), ("edge", "latency"),
                                         ("sram-dimc", "throughput"), ("puma", "latency")])
def test_small_cnn_matches_onnxruntime(preset: str, mode: str) -> None:
    m = models.small_cnn(seed=1)
    res = compile_model(m, load_target(preset), CompileOptions(mode=mode))
    out, ok, errs = _run(res, m)
    assert not out.violations, out.violations[:3]
    assert ok, errs
    assert out.makespan_ns == res.program.makespan_ns


@pytest.mark.parametrize("preset", ["isaac", "puma"])
def test_encoder_matches_onnxruntime(preset: str) -> None:
    m = models.tiny_encoder(seed=2)
    res = compile_model(m, load_target(preset), CompileOptions(), {"ids": (2, 6)})
    out, ok, errs = _run(res, m)
    assert not out.violations, out.violations[:3]
    assert ok, errs


def test_segmented_program_matches() -> None:
    edge = load_target("edge")
    tiny = replace(edge, chip=replace(edge.chip, mesh_rows=1, mesh_cols=1), core=replace(edge.core, crossbars=3))
    m = models.small_cnn(seed=3)
    res = compile_model(m, tiny, CompileOptions())
    assert res.program.segments > 1
    out = execute(res.program, res.frontend.graph, tiny, random_inputs(res.frontend.graph, 0))
    ref = reference_outputs(m, random_inputs(res.frontend.graph, 0), list(res.frontend.graph.outputs))
    ok, errs = compare(out.outputs, ref)
    assert not out.violations and ok, (out.violations[:3], errs)


@pytest.fixture(scope="module")
def compiled() -> tuple[CompileResult, onnx.ModelProto]:
    m = models.small_cnn(seed=4)
    return compile_model(m, load_target("pimcomp"), CompileOptions(chunks=2)), m


def _kinds(p: Program, res: CompileResult) -> set[str]:
    return {v.kind for v in validate(p, res.frontend.graph, load_target("pimcomp"))}


def test_clean_program_validates(compiled: tuple[CompileResult, onnx.ModelProto]) -> None:
    res, _ = compiled
    assert _kinds(res.program, res) == set()


def test_swapped_tiles_change_the_outputs(compiled: tuple[CompileResult, onnx.ModelProto]) -> None:
    """Crossbars of two different ops trade contents: the MVMs read the wrong weights."""
    res, m = compiled
    p = res.program
    prog = list(p.programming)
    i = 0
    j = next(j for j, b in enumerate(prog) if b.op != prog[i].op)
    a, b = prog[i], prog[j]
    prog[i] = replace(a, core=b.core, crossbar=b.crossbar)
    prog[j] = replace(b, core=a.core, crossbar=a.crossbar)
    out, ok, _ = _run(res, m, replace(p, programming=tuple(prog)))
    assert not ok
    assert "crossbar" in {v.kind for v in out.violations}


def test_overlapping_live_buffers_reported(compiled: tuple[CompileResult, onnx.ModelProto]) -> None:
    res, m = compiled
    p = res.program
    bufs = list(p.buffers)
    pairs = [(i, j) for i, a in enumerate(bufs) for j, b in enumerate(bufs)
             if i < j and a.space == b.space and a.start_ns < b.end_ns and b.start_ns < a.end_ns]
    i, j = pairs[0]
    bufs[j] = replace(bufs[j], offset=bufs[i].offset)
    moved = bufs[j].tensor
    instrs = tuple(replace(ins, reads=tuple(replace(a, offset=bufs[i].offset) if a.tensor == moved else a for a in ins.reads),
                           writes=tuple(replace(a, offset=bufs[i].offset) if a.tensor == moved else a for a in ins.writes))
                   for ins in p.instructions)
    bad = replace(p, buffers=tuple(bufs), instructions=instrs)
    assert "memory-overlap" in _kinds(bad, res)


def test_dropped_dependency_reported(compiled: tuple[CompileResult, onnx.ModelProto]) -> None:
    res, _ = compiled
    p = res.program
    victim = next(i for i in p.instructions if i.kind == "mvm" and i.deps)
    instrs = tuple(replace(i, deps=()) if i.id == victim.id else i for i in p.instructions)
    assert "missing-dependency" in _kinds(replace(p, instructions=instrs), res)


def test_crossbar_used_twice_reported(compiled: tuple[CompileResult, onnx.ModelProto]) -> None:
    res, _ = compiled
    p = res.program
    mvms = [i for i in p.instructions if i.kind == "mvm"]
    a = mvms[0]
    b = next(i for i in mvms if i.op != a.op)
    moved = replace(b, start_ns=a.start_ns, end_ns=a.start_ns + (b.end_ns - b.start_ns), crossbars=a.crossbars)
    instrs = tuple(moved if i.id == b.id else i for i in p.instructions)
    kinds = _kinds(replace(p, instructions=instrs), res)
    assert "crossbar" in kinds


def test_cli_compile_run_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "cnn.onnx"
    onnx.save(models.small_cnn(seed=5), model)
    prog = tmp_path / "cnn.json"
    assert main(["compile", str(model), "--target", "pimcomp", "-o", str(prog), "--quiet"]) == 0
    assert "makespan" in capsys.readouterr().out
    assert main(["run", str(prog), str(model), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["match"] is True and d["violations"] == [] and d["makespan_ns"] > 0 and d["energy_pj"] > 0
    assert main(["validate", str(prog), str(model)]) == 0
    assert main(["run", str(prog), str(model), "--input-shape", "x=1x3x16x16"]) == 0
    assert main(["run", str(prog), str(model), "--input-shape", "x=2x3x16x16"]) == 2
    # a dropped dependency in the file: validate exits 1 and names it
    doc = json.loads(prog.read_text())
    _first_with_deps(doc, "mvm")["deps"] = []
    prog.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["validate", str(prog), str(model)]) == 1
    assert "missing-dependency" in capsys.readouterr().out


def _first_with_deps(doc: dict, kind: str = "") -> dict:
    """The first instruction (of ``kind``, if given) in a program document that has dependencies."""
    return next(ins for stream in doc["streams"].values() for ins in stream
                if ins.get("deps") and (not kind or ins["kind"] == kind))


def test_validate_without_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "cnn.onnx"
    onnx.save(models.small_cnn(seed=6), model)
    prog = tmp_path / "cnn.json"
    assert main(["compile", str(model), "--target", "isaac", "-o", str(prog), "--quiet"]) == 0
    assert main(["validate", str(prog)]) == 0
    doc = json.loads(prog.read_text())
    # one instruction moved to start before its dependency ends
    ins = _first_with_deps(doc)
    ins["start_ns"], ins["end_ns"] = 0, ins["end_ns"] - ins["start_ns"]
    prog.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["validate", str(prog)]) == 1
    assert "dependency" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["light_resnet50", "light_densenet121", "light_shufflenet", "light_inception_v2"])
def test_light_graphs_random_weights(name: str, light_dir: str, tmp_path: Path) -> None:
    """The onnx package's real graphs with random weights (as experiments/checks/randomize.py makes them)."""
    m = randomise_light_graph(onnx.load(os.path.join(light_dir, name + ".onnx")))
    res = compile_model(m, load_target("isaac"), CompileOptions())
    out, ok, errs = _run(res, m)
    assert not out.violations, out.violations[:3]
    assert ok, errs


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_exact_path_runs_and_matches(mode: str) -> None:
    """Programs from the exact solvers run with no violation, match, and no stage is worse than
    the heuristic's on the same instance."""
    m = models.small_cnn(seed=7)
    t = load_target("pimcomp")
    res = compile_model(m, t, CompileOptions(mode=mode, solver="exact", time_limit_s=2, workers=8))
    out, ok, errs = _run(res, m)
    assert not out.violations, out.violations[:3]
    assert ok, errs
    cmp = compile_model(m, t, CompileOptions(mode=mode, compare="exact", time_limit_s=2))
    assert set(cmp.compare) == set(cmp.stats)
    for stage, others in cmp.compare.items():
        x = others[cmp_stage(stage).exact]
        h = cmp.stats[stage]
        assert x.bound <= x.objective * (1 + 1e-9) + 1e-6, stage
        assert x.objective <= h.objective * (1 + 1e-9) + 1e-6, stage
