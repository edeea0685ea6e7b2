"""The Program: cimopt's executable schedule, a versioned JSON document (schema: program.schema.json).

A program holds the crossbar programming map (which tile of which op's weights each crossbar
holds, per segment), per-unit instruction streams with start/end times, dependencies and
buffer addresses, the memory plan, and summary metrics.  Times are integer ns from the start
of one inference; energies pJ; sizes and offsets bytes.

Instruction kinds:
- ``write``: program one crossbar with one tile of an op's weights (segments after the first;
  the first segment's writes are the setup ``programming`` list, done before time 0);
- ``operand_write``: write the run-time operand of a crossbar-written MatMul (`ir.written`; the
  tensor it reads, its second input) into every crossbar of one replica at once, the ``tiles``
  listed; the MVMs of that replica depend on it, and run on the values it wrote;
- ``mvm``: one chunk of a crossbar op on one replica: reads ``rows`` of its input, multiplies on
  the crossbars listed, adds partial sums and bias, applies the fused activation and the op's
  epilogue (vector ops fused into the output stage, which may read rows of a residual), writes rows;
- ``vector`` / ``host``: a whole op on a core's vector unit or on the host;
- ``transfer``: moves a producer chunk's bytes over the NoC to another core (timing only),
  holding every link of its ``route`` (router pairs; a multicast's tree reaches ``dst_cores``)
  from start to end: two transfers on one link at once are a violation;
- ``barrier``: zero-length, separates segments.

Compact instructions (schema 2.0): an instruction with ``count`` n > 1 stands for n repetitions of
itself, as a strided instruction of PUMA's ISA or a CIM controller's loop does; repetition k
(0 <= k < n) is the instruction with
- id ``id + k * id_stride`` (a dependency names one repetition by that id, like any instruction);
- start ``start_ns + k * time_stride_ns``, or ``start_ns + start_offsets_ns[k]`` when the
  repetitions are not evenly spaced (then ``start_offsets_ns`` holds n non-decreasing offsets
  from 0 and ``time_stride_ns`` is 0), and duration ``d = (end_ns - start_ns) / n`` (an integer):
  ``[start_ns, end_ns)`` is n x d, the time the instruction's resource and crossbars are busy
  (`limit_check` counts (end_ns - start_ns) x crossbars); it is also the span of the repetitions
  exactly when they run back to back (``time_stride_ns == d``); a repetition starting before
  the previous one ends overlaps it on its own crossbars, which the machine reports;
- deps ``deps[j] + k * dep_strides[j]`` (``dep_strides`` empty: every stride 0);
- every access's rows ``row0 + k * stride : row1 + k * stride`` along its axis, whatever the axis;
- every other field as written (``energy_pj`` and ``nbytes`` per repetition).
``ir.program_expand.expand`` turns a program into the flat form (every count 1) that the machine,
traces and plots read; ``ir.program_expand.compact`` is what emission applies.  Schema 1.0 programs
(no compact fields) load as flat 2.0 programs.  In the JSON form the programming map is stored in
runs too (`ir.row_runs`: a record with ``count`` and ``strides`` stands for consecutive tiles).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import lru_cache
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from typing import Any

import fastjsonschema

from cimopt.ir.errors import ProgramError
from cimopt.ir.row_runs import fold, unfold

SCHEMA_VERSION = "2.0"
#: older versions `load` still reads: 1.0 is 2.0 without compact instructions
READABLE_VERSIONS = ("1.0", SCHEMA_VERSION)


@dataclass(frozen=True)
class Access:
    """A read or write of a tensor's buffer: rows ``row0:row1`` along ``axis`` (axis -1: whole
    tensor); in a compact instruction, repetition k accesses them shifted by ``k * stride`` rows."""

    tensor: str
    space: str
    offset: int
    axis: int = -1
    row0: int = 0
    row1: int = 0
    stride: int = 0


@dataclass(frozen=True)
class TileWrite:
    """Crossbar ``(core, crossbar)`` holds tile ``tile`` of replica ``replica`` of op ``op``'s weights."""

    core: int
    crossbar: int
    op: str
    replica: int
    tile: int
    group0: int
    ngroups: int
    row0: int
    row1: int
    col0: int
    col1: int
    segment: int = 0


@dataclass(frozen=True)
class Instruction:
    id: int
    kind: str                      # write | operand_write | mvm | vector | host | transfer | barrier
    unit: str                      # "core3", "host", "noc"
    resource: str                  # the unary resource it occupies ("" for none)
    start_ns: int
    end_ns: int
    deps: tuple[int, ...] = ()
    op: str = ""
    replica: int = 0
    segment: int = 0
    crossbars: tuple[tuple[int, int], ...] = ()   # (core, crossbar) pairs used
    reads: tuple[Access, ...] = ()
    writes: tuple[Access, ...] = ()
    nbytes: int = 0
    src_core: int = -1
    dst_core: int = -1
    tile: TileWrite | None = None
    energy_pj: float = 0.0
    rows_per_conversion: int = 0   # mvm: rows driven per ADC conversion (0: all the DACs drive)
    tiles: tuple[TileWrite, ...] = ()   # operand_write: the tile each crossbar of the replica receives
    count: int = 1                 # repetitions (module docstring: compact instructions)
    id_stride: int = 1             # repetition k has id ``id + k * id_stride``
    time_stride_ns: int = 0        # repetition k starts at ``start_ns + k * time_stride_ns`` (count > 1)
    dep_strides: tuple[int, ...] = ()   # repetition k depends on ``deps[j] + k * dep_strides[j]``
    start_offsets_ns: tuple[int, ...] = ()   # unevenly spaced repetitions: k starts at ``start_ns + start_offsets_ns[k]``
    route: tuple[tuple[int, int], ...] = ()   # transfer: the NoC links (router, router) it holds
    dst_cores: tuple[int, ...] = ()     # transfer: every destination of a multicast (dst_core the first)


@dataclass(frozen=True)
class BufferPlan:
    tensor: str
    space: str
    offset: int
    size_bytes: int
    start_ns: int
    end_ns: int
    iteration: int = 0


@dataclass(frozen=True)
class Program:
    model: str
    model_hash: str
    target: str
    target_hash: str
    mode: str                                  # latency | throughput
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...]
    programming: tuple[TileWrite, ...]         # crossbar state before time 0 (segment 0)
    instructions: tuple[Instruction, ...]
    buffers: tuple[BufferPlan, ...]
    spaces: tuple[tuple[str, int], ...]        # memory space -> bytes reserved (peak of the plan)
    makespan_ns: int
    initiation_interval_ns: int
    segments: int = 1
    iterations_in_flight: int = 1              # throughput mode: buffer copies rotate over this many
    metrics: tuple[tuple[str, float], ...] = ()
    solvers: tuple[tuple[str, str], ...] = ()  # stage -> method, limits and seed as text
    stats: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    schema_version: str = SCHEMA_VERSION
    extra: tuple[tuple[str, str], ...] = field(default=())

    def metric(self, key: str, default: float = 0.0) -> float:
        return dict(self.metrics).get(key, default)


# ---- JSON ---------------------------------------------------------------------------------
#: the programming map is stored in runs (`ir.row_runs`): a replica's tiles on consecutive crossbars
TILE_INTS = tuple(f.name for f in fields(TileWrite) if f.type in ("int", int))
_DEFAULTS = {f.name: f.default for f in fields(Instruction)}


def _instr_to_json(i: Instruction) -> dict[str, Any]:
    """An instruction as JSON, fields at their default value left out."""
    d = asdict(i)
    d["crossbars"] = [list(x) for x in i.crossbars]
    d["route"] = [list(x) for x in i.route]
    d["dst_cores"] = list(i.dst_cores)
    d["deps"] = list(i.deps)
    d["reads"] = [_access_to_json(a) for a in i.reads]
    d["writes"] = [_access_to_json(a) for a in i.writes]
    d["dep_strides"] = list(i.dep_strides)
    d["start_offsets_ns"] = list(i.start_offsets_ns)
    keep = ("id", "kind", "start_ns", "end_ns")
    return {k: v for k, v in d.items() if k in keep or not _is_default(k, v)}


def _access_to_json(a: Access) -> dict[str, Any]:
    """An access as JSON; its stride only when a compact instruction shifts it."""
    d = asdict(a)
    if not a.stride:
        del d["stride"]
    return d


def _is_default(key: str, value: Any) -> bool:
    default = _DEFAULTS.get(key)
    if isinstance(default, tuple):
        return not value
    return value == default


def to_json(p: Program) -> dict[str, Any]:
    streams: dict[str, list[dict[str, Any]]] = {}
    for ins in p.instructions:
        streams.setdefault(ins.unit, []).append(_instr_to_json(ins))
    return {
        "schema_version": p.schema_version,
        "model": {"name": p.model, "hash": p.model_hash,
                  "input_shapes": {k: list(v) for k, v in p.input_shapes}},
        "target": {"name": p.target, "hash": p.target_hash},
        "mode": p.mode,
        "makespan_ns": p.makespan_ns,
        "initiation_interval_ns": p.initiation_interval_ns,
        "segments": p.segments,
        "iterations_in_flight": p.iterations_in_flight,
        "programming": fold([asdict(t) for t in p.programming], TILE_INTS),
        "streams": streams,
        "memory": {"spaces": dict(p.spaces), "buffers": [asdict(b) for b in p.buffers]},
        "metrics": dict(p.metrics),
        "solvers": dict(p.solvers),
        "stats": {k: dict(v) for k, v in p.stats},
        "extra": dict(p.extra),
    }


def _access(d: dict[str, Any]) -> Access:
    return Access(**d)


def _instr_from_json(d: dict[str, Any]) -> Instruction:
    d = dict(d)
    d["deps"] = tuple(d.get("deps", ()))
    d["crossbars"] = tuple(tuple(x) for x in d.get("crossbars", ()))
    d["route"] = tuple(tuple(x) for x in d.get("route", ()))
    d["dst_cores"] = tuple(d.get("dst_cores", ()))
    d["reads"] = tuple(_access(a) for a in d.get("reads", ()))
    d["writes"] = tuple(_access(a) for a in d.get("writes", ()))
    d["dep_strides"] = tuple(d.get("dep_strides", ()))
    d["start_offsets_ns"] = tuple(d.get("start_offsets_ns", ()))
    if d.get("tile"):
        d["tile"] = TileWrite(**d["tile"])
    d["tiles"] = tuple(TileWrite(**t) for t in d.get("tiles", ()))
    return Instruction(**d)


_COMPACT_FIELDS = ("count", "id_stride", "time_stride_ns", "dep_strides", "start_offsets_ns")


def _upgrade(d: dict[str, Any]) -> dict[str, Any]:
    """A schema 1.0 document as the 2.0 document it is (1.0 had no compact instructions; a 1.0
    document that uses their fields is an error); any other version unchanged."""
    if d.get("schema_version") != "1.0":
        return d
    streams = d.get("streams")
    for unit, instrs in (streams.items() if isinstance(streams, dict) else ()):
        for x in instrs if isinstance(instrs, list) else ():
            used = [k for k in _COMPACT_FIELDS if isinstance(x, dict) and k in x] + \
                [f"{k}.stride" for k in ("reads", "writes") if isinstance(x, dict)
                 for a in x.get(k, ()) if isinstance(a, dict) and "stride" in a]
            if used:
                raise ProgramError(f"a schema 1.0 program has no compact instructions, but instruction "
                                   f"{x.get('id')!r} on {unit!r} has {', '.join(sorted(set(used)))}")
    tiles = d.get("programming")
    if isinstance(tiles, list) and any(isinstance(t, dict) and ("count" in t or "strides" in t) for t in tiles):
        raise ProgramError("a schema 1.0 program lists every tile of its programming map, but this one has "
                           "runs (count, strides)")
    return {**d, "schema_version": SCHEMA_VERSION}


def from_json(d: dict[str, Any]) -> Program:
    """The program of a JSON document of a readable version (`READABLE_VERSIONS`), compact
    instructions kept compact; ProgramError naming the first place that breaks the schema."""
    d = _upgrade(d)
    validate_schema(d)
    instrs = sorted((_instr_from_json(x) for s in d["streams"].values() for x in s), key=lambda i: i.id)
    m = d["memory"]
    return Program(
        model=d["model"]["name"], model_hash=d["model"]["hash"],
        target=d["target"]["name"], target_hash=d["target"]["hash"],
        mode=d["mode"],
        input_shapes=tuple((k, tuple(v)) for k, v in d["model"]["input_shapes"].items()),
        programming=tuple(TileWrite(**t) for t in unfold(d["programming"], TILE_INTS, "programming record")),
        instructions=tuple(instrs),
        buffers=tuple(BufferPlan(**b) for b in m["buffers"]),
        spaces=tuple((k, int(v)) for k, v in m["spaces"].items()),
        makespan_ns=int(d["makespan_ns"]), initiation_interval_ns=int(d["initiation_interval_ns"]),
        segments=int(d["segments"]), iterations_in_flight=int(d.get("iterations_in_flight", 1)),
        metrics=tuple((k, float(v)) for k, v in d["metrics"].items()),
        solvers=tuple((k, str(v)) for k, v in d["solvers"].items()),
        stats=tuple((k, tuple((a, b) for a, b in v.items())) for k, v in d["stats"].items()),
        schema_version=d["schema_version"],
        extra=tuple((k, str(v)) for k, v in d.get("extra", {}).items()),
    )


def schema() -> dict[str, Any]:
    """The JSON Schema of the program format."""
    text = resources.files("cimopt.ir").joinpath("program.schema.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    """The schema compiled to a Python function (fastjsonschema: a 3 MB program in well under 1 s)."""
    return fastjsonschema.compile(schema())


def validate_schema(d: Any) -> None:
    """Raise ProgramError naming the first place where ``d`` breaks the schema."""
    try:
        _validator()(d)
    except fastjsonschema.JsonSchemaValueException as e:
        where = "/".join(str(x) for x in e.path[1:]) or "(top level)"
        raise ProgramError(f"program does not match schema {SCHEMA_VERSION} at {where}: {e.message[:200]}") from None


def save(p: Program, path: str | os.PathLike[str]) -> None:
    with open(path, "w") as f:
        json.dump(to_json(p), f, separators=(",", ":"))


def load(path: str | os.PathLike[str]) -> Program:
    where = os.fspath(path)
    try:
        with open(where) as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ProgramError(f"{where}: no such program file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ProgramError(f"{where}: not a JSON program ({e})") from None
    if not isinstance(d, dict) or d.get("schema_version") not in READABLE_VERSIONS:
        raise ProgramError(f"{where}: schema_version {d.get('schema_version') if isinstance(d, dict) else None!r} "
                           f"is not one this cimopt reads ({', '.join(READABLE_VERSIONS)}); recompile the model "
                           f"with this cimopt")
    try:
        return from_json(d)
    except ProgramError as e:
        raise ProgramError(f"{where}: {e}") from None
    except (TypeError, KeyError, ValueError) as e:
        raise ProgramError(f"{where}: malformed program ({type(e).__name__}: {e})") from None
