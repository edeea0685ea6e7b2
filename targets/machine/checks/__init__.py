"""Every check of a program against its target, in one place, run once per run (`program_checks.check_program`).

`violations`: what a check reports (`Violation`, `Report`); `compact`: compact instructions and
the flat program every other check reads; `fields`: the program's values, indices
and capacities against the target; `overlaps`: resources, crossbars and buffers over the
inferences a stream overlaps; `flow`: the walk in time (dependencies, data flow, crossbars,
durations, what each op reads and writes), which also tells the executor what to run.
"""
