"""Graph passes, one per module, each a small object with its options; `manager.PassManager` runs
them all (the front end's sequence is `cimopt.frontend`)."""
