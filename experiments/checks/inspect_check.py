"""`cimopt inspect --json` over a model set x every preset: exit 0 and MACs within 0.1 % of macs.py.

Usage: python experiments/checks/inspect_check.py [light|SET.tsv]      Last line: the figure; exit 0 when all pass.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import macs as macs_mod  # noqa: E402
from common import PRESETS, cimopt, last_line, model_set, shape_args  # noqa: E402


def ref_macs(path, shapes):
    sh = {}
    if shapes != "-":
        for kv in shapes.split(","):
            k, v = kv.split("=")
            sh[k] = [int(d) for d in v.split("x")]
    return macs_mod.count(path, sh)


def main(which):
    ok = total = 0
    fails = []
    for name, path, shapes in model_set(which):
        want = ref_macs(path, shapes)
        for t in PRESETS:
            total += 1
            cmd = [cimopt(), "inspect", path, "--target", t, "--json"] + shape_args(shapes)
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                fails.append(f"{name}/{t}: timeout"); continue
            if p.returncode != 0:
                fails.append(f"{name}/{t}: exit {p.returncode}: {last_line(p.stderr)}"); continue
            try:
                got = json.loads(p.stdout)["totals"]["macs"]
            except Exception as e:  # noqa: BLE001
                fails.append(f"{name}/{t}: bad json ({type(e).__name__})"); continue
            if abs(got - want) > 0.001 * want:
                fails.append(f"{name}/{t}: macs {got} vs {want}"); continue
            ok += 1
    for f in fails[:15]:
        print("FAIL", f)
    print(f"inspect: {ok}/{total} model x preset inspected with MACs within 0.1%")
    sys.exit(0 if ok == total else 1)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "light")
