"""Program size, compact against flat (issue 19 item 4), and the machine's time on both forms.

Usage: python experiments/compact_size.py [--models resnet50,squeezenet] [--target isaac]
                                          [--modes latency,throughput] [--chunks 4] [--run]
Compiles each light graph (heuristic) and prints per program: instructions compact and with
repetitions, JSON bytes of the compact program and of its flat form (every instruction a record,
every tile of the programming map a record: the size schema 1.0 had), and with ``--run`` the
machine's wall time on the compact program and on its flat form (best of two runs each, the same
outputs asserted).  ``--chunks`` raises the row chunks per op, so that many more instructions
stand in for finer chunks.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

import numpy as np

from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.inputs import random_inputs
from cimopt.ir.program import Program, to_json
from cimopt.ir.program_expand import expand, repetitions
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.machine.executor import execute


def json_bytes(p: Program, flat_tiles: bool = False) -> int:
    """Bytes of the program's JSON (as `ir.program.save` writes it); ``flat_tiles``: every tile of
    the programming map a record of its own, as schema 1.0 wrote it."""
    d = to_json(p)
    if flat_tiles:
        d["programming"] = [asdict(t) for t in p.programming]
    return len(json.dumps(d, separators=(",", ":")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,squeezenet")
    ap.add_argument("--target", default="isaac")
    ap.add_argument("--modes", default="latency,throughput")
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--run", action="store_true")
    a = ap.parse_args()
    t = load_target(a.target)
    print(f"{'model':<12} {'mode':<10} {'instr':>6} {'flat':>6} {'compact B':>10} {'flat B':>10} {'ratio':>6}"
          + (f" {'run compact s':>13} {'run flat s':>10}" if a.run else ""))
    for m in a.models.split(","):
        for mode in a.modes.split(","):
            res = compile_model(light_graph("light_" + m), t, CompileOptions(mode=mode, chunks=a.chunks))
            p = res.program
            flat = expand(p)
            small, big = json_bytes(p), json_bytes(flat, flat_tiles=True)
            line = (f"{m:<12} {mode:<10} {len(p.instructions):>6} {repetitions(p):>6} {small:>10} {big:>10} "
                    f"{small / big:>6.3f}")
            if a.run:
                g = res.frontend.graph
                inputs = random_inputs(g, 0)
                times: dict[str, float] = {}
                outs = {}
                for name, q in (("compact", p), ("flat", flat)) * 2:
                    t0 = time.perf_counter()
                    r = execute(q, g, t, inputs)
                    times[name] = min(times.get(name, float("inf")), time.perf_counter() - t0)
                    outs[name] = r.outputs
                assert all(np.array_equal(outs["compact"][k], outs["flat"][k]) for k in outs["flat"])
                line += f" {times['compact']:>13.2f} {times['flat']:>10.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
