"""The scheduling stage: start times of every task of one inference (op x replica x row chunk,
NoC transfers, crossbar writes between segments) on unary resources.

``build`` makes the task graph (`cimopt.solver.scheduling.tasks`) from the mapping; the problem
is its durations, precedence and resources, in the mode the mapping allows (a segmented model
runs one inference at a time: latency mode).  The task graph travels with the instance and the
solution (`ScheduleResult`); ``apply`` records both in the context.
"""
from __future__ import annotations

from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage
from cimopt.solver.scheduling import (
    exact as sx, generator as scheduling_generator, heuristic as sch, solution_format as scheduling_solutions)
from cimopt.solver.scheduling.problem import (Mode, Schedule, ScheduleResult, SchedulingInstance, SchedulingProblem,
                                              Task)
from cimopt.solver.scheduling.tasks import build_tasks, TaskInfo
from cimopt.solver.stats import SolverOptions, SolveStats
from cimopt.targets.noc import link_name


def solve_schedule(p: SchedulingProblem, mode: str, method: str,
                   options: SolverOptions) -> tuple[Schedule, SolveStats]:
    """One scheduling problem in ``mode`` with ``list`` or ``cpsat``."""
    m: Mode = "throughput" if mode == "throughput" else "latency"
    if method == "cpsat":
        return sx.solve_exact(p, m, options)
    return sch.solve(p, m, "list", options)


def held_resources(t: TaskInfo) -> tuple[str, ...]:
    """The resources a task holds beside its own: a transfer's links (`cimopt.targets.noc.link_name`)
    and the ports of a multicast's other destinations."""
    return tuple(link_name(ln) for ln in t.route) + tuple(f"noc.in{d}" for d in t.dst_cores[1:])


class SchedulingStage(Stage[SchedulingInstance, ScheduleResult]):
    name = "scheduling"
    methods = (
        Method("list", "heuristic", "list scheduling, bottom-level and two other priorities, best kept; "
                              "modulo placement in throughput mode"),
        Method("cpsat", "exact/LNS", f"CP-SAT interval model hinted with the list schedule, up to {sx.FULL_MODEL_MAX_TASKS} tasks; "
                                     "rolling windows above (throughput mode: II = max load, optimal)"),
    )
    heuristic = "list"
    exact = "cpsat"
    problem_type = SchedulingInstance
    unit = "ns"
    solution_format = scheduling_solutions
    generator = scheduling_generator

    def build(self, ctx: Context) -> SchedulingInstance:
        assert ctx.mapping is not None, "placement has not run"
        tg = build_tasks(ctx.graph, ctx.workload, ctx.target, ctx.mapping, ctx.chunks, ctx.rows_per_conversion,
                         ctx.decisions.get("granularity"), ctx.decisions.get("routing"))
        held = [held_resources(x) for x in tg.tasks]
        resources = sorted({x.resource for x in tg.tasks if x.resource} | {r for h in held for r in h})
        rindex = {r: i for i, r in enumerate(resources)}
        problem = SchedulingProblem(
            tuple(Task(f"t{i}", x.duration_ns, rindex.get(x.resource, -1), 0, tuple(rindex[r] for r in held[i]))
                  for i, x in enumerate(tg.tasks)),
            tuple((a, b, 0) for a, b in sorted(tg.edges)), tuple(resources))
        return SchedulingInstance(problem, ctx.effective_mode, tg)

    def solve(self, problem: SchedulingInstance, method: str,
              options: SolverOptions) -> tuple[ScheduleResult, SolveStats]:
        self.method(method)
        schedule, stats = solve_schedule(problem.problem, problem.mode, method, options)
        return ScheduleResult(schedule, problem.task_graph), stats

    def apply(self, ctx: Context, solution: ScheduleResult) -> None:
        assert solution.task_graph is not None, "a schedule of an instance read from a file has no task graph"
        ctx.tasks = solution.task_graph
        ctx.schedule = solution.schedule
