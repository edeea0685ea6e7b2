"""Targets: preset loading, two-step validation with file/field-naming errors, per-instruction costs."""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cimopt.targets.errors import TargetError
from cimopt.targets.load import list_presets, load_target, parse_target, PRESET_DIR
from cimopt.targets.physics import instructions as ins
from cimopt.targets.physics.instructions import Energy, InstrCost
from cimopt.targets.spec import Target

PRESETS = ["edge", "isaac", "pimcomp", "puma", "sram-dimc"]
MIB = 2**20


def _isaac_text() -> str:
    return (PRESET_DIR / "isaac.toml").read_text()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _edit(text: str, field: str, new_value: str) -> str:
    """Replace the value of ``field = ...`` (first occurrence; a multi-line array whole)."""
    array = re.compile(rf"^{re.escape(field)} = \[\n.*?^\]\n", re.MULTILINE | re.DOTALL)
    if array.search(text):
        return array.sub(f"{field} = {new_value}\n", text, count=1)
    pattern = re.compile(rf"^{re.escape(field)} = [^#\n]*", re.MULTILINE)
    assert pattern.search(text), field
    return pattern.sub(f"{field} = {new_value} ", text, count=1)


def _drop(text: str, field: str) -> str:
    return re.sub(rf"^{re.escape(field)} = .*\n", "", text, count=1, flags=re.MULTILINE)


def _bad(tmp_path: Path, text: str, name: str = "bad.toml") -> str:
    """Load ``text`` from a file and return the TargetError's message."""
    path = _write(tmp_path, name, text)
    with pytest.raises(TargetError) as info:
        load_target(str(path))
    message = str(info.value)
    assert name in message
    assert "\n" not in message
    return message


# ---- presets ----------------------------------------------------------------------------------


def test_list_presets() -> None:
    assert list_presets() == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_loads(name: str) -> None:
    t = load_target(name)
    assert isinstance(t, Target)
    assert t.name == name
    assert t.sources and all(s.strip() for s in t.sources)
    assert t.host is not None
    assert t.weight_capacity > 0
    assert len(t.digest()) == 16


@pytest.mark.parametrize("name", PRESETS)
def test_preset_numbers_are_cited(name: str) -> None:
    """Every numeric or boolean field carries a comment (a ref row or 'assumed: reason')."""
    for line in (PRESET_DIR / f"{name}.toml").read_text().splitlines():
        m = re.match(r"^(\w+) = (-?[\d.]+|true|false)\s*(#.*)?$", line)
        if m:
            comment = (m.group(3) or "").lstrip("# ")
            assert len(comment) >= 10, f"{name}.toml: {m.group(1)} has no source comment"


def test_edge_capacity_is_1_to_2_million_weights() -> None:
    t = load_target("edge")
    assert 1_000_000 <= t.weight_capacity <= 2_000_000
    assert t.precision.weight_bits == 8
    assert t.core.write_latency_ns_per_row >= 1000.0  # flash programming is slow (µs per row)


@pytest.mark.parametrize(("name", "mib", "cores", "per_core"), [("isaac", 63, 168, 96), ("puma", 69, 138, 128)])
def test_reference_capacity(name: str, mib: float, cores: int, per_core: int) -> None:
    """CIM_REFERENCE Chip scale: ISAAC 63 MB, PUMA 69 MB of weights."""
    t = load_target(name)
    assert t.cores == cores and t.core.crossbars == per_core
    capacity_mib = t.weight_capacity * t.precision.weight_bits / 8 / MIB
    assert capacity_mib == pytest.approx(mib, rel=0.05)


def test_pimcomp_and_sram_scale() -> None:
    pimcomp = load_target("pimcomp")
    assert (pimcomp.cores, pimcomp.core.crossbars) == (36, 64)
    assert pimcomp.chip.noc_link_bandwidth_bytes_per_ns == 8.0
    sram = load_target("sram-dimc")
    assert sram.core.adcs_per_crossbar == sram.core.crossbar_cols  # one adder tree per column
    assert ins.mvm(sram, 256, 256).latency_ns < ins.mvm(load_target("isaac"), 128, 128).latency_ns / 10


def test_isaac_mvm_matches_reference() -> None:
    """CIM_REFERENCE: a 16-bit-input MVM takes ~1.8 µs with an 8-bit ADC (100 ns x (16 + 2))."""
    cost = ins.mvm(load_target("isaac"), 128, 128)
    assert cost.latency_ns == pytest.approx(1800.0, rel=0.05)


# ---- validation ---------------------------------------------------------------------------------


def test_user_file_loads(tmp_path: Path) -> None:
    text = _edit(_isaac_text(), 'name', '"my-chip"')
    text = _edit(text, "crossbars", "10")
    path = _write(tmp_path, "my-chip.toml", text)
    for arg in (str(path), path):
        t = load_target(arg)
        assert t.name == "my-chip"
        assert t.core.crossbars == 10
        assert t.total_crossbars == 168 * 10


def test_negative_field(tmp_path: Path) -> None:
    message = _bad(tmp_path, _edit(_isaac_text(), "crossbar_rows", "-3"), "edge.toml")
    assert message.endswith("edge.toml: core.crossbar_rows: expected a positive integer, got -3")


@pytest.mark.parametrize(
    ("field", "value", "dotted", "expected"),
    [
        ("adc_latency_ns", "-1.0", "core.adc_latency_ns", "a number >= 0"),
        ("noc_link_bandwidth_bytes_per_ns", "0.0", "chip.noc_link_bandwidth_bytes_per_ns", "a positive number"),
        ("crossbar_cols", "128.0", "core.crossbar_cols", "a positive integer"),
        ("cell_bits", "true", "core.cell_bits", "a positive integer"),
        ("dac_energy_pj", '"0.4"', "core.dac_energy_pj", "a finite number"),
        ("dac_energy_pj", "nan", "core.dac_energy_pj", "a finite number"),
        ("vector_matmul", "1", "core.vector_matmul", "true or false"),
        ("ops_per_ns", "0", "host.ops_per_ns", "a positive number"),
        ("weight_bits", "0", "precision.weight_bits", "a positive integer"),
        ("name", '""', "name", "a non-empty string"),
        ("sources", "[1, 2]", "sources", "a list of strings"),
    ],
)
def test_bad_values(tmp_path: Path, field: str, value: str, dotted: str, expected: str) -> None:
    message = _bad(tmp_path, _edit(_isaac_text(), field, value))
    assert f"bad.toml: {dotted}: expected {expected}" in message


def test_missing_field(tmp_path: Path) -> None:
    message = _bad(tmp_path, _drop(_isaac_text(), "adc_bits"))
    assert "core.adc_bits" in message and "missing" in message


def test_missing_table(tmp_path: Path) -> None:
    text = _isaac_text().split("[precision]")[0]  # drops [precision] and [host]
    message = _bad(tmp_path, text)
    assert "missing" in message and "precision" in message


def test_unknown_field(tmp_path: Path) -> None:
    text = _isaac_text().replace("[core]\n", "[core]\nadc_bitz = 8\nfoo = 1\n")
    message = _bad(tmp_path, text)
    assert "core.adc_bitz" in message and "core.foo" in message
    assert "did you mean core.adc_bits" in message


def test_unknown_top_level_table(tmp_path: Path) -> None:
    message = _bad(tmp_path, _isaac_text() + "\n[cpu]\nx = 1\n")
    assert "bad.toml: cpu: unknown field; known fields of the top level: name," in message


def test_bad_toml(tmp_path: Path) -> None:
    message = _bad(tmp_path, _isaac_text() + "\nthis is not toml ===\n")
    assert "invalid TOML" in message


def test_empty_file(tmp_path: Path) -> None:
    assert "empty" in _bad(tmp_path, "  \n\n")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"nowhere\.toml: target file not found"):
        load_target(str(tmp_path / "nowhere.toml"))


def test_unknown_preset() -> None:
    with pytest.raises(TargetError) as info:
        load_target("isac")
    message = str(info.value)
    assert "'isac'" in message and "did you mean 'isaac'" in message
    assert all(p in message for p in PRESETS)
    assert ".toml" in message


@pytest.mark.parametrize(
    ("edits", "dotted"),
    [
        ({"adcs_per_crossbar": "129"}, "core.adcs_per_crossbar"),
        ({"dacs_per_crossbar": "200"}, "core.dacs_per_crossbar"),
        ({"cell_bits": "1", "weight_bits": "32", "crossbar_cols": "16"}, "precision.weight_bits"),
        ({"local_buffer_bytes": "100"}, "core.local_buffer_bytes"),
    ],
)
def test_cross_field_checks(tmp_path: Path, edits: dict[str, str], dotted: str) -> None:
    text = _isaac_text()
    for field, value in edits.items():
        text = _edit(text, field, value)
    message = _bad(tmp_path, text)
    assert f"bad.toml: {dotted}: " in message and "expected at " in message


def test_host_is_optional(tmp_path: Path) -> None:
    text = _isaac_text().split("[host]")[0]
    t = load_target(str(_write(tmp_path, "nohost.toml", text)))
    assert t.host is None
    with pytest.raises(TargetError, match="no \\[host\\]"):
        ins.host_op(t, 10.0, 64)


def test_parse_target_from_dict() -> None:
    import tomllib

    data = tomllib.loads(_isaac_text())
    assert parse_target(data, "isaac.toml") == load_target("isaac")


# ---- instruction costs --------------------------------------------------------------------------


def _with_core(t: Target, **changes: object) -> Target:
    return dataclasses.replace(t, core=dataclasses.replace(t.core, **changes))


def _with_precision(t: Target, **changes: int) -> Target:
    return dataclasses.replace(t, precision=dataclasses.replace(t.precision, **changes))


def test_mvm_by_hand() -> None:
    """A partial MVM with several row groups and ADC rounds, worked out by hand."""
    t = _with_core(
        load_target("pimcomp"),
        dacs_per_crossbar=32,
        adcs_per_crossbar=4,
        input_buffer_latency_ns=1.0,
        dac_latency_ns=2.0,
        array_read_latency_ns=10.0,
        sample_hold_latency_ns=3.0,
        adc_latency_ns=5.0,
        shift_add_latency_ns=2.0,
        output_buffer_latency_ns=1.0,
    )
    # 8-bit activations, 1-bit DAC: 8 passes; 100 rows / 32 DACs: 4 row groups; 10 cols / 4 ADCs: 3 rounds
    front = 1.0 + 2.0 + 10.0 + 3.0  # 16 ns
    back = 5.0 + 2.0 + 1.0 + 2 * max(5.0, 2.0 + 1.0)  # 18 ns
    cost = ins.mvm(t, 100, 10)
    assert cost.latency_ns == pytest.approx(front + back + (8 * 4 - 1) * max(front, back))  # 592 ns
    assert ins.mvm_interval(t, 100, 10) == pytest.approx(8 * 4 * 18.0)
    c = t.core
    assert cost.energy.dac == pytest.approx(8 * 100 * c.dac_energy_pj)
    assert cost.energy.array == pytest.approx(8 * 4 * c.array_read_energy_pj)
    assert cost.energy.adc == pytest.approx(8 * 4 * 10 * c.adc_energy_pj)
    assert cost.energy.shift_add == pytest.approx(8 * 4 * 10 * c.shift_add_energy_pj)
    assert cost.energy.total == pytest.approx(cost.energy.dac + cost.energy.array + cost.energy.adc + cost.energy.shift_add)


def test_isaac_full_mvm_by_hand() -> None:
    t = load_target("isaac")
    front = 1.0 + 1.0 + 100.0 + 1.0
    back = 0.78125 + 0.5 + 0.25 + 127 * 0.78125
    assert ins.mvm(t, 128, 128).latency_ns == pytest.approx(front + back + 15 * front)


@pytest.mark.parametrize("name", PRESETS)
def test_mvm_monotonic(name: str) -> None:
    t = load_target(name)
    rows, cols = t.core.crossbar_rows, t.core.crossbar_cols
    step_r, step_c = max(1, rows // 16), max(1, cols // 16)
    for fixed_cols in (1, cols):
        last = InstrCost(0.0, Energy())
        for r in range(1, rows + 1, step_r):
            cost = ins.mvm(t, r, fixed_cols)
            assert cost.latency_ns >= last.latency_ns and cost.energy.total >= last.energy.total
            last = cost
    for fixed_rows in (1, rows):
        last = InstrCost(0.0, Energy())
        for col in range(1, cols + 1, step_c):
            cost = ins.mvm(t, fixed_rows, col)
            assert cost.latency_ns >= last.latency_ns and cost.energy.total >= last.energy.total
            last = cost
    full = ins.mvm(t, rows, cols)
    assert all(v >= 0.0 for v in full.energy.as_dict().values())
    with pytest.raises(ValueError):
        ins.mvm(t, rows + 1, cols)
    with pytest.raises(ValueError):
        ins.mvm(t, 1, 0)


def test_energy_arithmetic() -> None:
    a = Energy(array=1.0, dac=2.0, noc=3.0)
    b = Energy(adc=4.0, dac=0.5, static=1.5, dram=2.0)
    s = a + b
    assert s.dac == 2.5 and s.adc == 4.0 and s.total == pytest.approx(a.total + b.total)
    assert (2 * a).total == pytest.approx(2 * a.total)
    assert (a * 0.5) == Energy(array=0.5, dac=1.0, noc=1.5)
    assert Energy().total == 0.0
    assert sum((a, b), Energy()) == s


def test_noc_transfer() -> None:
    t = load_target("isaac")
    ch = t.chip
    assert ins.noc_transfer(t, 4096, 5, 5) == InstrCost(0.0, Energy())
    assert ins.noc_transfer(t, 0, 0, 3).latency_ns == 0.0
    costs = [ins.noc_transfer(t, 1024, 0, k) for k in range(1, t.chip.mesh_cols)]  # along row 0: k hops
    for k, cost in enumerate(costs, start=1):
        assert cost.latency_ns == pytest.approx(k * ch.noc_hop_latency_ns + 1024 / ch.noc_link_bandwidth_bytes_per_ns)
        assert cost.energy.noc == pytest.approx(k * costs[0].energy.noc)
        assert cost.energy.total == cost.energy.noc
    # XY routing: down one row and across two columns is 3 hops
    assert ins.noc_transfer(t, 32, 0, ch.mesh_cols + 2).energy.noc == pytest.approx(3 * 32 * ch.noc_hop_energy_pj_per_byte)
    with pytest.raises(ValueError):
        ins.noc_transfer(t, 32, 0, t.cores)


def test_buffers_vector_program_host_static() -> None:
    t = load_target("pimcomp")
    local = ins.buffer_access(t, 256, "local")
    assert local.latency_ns == pytest.approx(256 / 25.6) and local.energy.buffer == pytest.approx(256 * 0.70)
    glob = ins.buffer_access(t, 256, "global")
    assert glob.latency_ns == pytest.approx(4.0) and glob.energy.buffer == pytest.approx(256 * 4.03)
    dram = ins.buffer_access(t, 64, "dram")
    assert dram.latency_ns == pytest.approx(10.0) and dram.energy.dram == pytest.approx(64 * 80.0) and dram.energy.buffer == 0
    with pytest.raises(ValueError):
        ins.buffer_access(t, 1, "l2")

    vec = ins.vector(t, 130, 2.0)  # 3 cycles of 64 lanes x 2 ops
    assert vec.latency_ns == pytest.approx(3 * 2.0 * 10.0) and vec.energy.vector == pytest.approx(260 * 1.7)
    assert ins.vector(t, 0, 3.0).latency_ns == 0.0

    prog = ins.program_weights(t, 128, 64)
    assert prog.latency_ns == pytest.approx(128 * 1000.0) and prog.energy.program == pytest.approx(128 * 64 * 10.0)

    host = ins.host_op(t, 1600.0, 64)
    assert host.latency_ns == pytest.approx(5.0 + 64 / 6.4 + 1600.0 / 16.0)
    assert host.energy.host == pytest.approx(1600.0 * 10.0 + 64 * 20.0)

    assert ins.static_energy(t, 1000.0) == Energy(static=14.76 * 1000.0)  # mW x ns = pJ


# ---- properties ---------------------------------------------------------------------------------


_BASE = load_target("isaac")
_latency = st.floats(min_value=0.0, max_value=500.0, allow_nan=False)


@st.composite
def _targets(draw: st.DrawFn) -> Target:
    rows = draw(st.integers(1, 512))
    cols = draw(st.integers(1, 512))
    return _with_core(
        _BASE,
        crossbar_rows=rows,
        crossbar_cols=cols,
        dacs_per_crossbar=draw(st.integers(1, rows)),
        adcs_per_crossbar=draw(st.integers(1, cols)),
        dac_bits=draw(st.integers(1, 4)),
        input_buffer_latency_ns=draw(_latency),
        dac_latency_ns=draw(_latency),
        array_read_latency_ns=draw(_latency),
        sample_hold_latency_ns=draw(_latency),
        adc_latency_ns=draw(_latency),
        shift_add_latency_ns=draw(_latency),
        output_buffer_latency_ns=draw(_latency),
    )


@settings(max_examples=200, deadline=None)
@given(t=_targets(), data=st.data())
def test_mvm_latency_at_least_interval(t: Target, data: st.DataObject) -> None:
    rows_used = data.draw(st.integers(1, t.core.crossbar_rows))
    cols_used = data.draw(st.integers(1, t.core.crossbar_cols))
    cost = ins.mvm(t, rows_used, cols_used)
    interval = ins.mvm_interval(t, rows_used, cols_used)
    assert cost.latency_ns >= interval - 1e-9 * max(1.0, interval)
    assert interval >= 0.0
    assert all(v >= 0.0 for v in cost.energy.as_dict().values())


@settings(max_examples=200, deadline=None)
@given(t=_targets(), passes=st.integers(1, 16), data=st.data())
def test_mvm_energy_linear_in_passes(t: Target, passes: int, data: st.DataObject) -> None:
    rows_used = data.draw(st.integers(1, t.core.crossbar_rows))
    cols_used = data.draw(st.integers(1, t.core.crossbar_cols))
    dac_bits = t.core.dac_bits
    one = _with_precision(t, activation_bits=dac_bits)
    many = _with_precision(t, activation_bits=dac_bits * passes)
    assert (one.input_passes, many.input_passes) == (1, passes)
    e1 = ins.mvm(one, rows_used, cols_used).energy
    ek = ins.mvm(many, rows_used, cols_used).energy
    for name, value in ek.as_dict().items():
        assert value == pytest.approx(passes * getattr(e1, name), rel=1e-9, abs=1e-9)
    assert math.isclose(ek.total, passes * e1.total, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("field", "value", "dotted"),
    [
        ("mesh_rows", "1000000000", "chip.mesh_rows"),
        ("adc_latency_ns", "1e308", "core.adc_latency_ns"),
        ("dram_bandwidth_bytes_per_ns", "1e-300", "chip.dram_bandwidth_bytes_per_ns"),
        ("crossbars", "1000000000000000000", "core.crossbars"),
        ("crossbar_rows", "1099511627776", "core.crossbar_rows"),
        ("local_buffer_bytes", "1180591620717411303424", "core.local_buffer_bytes"),
        ("adc_bits", "1000", "core.adc_bits"),
        ("static_power_mw", "1e30", "chip.static_power_mw"),
    ],
)
def test_implausible_values_are_refused(tmp_path: Path, field: str, value: str, dotted: str) -> None:
    message = _bad(tmp_path, _edit(_isaac_text(), field, value))
    assert f"bad.toml: {dotted}: " in message and "physically plausible" in message


def test_too_many_cores_in_all(tmp_path: Path) -> None:
    text = _edit(_edit(_isaac_text(), "mesh_rows", "1024"), "mesh_cols", "1024")
    message = _bad(tmp_path, text)
    assert "bad.toml: chip.mesh_rows x chip.mesh_cols: expected at most" in message

