"""Conformance: the onnx package's own backend test cases through ``cimopt compile`` + ``run``.

    python experiments/conformance.py [--target isaac] [--suites pytorch-converted,pytorch-operator,simple]
                                      [--only SUBSTRING] [--time-limit 300] [--include-light]

Every case folder of the installed onnx package's backend test data that ships inputs and
expected outputs (``onnx/backend/test/data/<suite>/<case>/model.onnx`` with
``test_data_set_*/input_*.pb`` and ``output_*.pb``; written by the onnx project, not by us) is
compiled onto the target, run on the reference machine with the case's inputs, and the
machine's outputs are compared with the case's expected outputs (``rtol 1e-3``, ``atol 1e-5``,
the tolerances of onnx's own backend runner, loosened for float32 accumulation order).

Each case ends in one of:

* ``match``: compiled, ran with no violation, every output matches;
* ``refused``: cimopt exited 2 with a message (the reason is printed); a refusal is acceptable
  only when onnxruntime cannot run the case either (after upgrading its opset), otherwise it
  counts as a failure (``refused-valid``);
* ``failure``: a traceback, a hang, a violation, or outputs that differ.

Prints one line per case, then the counts; exits 1 if any case failed (``refused-valid``
included).  The light graphs (``--include-light``) ship no inputs: they run on seeded inputs
and are compared with their shipped output, which their constant weights make input-independent.
"""
from __future__ import annotations

import argparse
import glob
import io
import os
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from types import FrameType

import numpy as np
import onnx
from onnx import numpy_helper

from cimopt.cli.main import main as cimopt_main

import onnxruntime

onnxruntime.set_default_logger_severity(4)  # it logs each failing kernel; the outcome table says what failed

DATA = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
SUITES = ("pytorch-converted", "pytorch-operator", "simple")
RTOL, ATOL = 1e-3, 1e-5


@dataclass
class Case:
    """One backend test case: its model, inputs by graph-input name and expected outputs in order."""

    suite: str
    name: str
    model: str
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: list[np.ndarray] = field(default_factory=list)
    unreadable: str = ""  # why the case's data could not be read as plain tensors (sequences, maps)


def _read_pb(path: str) -> np.ndarray:
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def _numbered(folder: str, prefix: str) -> list[str]:
    files = glob.glob(os.path.join(folder, f"{prefix}_*.pb"))
    return sorted(files, key=lambda p: int(os.path.basename(p)[len(prefix) + 1:-3]))


def load_case(suite: str, folder: str) -> Case:
    model = os.path.join(folder, "model.onnx")
    case = Case(suite, os.path.basename(folder), model)
    proto = onnx.load(model, load_external_data=False)
    inits = {i.name for i in proto.graph.initializer}
    names = [i.name for i in proto.graph.input if i.name not in inits]
    sets = sorted(glob.glob(os.path.join(folder, "test_data_set_*")))
    if not sets:
        return case
    try:
        ins = [_read_pb(p) for p in _numbered(sets[0], "input")]
        case.outputs = [_read_pb(p) for p in _numbered(sets[0], "output")]
    except Exception as e:  # noqa: BLE001 - a sequence or map proto is not a TensorProto
        case.unreadable = f"test data is not plain tensors ({type(e).__name__})"
        return case
    case.inputs = dict(zip(names, ins))
    return case


def light_cases() -> Iterator[Case]:
    for model in sorted(glob.glob(os.path.join(DATA, "light", "light_*.onnx"))):
        out = model[:-len(".onnx")] + "_output_0.pb"
        yield Case("light", os.path.basename(model)[:-len(".onnx")], model, {}, [_read_pb(out)])


def cases(suites: list[str], only: str) -> Iterator[Case]:
    for suite in suites:
        if suite == "light":
            yield from (c for c in light_cases() if only in c.name)
            continue
        for folder in sorted(glob.glob(os.path.join(DATA, suite, "*"))):
            if os.path.isfile(os.path.join(folder, "model.onnx")) and only in os.path.basename(folder):
                yield load_case(suite, folder)


def ort_runs(case: Case) -> tuple[bool, str]:
    """Can onnxruntime run the case, directly or after `onnx.version_converter` upgrades it?"""
    proto = onnx.load(case.model)
    so = onnxruntime.SessionOptions()
    so.log_severity_level = 4
    last = ""
    for attempt in ("as is", "upgraded"):
        if attempt == "upgraded":
            try:
                from onnx import version_converter
                proto = version_converter.convert_version(proto, max(onnx.defs.onnx_opset_version() - 4, 7))
            except Exception as e:  # noqa: BLE001
                return False, f"version converter: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}"
        try:
            sess = onnxruntime.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
            if case.inputs:
                sess.run(None, case.inputs)
            return True, attempt
        except Exception as e:  # noqa: BLE001
            last = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
    return False, last


class _Hang(BaseException):
    """The time limit of one command ran out (a BaseException: the machine's broad ``except
    Exception`` around each instruction must not turn it into a violation)."""


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise _Hang()


def _cli(argv: list[str], time_limit: float) -> tuple[int | str, str]:
    """Run ``cimopt ARGV`` in this process: (exit code, or "traceback"/"hang"; its output)."""
    out = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        with redirect_stdout(out), redirect_stderr(out):
            code: int | str = cimopt_main(argv)
    except _Hang:
        code = "hang"
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 2
    except Exception:  # noqa: BLE001 - anything escaping the CLI is a failure to report
        code = "traceback"
        out.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return code, out.getvalue()


def _last_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    err = [ln for ln in lines if ln.startswith("cimopt: error:")]
    return err[-1][len("cimopt: error: "):] if err else (lines[-1] if lines else "")


def run_case(case: Case, target: str, tmp: str, time_limit: float) -> tuple[str, str]:
    """(outcome, detail) of one case: match, refused (detail: the reason) or failure (detail: why)."""
    if case.unreadable:
        return "skipped", case.unreadable
    prog = os.path.join(tmp, f"{case.suite}-{case.name}.json")
    shapes = [f"{k}={'x'.join(map(str, v.shape))}" for k, v in case.inputs.items() if v.ndim]
    argv = ["compile", case.model, "--target", target, "-o", prog, "--quiet"]
    for s in shapes:
        argv += ["--input-shape", s]
    code, text = _cli(argv, time_limit)
    if code == 2:
        return "refused", _last_error(text).replace(f"{case.model}: ", "")[:300]
    if code != 0:
        return "failure", f"compile {code}: {_last_error(text)[:300]}"
    ins = os.path.join(tmp, f"{case.suite}-{case.name}-in.npz")
    outs = os.path.join(tmp, f"{case.suite}-{case.name}-out.npz")
    argv = ["run", prog, case.model, "--outputs", outs]
    if case.inputs:
        # strings as fixed-width text: an object array would need pickle to load
        np.savez(ins, **{k: v.astype(str) if v.dtype == object else v for k, v in case.inputs.items()})
        argv += ["--inputs", ins]
    code, text = _cli(argv, time_limit)
    if code == 2:
        return "refused", "run: " + _last_error(text)[:300]
    if code not in (0, 1) or not os.path.exists(outs):
        return "failure", f"run {code}: {_last_error(text)[:300]}"
    if "violation(s)" in text and " 0 violation(s)" not in text:
        return "failure", "run: " + _last_error(text)[:300]
    got = np.load(outs)
    names = list(onnx.load(case.model, load_external_data=False).graph.output)
    for i, (o, want) in enumerate(zip(names, case.outputs)):
        if o.name not in got:
            return "failure", f"output {o.name!r} missing"
        have = got[o.name]
        if have.shape != want.shape:
            return "failure", f"output {i} shape {have.shape}, expected {want.shape}"
        if want.dtype.kind in "fc":
            if not np.allclose(have.astype(np.float64), want.astype(np.float64), rtol=RTOL, atol=ATOL,
                               equal_nan=True):
                err = float(np.nanmax(np.abs(have.astype(np.float64) - want.astype(np.float64)))) \
                    if want.size else 0.0
                return "failure", f"output {i} differs (max abs error {err:.3g})"
        elif not np.array_equal(have, want):
            return "failure", f"output {i} differs"
    return "match", f"{len(case.outputs)} output(s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="isaac")
    ap.add_argument("--suites", default=",".join(SUITES))
    ap.add_argument("--include-light", action="store_true", help="also the nine light graphs (slow)")
    ap.add_argument("--only", default="", help="cases whose name contains this")
    ap.add_argument("--time-limit", type=float, default=1800.0,
                    help="seconds per command before it is a hang (VGG-19 on a loaded 2-core machine: ~600 s)")
    a = ap.parse_args()
    suites = a.suites.split(",") + (["light"] if a.include_light else [])
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    failed = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases(suites, a.only):
            t = time.perf_counter()
            outcome, detail = run_case(case, a.target, tmp, a.time_limit)
            if outcome in ("refused", "skipped"):
                runs, why = ort_runs(case) if not case.unreadable else (False, case.unreadable)
                if runs:
                    outcome = "refused-valid"
                else:
                    reasons[detail[:110]] += 1
            if outcome in ("failure", "refused-valid"):
                failed += 1
            counts[outcome] += 1
            print(f"{outcome:<14} {case.suite}/{case.name:<40} {time.perf_counter() - t:6.1f} s  {detail}",
                  flush=True)
    print(f"\n{'outcome':<14} cases")
    for k in ("match", "refused", "skipped", "refused-valid", "failure"):
        print(f"{k:<14} {counts[k]}")
    if reasons:
        print("\nrefused (onnxruntime cannot run these either), by reason:")
        for why, n in reasons.most_common():
            print(f"  {n:>3}  {why}")
    print(f"{sum(counts.values())} cases on {a.target} in {time.perf_counter() - t0:.0f} s: "
          f"{counts['match']} match, {counts['refused'] + counts['skipped']} refused where onnxruntime cannot run "
          f"them either, {failed} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
