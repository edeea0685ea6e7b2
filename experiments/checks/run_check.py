"""compile + run over a model set: each program must run with no violation and match onnxruntime.

Usage: python experiments/checks/run_check.py [light|SET.tsv] [--solver heuristic|exact] [--presets a,b] [--modes latency,throughput]
Last line: the figure; exit 0 when all pass.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PRESETS, cimopt, last_line, model_set, shape_args  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("which", nargs="?", default="light")
ap.add_argument("--solver", default=None)
ap.add_argument("--presets", default=",".join(PRESETS))
ap.add_argument("--modes", default="latency,throughput")
a = ap.parse_args()
C = cimopt()
d = tempfile.mkdtemp(prefix="cimopt-run-")
ok = total = 0
fails, times = [], []
for name, path, shapes in model_set(a.which):
    sa = shape_args(shapes)
    for t in a.presets.split(","):
        for mode in a.modes.split(","):
            total += 1
            tag = f"{name}/{t}/{mode}"
            prog = os.path.join(d, f"{name}-{t}-{mode}.json")
            cmd = [C, "compile", path, "--target", t, "-o", prog, "--mode", mode] + sa
            if a.solver:
                cmd += ["--solver", a.solver]
            t0 = time.time()
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            except subprocess.TimeoutExpired:
                fails.append(f"{tag}: compile timeout"); continue
            if p.returncode != 0:
                fails.append(f"{tag}: compile exit {p.returncode}: {last_line(p.stderr)}"); continue
            times.append((time.time() - t0, tag))
            try:
                r = subprocess.run([C, "run", prog, path, "--json"] + sa, capture_output=True, text=True, timeout=900)
            except subprocess.TimeoutExpired:
                fails.append(f"{tag}: run timeout"); continue
            try:
                res = json.loads(r.stdout)
            except Exception:  # noqa: BLE001
                fails.append(f"{tag}: run exit {r.returncode}, no json: {last_line(r.stderr)}"); continue
            if r.returncode == 0 and res.get("match") and not res.get("violations"):
                ok += 1
            else:
                fails.append(f"{tag}: match={res.get('match')} violations={str(res.get('violations'))[:100]} "
                             f"rel={res.get('max_rel_error')}")
for f in fails[:15]:
    print("FAIL", f)
if times:
    times.sort()
    print(f"slowest compile: {times[-1][0]:.1f}s ({times[-1][1]})")
print(f"run: {ok}/{total} model x preset x mode compiled, ran with no violation and matched onnxruntime")
sys.exit(0 if ok == total else 1)
