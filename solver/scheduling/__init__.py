"""Scheduling: start times of every task of one inference (or a periodic stream) on unary resources.

`problem` the problem, schedule, instance and solution types, `validate` and the checker; `tasks`
builds the task graph from a mapping; `vector_cores` picks each vector task's core; `bounds` lower
bounds; `heuristic` list scheduling; `modulo` throughput-mode construction; `exact` CP-SAT;
`window` rolling-window LNS for large latency instances; `solution_format` solution files;
`generator` random benchmark instances; `stage` the pipeline stage.
"""
