"""Placement: which crossbars of which core hold every tile of every copy.

`problem` the problem, placement, instance and solution types, the checks and the objective;
`heuristic` the constructions and local search; `assign` the Hungarian re-assignment; `bounds`
lower bounds; `exact` CP-SAT and LNS; `solution_format` solution files; `generator` random
benchmark instances; `stage` the pipeline stage.
"""
