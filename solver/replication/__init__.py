"""Replication: how many copies of each layer's weights the chip holds.

`problem` the instance; `heuristic` the constructions; `bounds` lower bounds; `exact` CP-SAT;
`stage` the pipeline stage (which segments the model when one copy of every layer does not fit).
"""
