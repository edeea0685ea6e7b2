"""Lower bounds of the placement objective (byte-hops per inference): colocation, the ball LP, and
`lower_bound`, the larger of the two."""
from __future__ import annotations

from ortools.linear_solver import pywraplp

from cimopt.solver.budget import Budget
from cimopt.solver.placement.problem import PlacementProblem


def colocation_bound(problem: PlacementProblem) -> float:
    """Σ bytes over pairs whose sizes sum above a core (they are ≥ 1 hop apart), in byte-hops."""
    cap, s = problem.crossbars_per_core, problem.groups
    return float(sum(w for a, b, w in problem.traffic if s[a] + s[b] > cap))


def ball_lp_bound(problem: PlacementProblem) -> float:
    """`ball_lp` over every radius (no time limit), in byte-hops."""
    return ball_lp(problem)[0]


def ball_lp(problem: PlacementProblem, budget: Budget | None = None) -> tuple[float, bool]:
    """Distance-ball LP bound, in byte-hops.

    hops(a, b) = Σ_{d=0}^{D-1} [hops(a, b) > d].  For each radius d, the partners of g within d
    hops of it share the cores of one ball of radius d (at most B_d cores, the largest ball on the
    mesh): Σ_h size_h · u_gh ≤ B_d × capacity − size_g, with u_gh ∈ [0, 1] standing for
    [hops ≤ d], and u = 0 at d = 0 for pairs too big to share a core.  With U_d the LP maximum of
    Σ bytes × u, every placement costs ≥ Σ_d (Σ bytes − U_d).  U_d is bounded from above through
    the LP duals (weak duality), so the bound holds whatever GLOP's tolerances.  ``budget``:
    asked before each radius; the radii left out once it is spent add nothing (every radius's
    term is >= 0, so the sum of the radii done is still a bound).  Returns (bound, every radius
    done).
    """
    if not problem.traffic:
        return 0.0, True
    cap, sizes, traffic = problem.crossbars_per_core, problem.groups, problem.traffic
    hop = problem.hop_matrix()
    total = sum(w for _, _, w in traffic)
    nbr_size = [0] * problem.n_groups
    for a, b, _ in traffic:
        nbr_size[a] += sizes[b]
        nbr_size[b] += sizes[a]
    incident: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_groups)]
    for a, b, _ in traffic:
        incident[a].append((a, b))
        incident[b].append((a, b))
    bound = 0.0
    for d in range(int(hop.max())):
        if budget is not None and budget.expired:
            return bound, False
        ball = int((hop <= d).sum(axis=1).max())
        room = [max(0, ball * cap - s) for s in sizes]
        tight = [g for g in range(problem.n_groups) if nbr_size[g] > room[g]]
        if not tight and d > 0:
            continue
        lp = pywraplp.Solver.CreateSolver("GLOP")
        u = {(a, b): lp.NumVar(0.0, 0.0 if d == 0 and sizes[a] + sizes[b] > cap else 1.0,
                               f"u_{a}_{b}") for a, b, _ in traffic}  # pair within d hops
        rows = {g: lp.Add(lp.Sum([sizes[b if a == g else a] * u[a, b] for a, b in incident[g]]) <= room[g])
                for g in tight}
        lp.Maximize(lp.Sum([w * u[a, b] for a, b, w in traffic]))
        lp.Solve()
        y = {g: max(0.0, row.dual_value()) for g, row in rows.items()}
        upper = sum(room[g] * y[g] for g in tight)
        for a, b, w in traffic:
            if u[a, b].ub() > 0:
                upper += max(0.0, w - sizes[b] * y.get(a, 0.0) - sizes[a] * y.get(b, 0.0))
        bound += max(0.0, total - upper)
    return bound, True


def lower_bound(problem: PlacementProblem, budget: Budget | None = None) -> tuple[float, str]:
    """The larger of the colocation and ball-LP bounds, in byte-hops, and which one it is;
    ``budget`` cuts the ball LP's radii (the kind then says so)."""
    co, (ball, complete) = colocation_bound(problem), ball_lp(problem, budget)
    if ball >= co:
        return ball, "ball LP bound" if complete else "ball LP bound (radii cut by the time limit)"
    return co, "colocation bound"
