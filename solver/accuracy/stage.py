"""The accuracy stage (``compile --min-sqnr-db X``): rows activated per ADC conversion, per
crossbar layer, chosen to minimise the mode's cost subject to the error model's output SQNR
budget (`cimopt.solver.accuracy.knapsack`: a multiple-choice knapsack, greedy vs DP with an LP
bound).  It runs first, so the cost model, the replication, the tasks and the program all see
the chosen reads per MVM.  It runs only when the context has a budget and layer signals (from
a calibration run at compile time)."""
from __future__ import annotations

from dataclasses import replace

from cimopt.solver.accuracy import knapsack as ab, solution_format as accuracy_solutions
from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage
from cimopt.solver.stats import SolverOptions, SolveStats, Status


class AccuracyStage(Stage[ab.AccuracyProblem, ab.Choice]):
    name = "accuracy"
    methods = (
        Method("greedy", "heuristic", "cheapest rows per conversion, upgraded by least cost per error removed until "
                                "the SQNR budget holds"),
        Method("dp", "heuristic", "dynamic programming over the budget with errors rounded up (optimal for the rounded "
                               "instance, not proven for the real one), the greedy kept when cheaper"),
    )
    heuristic = "greedy"
    exact = "dp"
    problem_type = ab.AccuracyProblem
    unit = "ns"
    solution_format = accuracy_solutions

    def applies(self, ctx: Context) -> bool:
        return ctx.min_sqnr_db is not None

    def build(self, ctx: Context) -> ab.AccuracyProblem:
        assert ctx.min_sqnr_db is not None and ctx.adc_signals is not None, "no accuracy budget"
        return ab.build(ctx.workload, ctx.target, ctx.adc_signals, ctx.min_sqnr_db, "latency")

    def solve(self, problem: ab.AccuracyProblem, method: str, options: SolverOptions) -> tuple[ab.Choice, SolveStats]:
        """The method's choice; `accuracy_budget.BudgetUnreachable` (naming the best predicted
        SQNR) when no choice meets the budget -- never a program that silently misses it."""
        choice, st = ab.solve(problem, method, options)
        if st.status is Status.INFEASIBLE:
            raise ab.BudgetUnreachable(problem.min_sqnr_db, choice.predicted_sqnr_db)
        return choice, replace(st, note="; ".join(x for x in (f"predicted output SQNR {choice.predicted_sqnr_db:.1f} dB",
                                                               st.note) if x))

    def apply(self, ctx: Context, solution: ab.Choice) -> None:
        ctx.predicted_sqnr_db = solution.predicted_sqnr_db
        ctx.rows_per_conversion = dict(solution.rows_per_conversion)
        ctx.cost = ctx.cost.with_rows_per_conversion(ctx.rows_per_conversion)
