"""The program format: schema, round trip, clear errors."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import models
from cimopt.compiler import compile_model
from cimopt.ir import program as prog
from cimopt.ir.errors import ProgramError
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target


@pytest.fixture(scope="module")
def program() -> prog.Program:
    return compile_model(models.small_cnn(), load_target("pimcomp"), CompileOptions()).program


def test_round_trip(program: prog.Program, tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    prog.save(program, p)
    assert prog.load(p) == program
    prog.validate_schema(json.loads(p.read_text()))
    prog.validate_schema(prog.to_json(program))


def test_schema_rejects_bad_documents(program: prog.Program, tmp_path: Path) -> None:
    d = prog.to_json(program)
    d["mode"] = "fastest"
    with pytest.raises(ProgramError, match="mode"):
        prog.from_json(d)
    d = prog.to_json(program)
    next(iter(d["streams"].values()))[0]["kind"] = "teleport"
    with pytest.raises(ProgramError, match="streams"):
        prog.from_json(d)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ProgramError, match="no such"):
        prog.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ProgramError, match="not a JSON"):
        prog.load(bad)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema_version": "0.1"}))
    with pytest.raises(ProgramError, match="recompile"):
        prog.load(old)


def test_program_records_solvers_and_stats(program: prog.Program) -> None:
    solvers = dict(program.solvers)
    assert "seed=0" in solvers["limits"] and "workers=8" in solvers["limits"]
    stats = dict(program.stats)
    assert {"tiling", "replication", "placement", "scheduling", "memory"} <= set(stats)
    assert replace(program, makespan_ns=program.makespan_ns) == program


def test_fast_schema_check_agrees_with_jsonschema(program) -> None:
    """The compiled validator (fastjsonschema) accepts and rejects what jsonschema does."""
    import copy

    import jsonschema

    from cimopt.ir.program import schema, to_json, validate_schema

    good = to_json(program)
    validate_schema(good)
    jsonschema.validate(good, schema())
    first = next(iter(good["streams"]))
    bad = []
    for mutate in (lambda d: d.__setitem__("bogus", 1), lambda d: d["streams"][first][0].__setitem__("start_ns", "x"),
                   lambda d: d.pop("makespan_ns"), lambda d: d["streams"][first][0].__setitem__("deps", [1.5])):
        d = copy.deepcopy(good)
        mutate(d)
        bad.append(d)
    for d in bad:
        with pytest.raises(ProgramError):
            validate_schema(d)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(d, schema())
