"""Hardware targets: validated descriptions (TOML presets or user files), per-instruction costs,
and the reference machine that times and executes a Program."""
