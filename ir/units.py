"""The one formatter of physical quantities: every summary, report, table and plot label uses it.

Internal units are those of the field names (`_ns`, `_pj`, `_bytes`); these functions pick the
prefix that keeps the figure between 1 and 1000 (bytes: between 1 and 1024, binary prefixes), and
print ``sig`` significant digits, never an exponent ("11.70 mJ", not "1.17e+04 uJ").  The
``*_scale`` functions give a plot axis one unit for all its data: ``(divisor, unit)``.

It lives in ``ir`` (the bottom of the import order) so that every layer formats the same way.
"""
from __future__ import annotations

import math

#: (divisor from ns, unit), largest first
TIME_UNITS: tuple[tuple[float, str], ...] = ((1e9, "s"), (1e6, "ms"), (1e3, "us"), (1.0, "ns"))
#: (divisor from pJ, unit), largest first
ENERGY_UNITS: tuple[tuple[float, str], ...] = ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ"), (1.0, "pJ"))
#: (divisor from bytes, unit), largest first (binary prefixes)
BYTE_UNITS: tuple[tuple[float, str], ...] = ((float(1 << 40), "TiB"), (float(1 << 30), "GiB"),
                                             (float(1 << 20), "MiB"), (float(1 << 10), "KiB"), (1.0, "B"))


def _pick(value: float, units: tuple[tuple[float, str], ...]) -> tuple[float, str]:
    """The largest unit whose divisor is at most |value| (the smallest unit for 0 and tiny values)."""
    a = abs(value)
    for f, u in units:
        if a >= f:
            return f, u
    return units[-1]


def _digits(x: float, sig: int, grouped: bool = False) -> str:
    """``x`` with ``sig`` significant digits in positional notation (no exponent; trailing zeros
    kept, they are significant; ``grouped``: thousands separated by commas)."""
    if x == 0:
        return "0"
    decimals = max(0, sig - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}" if grouped else f"{x:.{decimals}f}"


def _quantity(value: float, units: tuple[tuple[float, str], ...], sig: int) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return ("-" if value < 0 else "") + "inf " + units[-1][1]
    f, u = _pick(value, units)
    text = _digits(value / f, sig)
    if abs(float(text.replace(",", ""))) >= 1000 and f != units[0][0]:  # rounding carried into the next unit (999.96 us)
        rounded = float(text.replace(",", "")) * f
        f, u = units[[x for x, _ in units].index(f) - 1]
        text = _digits(rounded / f, sig)
    return f"{text} {u}"


def time(ns: float, sig: int = 4) -> str:
    """A duration given in ns: ``"998.7 us"``, ``"14.01 ms"``, ``"2.5 s"``, ``"40 ns"``."""
    return _quantity(float(ns), TIME_UNITS, sig)


def energy(pj: float, sig: int = 4) -> str:
    """An energy given in pJ: ``"1433 uJ"``, ``"11.7 mJ"``, ``"2.1 J"``, ``"35 pJ"``."""
    return _quantity(float(pj), ENERGY_UNITS, sig)


def nbytes(n: float, sig: int = 3) -> str:
    """A size given in bytes, binary prefixes: ``"64 KiB"``, ``"4.28 MiB"``, ``"512 B"``."""
    if not math.isnan(n) and not math.isinf(n) and abs(n) < 1024:
        return f"{n:.0f} B" if n == int(n) else f"{_digits(float(n), sig)} B"
    return _quantity(float(n), BYTE_UNITS, sig)


def count(n: float, sig: int = 4) -> str:
    """A count: integers with thousands separators (``"4,484,096"``); other values with ``sig``
    significant digits, thousands separated (``"1,001"``, ``"0.359"``)."""
    x = float(n)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    if x == int(x) and abs(x) < 1e18:
        return f"{int(x):,}"
    return _digits(x, sig, grouped=True)


def si_count(n: float, unit: str = "", sig: int = 3) -> str:
    """A large count with a decimal prefix: ``si_count(4.09e9, "MAC") == "4.09 GMAC"``."""
    for f, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= f:
            return f"{_digits(n / f, sig)} {prefix}{unit}"
    return f"{_digits(float(n), sig)} {unit}".rstrip()


def percent(fraction: float, decimals: int = 1) -> str:
    """A fraction as a percentage: ``percent(0.963) == "96.3 %"``."""
    if math.isnan(fraction):
        return "n/a"
    return f"{100 * fraction:.{decimals}f} %"


def rate(per_s: float, sig: int = 4) -> str:
    """A rate per second (inferences/s), as a count: ``"1,001"``."""
    return count(per_s, sig)


def time_scale(max_ns: float) -> tuple[float, str]:
    """``(divisor, unit)`` for a time axis whose largest value is ``max_ns``."""
    return _pick(max_ns if math.isfinite(max_ns) else 0.0, TIME_UNITS)


def bytes_scale(max_bytes: float) -> tuple[float, str]:
    """``(divisor, unit)`` for a size axis whose largest value is ``max_bytes``."""
    return _pick(max_bytes if math.isfinite(max_bytes) else 0.0, BYTE_UNITS)


def energy_scale(max_pj: float) -> tuple[float, str]:
    """``(divisor, unit)`` for an energy axis whose largest value is ``max_pj``."""
    return _pick(max_pj if math.isfinite(max_pj) else 0.0, ENERGY_UNITS)


QUANTITY_OF_UNIT: dict[str, str] = {"ns": "time", "pj": "energy", "bytes": "bytes"}


def by_unit(value: float, unit: str) -> str:
    """Format ``value`` given in ``unit`` (``"ns"``, ``"pJ"``, ``"bytes"``; anything else is a
    count followed by the unit, e.g. ``"4,226,530 byte-hops"``)."""
    u = unit.lower()
    if u == "ns":
        return time(value)
    if u == "pj":
        return energy(value)
    if u in ("bytes", "b"):
        return nbytes(value)
    return f"{count(value)} {unit}".rstrip()
