"""End to end on structures real exporters produce: a depthwise conv larger than edge, an If whose
branches read outer-scope tensors, a PaddlePaddle-style -1 batch dim; and programs corrupted
against the target are caught by run and validate."""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

import quirk_models as q
from cimopt.cli.main import main
from cimopt.ir.load import load
from cimopt.ir.tiles import tile_count
from cimopt.ir.workload import matrix_of
from cimopt.targets.load import load_target


def _compile_run(tmp_path: Path, model: onnx.ModelProto, target: str, *extra: str) -> tuple[str, str, str]:
    path, prog = str(tmp_path / "m.onnx"), str(tmp_path / "p.json")
    onnx.save(model, path)
    assert main(["compile", path, "--target", target, "-o", prog, "--quiet", *extra]) == 0
    return path, prog, str(tmp_path / "out.npz")


def test_depthwise_larger_than_edge_compiles_and_matches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = q.depthwise_net()
    edge = load_target("edge")
    g = load(m)
    dw = g.op("depthwise")
    c = edge.core
    assert tile_count(matrix_of(g, dw), c.crossbar_rows, c.crossbar_cols, edge.weight_slices) > \
        edge.total_crossbars
    path, prog, out = _compile_run(tmp_path, m, "edge")
    capsys.readouterr()
    assert main(["run", prog, path, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["match"] and res["verdict"] == "match" and not res["violations"]


def test_if_with_outer_scope_reads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, prog, _ = _compile_run(tmp_path, q.if_outer_scope(), "isaac")
    g = load(path)
    assert {"h", "one", "two"} <= set(g.op("branch").inputs)
    capsys.readouterr()
    assert main(["run", prog, path]) == 0
    assert "match: yes" in capsys.readouterr().out


def test_minus_one_batch_dim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, prog, out = _compile_run(tmp_path, q.conv_model(in_dims=[-1, 3, 8, 8]), "isaac",
                                   "--input-shape", "x=2x3x8x8")
    assert main(["run", prog, path, "--outputs", out]) == 0
    import numpy as np
    assert np.load(out)["y"].shape == (2, 8, 8, 8)


def _corrupt(prog: str, dst: str, how: str) -> None:
    p = json.load(open(prog))
    ins = [i for s in p["streams"].values() for i in s]
    mvm = next(i for i in ins if i["kind"] == "mvm")
    if how == "makespan":
        p["makespan_ns"] //= 2
    elif how == "tile-core":
        p["programming"][0]["core"] = 9999
    elif how == "tile-crossbar":
        p["programming"][0]["crossbar"] = 5000
    elif how == "mvm-core":
        for tw in p["programming"]:
            if [tw["core"], tw["crossbar"]] == mvm["crossbars"][0]:
                tw["core"] = 9999
        mvm["crossbars"][0] = [9999, mvm["crossbars"][0][1]]
    elif how == "ii":
        p["mode"], p["initiation_interval_ns"] = "throughput", 1
    elif how == "space":
        p["memory"]["spaces"]["dram"] = 1 << 40
    json.dump(p, open(dst, "w"))


@pytest.mark.parametrize("how", ["makespan", "tile-core", "tile-crossbar", "mvm-core", "ii", "space"])
def test_corrupted_program_is_caught(tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    path, prog, _ = _compile_run(tmp_path, q.depthwise_net(channels=64), "edge")
    bad = str(tmp_path / "bad.json")
    _corrupt(prog, bad, how)
    assert main(["run", bad, path]) == 1
    assert main(["validate", bad, path]) == 1
    assert main(["validate", bad]) == 1
    assert "violation" in capsys.readouterr().out


def test_missing_or_folder_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, prog, _ = _compile_run(tmp_path, q.conv_model(), "isaac")
    assert main(["run", prog, str(tmp_path / "nothing.onnx")]) == 2
    assert main(["validate", prog, str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_bool_input_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, prog, _ = _compile_run(tmp_path, q.typed_input(onnx.TensorProto.BOOL), "isaac")
    capsys.readouterr()
    assert main(["run", prog, path]) == 0
    assert "match: yes" in capsys.readouterr().out
