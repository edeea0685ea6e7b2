"""The reference machine: executes a `Program` with real numbers, times it and checks it.

`executor` runs a program (`execute`, `validate`); `checks` (a subpackage) holds every check of a
program against its target, run once per run (`checks.program_checks.check_program`); `costs` what one
instruction costs; `crossbars` the crossbars' matrices; `kernels` the float ops; `numerics_engine` the
`int`/`analog` arithmetic; `epilogue` the output stage's fused ops; `object_pool` non-numeric
tensors; `float_reference` every tensor's float value (calibration).
"""
