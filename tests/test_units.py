"""`cimopt.ir.units`: the one formatter of times, energies, sizes and counts."""
from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cimopt.ir import units


@pytest.mark.parametrize("ns, text", [
    (0, "0 ns"), (40, "40.00 ns"), (998_730, "998.7 us"), (1_000_354, "1.000 ms"), (14.01e6, "14.01 ms"),
    (2.5e9, "2.500 s"), (999_960, "1.000 ms"), (999_940, "999.9 us"), (math.inf, "inf ns"), (math.nan, "n/a"),
])
def test_time(ns: float, text: str) -> None:
    assert units.time(ns) == text


@pytest.mark.parametrize("pj, text", [
    (35, "35.00 pJ"), (1.17e10, "11.70 mJ"), (1433.134e6, "1.433 mJ"), (458.6e6, "458.6 uJ"), (2.1e12, "2.100 J"),
    (5e3, "5.000 nJ"), (-5e6, "-5.000 uJ"),
])
def test_energy(pj: float, text: str) -> None:
    assert units.energy(pj) == text


@pytest.mark.parametrize("n, text", [
    (512, "512 B"), (65536, "64.0 KiB"), (4_484_096, "4.28 MiB"), (1023.9 * 1024, "1.00 MiB"), (3 << 30, "3.00 GiB"),
])
def test_bytes(n: float, text: str) -> None:
    assert units.nbytes(n) == text


def test_counts_rates_and_ratios() -> None:
    assert units.count(4_484_096) == "4,484,096"
    assert units.count(1000.7) == "1,001"
    assert units.count(0.359) == "0.3590"
    assert units.count(1.0395, 3) == "1.04"
    assert units.percent(0.963) == "96.3 %"
    assert units.si_count(4.09e9, "MAC") == "4.09 GMAC"
    assert units.by_unit(4.22653e6, "byte-hops") == "4,226,530 byte-hops"
    assert units.by_unit(998_730, "ns") == "998.7 us" and units.by_unit(65536, "bytes") == "64.0 KiB"


def test_axis_scales() -> None:
    assert units.time_scale(2.2e6) == (1e6, "ms") and units.time_scale(500) == (1.0, "ns")
    assert units.bytes_scale(4 << 20) == (float(1 << 20), "MiB") and units.bytes_scale(0) == (1.0, "B")
    assert units.energy_scale(3e9) == (1e9, "mJ")


_NUMBER = re.compile(r"^-?[0-9][0-9,]*(\.[0-9]+)? ")


@given(st.floats(min_value=-1e18, max_value=1e18, allow_nan=False))
def test_never_an_exponent_and_the_figure_is_true(x: float) -> None:
    """Every quantity prints positional digits and a unit, and reads back to within its rounding."""
    for fmt, table in ((units.time, units.TIME_UNITS), (units.energy, units.ENERGY_UNITS)):
        text = fmt(x)
        assert "e+" not in text and "e-" not in text and _NUMBER.match(text), text
        value, unit = text.rsplit(" ", 1)
        back = float(value.replace(",", "")) * dict((u, f) for f, u in table)[unit]
        assert back == pytest.approx(x, rel=5e-4, abs=1e-9 + 0.005), text
        # the mantissa stays below 1000 except in the largest unit
        if unit != table[0][1]:
            assert abs(float(value.replace(",", ""))) < 1000, text
