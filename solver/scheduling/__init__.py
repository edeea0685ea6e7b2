"""Scheduling: start times of every task of one inference (or a periodic stream) on unary resources.

`tasks` builds the task graph from a mapping; `vector_cores` picks each vector task's core; `heuristic`
list scheduling; `modulo` throughput-mode construction; `bounds` lower bounds; `exact` CP-SAT; `window`
rolling-window LNS for large latency instances; `stage` the pipeline stage.
"""
