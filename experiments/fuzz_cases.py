"""Seeded mutation fuzzing of the command line: models, programs and targets.

`cases` writes mutated inputs into a folder and returns `Case`s: a ``cimopt`` argument list and
whether the input is known to be corrupted (a program changed so that it is wrong: it must never
pass ``run`` or ``validate MODEL``).  `run_case` runs one in this process (fast: for the test
suite) or as a subprocess (for `experiments/fuzz.py`), bounded by a time limit, and `judge`
says whether the outcome is acceptable: exit code 0, 1 or 2 only, no traceback, no hang, and
exit 1 or 2 for a corrupted program.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cimopt.targets.load import PRESET_DIR

KINDS = ("model", "program", "target")


@dataclass(frozen=True)
class Case:
    kind: str                 # model | program | target
    name: str                 # what was mutated, for reports
    argv: tuple[str, ...]     # arguments of ``cimopt``
    corrupted: bool           # a program known to be wrong: exit 0 is a missed corruption


@dataclass(frozen=True)
class Outcome:
    code: int | None          # exit code (None: hung or crashed)
    traceback: bool
    hang: bool
    detail: str               # the last line of output or the exception


def _w(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) / np.sqrt(max(1, int(np.prod(shape[1:]))))).astype(np.float32)


def base_model(seed: int = 0) -> onnx.ModelProto:
    """A small CNN: Conv+Relu, depthwise Conv, HardSwish, global pooling, Flatten, Gemm, Softmax."""
    r = np.random.default_rng(seed)
    n = helper.make_node
    inits = [numpy_helper.from_array(_w(r, 8, 3, 3, 3), "w1"), numpy_helper.from_array(_w(r, 8), "b1"),
             numpy_helper.from_array(_w(r, 8, 1, 3, 3), "w2"), numpy_helper.from_array(_w(r, 10, 8), "w3"),
             numpy_helper.from_array(_w(r, 10), "b3")]
    nodes = [n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             n("Relu", ["c1"], ["r1"], name="relu1"),
             n("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8, name="dw"),
             n("HardSwish", ["c2"], ["h"], name="hs"),
             n("GlobalAveragePool", ["h"], ["g"], name="gap"),
             n("Flatten", ["g"], ["f"], name="flat"),
             n("Gemm", ["f", "w3", "b3"], ["l"], transB=1, name="fc"),
             n("Softmax", ["l"], ["y"], axis=1, name="sm")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])
    m = helper.make_model(helper.make_graph(nodes, "fuzz_base", [x], [y], inits),
                          opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


_EXTREMES = (-1, 0, 1, 2, 3, 7, 1 << 20, 1 << 40, -(1 << 31))


def _mutate_model(m: onnx.ModelProto, rng: random.Random) -> tuple[str, onnx.ModelProto | bytes]:
    """One random change to a copy of ``m``: dims, weights, attributes, opset, wiring or bytes."""
    c = onnx.ModelProto()
    c.CopyFrom(m)
    g = c.graph
    what = rng.choice(["input-dim", "weight-shape", "weight-value", "attribute", "opset", "output", "wiring",
                       "elem-type", "drop-node", "bytes", "truncate"])
    if what == "input-dim":
        d = rng.choice(list(g.input[0].type.tensor_type.shape.dim))
        d.Clear()
        d.dim_value = rng.choice(_EXTREMES)
    elif what == "weight-shape":
        t = rng.choice(list(g.initializer))
        a = numpy_helper.to_array(t)
        dims = list(a.shape)
        k = rng.randrange(len(dims)) if dims else 0
        new = dims[:k] + [rng.choice([0, 1, 2, 5])] + dims[k + 1:] if dims else [3]
        t.CopyFrom(numpy_helper.from_array(np.ones(new, a.dtype), t.name))
    elif what == "weight-value":
        t = rng.choice(list(g.initializer))
        a = numpy_helper.to_array(t).copy()
        a.flat[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e38, 0.0])
        t.CopyFrom(numpy_helper.from_array(a, t.name))
    elif what == "attribute":
        node = rng.choice([n for n in g.node if n.attribute])
        a = rng.choice(list(node.attribute))
        if a.type == onnx.AttributeProto.INT:
            a.i = rng.choice(_EXTREMES)
        elif a.type == onnx.AttributeProto.INTS:
            a.ints[rng.randrange(len(a.ints))] = rng.choice(_EXTREMES)
    elif what == "opset":
        c.opset_import[0].version = rng.choice([1, 6, 12, 99, 10_000])
    elif what == "output":
        if rng.random() < 0.5:
            del g.output[:]
        else:
            g.output[0].name = rng.choice(["nothing", "c1", "w1"])
    elif what == "wiring":
        node = rng.choice(list(g.node))
        node.input[rng.randrange(len(node.input))] = rng.choice(["dangling", "y", "x", ""])
    elif what == "elem-type":
        g.input[0].type.tensor_type.elem_type = rng.choice([TensorProto.BOOL, TensorProto.STRING, TensorProto.INT8,
                                                            TensorProto.DOUBLE, TensorProto.FLOAT16])
    elif what == "drop-node":
        del g.node[rng.randrange(len(g.node))]
    else:
        raw = bytearray(c.SerializeToString())
        if what == "truncate":
            return what, bytes(raw[:rng.randrange(1, len(raw))])
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return what, bytes(raw)
    return what, c


def _mutate_program(p: dict, rng: random.Random) -> tuple[str, bool]:
    """One change that makes the program ``p`` (JSON, changed in place) wrong; (what, corrupted)."""
    ins = [i for s in p["streams"].values() for i in s]
    what = rng.choice(["makespan", "tile-core", "tile-crossbar", "mvm-crossbar", "duration", "ii", "space",
                       "write-offset", "drop-instruction", "field-type", "unknown-op", "count", "stride"])
    compact = [i for i in ins if i.get("count", 1) > 1]
    if what in ("count", "stride") and not compact:
        what = "duration"
    if what == "makespan":
        p["makespan_ns"] = rng.choice([p["makespan_ns"] // 2, p["makespan_ns"] + 1, 0, 1 << 62])
    elif what == "tile-core":
        rng.choice(p["programming"])["core"] = rng.choice([9999, 1 << 40, -1])
    elif what == "tile-crossbar":
        rng.choice(p["programming"])["crossbar"] = rng.choice([5000, 1 << 40, -1])
    elif what == "mvm-crossbar":
        m = rng.choice([i for i in ins if i.get("crossbars")])
        k = rng.randrange(len(m["crossbars"]))
        m["crossbars"][k] = rng.choice([[9999, 0], [0, 5000], [m["crossbars"][k][0], 5000]])
    elif what == "duration":
        i = rng.choice([i for i in ins if i["end_ns"] > i.get("start_ns", 0) + 1])
        i["end_ns"] += rng.choice([-1, 1, 1000])
    elif what == "ii":
        p["mode"], p["initiation_interval_ns"] = "throughput", rng.choice([1, 2, 10])
    elif what == "space":
        sp = rng.choice(list(p["memory"]["spaces"]))
        p["memory"]["spaces"][sp] = rng.choice([1 << 40, 1 << 60])
    elif what == "write-offset":
        i = rng.choice([i for i in ins if i.get("writes") and i["kind"] in ("mvm", "vector", "host")])
        i["writes"][0]["offset"] += rng.choice([64, 1 << 20, 1 << 40])
    elif what == "drop-instruction":
        victims = [i for i in ins if i["kind"] in ("mvm", "vector", "host")]
        v = rng.choice(victims)
        for s in p["streams"].values():
            if v in s:
                s.remove(v)
    elif what == "field-type":
        i = rng.choice(ins)
        i[rng.choice(["start_ns", "end_ns", "id", "deps"])] = rng.choice(["x", None, -5, 1.5, [1]])
    elif what == "count":   # a compact instruction (schema 2.0) with another count
        i = rng.choice(compact)
        i["count"] = rng.choice([0, -1, i["count"] + 1, 1 << 40, "x"])
    elif what == "stride":   # ... or another stride of its rows
        i = rng.choice(compact)
        accs = i.get("reads", []) + i.get("writes", [])
        if accs:
            rng.choice(accs)["stride"] = rng.choice([-1, 1 << 20, 10**6])
        else:
            i["count"] = 0
    else:
        i = rng.choice([i for i in ins if i.get("op")])
        i["op"] = "no-such-op"
    return what, True


def _mutate_target(text: str, rng: random.Random) -> tuple[str, str]:
    """One field of a preset's TOML text set to an implausible or ill-typed value, dropped or doubled."""
    lines = text.splitlines()
    fields = [k for k, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith(("#", "name", "desc",
                                                                                             "sources", "["))]
    k = rng.choice(fields)
    key = lines[k].split("=")[0].strip()
    how = rng.choice(["value", "value", "value", "drop", "unknown"])
    if how == "drop":
        lines[k] = ""
    elif how == "unknown":
        lines[k] += f"\n{key}_typo = 1"
    else:
        v = rng.choice(["0", "-1", "1e308", "1e-300", "1099511627776", "1180591620717411303424", "1000", "nan",
                        "inf", "true", '"x"', "0.5", "1e9", "[1]", "65536", "4096"])
        lines[k] = f"{key} = {v}"
    return f"{key}:{how}", "\n".join(lines) + "\n"


def cases(seed: int, n: int, folder: str | os.PathLike[str], kinds: tuple[str, ...] = KINDS,
          program: tuple[str, str] | None = None) -> list[Case]:
    """``n`` cases per kind, written under ``folder`` (seeded: the same seed gives the same files).

    Program cases mutate ``program`` = (program path, its model path), compiled beforehand by
    `compile_base`.
    """
    rng = random.Random(seed)
    out: list[Case] = []
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    base = base_model(seed)
    for i in range(n):
        if "model" in kinds:
            what, m = _mutate_model(base, rng)
            path = root / f"model_{seed}_{i}.onnx"
            path.write_bytes(m if isinstance(m, bytes) else m.SerializeToString())
            shape = ["--input-shape", "x=1x3x8x8"] if rng.random() < 0.7 else []
            out.append(Case("model", what, ("inspect", str(path), "--target", "edge", *shape), False))
            prog = root / f"model_{seed}_{i}.json"
            out.append(Case("model", what, ("compile", str(path), "--target", "edge", "-o", str(prog), "--quiet",
                                            *shape), False))
        if "program" in kinds and program is not None:
            p = json.loads(Path(program[0]).read_text())
            what, bad = _mutate_program(p, rng)
            path = root / f"program_{seed}_{i}.json"
            path.write_text(json.dumps(p))
            out.append(Case("program", what, ("run", str(path), program[1]), bad))
            out.append(Case("program", what, ("validate", str(path), program[1]), bad))
        if "target" in kinds:
            preset = rng.choice(sorted(PRESET_DIR.glob("*.toml")))
            what, text = _mutate_target(preset.read_text(), rng)
            path = root / f"target_{seed}_{i}.toml"
            path.write_text(text)
            out.append(Case("target", f"{preset.stem}.{what}", ("inspect", str(root / "base.onnx"), "--target",
                                                                 str(path), "--input-shape", "x=1x3x8x8", "--json"),
                            False))
    if "target" in kinds:
        onnx.save(base, str(root / "base.onnx"))
    return out


def compile_base(folder: str | os.PathLike[str], target: str = "edge", seed: int = 0) -> tuple[str, str]:
    """Compile `base_model` (throughput mode) into ``folder``; returns (program path, model path)."""
    from cimopt.cli.main import main

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    model, prog = root / "base.onnx", root / "base.program.json"
    onnx.save(base_model(seed), str(model))
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["compile", str(model), "--target", target, "-o", str(prog), "--quiet", "--mode", "throughput",
                     "--input-shape", "x=1x3x8x8"])
    if code != 0:
        raise RuntimeError(f"the fuzz base model does not compile on {target} (exit {code})")
    return str(prog), str(model)


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: object) -> None:
    raise _Hang


def run_in_process(case: Case, time_limit_s: float) -> Outcome:
    """Run ``cimopt`` in this process (main thread, Unix: SIGALRM bounds it to ``time_limit_s``)."""
    from cimopt.cli.main import main

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit_s)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(case.argv))
        return Outcome(code, False, False, _last(out.getvalue() + err.getvalue()))
    except _Hang:
        return Outcome(None, False, True, f"no exit within {time_limit_s} s")
    except BaseException as e:  # noqa: BLE001 - what escapes main() is a traceback for a user
        return Outcome(None, True, False, "".join(traceback.format_exception_only(type(e), e)).strip()[:300])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_subprocess(case: Case, time_limit_s: float) -> Outcome:
    """Run ``python -m cimopt.cli.main`` on the case, killed after ``time_limit_s``."""
    try:
        r = subprocess.run([sys.executable, "-m", "cimopt.cli.main", *case.argv], capture_output=True, text=True,
                           timeout=time_limit_s)
    except subprocess.TimeoutExpired:
        return Outcome(None, False, True, f"no exit within {time_limit_s} s")
    tb = "Traceback (most recent call last)" in r.stderr
    return Outcome(r.returncode, tb, False, _last(r.stdout + r.stderr))


def _last(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def judge(case: Case, outcome: Outcome) -> str:
    """``ok``, or what is wrong: ``traceback``, ``hang``, ``exit N`` or ``missed corruption``."""
    if outcome.traceback:
        return "traceback"
    if outcome.hang:
        return "hang"
    if outcome.code not in (0, 1, 2):
        return f"exit {outcome.code}"
    if case.corrupted and outcome.code == 0:
        return "missed corruption"
    return "ok"


Runner = Callable[[Case, float], Outcome]
