"""cimopt: an optimal compiler for compute-in-memory accelerators.

The facade: `cimopt.frontend.prepare` (ONNX to a costed Workload), `cimopt.compiler.compile_model`
(the loop over the solver stages of `cimopt.solver.registry` to an executable Program), and the
command line (`cimopt --help`).
"""
__version__ = "0.1.0"
