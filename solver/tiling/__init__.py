"""Tiling: every crossbar op's weights cut into crossbar tiles (`cut`; geometry in `cimopt.ir.tiles`),
and its stage (`stage`)."""
