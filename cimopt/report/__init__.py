"""What cimopt shows a person: compile summaries and comparisons (`summary`), `inspect`, the rules
that judge a machine run against onnxruntime (`verdict`) and what `cimopt run` prints of one
(`machine_run`), numerics accuracy (`accuracy`), plots (`program_plots`, `sweep_plots`) and Chrome
traces (`trace`)."""
