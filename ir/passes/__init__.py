"""Graph passes, one per module, each a small registered object with its options (`catalog.passes()`
lists them, `cimopt passes` prints them); `manager.PassManager` runs them all (the front end's
sequence is `cimopt.frontend.frontend_passes`)."""
