"""The pass manager: every pass module registers one pass object, `Fixpoint` repeats a group
until nothing changes, a bug in a pass is a PassError naming it, `cimopt passes` lists them."""
from __future__ import annotations

import dataclasses
import os
import pkgutil
from dataclasses import dataclass
from typing import ClassVar

import pytest
from onnx import helper

from cimopt.cli.main import main
from cimopt.ir import passes as passes_pkg
from cimopt.ir.errors import ShapeError
from cimopt.ir.graph import Graph
from cimopt.ir.load import load
from cimopt.ir.passes.catalog import NOT_PASSES, passes
from cimopt.ir.passes.dead_node_elimination import DeadNodeElimination
from cimopt.ir.passes.manager import describe, Fixpoint, PassError, PassManager, PassResult, register, REGISTRY

from pass_helpers import make_model


def _graph() -> Graph:
    return load(make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (2, 3)}, ["y"]))


@dataclass(frozen=True)
class _Counting:
    """Reports a change on its first ``changes`` calls (counted in ``log``)."""

    name: ClassVar[str] = "counting"
    log: list[str]
    changes: int

    def __call__(self, graph: Graph) -> PassResult:
        self.log.append(self.name)
        return PassResult(graph, len(self.log) <= self.changes)


@dataclass(frozen=True)
class _Buggy:
    name: ClassVar[str] = "buggy"

    def __call__(self, graph: Graph) -> PassResult:
        raise KeyError("no such tensor")


@dataclass(frozen=True)
class _Refuses:
    name: ClassVar[str] = "refuses"

    def __call__(self, graph: Graph) -> PassResult:
        raise ShapeError("input x has no static shape")


def test_every_pass_module_registers_one_frozen_pass() -> None:
    modules = {m.name for m in pkgutil.iter_modules([os.path.dirname(passes_pkg.__file__)])} - NOT_PASSES
    registered = passes()
    by_module = {cls.__module__.rsplit(".", 1)[1]: name for name, cls in registered.items()}
    assert set(by_module) == modules, set(by_module) ^ modules
    assert len(by_module) == len(registered)          # one pass per module
    for name, cls in registered.items():
        assert cls.name == name and dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, name  # options cannot change under the manager


def test_register_refuses_a_second_pass_of_the_same_name() -> None:
    with pytest.raises(TypeError, match="registered twice"):
        @register
        @dataclass(frozen=True)
        class Other:
            name: ClassVar[str] = "legalize"
    assert REGISTRY["legalize"].__module__.endswith(".legalize")


def test_fixpoint_repeats_until_no_change() -> None:
    log: list[str] = []
    r = Fixpoint((_Counting(log, changes=2),))(_graph())
    assert r.modified and len(log) == 3                # two changing rounds, one quiet round
    log2: list[str] = []
    r = Fixpoint((_Counting(log2, changes=100),), max_rounds=4)(_graph())
    assert r.modified and len(log2) == 4               # stops at max_rounds


def test_manager_runs_each_step_once_in_order() -> None:
    log: list[str] = []
    g = _graph()
    r = PassManager([_Counting(log, changes=0), DeadNodeElimination(), _Counting(log, changes=0)])(g)
    assert not r.modified and r.graph is g and log == ["counting", "counting"]


def test_a_bug_in_a_pass_is_a_pass_error_naming_it() -> None:
    log: list[str] = []
    with pytest.raises(PassError, match=r"pass buggy failed \(KeyError.*passes already run: counting"):
        PassManager([Fixpoint((_Counting(log, changes=0),)), _Buggy()])(_graph())
    with pytest.raises(PassError, match=r"pass buggy failed .*passes already run: none"):
        PassManager([Fixpoint((_Buggy(),))])(_graph())   # inside a group too
    with pytest.raises(ShapeError, match="no static shape"):   # a typed error passes through as it is
        PassManager([_Refuses()])(_graph())


def test_describe_names_the_options() -> None:
    from cimopt.ir.passes.epilogue_fusion import EpilogueFusion
    from cimopt.ir.passes.legalize import Legalize

    assert describe(Legalize(vector_matmul=True, has_host=False)) == \
        "legalize(vector_matmul=True, has_host=False, runtime_writes=False)"
    assert describe(Fixpoint((EpilogueFusion(frozenset({"Relu", "MaxPool"})),), max_rounds=3)) == \
        "fixpoint(epilogue_fusion(allowed={MaxPool, Relu}); max_rounds=3)"


def test_cli_lists_passes_and_the_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["passes"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in passes())
    assert main(["passes", "--target", "isaac"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(". ", 1)[1].split("(")[0] for ln in lines] == \
        ["fixpoint", "infer_shapes", "split_oversized", "legalize", "epilogue_fusion", "assign_units"]
