"""Routing on the network on chip: every transfer's links, a path or a multicast tree.

`problem` the flows, routes and link loads; `heuristic` XY and congestion-weighted Dijkstra;
`steiner` multicast trees (MST of the metric closure; exact Steiner ILP); `exact` the
multi-commodity flow minimising the largest link load (CP-SAT); `bounds` the cut bound
(max-flow / min-cut, half planes, bisection); `solution_format` solution files; `generator`
random benchmark instances; `stage` the pipeline stage.
"""
