"""The `cimopt` command line.  Exit codes: 0 success, 1 a check failed, 2 bad input or usage."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from cimopt import json_safe
from cimopt.cli import check_cmd, compile_cmd, demo_cmd, passes_cmd, plot_cmd, solve_cmd, sweep_cmd, trace_cmd
from cimopt.cli.args import add_model_args, Parser
from cimopt.ir import units
from cimopt.ir.errors import CimoptError

#: modules that add commands: each has ``register(subparsers)``; a new command is a module and a line here
COMMAND_MODULES = (compile_cmd, demo_cmd, solve_cmd, check_cmd, sweep_cmd, trace_cmd, plot_cmd, passes_cmd)


def _cmd_targets(args: argparse.Namespace) -> int:
    from cimopt.targets.load import list_presets, load_target

    rows = []
    for name in list_presets():
        t = load_target(name)
        rows.append(t)
    if args.json:
        print(json.dumps([{"name": t.name, "cores": t.cores, "crossbars": t.total_crossbars,
                           "weight_capacity": t.weight_capacity, "description": t.description}
                          for t in rows], indent=2))
        return 0
    from cimopt.targets.physics import instructions as isa

    print(f"{'target':<10} {'cores':>6} {'crossbars':>10} {'weights':>12} {'MVM':>9} {'peak TOPS':>10} host  description")
    for t in rows:
        c = t.core
        mvm = isa.mvm(t, c.crossbar_rows, c.crossbar_cols)
        interval = isa.mvm_interval(t, c.crossbar_rows, c.crossbar_cols)
        macs_per_mvm = c.crossbar_rows * (c.crossbar_cols // t.weight_slices)
        tops = 2 * macs_per_mvm * t.total_crossbars / interval / 1e3
        print(f"{t.name:<10} {t.cores:>6} {units.count(t.total_crossbars):>10} {units.si_count(t.weight_capacity):>12} "
              f"{units.time(mvm.latency_ns):>9} {tops:>10.2f} {'yes' if t.host else 'no ':<5} {t.description}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from cimopt.cost.external import read_costs
    from cimopt.cost.model import CostModel
    from cimopt.frontend import prepare
    from cimopt.report.inspect import inspect, to_json, to_text
    from cimopt.ir.load import parse_input_shapes
    from cimopt.targets.load import load_target

    target = load_target(args.target)
    fe = prepare(args.model, target, parse_input_shapes(args.input_shape))
    measured = read_costs(args.costs, {o.name for o in fe.workload.ops}) if args.costs else None
    rows = inspect(fe.workload, target, CostModel(target, measured))
    if args.json:
        print(json_safe.dumps(to_json(fe.workload, target, rows)))
    else:
        print(to_text(fe.workload, target, rows))
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from cimopt.solver.registry import STAGES

    if args.json:
        print(json.dumps([{"stage": st.name, "heuristic": st.heuristic, "exact": st.exact,
                           "methods": [{"name": m.name, "kind": m.kind, "exact": m.exact, "help": m.help}
                                       for m in st.methods]}
                          for st in STAGES], indent=2))
        return 0
    for st in STAGES:
        print(f"{st.name}  (--solver heuristic: {st.heuristic}; --solver exact: {st.exact})")
        for m in st.methods:
            print(f"  {m.name:<18} {m.kind:<12}  {m.help}")
    print("\nkinds: exact proves optimality of every instance given time; exact/LNS is exact up to the size its "
          "line names, LNS above;\nLNS re-solves neighbourhoods exactly without a proof for the whole; local search "
          "moves until none improves;\nheuristic constructs a solution.  Any method reports OPTIMAL only when its "
          "objective meets a valid bound.")
    print("\nchoose one per stage with --method STAGE=METHOD[,STAGE=METHOD...]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="cimopt", description="Compile ONNX models onto compute-in-memory accelerators, "
                                           "with heuristic and exact solvers side by side.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    t = sub.add_parser("targets", help="list the target presets with capacity and peak figures")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_cmd_targets)
    i = sub.add_parser("inspect", help="per-op crossbar tiles, MACs, latency and energy; does it fit?")
    add_model_args(i)
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=_cmd_inspect)
    m = sub.add_parser("methods", help="every stage's methods, heuristic and exact, by name")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_cmd_methods)
    for module in COMMAND_MODULES:
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return func(args)
    except CimoptError as e:
        print(f"cimopt: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`cimopt ... | head`): no traceback, not a failed check
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("cimopt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
