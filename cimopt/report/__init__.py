"""What cimopt shows a person: compile summaries and comparisons (`summary`), `inspect`, the verdict
of a machine run against onnxruntime (`verdict`, `machine_run`), numerics accuracy (`accuracy`),
plots (`program_plots`, `sweep_plots`) and Chrome traces (`trace`)."""
