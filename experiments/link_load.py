"""Where the network on chip will bind: each program's transfers routed XY, bytes per link per inference.

Usage: python experiments/link_load.py [--targets isaac,puma,pimcomp] [--models squeezenet,...]
                                       [--mode throughput|latency]

Today a transfer occupies only its destination core's input port (`solver/scheduling/tasks.py`):
no link of the mesh is shared, so two transfers over one link at the same time cost nothing. This
script measures what that leaves out. It compiles every light graph of the onnx package
(heuristic) and routes each ``transfer`` instruction dimension-order (X along the row first, then
Y along the column; cores numbered row-major, `Target.core_xy`), adding its bytes to every directed
link of its route. Per program it prints: the time per inference (throughput: the interval over
the batch; latency: the makespan), the transfers, byte-hops per inference, the busiest link's
bytes per inference and those bytes over the link bandwidth (``noc_link_bandwidth_bytes_per_ns``):
the time that one link needs per inference, a lower bound on the time per inference once links
are modelled. ``link/time`` above 1 means the busiest link alone needs more than the program's
whole time per inference. The most transfers crossing one link at the same instant (their
[start, end) intervals overlapping) is printed too. Transfers to or from the global buffer, DRAM or
the host (a core of -1) use no mesh link and are counted apart.
"""
from __future__ import annotations

import argparse
import glob
import os
from collections import defaultdict

import onnx

from cimopt.compiler import compile_model
from cimopt.ir.errors import CimoptError
from cimopt.ir.program_expand import expand
from cimopt.ir.program import Program
from cimopt.options import CompileOptions
from cimopt.targets.load import load_target
from cimopt.targets.spec import Target

Link = tuple[tuple[int, int], tuple[int, int]]


def light_dir() -> str:
    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def xy_route(target: Target, src: int, dst: int) -> list[Link]:
    """Directed links (from (row, col), to (row, col)) of the XY route from core ``src`` to ``dst``."""
    (r, c), (r1, c1) = target.core_xy(src), target.core_xy(dst)
    links: list[Link] = []
    while c != c1:
        n = c + (1 if c1 > c else -1)
        links.append(((r, c), (r, n)))
        c = n
    while r != r1:
        n = r + (1 if r1 > r else -1)
        links.append(((r, c), (n, c)))
        r = n
    return links


def link_figures(program: Program, target: Target) -> dict[str, float]:
    """Per-inference link load of one program (bytes, ns) and the most overlapping transfers on a link."""
    batch = max(1, int(program.metric("batch", 1) or 1))
    load: dict[Link, int] = defaultdict(int)
    spans: dict[Link, list[tuple[int, int]]] = defaultdict(list)
    transfers = off_mesh = byte_hops = 0
    for i in expand(program).instructions:   # a compact transfer: each repetition moves its bytes
        if i.kind != "transfer":
            continue
        transfers += 1
        if i.src_core < 0 or i.dst_core < 0:
            off_mesh += 1
            continue
        route = xy_route(target, i.src_core, i.dst_core)
        byte_hops += i.nbytes * len(route)
        for link in route:
            load[link] += i.nbytes
            spans[link].append((i.start_ns, i.end_ns))
    busiest = max(load.values(), default=0) / batch
    overlap = 0
    for intervals in spans.values():
        events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
        now = 0
        for _, d in events:
            now += d
            overlap = max(overlap, now)
    return {"transfers": transfers, "off_mesh": off_mesh, "byte_hops": byte_hops / batch,
            "busiest_bytes": busiest, "busiest_ns": busiest / target.chip.noc_link_bandwidth_bytes_per_ns,
            "overlap": overlap}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", default="isaac,puma,pimcomp")
    ap.add_argument("--models", default="")
    ap.add_argument("--mode", default="throughput", choices=("throughput", "latency"))
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(light_dir(), "light_*.onnx")))
    if a.models:
        want = {m if m.startswith("light_") else "light_" + m for m in a.models.split(",")}
        paths = [p for p in paths if os.path.basename(p)[:-5] in want]
    print(f"{'model':<20} {'target':<8} {'per inf us':>10} {'transfers':>9} {'off-mesh':>8} {'MB x hops':>9} "
          f"{'busiest MB':>10} {'link us':>8} {'link/time':>9} {'overlap':>7}")
    for tname in a.targets.split(","):
        t = load_target(tname)
        for path in paths:
            name = os.path.basename(path)[:-5]
            try:
                p = compile_model(path, t, CompileOptions(mode=a.mode)).program
            except CimoptError as e:
                print(f"{name:<20} {tname:<8} does not compile: {str(e)[:80]}")
                continue
            per = float(p.metric("e2e_objective_ns"))
            f = link_figures(p, t)
            print(f"{name:<20} {tname:<8} {per / 1e3:>10.1f} {f['transfers']:>9.0f} {f['off_mesh']:>8.0f} "
                  f"{f['byte_hops'] / 1e6:>9.2f} {f['busiest_bytes'] / 1e6:>10.3f} {f['busiest_ns'] / 1e3:>8.1f} "
                  f"{f['busiest_ns'] / per:>9.2f} {f['overlap']:>7.0f}")


if __name__ == "__main__":
    main()
