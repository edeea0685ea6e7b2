"""The cost model agrees with the instruction costs it is built from; measured costs override it."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

import models
from cimopt.cost.external import CostTableError, read_costs
from cimopt.cost.model import CostModel
from cimopt.frontend import prepare
from cimopt.ir.graph import OpClass
from cimopt.ir.tiles import tile_matrix
from cimopt.targets.load import load_target


@pytest.mark.parametrize("preset", ["isaac", "edge", "sram-dimc"])
def test_crossbar_latency_is_fill_plus_rounds(preset: str) -> None:
    t = load_target(preset)
    fe = prepare(models.small_cnn(), t)
    cm = CostModel(t)
    for op in fe.workload.ops:
        if op.op_class is not OpClass.CROSSBAR:
            continue
        one = cm.op(op, 1)
        assert one.crossbars > 0 and one.energy_pj > 0
        for r in (1, 2, 3, 7):
            c = cm.op(op, r)
            want = c.fixed_ns + math.ceil(op.matrix.vectors / r) * c.interval_ns
            assert c.latency_ns == pytest.approx(want, rel=1e-9)
            assert c.latency_ns <= one.latency_ns + 1e-9


def test_cost_model_tiles_are_the_tilings_tiles() -> None:
    t = load_target("pimcomp")
    fe = prepare(models.small_cnn(), t)
    cm = CostModel(t)
    c = t.core
    for op in fe.workload.ops:
        if op.op_class is OpClass.CROSSBAR:
            assert cm.tiles(op) == tile_matrix(op.name, op.matrix, c.crossbar_rows, c.crossbar_cols, t.weight_slices)
            assert cm.crossbars(op) == len(cm.tiles(op))


def test_energy_breakdown_sums() -> None:
    t = load_target("pimcomp")
    fe = prepare(models.small_cnn(), t)
    cm = CostModel(t)
    op = fe.workload.op("conv1")
    c = cm.op(op)
    parts = c.energy.as_dict()
    assert parts["adc"] > 0 and parts["dac"] > 0 and parts["array"] > 0 and parts["static"] > 0
    assert sum(parts.values()) == pytest.approx(c.energy_pj)
    # independent of the composition in timing: per input vector every used column of every
    # crossbar converts once per input pass per row group, each conversion costing adc_energy_pj
    core = t.core
    per_vector = sum(t.input_passes * math.ceil(x.rows_used / core.dacs_per_crossbar) * x.cols_used
                     for x in cm.tiles(op))
    assert parts["adc"] == pytest.approx(op.matrix.vectors * per_vector * core.adc_energy_pj)
    assert parts["dac"] == pytest.approx(op.matrix.vectors * t.input_passes * core.dac_energy_pj
                                         * sum(x.rows_used for x in cm.tiles(op)))


def test_measured_costs_override(tmp_path: Path) -> None:
    t = load_target("isaac")
    fe = prepare(models.small_cnn(), t)
    csv = tmp_path / "m.csv"
    csv.write_text("op,latency_ns,energy_pj\nconv1,1234.5,999\n")
    measured = read_costs(csv, {o.name for o in fe.workload.ops})
    cm = CostModel(t, measured)
    c = cm.op(fe.workload.op("conv1"))
    assert c.latency_ns == 1234.5 and c.energy_pj == pytest.approx(999) and c.source == "measured"
    assert cm.op(fe.workload.op("conv2")).source == "analytic"


@pytest.mark.parametrize("text,match", [
    ("name,lat\nx,1\n", "header"),
    ("op,latency_ns,energy_pj\nconv1,abc,1\n", "numbers"),
    ("op,latency_ns,energy_pj\nconv1,-1,1\n", ">= 0"),
    ("op,latency_ns,energy_pj\nnope,1,1\n", "no op named"),
])
def test_bad_cost_tables(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "c.csv"
    p.write_text(text)
    with pytest.raises(CostTableError, match=match):
        read_costs(p, {"conv1"})
