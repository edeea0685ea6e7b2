"""Rolling-window large-neighbourhood search for the latency makespan of large instances.

Rules of one step, on the current schedule ``S`` (starts in ns):

1. Sort tasks by ``(S, topological rank)`` (a topological order, since a predecessor never starts
   later than its successor) and cut it into *before* ``B``, *window* ``V`` (``size`` tasks) and
   *after* ``A``.  No edge goes from ``A`` into ``B`` or ``V``.
2. CP-SAT re-optimises ``V`` with ``B`` fixed (its tasks as fixed intervals on their resources,
   their ends as lower bounds for successors); ``A`` is left out.  Objective, in ns:
   ``|V| * max_v(end_v + tail_v) + sum_v end_v``, with ``tail_v`` the longest path from ``v``'s
   end to the sink in the current schedule's disjunctive graph (edges plus resource sequences),
   hinted with ``S``.
3. The full schedule is rebuilt semi-actively: each resource runs ``B`` and ``V`` in their new
   start order, then ``A`` in its old order; every task starts as early as its release, its
   predecessors (plus delays) and its resource predecessor allow.  The rebuild is kept when the
   makespan (then the sum of ends) decreases.

Windows are centred on critical tasks (``start + duration + tail == makespan``), moving backwards
from the end of the schedule by at least half a window and wrapping around; the window (60 tasks
at first) grows when CP-SAT proves a window optimal within 1 s and shrinks when it times out.
Time is a `cimopt.solver.budget.Budget` (deterministic s in deterministic mode): a window costs its
CP-SAT deterministic time plus tasks × `ROUND_ITEM_S` for the rebuild around it.
"""
from __future__ import annotations

from ortools.sat.python import cp_model

from cimopt.solver.budget import Budget, ROUND_ITEM_S
from cimopt.solver.cpsat import solve_model
from cimopt.solver.scheduling.problem import SchedulingProblem
from cimopt.solver.stats import SolverOptions, Status


def instance(problem: SchedulingProblem, mode: str) -> dict[str, object]:
    """The plain-data description of a scheduling instance written next to an exported model."""
    return {
        "stage": "scheduling", "mode": mode, "resources": list(problem.resources),
        "tasks": [{"name": t.name, "duration_ns": t.duration_ns, "resource": t.resource, "also": list(t.also),
                   "release_ns": t.release_ns} for t in problem.tasks],
        "edges": [list(e) for e in problem.edges],
    }


def _sequence(problem: SchedulingProblem, start: list[int], rank: list[int]) -> list[int]:
    """Tasks sorted by (start ns, topological rank): a topological order."""
    return sorted(range(len(problem.tasks)), key=lambda i: (start[i], rank[i]))


def _rebuild(problem: SchedulingProblem, seq: list[int],
             preds: list[list[tuple[int, int]]]) -> list[int]:
    """Semi-active starts (ns) for tasks processed in ``seq``, resources used in ``seq`` order."""
    tasks = problem.tasks
    free = [0] * len(problem.resources)
    start = [0] * len(tasks)
    for i in seq:
        t = tasks[i]
        s = max([t.release_ns] + [start[p] + tasks[p].duration_ns + d for p, d in preds[i]])
        if t.held:
            s = max([s] + [free[r] for r in t.held])
            for r in t.held:
                free[r] = s + t.duration_ns
        start[i] = s
    return start


def _tails(problem: SchedulingProblem, seq: list[int],
           succs: list[list[tuple[int, int]]]) -> list[int]:
    """Longest path (ns) from each task's end to the sink over edges and resource sequences."""
    tasks = problem.tasks
    tail = [0] * len(tasks)
    nxt = [-1] * len(problem.resources)
    for i in reversed(seq):
        t = tasks[i]
        q = 0
        for s, d in succs[i]:
            q = max(q, d + tasks[s].duration_ns + tail[s])
        for r in t.held:
            j = nxt[r]
            if j >= 0:
                q = max(q, tasks[j].duration_ns + tail[j])
            nxt[r] = i
        tail[i] = q
    return tail


def _window_model(problem: SchedulingProblem, start: list[int], seq: list[int], lo: int, hi: int,
                  preds: list[list[tuple[int, int]]], tail: list[int], options: SolverOptions,
                  limit_s: float, budget: Budget) -> tuple[dict[int, int] | None, bool]:
    """Re-optimise tasks ``seq[lo:hi]`` (hinted with ``start``, at most ``limit_s`` in the
    budget's unit, charged to ``budget``); returns (CP-SAT's starts of the window or None when it
    found none, whether the window's optimum is proven)."""
    tasks = problem.tasks
    window = seq[lo:hi]
    in_window = set(window)
    horizon = max(start[i] + t.duration_ns for i, t in enumerate(tasks)) * 2
    model = cp_model.CpModel()
    var: dict[int, cp_model.IntVar] = {}  # var[i]: start of window task i (ns)
    res_ivs: dict[int, list[cp_model.IntervalVar]] = {}  # resource -> intervals in the model
    earliest = horizon  # earliest possible start of a window task (ns)
    for i in window:
        t = tasks[i]
        lb = max([t.release_ns] + [start[p] + tasks[p].duration_ns + d for p, d in preds[i]
                                   if p not in in_window])
        earliest = min(earliest, lb)
        var[i] = model.new_int_var(lb, max(lb, horizon), f"start_{i}")
        model.add_hint(var[i], start[i])
        if t.held:
            iv = model.new_fixed_size_interval_var(var[i], t.duration_ns, f"run_{i}")
            for r in t.held:
                res_ivs.setdefault(r, []).append(iv)
    for i in seq[:lo]:
        t = tasks[i]
        shared = [r for r in t.held if r in res_ivs]
        if shared and start[i] + t.duration_ns > earliest:
            iv = model.new_fixed_size_interval_var(start[i], t.duration_ns, f"fixed_{i}")
            for r in shared:
                res_ivs[r].append(iv)
    for ivs in res_ivs.values():
        model.add_no_overlap(ivs)
    for i in window:
        for p, d in preds[i]:
            if p in in_window:
                model.add(var[i] >= var[p] + tasks[p].duration_ns + d)
    peak = model.new_int_var(0, 2 * horizon, "peak")  # max over the window of end + tail (ns)
    for i in window:
        model.add(peak >= var[i] + tasks[i].duration_ns + tail[i])
    model.minimize(len(window) * peak + sum(var[i] + tasks[i].duration_ns for i in window))
    hint_peak = max(start[i] + tasks[i].duration_ns + tail[i] for i in window)
    model.add_hint(peak, hint_peak)
    res = solve_model(model, options, name="scheduling-window", time_limit_s=max(0.05, limit_s),
                      hint_objective=len(window) * hint_peak
                      + sum(start[i] + tasks[i].duration_ns for i in window),
                      instance=lambda: {**instance(problem, "latency"), "window": window,
                                        "start_ns": start},
                      budget=budget)
    optimal = res.status is Status.OPTIMAL
    if not res.found:
        return None, optimal
    return {i: res.value(var[i]) for i in window}, optimal


def rolling_window(problem: SchedulingProblem, order: list[int], start: list[int], lb: int,
                   budget: Budget, options: SolverOptions,
                   size: int = 60) -> tuple[list[int], int, int]:
    """Improve ``start`` (ns) until ``budget`` runs out or the makespan meets ``lb`` (ns).

    Returns (starts in ns, windows solved, windows kept).
    """
    tasks, n = problem.tasks, len(problem.tasks)
    rank = [0] * n
    for k, i in enumerate(order):
        rank[i] = k
    preds: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    succs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for p, s, d in problem.edges:
        preds[s].append((p, d))
        succs[p].append((s, d))

    def score(st: list[int]) -> tuple[int, int]:
        ends = [st[i] + tasks[i].duration_ns for i in range(n)]
        return max(ends, default=0), sum(ends)

    best = _rebuild(problem, _sequence(problem, start, rank), preds)
    if score(best) > score(start):
        best = list(start)
    cur = score(best)
    solved = kept = 0
    pos = n
    while budget.left() > 0.05 and cur[0] > lb:
        budget.spend(n * ROUND_ITEM_S)
        seq = _sequence(problem, best, rank)
        tail = _tails(problem, seq, succs)
        size = max(20, min(size, n))
        critical = [k for k, i in enumerate(seq)
                    if best[i] + tasks[i].duration_ns + tail[i] >= cur[0]]
        target = max((k for k in critical if k < pos), default=critical[-1])
        hi = max(size, min(n, target + size // 2 + 1))
        lo = hi - size
        before = budget.spent()
        new, optimal = _window_model(problem, best, seq, lo, hi, preds, tail, options,
                                     min(budget.left(), 2.0), budget)
        solved += 1
        took = budget.spent() - before
        if new is not None:
            trial = dict(zip(seq, range(n)))
            moved = {i: (new[i] if i in new else best[i], trial[i]) for i in seq[:hi]}
            head = sorted(seq[:hi], key=lambda i: moved[i])
            cand = _rebuild(problem, head + seq[hi:], preds)
            if score(cand) < cur:
                best, cur = cand, score(cand)
                kept += 1
        if optimal and took < 1.0:
            size = int(size * 1.25)
        elif not optimal:
            size = int(size * 0.8)
        pos = lo + size // 2 if lo > 0 else n
    return best, solved, kept
