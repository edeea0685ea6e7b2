"""Memory allocation: every intermediate buffer in a memory space at a byte offset.

`problem` the instance and plan; `heuristic` space assignment and greedy offsets; `exact` CP-SAT
offsets; `stage` the pipeline stage.
"""
