"""Tiling: every crossbar op's weights cut into crossbar tiles (`problem` the instance; `cut` the
cut and the `Tiling`, geometry in `cimopt.ir.tiles`; `solution_format` solution files; `stage`
its stage)."""
