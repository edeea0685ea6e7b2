"""Greedy-by-size vs CP-SAT buffer offsets on CNN-like activation lifetimes.

Instances:

* ``densenet`` — DenseNet-121's activation pattern (blocks of 6/12/24/16 dense layers at 56/28/14/7
  px, growth 32, bottleneck 128 channels, int8): each layer's 32 new channels live from their conv
  until the block's transition (the long-lived concat chain); the BN/1x1/BN intermediates live one
  op; plus short-lived small buffers (im2col rows, partial sums, 64 B - 8 KiB) up to ``n`` buffers.
  Op durations are random (200 - 2000 ns), so lifetimes are not aligned to a grid.
* ``random`` — ``n`` buffers with random start, lifetime and size (a harder, unstructured case).

Prints per instance: buffers, greedy peak, exact peak, max-live bound, greedy and exact gaps to the
bound, and wall times.  Run: ``python experiments/memory_bench.py [--time-limit S] [--seed N]``.
"""
from __future__ import annotations

import argparse
import random
import time

from cimopt.solver.memory.generator import random_buffers
from cimopt.solver.memory.heuristic import Buffer, max_live, MemoryProblem, plan
from cimopt.solver.stats import SolverOptions

SPACE = "global"
ALIGN = 64


def densenet_like(n: int, seed: int) -> tuple[Buffer, ...]:
    """DenseNet-121-like activation buffers (int8, bytes, ns), padded with small ones to ``n``."""
    rng = random.Random(seed)
    t = 0
    steps: list[int] = []  # start time (ns) of each op, in order

    def op() -> int:
        nonlocal t
        steps.append(t)
        t += rng.randint(200, 2000)
        return len(steps) - 1

    spans: list[tuple[str, int, int, int]] = []  # (name, bytes, first op, op after last use)
    channels = 64
    for b, (layers, px) in enumerate(zip((6, 12, 24, 16), (56, 28, 14, 7))):
        hw = px * px
        block_start = op()
        spans.append((f"b{b}_in", channels * hw, block_start, 0))
        features: list[int] = [len(spans) - 1]
        for layer in range(layers):
            k = op()
            spans.append((f"b{b}l{layer}_bn1", channels * hw, k, k + 2))
            k = op()
            spans.append((f"b{b}l{layer}_conv1", 128 * hw, k, k + 2))
            k = op()
            spans.append((f"b{b}l{layer}_bn2", 128 * hw, k, k + 2))
            k = op()
            spans.append((f"b{b}l{layer}_new", 32 * hw, k, 0))
            features.append(len(spans) - 1)
            channels += 32
        end = op()  # transition: reads the whole concat chain
        for f in features:
            name, size, first, _ = spans[f]
            spans[f] = (name, size, first, end + 1)
        channels //= 2
    op()
    while len(spans) < n:
        k = rng.randrange(len(steps) - 2)
        spans.append((f"small{len(spans)}", rng.choice((1, 2, 4, 8, 16, 32, 64, 128)) * 64,
                      k, k + rng.randint(1, 3)))
    spans = spans[:n]
    steps.append(t)
    return tuple(Buffer(name, size, steps[a], steps[min(z, len(steps) - 1)], SPACE)
                 for name, size, a, z in spans)


def run(name: str, buffers: tuple[Buffer, ...], options: SolverOptions) -> None:
    """Solve one instance both ways and print one row."""
    problem = MemoryProblem(buffers, {SPACE: 1 << 40}, {SPACE: None}, ALIGN)
    bound = max_live(buffers, ALIGN)
    t0 = time.perf_counter()
    g_plan, _ = plan(problem, "greedy", options)
    g_s = time.perf_counter() - t0
    e_plan, e_stats = plan(problem, "exact", options)
    g, e = g_plan.peak[SPACE], e_plan.peak[SPACE]
    print(f"{name:<14} {len(buffers):>5} {g / 1024:>11.1f} {e / 1024:>11.1f} {bound / 1024:>11.1f} "
          f"{100 * (g - bound) / g:>8.2f}% {100 * (e - bound) / e:>8.2f}% {g_s:>8.2f} "
          f"{e_stats.wall_s:>8.2f}  {e_stats.status.value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=20.0, help="exact time limit per space, s")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    options = SolverOptions(time_limit_s=args.time_limit, seed=args.seed, workers=args.workers)
    print(f"{'instance':<14} {'bufs':>5} {'greedy KiB':>11} {'exact KiB':>11} {'max-live KiB':>11} "
          f"{'gap gr':>9} {'gap ex':>9} {'greedy s':>8} {'exact s':>8}  status")
    for s in range(3):
        run(f"densenet-{s}", densenet_like(900, args.seed + s), options)
    for s in range(2):
        run(f"random900-{s}", random_buffers(900, args.seed + s), options)
    for s in range(2):
        run(f"random80-{s}", random_buffers(80, args.seed + s), options)


if __name__ == "__main__":
    main()
