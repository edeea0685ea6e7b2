"""Read a target from a TOML preset or a user's TOML file, and validate it in two steps.

Layout of a target file::

    name = "isaac"                 # non-empty string
    description = "..."            # string
    sources = ["ISAAC ISCA'16"]    # list of strings
    [chip]       # every field of ChipSpec
    [core]       # every field of CoreSpec
    [precision]  # every field of PrecisionSpec
    [host]       # optional: every field of HostSpec
    [numerics]   # optional: see targets.numerics_spec
    [noc]        # optional: the network as data, see targets.noc_spec (checked by targets.noc)

Step 1 (structure and types): every table and field present, of the right type, no unknown field;
counts, bits and sizes are integers, ``core.output_stage_ops`` a list of distinct op types of
`ir.passes.epilogue_fusion.FUSABLE`, bandwidths and host throughput positive numbers, times,
energies and powers finite numbers >= 0, each inside its physical plausibility range
(`field_range`: e.g. a mesh side 1..1024, 1..65536 crossbars a core, rows and columns 1..4096,
ADC bits 1..32, latencies up to 1 s, bandwidths 1e-6..1e6 bytes/ns, a global buffer up to 1 TiB).
Step 2 (cross-field): at most `MAX_CORES` cores and `MAX_CROSSBARS` crossbars in all, the
periphery fits the crossbar (ADCs <= columns, DACs <= rows), one weight's bit slices fit in a
crossbar's columns, the local buffer holds one crossbar input vector.  Within these ranges every
derived figure (capacity, MVM latency, peak throughput) is a finite number.

Every problem raises `TargetError` with a one-line message naming the file, the dotted field and
what was expected, e.g. ``edge.toml: core.crossbar_rows: expected a positive integer, got -3``.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cimopt.ir.passes.epilogue_fusion import FUSABLE
from cimopt.targets.errors import TargetError
from cimopt.targets.noc import check_noc
from cimopt.targets.noc_spec import NocSpec, parse_noc
from cimopt.targets.numerics_spec import parse_numerics
from cimopt.targets.spec import ChipSpec, CoreSpec, HostSpec, PrecisionSpec, Target

#: directory holding the shipped presets (package data ``cimopt.targets/presets/*.toml``)
PRESET_DIR: Path = Path(__file__).resolve().parent / "presets"

_TOP_LEVEL: tuple[str, ...] = ("name", "description", "sources", "chip", "core", "precision", "host", "numerics",
                                 "noc")
_TABLES: dict[str, type] = {"chip": ChipSpec, "core": CoreSpec, "precision": PrecisionSpec, "host": HostSpec}
_OPTIONAL_TABLES: frozenset[str] = frozenset({"host", "numerics", "noc"})

MAX_CORES = 1 << 16
MAX_CROSSBARS = 1 << 24

#: Plausibility ranges (inclusive) of the integer fields, by field name.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "mesh_rows": (1, 1024), "mesh_cols": (1, 1024), "crossbars": (1, 1 << 16),
    "crossbar_rows": (1, 4096), "crossbar_cols": (1, 4096), "cell_bits": (1, 8), "dac_bits": (1, 16),
    "dacs_per_crossbar": (1, 4096), "adcs_per_crossbar": (1, 4096), "adc_bits": (1, 32),
    "vector_width": (1, 1 << 16), "output_stage_width": (1, 1 << 16), "local_buffer_bytes": (1, 1 << 36), "global_buffer_bytes": (1, 1 << 40),
    "weight_bits": (1, 32), "activation_bits": (1, 32),
}
#: Plausibility ranges (inclusive) of the float fields, by how the name ends or what it holds.
_LATENCY_NS = (0.0, 1e9)           # up to 1 s per step
_ENERGY_PJ = (0.0, 1e9)            # up to 1 mJ per action
_POWER_MW = (0.0, 1e7)             # up to 10 kW
_RATE = (1e-6, 1e6)                # bytes/ns (1 kB/s .. 1 PB/s) and ops/ns


def field_range(leaf: str, type_name: str) -> tuple[float, float]:
    """The inclusive plausibility range of a field (``leaf``: its name without the table)."""
    if type_name == "int":
        return _INT_RANGES.get(leaf, (1, 1 << 40))
    if "bandwidth" in leaf or leaf == "ops_per_ns":
        return _RATE
    if "energy" in leaf or leaf.endswith("_pj"):
        return _ENERGY_PJ
    if leaf.endswith("_mw"):
        return _POWER_MW
    return _LATENCY_NS


def list_presets() -> list[str]:
    """Names of the shipped presets, sorted (each is ``presets/<name>.toml``)."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_target(name_or_path: str | os.PathLike[str]) -> Target:
    """Load a target by preset name (``"isaac"``) or from a path to a TOML file.

    A string is read as a path when it ends in ``.toml`` or contains a path separator, or when it
    is not a preset name but names an existing file; otherwise it is a preset name.  Raises `TargetError` for an unknown preset, a
    missing, unreadable, empty or malformed file, and every validation failure.
    """
    text = os.fspath(name_or_path)
    presets = list_presets()
    is_path = text.endswith(".toml") or "/" in text or os.sep in text
    if is_path or (text not in presets and Path(text).is_file()):
        return _load_file(Path(text), display=text)
    if text not in presets:
        close = difflib.get_close_matches(text, presets, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TargetError(
            f"unknown target preset {text!r}{hint}; presets: {', '.join(presets)}; "
            f"a path to a .toml file works too"
        )
    return _load_file(PRESET_DIR / f"{text}.toml", display=f"{text}.toml")


def _load_file(path: Path, display: str) -> Target:
    """Read, parse and validate one TOML file; ``display`` is how messages name the file."""
    if not path.is_file():
        raise TargetError(f"{display}: target file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TargetError(f"{display}: cannot read target file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TargetError(f"{display}: target file is not UTF-8 text: {exc.reason}") from exc
    if not text.strip():
        raise TargetError(f"{display}: target file is empty; expected tables [chip], [core], [precision]")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{display}: invalid TOML: {exc}") from exc
    return parse_target(data, display)


def parse_target(data: Mapping[str, Any], source: str) -> Target:
    """Validate a parsed TOML document (step 1: structure and types, step 2: cross-field) into a Target.

    ``source`` names the document in error messages (a file name).
    """
    target = _check_structure(data, source)
    _check_cross_fields(target, source)
    return target


# ---- step 1: structure and types --------------------------------------------------------------


def _fail(source: str, field: str, expected: str, got: object) -> TargetError:
    return TargetError(f"{source}: {field}: expected {expected}, got {got!r}")


def _unknown(source: str, where: str, names: list[str], known: list[str]) -> TargetError:
    """One message for the unknown keys ``names`` of table ``where`` (``"core."``, ``""`` at top level)."""
    parts = []
    any_close = False
    for name in sorted(names):
        close = difflib.get_close_matches(name, known, n=1)
        any_close = any_close or bool(close)
        parts.append(f"{where}{name}" + (f" (did you mean {where}{close[0]}?)" if close else ""))
    scope = where.rstrip(".") or "the top level"
    listing = "" if any_close else f"; known fields of {scope}: {', '.join(known)}"
    if len(names) == 1:
        close = difflib.get_close_matches(names[0], known, n=1)
        hint = f" (did you mean {where}{close[0]}?)" if close else listing
        return TargetError(f"{source}: {where}{names[0]}: unknown field{hint}")
    return TargetError(f"{source}: unknown fields {', '.join(parts)}{listing}")


def _check_structure(data: Mapping[str, Any], source: str) -> Target:
    unknown = [k for k in data if k not in _TOP_LEVEL]
    if unknown:
        raise _unknown(source, "", unknown, list(_TOP_LEVEL))
    missing = [k for k in _TOP_LEVEL if k not in data and k not in _OPTIONAL_TABLES]
    if missing:
        raise TargetError(f"{source}: missing field(s) {', '.join(missing)}")

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, "name", "a non-empty string", name)
    description = data["description"]
    if not isinstance(description, str):
        raise _fail(source, "description", "a string", description)
    sources = data["sources"]
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _fail(source, "sources", "a list of strings", sources)

    tables: dict[str, Any] = {}
    for key, cls in _TABLES.items():
        if key not in data:
            tables[key] = None
            continue
        tables[key] = _build_table(data[key], key, cls, source)
    return Target(
        name=name,
        description=description,
        sources=tuple(sources),
        chip=tables["chip"],
        core=tables["core"],
        precision=tables["precision"],
        host=tables["host"],
        numerics=parse_numerics(data["numerics"], source) if "numerics" in data else None,
        noc=_parse_noc(data, tables["chip"], source),
    )


def _parse_noc(data: Mapping[str, Any], chip: ChipSpec, source: str) -> NocSpec | None:
    """The ``[noc]`` section, its links' figures defaulting to the chip's; None without it."""
    if "noc" not in data:
        return None
    defaults = (chip.noc_link_bandwidth_bytes_per_ns, chip.noc_hop_latency_ns, chip.noc_hop_energy_pj_per_byte)
    return parse_noc(data["noc"], chip.cores, defaults, source)


def _build_table(table: object, key: str, cls: type, source: str) -> Any:
    """Check one table against the fields of its dataclass and build the frozen spec."""
    if not isinstance(table, dict):
        raise _fail(source, key, f"a table [{key}]", table)
    fields = dataclasses.fields(cls)
    known = [f.name for f in fields]
    unknown = [k for k in table if k not in known]
    if unknown:
        raise _unknown(source, f"{key}.", unknown, known)
    missing = [f"{key}.{n}" for n in known if n not in table]
    if missing:
        raise TargetError(f"{source}: missing field(s) {', '.join(missing)}")
    values = {f.name: _check_value(table[f.name], f"{key}.{f.name}", str(f.type), source) for f in fields}
    return cls(**values)


def _check_value(value: object, dotted: str, type_name: str, source: str) -> int | float | bool | tuple[str, ...]:
    """Check one value against its declared type and the physical range its name implies."""
    leaf = dotted.rsplit(".", 1)[-1]
    if type_name == "tuple[str, ...]":
        return _check_op_list(value, dotted, source)
    if type_name == "bool":
        if not isinstance(value, bool):
            raise _fail(source, dotted, "true or false", value)
        return value
    if type_name == "int":
        # counts, bit widths and sizes in bytes: at least 1
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail(source, dotted, "a positive integer", value)
        low, high = field_range(leaf, type_name)
        if not low <= value <= high:
            raise _fail(source, dotted, f"an integer from {int(low)} to {int(high)} (physically plausible)", value)
        return value
    if type_name == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _fail(source, dotted, "a finite number", value)
        low, high = field_range(leaf, type_name)
        if "bandwidth" in leaf or leaf == "ops_per_ns":
            # rates divide a size: must be strictly positive
            if value <= 0:
                raise _fail(source, dotted, "a positive number", value)
        elif value < 0:
            # times (ns), energies (pJ), powers (mW)
            raise _fail(source, dotted, "a number >= 0", value)
        if not low <= value <= high:
            raise _fail(source, dotted, f"a number from {low:g} to {high:g} (physically plausible)", value)
        return float(value)
    raise TargetError(f"{source}: {dotted}: field of unsupported type {type_name}")  # spec.py changed


def _check_op_list(value: object, dotted: str, source: str) -> tuple[str, ...]:
    """A list of distinct ONNX op types the crossbar output stage can apply (`epilogue_fusion.FUSABLE`)."""
    expected = f"a list of distinct op types from {', '.join(sorted(FUSABLE))}"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, dotted, expected, value)
    bad = [v for v in value if v not in FUSABLE]
    if bad:
        close = difflib.get_close_matches(bad[0], sorted(FUSABLE), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TargetError(f"{source}: {dotted}: {bad[0]!r} is not an op type the output stage can apply{hint}; "
                          f"expected {expected}")
    if len(set(value)) != len(value):
        raise _fail(source, dotted, expected, value)
    return tuple(value)


# ---- step 2: cross-field checks ---------------------------------------------------------------


def _check_cross_fields(t: Target, source: str) -> None:
    c = t.core
    if t.cores > MAX_CORES:
        raise TargetError(f"{source}: chip.mesh_rows x chip.mesh_cols: expected at most {MAX_CORES} cores, got "
                          f"{t.chip.mesh_rows} x {t.chip.mesh_cols} = {t.cores}")
    if t.total_crossbars > MAX_CROSSBARS:
        raise TargetError(f"{source}: core.crossbars: expected at most {MAX_CROSSBARS} crossbars on the chip, got "
                          f"{t.cores} cores x {c.crossbars} = {t.total_crossbars}")
    if c.adcs_per_crossbar > c.crossbar_cols:
        raise TargetError(
            f"{source}: core.adcs_per_crossbar: expected at most core.crossbar_cols = {c.crossbar_cols} "
            f"(one ADC per column at most), got {c.adcs_per_crossbar}"
        )
    if c.dacs_per_crossbar > c.crossbar_rows:
        raise TargetError(
            f"{source}: core.dacs_per_crossbar: expected at most core.crossbar_rows = {c.crossbar_rows} "
            f"(one DAC per row at most), got {c.dacs_per_crossbar}"
        )
    if t.weight_slices > c.crossbar_cols:
        raise TargetError(
            f"{source}: precision.weight_bits: a {t.precision.weight_bits}-bit weight spans "
            f"{t.weight_slices} columns of {c.cell_bits}-bit cells; expected at most "
            f"core.crossbar_cols = {c.crossbar_cols}"
        )
    check_noc(t, source)
    input_vector_bytes = c.crossbar_rows * math.ceil(t.precision.activation_bits / 8)
    if c.local_buffer_bytes < input_vector_bytes:
        raise TargetError(
            f"{source}: core.local_buffer_bytes: expected at least {input_vector_bytes} "
            f"(one crossbar input vector: {c.crossbar_rows} rows x {t.precision.activation_bits}-bit), "
            f"got {c.local_buffer_bytes}"
        )
