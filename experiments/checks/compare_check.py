"""`cimopt compare --json` over a model set: bound <= exact <= heuristic per stage; memory at its bound.

Usage: python experiments/checks/compare_check.py [light|SET.tsv] [--presets isaac,pimcomp] [--time-limit 20]
Last line: the figure; exit 0 when all pass.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import cimopt, last_line, model_set, shape_args  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("which", nargs="?", default="light")
ap.add_argument("--presets", default="isaac,pimcomp")
ap.add_argument("--time-limit", default="20")
a = ap.parse_args()
C = cimopt()
rows = ok = 0
fails, mem_gaps = [], []
for name, path, shapes in model_set(a.which):
    for t in a.presets.split(","):
        p = subprocess.run([C, "compare", path, "--target", t, "--time-limit", a.time_limit, "--json"] + shape_args(shapes),
                           capture_output=True, text=True, timeout=3600)
        try:
            res = json.loads(p.stdout)
        except Exception:  # noqa: BLE001
            fails.append(f"{name}/{t}: exit {p.returncode}, no json: {last_line(p.stderr)}"); continue
        print(f"{name}/{t}: {len(res.get('stages', []))} stage rows", flush=True)
        for s in res.get("stages", []):
            rows += 1
            h, x, b = s["heuristic"], s["exact"], s["bound"]
            tol = 1e-9 * max(1.0, abs(h))
            good = b <= x + tol and x <= h + tol
            if s["stage"] == "memory":
                mem_gaps.append((x - b) / b if b else 0.0)
                good = good and abs(x - b) <= tol
            if good:
                ok += 1
            else:
                fails.append(f"{name}/{t}/{s['stage']}: heuristic={h} exact={x} bound={b} status={s.get('status')}")
for f in fails[:15]:
    print("FAIL", f)
worst = max(mem_gaps) if mem_gaps else float("nan")
print(f"compare: {ok}/{rows} stage rows with bound <= exact <= heuristic (memory at bound; worst memory gap {worst:.2%})")
sys.exit(0 if rows and ok == rows and not fails else 1)
