"""What each stage minimises, in words: the ``description`` of its instance and solution schemas,
and the definition `cimopt.solver.harness.solutions.check` computes (docs/instances.md says the same).

One entry per stage: (unit, text).  The text says what is minimised, in which unit and how it is
computed from an instance and a solution, so that someone else's solver optimises the same number.
"""
from __future__ import annotations

OBJECTIVES: dict[str, tuple[str, str]] = {
    "accuracy": ("ns or pJ", "Minimise the sum over layers of the chosen option's cost (latency_ns when the "
                             "instance's objective is 'latency', energy_pj when 'energy'), subject to floor + "
                             "sum of the chosen options' error <= budget (relative noise power)."),
    "tiling": ("crossbars", "Minimise the number of tiles (one crossbar each) over all ops; the tiles of an op "
                            "must cover each of its groups x k x n weight cells exactly once, a tile of ngroups "
                            "groups using ngroups*(row1-row0) <= rows rows and ngroups*(col1-col0)*slices <= cols "
                            "columns."),
    "replication": ("ns", "Layer time t(r) = fixed_ns + ceil(units / r) * granule * interval_ns with units = "
                          "vectors / granule, for r copies (1 <= r <= the layer's copy cap). Latency mode: the "
                          "longest path of the layer DAG weighted by t; throughput mode: max t. The instance "
                          "fixes which of two problems it is. When one copy of every layer fits 'budget' "
                          "crossbars: one segment without reprogramming, the copies use at most 'budget' "
                          "crossbars and the objective is that value. Otherwise, with reprogramming: segments "
                          "run in turn, each within the "
                          "budget, and the objective is the sum over segments of the segment's value plus its "
                          "largest program_ns. Minimised, in ns per inference."),
    "placement": ("byte-hops", "Minimise the NoC load per inference: the sum over segments and over traffic "
                               "pairs (a, b, bytes) of bytes x the XY hops |row_a - row_b| + |col_a - col_b| "
                               "between the cores of groups a and b (cores numbered row-major on the "
                               "mesh_rows x mesh_cols mesh), each core holding at most crossbars_per_core "
                               "crossbars of its groups."),
    "scheduling": ("ns", "Latency mode: minimise the makespan max_i (start_i + duration_i), ns, subject to "
                         "start_i >= release_i, start_s >= start_p + duration_p + delay for every edge "
                         "(p, s, delay), no two tasks of a resource overlapping. Throughput mode: minimise the "
                         "initiation interval II (ns; inference k runs task i at start_i + k * II): the same "
                         "precedence and releases, every task no longer than II, and the tasks of a resource "
                         "disjoint modulo II."),
    "memory": ("bytes", "Minimise the sum over memory spaces of the space's peak: max(offset + size rounded up "
                        "to the alignment) over the buffers placed in it (a buffer of size 0 or an empty "
                        "lifetime occupies nothing), bytes. Each buffer sits in its space (the instance's: the spill "
                        "rule, solver/memory.assign_spaces, applied when it was built; an exported instance holds "
                        "it already) at a non-negative multiple of the alignment; buffers of one space "
                        "live at the same time [start_ns, end_ns) do not overlap in address; every peak is at "
                        "most the space's capacity."),
}


def objective(stage: str) -> tuple[str, str]:
    """(unit, definition) of ``stage``'s objective; ("", "") for a stage not listed."""
    return OBJECTIVES.get(stage, ("", ""))
