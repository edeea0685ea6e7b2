"""Replication heuristics vs CP-SAT on a VGG-like and a ResNet-like synthetic layer list.

Run: ``python experiments/replication_bench.py [--time-limit S]``.

Assumptions (stated, not measured): 128x128 crossbars holding one weight per cell, so a layer
needs ``ceil(K / 128) * ceil(N / 128)`` crossbars (K = Cin * kh * kw, N = Cout); one input
vector per output position (batch 1); an MVM issue interval of 200 ns per vector per copy
(PIMCOMP evaluation config, CIM_REFERENCE.md) and a fill latency of one 1.8 us MVM (PUMA) per
crossbar layer; pooling and residual adds run on the vector unit at 64 B per 10 ns (PIMCOMP),
spread over the 36 vector units of a PIMCOMP-sized chip, crossbar-free and so never
replicated; writing a layer's weights takes 128 rows x 100 ns.
Budgets are 1x, 2x and 4x the one-copy need; segmentation is shown at 0.5x.
"""
from __future__ import annotations

import argparse
import math

from cimopt.solver.replication import heuristic as rp
from cimopt.solver.replication.stage import solve_replication
from cimopt.solver.segmentation import heuristic as sg
from cimopt.solver.stats import SolverOptions

XBAR = 128
INTERVAL_NS = 200.0
FILL_NS = 1800.0
PROGRAM_NS = 128 * 100.0
VECTOR_UNITS = 36


def conv(name: str, cin: int, cout: int, k: int, side: int) -> rp.Layer:
    """A k x k convolution (or a fully connected layer with k = side = 1) with side^2 outputs."""
    crossbars = math.ceil(cin * k * k / XBAR) * math.ceil(cout / XBAR)
    return rp.Layer(name, crossbars, side * side, INTERVAL_NS, FILL_NS, program_ns=PROGRAM_NS)


def vector_op(name: str, channels: int, side: int) -> rp.Layer:
    """A pooling or elementwise op: 64 B of 8-bit activations per 10 ns on each of 36 vector units."""
    return rp.Layer(name, 0, side * side, 10.0 * math.ceil(channels / 64) / VECTOR_UNITS)


def vgg_like() -> tuple[tuple[rp.Layer, ...], tuple[tuple[int, int], ...]]:
    """VGG16-style chain: conv blocks at 112, 56, 28, 14, 7 positions per side, then 3 FC layers."""
    layers: list[rp.Layer] = []
    cin = 3
    for block, (cout, side, count) in enumerate([(64, 112, 2), (128, 56, 2), (256, 28, 3), (512, 14, 3), (512, 7, 3)]):
        for i in range(count):
            layers.append(conv(f"conv{block + 1}_{i + 1}", cin, cout, 3, side))
            cin = cout
        layers.append(vector_op(f"pool{block + 1}", cout, side // 2))
    layers += [conv("fc6", 512 * 3 * 3, 4096, 1, 1), conv("fc7", 4096, 4096, 1, 1), conv("fc8", 4096, 1000, 1, 1)]
    return tuple(layers), tuple((i, i + 1) for i in range(len(layers) - 1))


def resnet_like() -> tuple[tuple[rp.Layer, ...], tuple[tuple[int, int], ...]]:
    """ResNet18-style DAG: stem, four stages of two basic blocks with residual adds, FC."""
    layers: list[rp.Layer] = [conv("conv1", 3, 64, 7, 112), vector_op("maxpool", 64, 56)]
    edges: list[tuple[int, int]] = [(0, 1)]
    last, cin = 1, 64
    for stage, (cout, side) in enumerate([(64, 56), (128, 28), (256, 14), (512, 7)]):
        for block in range(2):
            tag = f"s{stage + 1}b{block + 1}"
            down = cin != cout
            a = len(layers)
            layers.append(conv(f"{tag}_conv_a", cin, cout, 3, side))
            layers.append(conv(f"{tag}_conv_b", cout, cout, 3, side))
            edges += [(last, a), (a, a + 1)]
            shortcut = last
            if down:
                layers.append(conv(f"{tag}_down", cin, cout, 1, side))
                edges.append((last, len(layers) - 1))
                shortcut = len(layers) - 1
            layers.append(vector_op(f"{tag}_add", cout, side))
            edges += [(a + 1, len(layers) - 1), (shortcut, len(layers) - 1)]
            last, cin = len(layers) - 1, cout
    layers += [vector_op("avgpool", 512, 1), conv("fc", 512, 1000, 1, 1)]
    edges += [(last, len(layers) - 2), (len(layers) - 2, len(layers) - 1)]
    return tuple(layers), tuple(sorted(edges))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per exact solve")
    args = parser.parse_args()
    options = SolverOptions(time_limit_s=args.time_limit, seed=0, workers=8)
    for name, (layers, edges) in (("VGG-like", vgg_like()), ("ResNet-like", resnet_like())):
        need = sum(layer.crossbars for layer in layers)
        print(f"\n== {name}: {len(layers)} layers, {len(edges)} edges, one copy = {need} crossbars")
        print(f"{'mode':<10} {'budget':>7} {'none':>11} {'uniform':>11} {'balance':>11} {'exact':>11} "
              f"{'gain':>6} {'bound':>11} {'status':<8} {'s':>5}")
        for mode in rp.MODES:
            for factor in (1, 2, 4):
                problem = rp.ReplicationProblem(layers, edges, need * factor, mode)
                values = {m: solve_replication(problem, m, options)[1] for m in (*rp.METHODS, "cpsat")}

                def show(ns: float) -> str:
                    # throughput: inferences/s from the bottleneck; latency: microseconds
                    return f"{1e9 / ns:>9.0f}/s" if mode == "throughput" else f"{ns / 1e3:>8.1f} us"

                exact = values["cpsat"]
                gain = values["balance"].objective / exact.objective
                print(f"{mode:<10} {factor:>6}x " + " ".join(f"{show(values[m].objective):>11}" for m in rp.METHODS)
                      + f" {gain:>5.3f}x {show(exact.bound):>11} {exact.status.name[:8]:<8} {exact.wall_s:>5.2f}")
        print(f"-- segmentation at 0.5x ({need // 2} crossbars), cost = sum of segment times + reprogramming")
        for mode in rp.MODES:
            problem = rp.ReplicationProblem(layers, edges, need // 2, mode)
            for method in sg.METHODS if len(layers) <= sg.MAX_CPSAT_LAYERS else sg.METHODS[:2]:
                seg, stats = sg.segment(problem, method, options)
                print(f"{mode:<10} {method:<7} {len(seg.segments):>3} segments {stats.objective / 1e3:>10.1f} us "
                      f"bound {stats.bound / 1e3:>10.1f} us {stats.status.name:<10} {stats.wall_s:>6.2f} s")


if __name__ == "__main__":
    main()
