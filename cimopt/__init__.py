"""cimopt: an optimal compiler for compute-in-memory accelerators.

The facade: `frontend.prepare` (ONNX to a costed Workload), `compile` (the solver pipeline to an
executable Program), and the command line (`cimopt --help`).
"""
__version__ = "0.1.0"
