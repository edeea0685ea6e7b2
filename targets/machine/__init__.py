"""The reference machine: executes a `Program` with real numbers, times it and checks it.

`executor` runs a program (`execute`, `validate`); `checks` holds every static and run-time check
of a program against its target; `costs` what one instruction needs and costs; `crossbars` the
crossbars' state; `kernels` the float ops; `numerics` the `int`/`analog` arithmetic; `epilogue` the
output stage's fused ops; `object_pool` non-numeric tensors; `float_reference` every tensor's float
value (calibration).
"""
