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
