"""Fuzz the cimopt command line with seeded mutations of models, programs and targets; print counts.

    python experiments/fuzz.py --seeds 0-19 --per-seed 10 [--subprocess] [--time-limit 120]

Each case must exit 0, 1 or 2, with no traceback and within the time limit; a corrupted program
must never pass ``run`` or ``validate MODEL``.  Prints one line per failure, then a table of
outcomes per kind (exit codes, tracebacks, hangs, missed corruptions) and exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter

import fuzz_cases as fuzz


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-9", help="seed list: 0-9 or 1,5,7")
    ap.add_argument("--per-seed", type=int, default=10, help="mutations per kind and seed")
    ap.add_argument("--subprocess", action="store_true", help="one `python -m cimopt.cli.main` process per case")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--target", default="edge", help="target the base program is compiled for")
    a = ap.parse_args()
    runner = fuzz.run_subprocess if a.subprocess else fuzz.run_in_process
    counts: dict[str, Counter[str]] = {k: Counter() for k in fuzz.KINDS}
    failures = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = fuzz.compile_base(f"{tmp}/base", a.target)
        for seed in _seeds(a.seeds):
            for case in fuzz.cases(seed, a.per_seed, f"{tmp}/s{seed}", fuzz.KINDS, base):
                out = runner(case, a.time_limit)
                verdict = fuzz.judge(case, out)
                c = counts[case.kind]
                c["cases"] += 1
                c[f"exit {out.code}" if out.code is not None else verdict] += 1
                if verdict != "ok":
                    c[verdict] += 1
                    failures += 1
                    print(f"FAIL {verdict}: seed {seed} {case.kind} {case.name}: cimopt {' '.join(case.argv)}: "
                          f"{out.detail}", flush=True)
    keys = ["cases", "exit 0", "exit 1", "exit 2", "traceback", "hang", "missed corruption"]
    print(f"{'kind':<8} " + " ".join(f"{k:>17}" for k in keys))
    for kind, c in counts.items():
        print(f"{kind:<8} " + " ".join(f"{c[k]:>17}" for k in keys))
    total = sum(c["cases"] for c in counts.values())
    print(f"{total} cases, {failures} failure(s), {time.perf_counter() - t0:.0f} s "
          f"({'subprocess' if a.subprocess else 'in process'}, seeds {a.seeds}, {a.per_seed} per kind and seed)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
