"""Compact programs (schema 2.0): runs of repetitions as one instruction with a count and strides.

Round trips compact <-> flat on real compiles and on random instruction streams (hypothesis), the
machine's identical results on both forms, the JSON form, schema 1.0 programs, and every kind of
corrupted compact instruction reported (ProgramError on load or expansion, a violation from the
machine's checks)."""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import models
from cimopt.compiler import compile_model, CompileResult
from cimopt.inputs import random_inputs
from cimopt.ir import program as prog
from cimopt.ir.errors import ProgramError
from cimopt.ir.program import Access, Instruction, Program, TILE_INTS
from cimopt.ir.program_expand import compact, compact_errors, expand, expand_instructions, is_flat, repetition, \
    repetitions
from cimopt.ir.row_runs import fold, unfold
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.machine.checks.program_checks import validate_without_model
from cimopt.targets.machine.executor import execute, validate


@pytest.fixture(scope="module")
def compiled() -> CompileResult:
    """A throughput compile whose ops have many row chunks per copy: runs of MVMs to fold."""
    return compile_model(models.small_cnn(hw=32), load_target("isaac"), CompileOptions(mode="throughput", chunks=16))


def _compact_mvms(p: Program) -> list[Instruction]:
    return [i for i in p.instructions if i.kind == "mvm" and i.count > 1]


def test_compile_emits_compact_mvms_whose_span_is_busy_time(compiled: CompileResult) -> None:
    p = compiled.program
    runs = _compact_mvms(p)
    assert runs and max(i.count for i in runs) >= 8
    assert len(p.instructions) < repetitions(p)
    flat = expand(p)
    # limit_check counts (end - start) x crossbars per MVM instruction: the same on both forms
    busy = sum((i.end_ns - i.start_ns) * len(i.crossbars) for i in p.instructions if i.kind == "mvm")
    assert busy == sum((i.end_ns - i.start_ns) * len(i.crossbars) for i in flat.instructions if i.kind == "mvm")
    for i in runs:   # repetitions one after the other on their crossbars
        reps = [repetition(i, k) for k in range(i.count)]
        assert all(b.start_ns >= a.end_ns for a, b in zip(reps, reps[1:]))
        assert any(a.stride > 0 for a in (*i.reads, *i.writes))


def test_round_trip_on_a_real_compile(compiled: CompileResult, tmp_path: Path) -> None:
    p = compiled.program
    flat = expand(p)
    assert is_flat(flat) and not is_flat(p)
    assert [i.id for i in flat.instructions] == sorted(i.id for i in flat.instructions)
    assert compact(flat.instructions) == p.instructions
    assert expand_instructions(compact(flat.instructions)) == flat.instructions
    path = tmp_path / "p.json"
    prog.save(p, path)
    assert prog.load(path) == p
    d = json.loads(path.read_text())
    assert d["schema_version"] == prog.SCHEMA_VERSION == "2.0"
    # the flat form is a valid program too, only larger
    assert len(json.dumps(prog.to_json(flat))) > len(json.dumps(d))


def test_machine_runs_compact_and_flat_alike(compiled: CompileResult) -> None:
    p, g, t = compiled.program, compiled.frontend.graph, load_target("isaac")
    inputs = random_inputs(g, 0)
    a, b = execute(p, g, t, inputs), execute(expand(p), g, t, inputs)
    assert not a.violations and not b.violations
    assert a.outputs.keys() == b.outputs.keys()
    for k in a.outputs:
        assert np.array_equal(a.outputs[k], b.outputs[k])
    assert (a.makespan_ns, a.timeline, a.energy, a.instructions) == \
        (b.makespan_ns, b.timeline, b.energy, b.instructions) and a.instructions == repetitions(p)
    assert validate_without_model(p, t) == [] and validate(p, g, t) == []


# ---- corrupted compact programs ---------------------------------------------------------------
def _corrupt(p: Program, change: dict[str, object]) -> Program:
    """``p`` with its first compact MVM changed by ``change``."""
    target = _compact_mvms(p)[0]
    return replace(p, instructions=tuple(replace(i, **change) if i.id == target.id else i
                                         for i in p.instructions))


def _first(p: Program) -> Instruction:
    return _compact_mvms(p)[0]


@pytest.mark.parametrize("what", ["count0", "negative_stride", "negative_dep_stride", "odd_span", "id_stride0",
                                  "dep_strides_length"])
def test_malformed_compact_instruction_is_a_clear_error(compiled: CompileResult, what: str) -> None:
    p, g, t = compiled.program, compiled.frontend.graph, load_target("isaac")
    i = _first(p)
    change: dict[str, object] = {
        "count0": {"count": 0},
        "negative_stride": {"reads": tuple(replace(a, stride=-1) for a in i.reads)},
        "negative_dep_stride": {"deps": (*i.deps, 0), "dep_strides": (*(i.dep_strides or (0,) * len(i.deps)), -1)},
        "odd_span": {"end_ns": i.end_ns + 1},
        "id_stride0": {"id_stride": 0},
        "dep_strides_length": {"dep_strides": (1,) * (len(i.deps) + 1)},
    }[what]
    bad = _corrupt(p, change)
    assert compact_errors(next(x for x in bad.instructions if x.id == i.id))
    with pytest.raises(ProgramError, match=f"instruction {i.id}"):
        expand(bad)
    viol = validate_without_model(bad, t)
    assert any(v.kind == "schema" and f"compact instruction {i.id}" in v.message for v in viol)
    assert any(f"compact instruction {i.id}" in v.message for v in validate(bad, g, t))
    # a loaded file: the schema or the expansion names the instruction
    d = prog.to_json(bad)
    try:
        loaded = prog.from_json(d)
    except ProgramError as e:
        assert "streams" in str(e)
    else:
        with pytest.raises(ProgramError, match=f"instruction {i.id}"):
            expand(loaded)


def test_overlapping_repetitions_are_a_crossbar_overlap(compiled: CompileResult) -> None:
    p, g, t = compiled.program, compiled.frontend.graph, load_target("isaac")
    i = _first(p)
    d = (i.end_ns - i.start_ns) // i.count
    bad = _corrupt(p, {"time_stride_ns": d // 2})   # each repetition starts before the last one ends
    assert not compact_errors(_first(bad))
    viol = validate(bad, g, t)
    assert any(v.kind in ("resource", "crossbar") and "overlap" in v.message for v in viol)


def test_rows_past_the_tensor_after_expansion(compiled: CompileResult) -> None:
    p, g, t = compiled.program, compiled.frontend.graph, load_target("isaac")
    i = _first(p)
    bad = _corrupt(p, {"writes": tuple(replace(a, stride=a.stride * 1000) for a in i.writes)})
    viol = validate(bad, g, t)
    assert any(v.kind == "schema" and "accesses rows" in v.message for v in viol)


def test_dependency_on_a_repetition_is_checked(compiled: CompileResult) -> None:
    """A dependency names one repetition by its id; one that does not exist is reported."""
    p, t = compiled.program, load_target("isaac")
    i = _first(p)
    last = i.id + (i.count - 1) * i.id_stride
    assert last in {x.id for x in expand(p).instructions}
    bad = _corrupt(p, {"id_stride": 10**6})
    viol = validate_without_model(bad, t)
    assert any(v.kind == "dependency" for v in viol)


# ---- schema versions ---------------------------------------------------------------------------
def _as_1_0(p: Program) -> dict[str, object]:
    """``p`` as schema 1.0 wrote it: every tile of the programming map a record of its own."""
    d = prog.to_json(p)
    d["schema_version"] = "1.0"
    d["programming"] = [asdict(t) for t in p.programming]
    return d


def test_schema_1_0_program_loads_as_flat(compiled: CompileResult, tmp_path: Path) -> None:
    flat = expand(compiled.program)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_as_1_0(flat)))
    assert prog.load(path) == flat
    path.write_text(json.dumps(_as_1_0(compiled.program)))
    with pytest.raises(ProgramError, match="schema 1.0 program has no compact instructions"):
        prog.load(path)
    d = _as_1_0(flat)
    d["programming"] = prog.to_json(flat)["programming"]
    path.write_text(json.dumps(d))
    with pytest.raises(ProgramError, match="schema 1.0 program lists every tile"):
        prog.load(path)


def test_programming_map_is_stored_in_runs(compiled: CompileResult) -> None:
    p = compiled.program
    records = prog.to_json(p)["programming"]
    assert len(records) < len(p.programming) and any(r.get("count", 1) > 1 for r in records)
    assert unfold(records, TILE_INTS) == [asdict(t) for t in p.programming]
    run = next(k for k, r in enumerate(records) if r.get("count", 1) > 1)
    for bad, match in (({"count": 0}, "programming"), ({"strides": {"op": 1}}, "programming"),
                       ({"count": 1 << 30}, "programming")):
        d = prog.to_json(p)
        d["programming"][run].update(bad)
        with pytest.raises(ProgramError, match=match):
            prog.from_json(d)
    d = prog.to_json(p)
    d["programming"][run]["strides"] = {"crossbar": -1000}   # rows out of the target: the machine says so
    viol = validate_without_model(prog.from_json(d), load_target("isaac"))
    assert any("crossbar -" in v.message and "does not exist" in v.message for v in viol)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 2), st.integers(0, 1)), max_size=40))
@settings(max_examples=100, deadline=None)
def test_row_runs_round_trip(steps: list[tuple[int, int, int]]) -> None:
    rows, a, b = [], 0, 0
    for da, db, name in steps:
        a, b = a + da, b + db
        rows.append({"a": a, "b": b, "name": f"n{name}"})
    folded = fold(rows, ("a", "b"))
    assert len(folded) <= len(rows) and unfold(folded, ("a", "b")) == rows


# ---- random streams (hypothesis) ---------------------------------------------------------------
@st.composite
def streams(draw: st.DrawFn) -> tuple[Instruction, ...]:
    """Flat instructions made of a few runs (each run: constant strides) plus noise, ids unique."""
    out: list[Instruction] = []
    next_id = 0
    for r in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 6))
        dur = draw(st.integers(0, 5))
        gap = draw(st.integers(0, 3))
        row_stride = draw(st.integers(0, 3))
        id_stride = draw(st.integers(1, 3))
        dep_stride = draw(st.integers(0, 2))
        t0 = draw(st.integers(0, 50))
        for k in range(n):
            if draw(st.integers(0, 9)) == 0:   # noise: a changed row breaks the run
                row0 = draw(st.integers(0, 20))
            else:
                row0 = 2 + k * row_stride
            out.append(Instruction(
                id=next_id + k * id_stride + r * 1000, kind="mvm", unit="core0", resource=f"op{r % 2}#r0",
                start_ns=t0 + k * (dur + gap), end_ns=t0 + k * (dur + gap) + dur,
                deps=(5, 100 + k * dep_stride), op=f"op{r % 2}",
                reads=(Access("x", "global", 0, 2, row0, row0 + 2),),
                writes=(Access("y", "global", 64, 2, k * row_stride, k * row_stride + 1),), energy_pj=1.5))
        next_id += 1
    return tuple(sorted(out, key=lambda i: i.id))


@given(streams())
@settings(max_examples=150, deadline=None)
def test_compact_expand_round_trip_random(instrs: tuple[Instruction, ...]) -> None:
    c = compact(instrs)
    assert expand_instructions(c) == instrs
    assert len(c) <= len(instrs)
    assert all(not compact_errors(i) for i in c)
    # each compact instruction's span is its repetitions' busy time
    for i in c:
        assert i.end_ns - i.start_ns == sum(r.end_ns - r.start_ns for r in (repetition(i, k) for k in range(i.count)))
    assert compact(expand_instructions(c)) == c


def test_too_many_repetitions_is_refused_not_run(compiled: CompileResult) -> None:
    """A program standing for more instructions than a flat program may have: an error, no hang."""
    from cimopt.ir.program_expand import MAX_REPETITIONS
    from cimopt.ir.row_runs import MAX_COUNT

    p, t = compiled.program, load_target("isaac")
    i = _first(p)
    many = MAX_REPETITIONS // MAX_COUNT + 1
    bad = replace(p, instructions=p.instructions + tuple(
        replace(i, id=10**9 + k, count=MAX_COUNT, end_ns=i.start_ns + MAX_COUNT * 10) for k in range(many)))
    with pytest.raises(ProgramError, match="more than the"):
        expand(bad)
    viol = validate_without_model(bad, t)
    assert any(v.kind == "capacity" and "stands for" in v.message for v in viol)
    with pytest.raises(ProgramError, match="count"):
        prog.from_json(prog.to_json(_corrupt(p, {"count": MAX_COUNT + 1})))
