"""Throughput against the chip's physical limit, computed from the program alone.

The physical limit: every crossbar busy all the time, so the best possible time per inference is
(sum over MVM instructions of duration x crossbars used) / (inferences in the program) / crossbars on
the chip. The ratio is that limit over the program's time per inference (1 / inferences_per_s).
(This is the program's own MVM crossbar time, its metric ``program_crossbar_ns``; the program's
``physical_limit_ns`` is the model's crossbar work with one pipeline fill per op, a limit of every
mapping and at most this figure: see the README glossary.)

Usage: python experiments/checks/limit_check.py [--target isaac] [--min-geomean 0.3] [--min-resnet50 0.45]
Compiles every light graph in throughput mode; last line: the figure; exit 0 when both bars hold.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import cimopt, last_line, model_set  # noqa: E402


def limit(path: str) -> tuple[float, float, float, str]:
    """(ratio, time per inference ns, limit ns, busiest non-crossbar resource) of a program file."""
    p = json.load(open(path))
    m = p["metrics"] if isinstance(p["metrics"], dict) else dict(p["metrics"])
    batch = float(m.get("batch", p.get("batch", 1)) or 1)
    xt, other = 0.0, Counter()
    for instrs in p["streams"].values():
        for i in instrs:
            d = i["end_ns"] - i["start_ns"]
            if i["kind"] == "mvm":
                xt += d * len(i.get("crossbars", ()))
            elif i.get("resource"):
                other[i["resource"]] += d
    ips = float(m.get("inferences_per_s") or 0)
    per_inf = 1e9 / ips if ips else float(p["makespan_ns"])
    lim = xt / batch / float(m["crossbars_total"])
    busiest = "%s %.0f ns" % other.most_common(1)[0] if other else "-"
    return lim / per_inf, per_inf, lim, busiest


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default="isaac")
    ap.add_argument("--min-geomean", type=float, default=0.3)
    ap.add_argument("--min-resnet50", type=float, default=0.45)
    a = ap.parse_args()
    C, d = cimopt(), tempfile.mkdtemp(prefix="cimopt-limit-")
    ratios, fails = {}, []
    for name, path, _ in model_set("light"):
        prog = os.path.join(d, f"{name}.json")
        p = subprocess.run([C, "compile", path, "--target", a.target, "--mode", "throughput", "-o", prog],
                           capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            fails.append(f"{name}: compile exit {p.returncode}: {last_line(p.stderr)}")
            continue
        r, per, lim, busy = limit(prog)
        ratios[name] = r
        print(f"{name:22s} ratio {r:.3f}  per inference {per / 1e3:9.1f} us  limit {lim / 1e3:8.1f} us  busiest {busy}")
    for f in fails:
        print("FAIL", f)
    g = math.exp(sum(math.log(max(r, 1e-9)) for r in ratios.values()) / len(ratios)) if ratios else 0.0
    r50 = next((r for n, r in ratios.items() if "resnet50" in n), 0.0)
    print(f"throughput / physical limit on {a.target}: geometric mean {g:.3f} (bar {a.min_geomean}), "
          f"resnet50 {r50:.3f} (bar {a.min_resnet50})")
    sys.exit(0 if not fails and g >= a.min_geomean and r50 >= a.min_resnet50 else 1)
