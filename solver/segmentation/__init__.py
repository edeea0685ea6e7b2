"""Segmentation: when one copy of every layer does not fit, consecutive segments of a topological
order that take turns on the chip (`heuristic`: first fit and DP; `cost`: a segmentation's cost;
`exact`: CP-SAT).  Run by the replication stage."""
