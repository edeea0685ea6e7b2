"""A sweep specification (TOML) and its expansion into independent tasks.

Keys of a spec file (lists are grid axes; every combination is one task)::

    models = ["a.onnx", "light:squeezenet"]  # paths relative to the spec, or light:NAME (onnx's light graphs)
    targets = ["isaac", "pimcomp"]            # preset names or target .toml paths (relative to the spec)
    modes = ["latency"]                       # latency | throughput            (default ["latency"])
    solvers = ["heuristic", "exact"]          # heuristic | exact               (default ["heuristic"])
    methods = [{placement = "lns"}, {}]       # per-stage method overrides       (default [{}])
    seeds = [0]                               # solver seeds                    (default [0])
    time_limit_s = 5                          # seconds per solve, a number or a list (default 10): each exact
                                              # stage, and the heuristics' local search, stop there
    run = true                                # also run each program on the reference machine (default false)
    random_weights = false                    # compile each model with random weights, seed 0 (default false)
    workers = 1                               # CP-SAT workers per solve (default 1: a solve that ends
                                              # before its time limit is then reproducible)
    deterministic = true                      # time_limit_s in deterministic seconds (CP-SAT's plus counted
                                              # work): every row reproducible, but NOT a wall-clock limit
                                              # (default: true with workers = 1, as before; false: wall s)
    chunks = 4                                # output-row chunks per crossbar op (default 4)
    budget_s = 600                            # wall budget of one task (its process start included), seconds;
                                              # past it the task is killed and its row says timeout
    name = "heuristic_vs_exact"               # optional label copied into every row

Every problem raises `SpecError` naming the file, the key and the value, before any task runs:
`load_spec` also checks that every model file exists (``light:NAME`` among the onnx package's
light graphs), every target loads, and every stage and method in ``methods`` exists.  A task is plain data
(`SweepTask`, picklable) with a stable ``key``: the sha256 of its combination, so a rerun of the
same spec finds the rows it already has.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cimopt.options import MODES, SOLVERS
from cimopt.sweep.errors import SpecError

LIGHT_PREFIX = "light:"

_KEYS = ("models", "targets", "modes", "solvers", "methods", "seeds", "time_limit_s", "run",
         "random_weights", "workers", "chunks", "budget_s", "name", "deterministic")


@dataclass(frozen=True)
class SweepTask:
    """One combination of the grid: everything a worker needs to compile (and run) one program."""

    model: str                 # as the spec names it ("light:squeezenet", "nets/a.onnx")
    model_path: str            # absolute path of the ONNX file
    target: str                # as the spec names it
    target_ref: str            # preset name or absolute path of the target file
    mode: str
    solver: str
    methods: tuple[tuple[str, str], ...]
    seed: int
    time_limit_s: float
    workers: int
    chunks: int
    run: bool
    random_weights: bool
    budget_s: float
    sweep: str = ""
    #: time_limit_s in deterministic seconds (`--deterministic-time`); None: ``workers == 1``
    deterministic: bool | None = None

    def __post_init__(self) -> None:
        if self.deterministic is None:
            object.__setattr__(self, "deterministic", self.workers == 1)

    @property
    def key(self) -> str:
        """sha256 (16 hex digits) of the combination; the same in every rerun of the spec."""
        d = asdict(self)
        for k in ("model_path", "target_ref", "budget_s", "sweep"):
            d.pop(k)
        if self.deterministic == (self.workers == 1):  # the implied choice: keys as before the key
            d.pop("deterministic")
        d["methods"] = [list(m) for m in self.methods]
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def methods_text(self) -> str:
        """``placement=lns;scheduling=list`` ('' for the defaults)."""
        return ";".join(f"{s}={m}" for s, m in self.methods)


@dataclass(frozen=True)
class SweepSpec:
    path: str
    tasks: tuple[SweepTask, ...]


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a spec file; its tasks in grid order (models outermost, time limits innermost)."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise SpecError(f"{where}: no such sweep spec") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{where}: cannot read the sweep spec ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{where}: not valid TOML ({e})") from None
    tasks = expand(raw, Path(where).resolve().parent, where)
    check_tasks(tasks, where)
    return SweepSpec(where, tasks)


def check_tasks(tasks: tuple[SweepTask, ...], where: str = "spec") -> None:
    """Refuse (`SpecError`) a spec whose grid names a model file that does not exist, a target
    that does not load, or a stage or method that does not exist: each is named, with the
    choices where there are few (light graphs, stages, methods)."""
    from cimopt.ir.errors import CimoptError
    from cimopt.solver.interface import check_overrides
    from cimopt.solver.registry import STAGES
    from cimopt.targets.load import load_target

    seen: set[str] = set()
    for t in tasks:
        if t.model in seen:
            continue
        seen.add(t.model)
        if t.model.startswith(LIGHT_PREFIX) and not os.path.isfile(t.model_path):
            names = sorted(f[len("light_"):-len(".onnx")] for f in os.listdir(os.path.dirname(t.model_path))
                           if f.startswith("light_") and f.endswith(".onnx")) \
                if os.path.isdir(os.path.dirname(t.model_path)) else []
            raise SpecError(f"{where}: models: {t.model!r}: no such light graph; the onnx package has "
                            + ", ".join(LIGHT_PREFIX + n for n in names))
        if not os.path.isfile(t.model_path):
            raise SpecError(f"{where}: models: {t.model!r}: no such model file ({t.model_path}; paths are "
                            "relative to the spec's folder)")
    for ref, name in dict.fromkeys((t.target_ref, t.target) for t in tasks):
        try:
            load_target(ref)
        except CimoptError as e:
            raise SpecError(f"{where}: targets: {name!r}: {e}") from None
    for methods in dict.fromkeys(t.methods for t in tasks):
        try:
            check_overrides(STAGES, dict(methods))
        except CimoptError as e:
            raise SpecError(f"{where}: methods: {dict(methods)}: {e}") from None


def expand(raw: dict[str, Any], base: Path, where: str = "spec") -> tuple[SweepTask, ...]:
    """Validate the spec's keys and types and expand its grid into tasks."""
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise SpecError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(_KEYS)})")
    models = _strings(raw, "models", where, None)
    targets = _strings(raw, "targets", where, None)
    modes = _choices(raw, "modes", where, MODES, ["latency"])
    solvers = _choices(raw, "solvers", where, SOLVERS, ["heuristic"])
    methods = _methods(raw.get("methods", [{}]), where)
    seeds = _ints(raw, "seeds", where, [0], minimum=0)
    limits = raw.get("time_limit_s", 10.0)
    limits = limits if isinstance(limits, list) else [limits]
    if not limits or not all(_positive(x) for x in limits):
        raise SpecError(f"{where}: time_limit_s: expected a positive number of seconds or a list of them, "
                        f"got {raw.get('time_limit_s')!r}")
    run = _bool(raw, "run", where, False)
    random_weights = _bool(raw, "random_weights", where, False)
    workers = _ints({"workers": [raw.get("workers", 1)]}, "workers", where, [1], minimum=1)[0]
    chunks = _ints({"chunks": [raw.get("chunks", 4)]}, "chunks", where, [4], minimum=1)[0]
    deterministic = _bool(raw, "deterministic", where, workers == 1)
    budget = raw.get("budget_s", 600.0)
    if not _positive(budget):
        raise SpecError(f"{where}: budget_s: expected a positive number of seconds, got {budget!r}")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise SpecError(f"{where}: name: expected a string, got {name!r}")
    tasks = []
    for m, t, mode, solver, meth, seed, lim in itertools.product(models, targets, modes, solvers, methods,
                                                                  seeds, limits):
        tasks.append(SweepTask(m, _model_path(m, base), t, _target_ref(t, base), mode, solver, meth, seed,
                               float(lim), workers, chunks, run, random_weights, float(budget), name,
                               deterministic))
    keys = [x.key for x in tasks]
    if len(set(keys)) != len(keys):
        raise SpecError(f"{where}: the grid names the same combination twice (a repeated value in a list)")
    return tuple(tasks)


def _model_path(model: str, base: Path) -> str:
    """light:NAME -> the onnx package's light_NAME.onnx; anything else a path relative to the spec
    (whether it exists is `check_tasks`'s question)."""
    if model.startswith(LIGHT_PREFIX):
        import onnx

        name = model[len(LIGHT_PREFIX):]
        return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
                            f"light_{name}.onnx")
    return str((base / model).resolve())


def _target_ref(target: str, base: Path) -> str:
    if target.endswith(".toml") or "/" in target:
        return str((base / target).resolve())
    return target


def _positive(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _list(raw: dict[str, Any], key: str, where: str, default: list[Any] | None) -> list[Any]:
    if key not in raw:
        if default is None:
            raise SpecError(f"{where}: {key}: required (a list)")
        return default
    v = raw[key]
    if not isinstance(v, list) or not v:
        raise SpecError(f"{where}: {key}: expected a non-empty list, got {v!r}")
    return v


def _strings(raw: dict[str, Any], key: str, where: str, default: list[str] | None) -> list[str]:
    v = _list(raw, key, where, default)
    bad = [x for x in v if not isinstance(x, str) or not x]
    if bad:
        raise SpecError(f"{where}: {key}: expected non-empty strings, got {bad[0]!r}")
    return v


def _choices(raw: dict[str, Any], key: str, where: str, allowed: tuple[str, ...], default: list[str]) -> list[str]:
    v = _strings(raw, key, where, default)
    bad = [x for x in v if x not in allowed]
    if bad:
        raise SpecError(f"{where}: {key}: {bad[0]!r} is not one of {', '.join(allowed)}")
    return v


def _ints(raw: dict[str, Any], key: str, where: str, default: list[int], minimum: int) -> list[int]:
    v = _list(raw, key, where, default)
    bad = [x for x in v if not isinstance(x, int) or isinstance(x, bool) or x < minimum]
    if bad:
        raise SpecError(f"{where}: {key}: expected integers >= {minimum}, got {bad[0]!r}")
    return v


def _bool(raw: dict[str, Any], key: str, where: str, default: bool) -> bool:
    v = raw.get(key, default)
    if not isinstance(v, bool):
        raise SpecError(f"{where}: {key}: expected true or false, got {v!r}")
    return v


def _methods(v: Any, where: str) -> list[tuple[tuple[str, str], ...]]:
    """``[{placement = "lns"}, {}]`` -> [(("placement", "lns"),), ()]: one grid value per table."""
    if not isinstance(v, list) or not v:
        raise SpecError(f"{where}: methods: expected a non-empty list of tables such as "
                        f"[{{placement = \"lns\"}}, {{}}], got {v!r}")
    out = []
    for i, table in enumerate(v):
        if not isinstance(table, dict):
            raise SpecError(f"{where}: methods[{i}]: expected a table stage = \"method\", got {table!r}")
        for stage, method in table.items():
            if not isinstance(method, str) or not method:
                raise SpecError(f"{where}: methods[{i}].{stage}: expected a method name (string), got {method!r}")
        out.append(tuple(sorted(table.items())))
    return out
