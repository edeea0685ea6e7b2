"""Graph passes, one per module.  Each returns a `PassResult`; `PassManager` runs a sequence."""
