"""The `compile`, `run`, `validate` and `compare` commands."""
from __future__ import annotations

import argparse
import json
import math
from typing import Any

from cimopt import json_safe
from cimopt.cli import numerics_cmd as cli_numerics
from cimopt.cli.args import add_model_args, progress
from cimopt.cli.trace_cmd import write_machine_trace
from cimopt.ir.errors import CimoptError, ProgramError, UsageError
from cimopt.options import CompileOptions, DETERMINISTIC_HELP, MODES, parse_methods, SOLVERS, TIME_HELP, time_limits
from cimopt.solver.registry import STAGES


def _finite_or_none(x: float | None, flag: str) -> float | None:
    if x is not None and not math.isfinite(x):
        raise UsageError(f"{flag} must be a finite number")
    return x


def _options(a: argparse.Namespace) -> CompileOptions:
    limit, deterministic = time_limits(a.time_limit, a.deterministic_time)
    if getattr(a, "batch", 0) < 0:
        raise CimoptError("--batch must be 0 (chosen) or a number of inferences >= 1")
    shorthands = [f"{stage}={m}" for stage, m in (("replication", a.replication), ("placement", a.placement)) if m]
    return CompileOptions(mode=a.mode, solver=getattr(a, "solver", "heuristic"), seed=a.seed,
                          time_limit_s=limit, deterministic=deterministic, workers=a.workers, chunks=a.chunks,
                          task_budget=a.task_budget,
                          compare=getattr(a, "compare", ""), methods=parse_methods(shorthands + a.method),
                          export_instances=getattr(a, "export_instances", None),
                          export_models=getattr(a, "export_models", None),
                          min_sqnr_db=_finite_or_none(getattr(a, "min_sqnr_db", None), "--min-sqnr-db"),
                          calibrate=getattr(a, "calibrate", None), batch=getattr(a, "batch", 0))


def _compile(a: argparse.Namespace, solver: str | None = None, frontend: Any = None) -> Any:
    from cimopt.cost.external import read_costs
    from cimopt.ir.load import parse_input_shapes
    from cimopt.targets.load import load_target

    from cimopt.compiler import compile_model

    target = load_target(a.target)
    opts = _options(a)
    if solver:
        from dataclasses import replace
        opts = replace(opts, solver=solver)
    measured = read_costs(a.costs) if a.costs else None
    return compile_model(_model(a), target, opts, parse_input_shapes(a.input_shape), measured,
                         progress(not getattr(a, "quiet", False)), frontend)


#: Program.extra key: the seed of `--random-weights` the program was compiled with
RANDOM_WEIGHTS_KEY = "random_weights_seed"


def _model(a: argparse.Namespace) -> Any:
    """The model file, or with ``--random-weights`` its copy with seeded random weights
    (`ir.random_weights`, seed ``--weight-seed``)."""
    if not getattr(a, "random_weights", False):
        return a.model
    from cimopt.ir.random_weights import randomised_file

    return randomised_file(a.model, a.weight_seed)


def _cmd_compile(a: argparse.Namespace) -> int:
    from dataclasses import replace

    from cimopt.ir import program as prog

    from cimopt.report.summary import compile_summary

    res = _compile(a)
    seed = ((RANDOM_WEIGHTS_KEY, str(a.weight_seed)),) if a.random_weights else ()
    p = replace(res.program, extra=res.program.extra + (("target_ref", a.target),) + seed)
    prog.save(p, a.output)
    print(compile_summary(res))
    print(f"program written to {a.output}")
    return 0


def _machine_setup(prog_path: str, model: str, target_ref: str | None, missing_data: str = "random",
                   weight_seed: int | None = None) -> Any:
    """The program, its target and the model's front end, each checked before use: the model
    file readable (``missing_data`` as in `ir.load.read_model`), the target the one the program
    was compiled for, the model the one it was compiled from.  ``weight_seed``: run on the
    model's copy with seeded random weights (`ir.random_weights`), which the program must have
    been compiled from (``compile --random-weights`` with the same ``--weight-seed``): the
    machine's crossbars and onnxruntime then hold the very weights the program was compiled for."""
    from cimopt.ir import program as prog
    from cimopt.ir.load import read_model
    from cimopt.targets.load import load_target

    from cimopt.compiler import model_hash
    from cimopt.frontend import prepare

    p = prog.load(prog_path)
    _check_weight_seed(p, prog_path, weight_seed)
    if weight_seed is None:
        proto = read_model(model, missing_data)
    else:
        from cimopt.ir.random_weights import randomised_file

        proto = randomised_file(model, weight_seed)
    ref = target_ref or dict(p.extra).get("target_ref") or p.target
    target = load_target(ref)
    if target.digest() != p.target_hash:
        raise ProgramError(f"{prog_path}: compiled for target {p.target} ({p.target_hash}), but {ref} is "
                           f"{target.digest()}; pass the same target with --target")
    if model_hash(model if weight_seed is None else proto) != p.model_hash:
        raise ProgramError(f"{prog_path}: compiled from a different model than {model} (hash {p.model_hash}); "
                           "recompile or pass the model it was compiled from")
    batch = int(p.metric("batch", 1) or 1)
    # a batched program (`cimopt.batching`) was compiled from the model with batch B
    source = model if weight_seed is None else proto
    fe = prepare(source, target, dict(p.input_shapes), batch)
    return p, target, fe, proto


def recorded_weight_seed(p: Any, prog_path: str) -> int | None:
    """The ``--weight-seed`` the program was compiled with (None: the model's own weights)."""
    seed = dict(p.extra).get(RANDOM_WEIGHTS_KEY)
    if seed is None:
        return None
    try:
        return int(seed)
    except ValueError:
        raise ProgramError(f"{prog_path}: extra {RANDOM_WEIGHTS_KEY} is {seed!r}, not a seed (an integer); "
                           "recompile the program") from None


def _check_weight_seed(p: Any, prog_path: str, weight_seed: int | None) -> None:
    """`ProgramError` unless the run's ``--random-weights`` agrees with the program's compile."""
    compiled = recorded_weight_seed(p, prog_path)
    if compiled is None and weight_seed is not None:
        raise ProgramError(f"{prog_path}: compiled from the model's own weights; to run on random weights, "
                           f"compile with --random-weights --weight-seed {weight_seed} first")
    if compiled is not None and weight_seed is None:
        raise ProgramError(f"{prog_path}: compiled with --random-weights --weight-seed {compiled}; "
                           f"run it with the same flags")
    if compiled is not None and compiled != weight_seed:
        raise ProgramError(f"{prog_path}: compiled with --weight-seed {compiled}, not {weight_seed}; "
                           "run it with the seed it was compiled with")


def _check_shapes(given: list[str], p: Any) -> None:
    """``--input-shape`` on run/validate must agree with the sizes the program was compiled for."""
    from cimopt.ir.load import parse_input_shapes

    compiled = dict(p.input_shapes)
    for name, shape in parse_input_shapes(given).items():
        if name not in compiled:
            raise UsageError(f"--input-shape {name}: the program's inputs are {', '.join(compiled)}")
        if tuple(shape) != tuple(compiled[name]):
            want = "x".join(map(str, compiled[name]))
            raise UsageError(f"--input-shape {name}={'x'.join(map(str, shape))}: the program was compiled for "
                             f"{name}={want}; recompile for other sizes")


def _cmd_run(a: argparse.Namespace) -> int:
    from cimopt.checked_run import judged, run_on_machine
    from cimopt.inputs import random_inputs, read_inputs
    from cimopt.report.machine_run import run_json, run_lines, save_outputs

    p, target, fe, proto = _machine_setup(a.program, a.model, a.target, "refuse",
                                          a.weight_seed if a.random_weights else None)
    _check_shapes(a.input_shape, p)
    inputs = read_inputs(a.inputs, fe.graph) if a.inputs else random_inputs(fe.graph, a.seed)
    if a.numerics != "float":
        return cli_numerics.run(a, p, target, fe.graph, proto, inputs)
    machine = run_on_machine(p, fe.graph, target, inputs)
    if a.trace:
        write_machine_trace(p, machine[0], a.trace)
    if a.outputs:
        save_outputs(a.outputs, machine[0].outputs)
    run = judged(machine, fe.graph, proto, inputs)
    if a.json:
        print(json_safe.dumps(run_json(run, p)))
    else:
        for line in run_lines(run, p):
            print(line)
    return 0 if run.ok else 1


def _cmd_validate(a: argparse.Namespace) -> int:
    from cimopt.ir.program_expand import repetitions
    from cimopt.targets.machine.executor import validate

    if a.model:
        from cimopt.ir import program as prog

        seed = recorded_weight_seed(prog.load(a.program), a.program)   # validate checks no values
        p, target, fe, _proto = _machine_setup(a.program, a.model, a.target, weight_seed=seed)
        _check_shapes(a.input_shape, p)
        viol = validate(p, fe.graph, target)
    else:
        from cimopt.ir import program as prog
        from cimopt.targets.load import load_target
        from cimopt.targets.machine.checks.program_checks import validate_without_model

        p = prog.load(a.program)
        target = load_target(a.target or dict(p.extra).get("target_ref") or p.target)
        viol = validate_without_model(p, target)
    if a.json:
        print(json.dumps({"valid": not viol, "violations": [f"{v.kind}: {v.message}" for v in viol]}))
    else:
        for v in viol[:30]:
            print(f"violation {v.kind}: {v.message}")
        scope = "" if a.model else "; durations and data flow not checked: pass the model too"
        print(f"{a.program}: {'valid' if not viol else f'{len(viol)} violation(s)'} "
              f"({len(p.instructions)} instructions, {repetitions(p)} with repetitions, makespan {p.makespan_ns} ns{scope})")
    return 0 if not viol else 1


def _cmd_compare(a: argparse.Namespace) -> int:
    from cimopt.report.summary import compare_rows, compare_text

    a.quiet = not a.verbose
    a.compare = "all" if a.all_methods else "exact"
    h = _compile(a, "heuristic")
    a.compare = ""
    x = _compile(a, "exact", h.frontend)   # the same model, target and options: one front end
    rows, e2e = compare_rows(h, x)
    if a.json:
        print(json.dumps({"stages": rows, "end_to_end": e2e}))
    else:
        print(compare_text(rows, e2e))
    return 0


def add_weight_args(p: argparse.ArgumentParser) -> None:
    """``--random-weights`` and ``--weight-seed``, the same on compile, compare and run."""
    p.add_argument("--random-weights", action="store_true",
                   help="replace every weight of the model by seeded random values (for models whose weights "
                        "are constants, like the onnx light graphs, or whose external weight file is absent); "
                        "compile and run must both be given it, with the same --weight-seed")
    p.add_argument("--weight-seed", type=int, default=0, metavar="N",
                   help="seed of --random-weights (default 0)")


def register(sub: Any) -> None:
    """Add compile, run, validate and compare to the ``cimopt`` subparsers."""
    def compile_args(p: argparse.ArgumentParser) -> None:
        add_model_args(p)
        p.add_argument("--mode", choices=MODES, default="latency",
                       help="latency: one inference's makespan; throughput: a stream's initiation interval")
        p.add_argument("--method", action="append", default=[], metavar="STAGE=METHOD[,...]",
                       help="method for one stage, overriding --solver: " + "; ".join(
                           f"{st.name}: {', '.join(m.name for m in st.methods)}" for st in STAGES))
        p.add_argument("--replication", metavar="METHOD", help="shorthand for --method replication=METHOD")
        p.add_argument("--placement", metavar="METHOD", help="shorthand for --method placement=METHOD")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--time-limit", type=float, help=TIME_HELP)
        p.add_argument("--deterministic-time", type=float, metavar="SECONDS", help=DETERMINISTIC_HELP)
        p.add_argument("--workers", type=int, default=8, help="CP-SAT workers (default 8)")
        p.add_argument("--chunks", type=int, default=4,
                       help="the fewest output chunks per crossbar op (default 4; at least one per copy)")
        p.add_argument("--task-budget", type=int, default=2000,
                       help="MVM tasks the granularity stage may cut over all segments (default 2000; at least one per copy)")
        p.add_argument("--min-sqnr-db", type=float, metavar="DB",
                       help="accuracy budget: choose rows per ADC conversion per layer so the error model's "
                            "output SQNR is at least DB (see `cimopt run --numerics int`)")
        p.add_argument("--calibrate", metavar="X.npz", help="calibration inputs for --min-sqnr-db "
                                                            "(default: seeded random inputs)")
        add_weight_args(p)
        p.add_argument("--batch", type=int, default=0,
                       help="inferences per reprogramming of a model in several segments (default: chosen "
                            "in throughput mode, 1 in latency mode)")

    c = sub.add_parser("compile", help="compile a model into an executable schedule (program JSON)")
    compile_args(c)
    c.add_argument("--solver", choices=SOLVERS, default="heuristic",
                   help="every stage's heuristic or exact method (see `cimopt methods`)")
    c.add_argument("-o", "--output", required=True, help="program file to write")
    c.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    c.add_argument("--export-instances", metavar="DIR", help="write each stage's instance to DIR/STAGE.json "
                                                             "(re-solve with `cimopt solve`)")
    c.add_argument("--export-models", metavar="DIR", help="write every CP-SAT model solved to DIR "
                                                          "(NAME-N.pb and NAME-N.json with the instance and result)")
    c.set_defaults(func=_cmd_compile)

    r = sub.add_parser("run", help="execute a program on the reference machine and compare with onnxruntime")
    r.add_argument("program")
    r.add_argument("model")
    r.add_argument("--target", help="target the program was compiled for (default: the one it records)")
    r.add_argument("--inputs", help=".npz with one array per model input (default: seeded random)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0xD1x...",
                   help="accepted for symmetry with compile: must equal the sizes the program was compiled for")
    r.add_argument("--outputs", metavar="OUT.npz", help="write the machine's outputs to this .npz")
    add_weight_args(r)
    r.add_argument("--json", action="store_true")
    cli_numerics.add_args(r)
    r.add_argument("--trace", metavar="T.json", help="write the machine's timeline as Chrome trace-event JSON")
    r.set_defaults(func=_cmd_run)

    v = sub.add_parser("validate", help="check a program without data: schema, dependency order, resources, "
                                        "crossbars, memory; with the model also durations and data flow")
    v.add_argument("program")
    v.add_argument("model", nargs="?")
    v.add_argument("--target")
    v.add_argument("--input-shape", action="append", default=[], metavar="NAME=D0xD1x...",
                   help="must equal the sizes the program was compiled for")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=_cmd_validate)

    k = sub.add_parser("compare", help="heuristic vs exact, stage by stage, with bounds and gaps")
    compile_args(k)
    k.add_argument("--json", action="store_true")
    k.add_argument("--all-methods", action="store_true", help="every method of every stage, not only the exact one")
    k.add_argument("--verbose", action="store_true", help="progress lines on stderr")
    k.set_defaults(func=_cmd_compare)

