"""The tiling stage: every crossbar op's weights cut into crossbar tiles (`cimopt.solver.tiling.cut`);
its decision sets the crossbar budget replication may use."""
from __future__ import annotations

from cimopt.ir.errors import CapacityError
from cimopt.ir.graph import OpClass
from cimopt.solver.context import Context
from cimopt.solver.interface import Method, Stage
from cimopt.solver.stats import SolverOptions, SolveStats
from cimopt.solver.tiling import solution_format as tiling_solutions
from cimopt.solver.tiling.cut import tile_workload, Tiling
from cimopt.solver.tiling.problem import TilingProblem


class TilingStage(Stage[TilingProblem, Tiling]):
    name = "tiling"
    methods = (Method("block", "heuristic", "row/column blocks, small groups packed block-diagonally "
                                     "(exact for each op's block structure; cell-area bound)"),)
    heuristic = exact = "block"
    problem_type = TilingProblem
    unit = "crossbars"
    solution_format = tiling_solutions

    def build(self, ctx: Context) -> TilingProblem:
        c = ctx.target.core
        mats = tuple((op.name, op.matrix) for op in ctx.workload.ops
                     if op.op_class is OpClass.CROSSBAR and op.matrix is not None)
        return TilingProblem(mats, c.crossbar_rows, c.crossbar_cols, ctx.target.weight_slices)

    def solve(self, problem: TilingProblem, method: str, options: SolverOptions) -> tuple[Tiling, SolveStats]:
        self.method(method)
        return tile_workload(problem.matrices, problem.rows, problem.cols, problem.slices)

    def apply(self, ctx: Context, solution: Tiling) -> None:
        total = ctx.target.total_crossbars
        for op, ts in solution.tiles.items():
            if len(ts) > total:
                raise CapacityError(f"op {op} needs {len(ts)} crossbars for one copy of its weights; the chip has "
                                    f"{total}: choose a larger target")
        ctx.tiles = dict(solution.tiles)
        # every crossbar: placement cuts groups that do not pack (`cimopt.solver.placement.stage.packable_groups`)
        ctx.budget = total
