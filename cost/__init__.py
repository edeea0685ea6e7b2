"""The cost model the solvers use: op-level latency and energy composed from the target's
per-instruction costs (`cimopt.targets.physics.instructions`), plus measured-cost importers."""
