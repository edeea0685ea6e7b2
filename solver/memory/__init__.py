"""Memory allocation: every intermediate buffer in a memory space at a byte offset.

`problem` the problem, plan, instance and solution types; `heuristic` space assignment and greedy
offsets; `exact` CP-SAT offsets; `solution_format` solution files; `generator` random benchmark
instances; `stage` the pipeline stage.
"""
