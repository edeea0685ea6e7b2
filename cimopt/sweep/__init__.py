"""Sweeps: a grid of compilations from a TOML spec (`grid`), each task in a child process with a
wall budget (`task`), run locally or on a Dask cluster (`runner`), one row per task (`results`)."""
