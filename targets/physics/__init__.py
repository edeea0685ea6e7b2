"""Per-instruction physics of a target, with sources: what an instruction costs (`instructions`,
`timing`) and how the chip's arithmetic loses accuracy (`numerics`, `noise`).  The cost model and the
reference machine both use exactly these functions."""
