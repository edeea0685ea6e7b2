"""Placement: which crossbars of which core hold every tile of every copy.

`heuristic` the constructions and local search; `assign` the Hungarian re-assignment; `bounds`
lower bounds; `exact` CP-SAT and LNS; `stage` the pipeline stage.
"""
