"""Replication: how many copies of each layer's weights the chip holds.

`problem` the problem, instance and solution types; `heuristic` the constructions; `bounds` lower
bounds; `exact` CP-SAT; `solution_format` solution files; `generator` random benchmark instances;
`stage` the pipeline stage (which segments the model when one copy of every layer does not fit).
"""
