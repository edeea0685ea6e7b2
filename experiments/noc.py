"""The network on chip as links (issue 21): XY vs congestion-weighted Dijkstra vs the exact
multi-commodity flow vs multicast trees, on the light graphs of the onnx package.

Usage: python experiments/noc.py [--targets isaac,pimcomp] [--models squeezenet,...]
                                 [--modes throughput,latency] [--time-limit 10] [--workers 2]

Per model x target x mode, four compiles (heuristic pipeline, transfers holding the links of their
routes in the schedule and on the machine) that differ only in the routing stage:
``xy`` (`--method routing=xy`, the routers' own routes), ``dijkstra`` (the heuristic, the
default), ``exact`` (`routing=mcf`, CP-SAT hinted with dijkstra) and
``multicast`` (the same target with routers that replicate packets, ``[noc] multicast = true``,
dijkstra with Steiner trees).  Printed per compile: the transfers, the largest link load (us: the
bytes of its busiest link over the bandwidth), bytes x links (MB), the objective (throughput:
time per inference; latency: makespan; us), the routing stage's lower bound of the largest link
load (the cut bound, max-flow / min-cut and half planes; us) and its status; figures per
inference in throughput mode (a batched program's over its batch), per run in latency mode.  Each model's line ends with two checks: exact's largest link load <= dijkstra's, and
multicast's bytes x links < unicast dijkstra's when some transfer fans out.  A model that does
not compile prints its error.  Every stage runs in deterministic time (``--time-limit``
deterministic s per stage; ``--wall``: wall seconds), so the four compiles share their placement (a wall-clock limit lets
the placement's local search stop at different points under load, and the variants would not
route the same transfers).
"""
from __future__ import annotations

import argparse
import glob
import os
import time
from dataclasses import replace

from cimopt.compiler import compile_model
from cimopt.demo import light_graph
from cimopt.ir.errors import CimoptError
from cimopt.ir.program import Program
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.spec import Target

VARIANTS = ("xy", "dijkstra", "exact", "multicast")


def _names() -> list[str]:
    d = os.path.dirname(light_graph("light_resnet50"))
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(d, "light_*.onnx")))


def compile_variant(name: str, t: Target, mode: str, variant: str, limit: float, workers: int,
                    deterministic: bool = True) -> tuple[Program, str]:
    """The program of one variant and the routing stage's status text."""
    method = {"xy": "xy", "exact": "mcf"}.get(variant, "dijkstra")
    target = replace(t, noc=replace(t.noc_spec, multicast=True)) if variant == "multicast" else t
    opts = CompileOptions(mode=mode, methods=(("routing", method),), time_limit_s=limit, workers=workers,
                          deterministic=deterministic)
    res = compile_model(light_graph(name), target, opts)
    st = res.stats["routing"]
    gap = (st.objective - st.bound) / st.objective if st.objective > 0 else 0.0
    return res.program, f"{st.status.value} gap {100 * gap:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="isaac,pimcomp")
    ap.add_argument("--models", default="")
    ap.add_argument("--modes", default="throughput,latency")
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--wall", action="store_true", help="wall-clock limits instead of deterministic time")
    a = ap.parse_args()
    names = [m if m.startswith("light_") else "light_" + m for m in a.models.split(",")] if a.models else _names()
    print(f"{'model':<19} {'target':<8} {'mode':<10} {'routing':<9} {'xfers':>6} {'link us':>9} {'MB x hop':>9} "
          f"{'time us':>9} {'cut us':>8} {'compile s':>9}  routing status")
    for tname in a.targets.split(","):
        t = load_target(tname)
        for mode in a.modes.split(","):
            for name in names:
                rows: dict[str, Program] = {}
                for v in VARIANTS:
                    t0 = time.perf_counter()
                    try:
                        p, status = compile_variant(name, t, mode, v, a.time_limit, a.workers, not a.wall)
                    except CimoptError as e:
                        print(f"{name:<19} {tname:<8} {mode:<10} {v:<9} does not compile: {str(e)[:80]}")
                        continue
                    rows[v] = p
                    m = dict(p.metrics)
                    per = max(1.0, m["batch"]) if mode == "throughput" else 1.0   # as e2e_objective_ns counts
                    print(f"{name:<19} {tname:<8} {mode:<10} {v:<9} {m['noc_transfers']:>6.0f} "
                          f"{m['noc_max_link_load_ns'] / per / 1e3:>9.2f} {m['noc_byte_hops'] / per / 1e6:>9.2f} "
                          f"{m['e2e_objective_ns'] / 1e3:>9.1f} {m.get('noc_link_load_bound_ns', 0.0) / per / 1e3:>8.2f} "
                          f"{time.perf_counter() - t0:>9.1f}  {status}", flush=True)
                checks = []
                if "exact" in rows and "dijkstra" in rows:
                    ok = rows["exact"].metric("noc_max_link_load_ns") <= rows["dijkstra"].metric("noc_max_link_load_ns") + 1e-6
                    checks.append(f"exact <= dijkstra: {'yes' if ok else 'NO'}")
                if "multicast" in rows and "dijkstra" in rows:
                    fan = any(len(i.dst_cores) > 1 for i in rows["multicast"].instructions)
                    fewer = rows["multicast"].metric("noc_byte_hops") < rows["dijkstra"].metric("noc_byte_hops")
                    checks.append("multicast fewer bytes: " + ("yes" if fewer else "NO" if fan else "no fan-out"))
                if checks:
                    print(f"{'':<19} {'':<8} {'':<10} {'':<9} " + "; ".join(checks), flush=True)


if __name__ == "__main__":
    main()
