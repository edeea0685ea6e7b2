"""The stage interface: every method of every stage is reachable by name, the pipeline loop
records retries and what ran, stage times add up to the wall time, and stage instances
exported by a compile are re-solved to the same result."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import dataclass, fields, replace
from typing import Any

import pytest

import models
from cimopt.compiler import compile_model
from cimopt.ir.errors import UsageError
from cimopt.options import CompileOptions, parse_methods
from cimopt.solver.context import Context
from cimopt.solver.harness import generators, instances, solutions
from cimopt.solver.interface import Method, Stage, StageInfeasible
from cimopt.solver.registry import stage, STAGES
from cimopt.solver.scheduling.problem import SchedulingInstance, SchedulingProblem, Task
from cimopt.solver.scheduling.tasks import TaskGraph
from cimopt.solver.solution_verdict import SolutionError
from cimopt.solver.stats import SolverOptions, SolveStats, Status
from cimopt.stage_loop import run_stages
from cimopt.targets.load import load_target

FAST = SolverOptions(time_limit_s=0.5, seed=0, workers=1, deterministic=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, SolveStats]]:
    folder = str(tmp_path_factory.mktemp("instances"))
    res = compile_model(models.small_cnn(), load_target("pimcomp"),
                        CompileOptions(export_instances=folder, workers=1, deterministic=True))
    return folder, res.stats


def test_every_method_of_every_stage_solves_its_exported_instance(exported: tuple[str, dict[str, SolveStats]]) -> None:
    folder, stats = exported
    ran = [st for st in STAGES if st.name in stats]
    assert [st.name for st in STAGES if st not in ran] == ["accuracy"]  # runs only with --min-sqnr-db
    for st in ran:
        loaded, problem, meta = instances.load(f"{folder}/{st.name}.json", STAGES)
        assert loaded is st and meta["method"] == st.heuristic
        for m in st.methods:
            _, s = st.run(problem, m.name, FAST)
            assert (s.stage, s.method) == (st.name, m.name)
            assert s.bound <= s.objective * (1 + 1e-9) + 1e-6, (st.name, m.name)
            assert isinstance(s.status, Status)


def test_solve_reproduces_the_compiles_stats(exported: tuple[str, dict[str, SolveStats]]) -> None:
    folder, stats = exported
    for name in ("replication", "placement", "scheduling", "memory"):
        st, problem, meta = instances.load(f"{folder}/{name}.json", STAGES)
        _, s = st.run(problem, meta["method"], SolverOptions(10.0, meta["seed"], 1))
        assert (s.objective, s.bound, s.status) == (stats[name].objective, stats[name].bound, stats[name].status)


def test_cli_solve_prints_the_same_objective(exported: tuple[str, dict[str, SolveStats]]) -> None:
    folder, stats = exported
    out = subprocess.run([sys.executable, "-m", "cimopt.cli.main", "solve", f"{folder}/scheduling.json", "--json",
                          "--workers", "1", "--deterministic-time", "10"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["objective"] == stats["scheduling"].objective


def test_instance_round_trip_and_schema(exported: tuple[str, dict[str, SolveStats]], tmp_path) -> None:
    import jsonschema

    folder, stats = exported
    for st in (s for s in STAGES if s.name in stats):
        _, problem, _ = instances.load(f"{folder}/{st.name}.json", STAGES)
        path = tmp_path / f"{st.name}.json"
        instances.save(st, problem, path)
        assert instances.load(path, STAGES)[1] == problem
        jsonschema.validate(json.loads(path.read_text()), instances.schema(st))


def test_a_broken_instance_names_the_field(tmp_path) -> None:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"format": instances.FORMAT, "stage": "memory",
                             "problem": {"problem": {"buffers": [{"name": "a"}]}, "copies": 1}}))
    with pytest.raises(instances.InstanceError, match=r"problem\.problem\.buffers\[0\]\.size_bytes: missing"):
        instances.load(p, STAGES)


def test_method_overrides_reach_the_stages() -> None:
    opts = CompileOptions(methods=parse_methods(["placement=snake+ls,scheduling=list", "memory=cpsat"]),
                          time_limit_s=1, workers=1, deterministic=True)
    res = compile_model(models.small_cnn(), load_target("pimcomp"), opts)
    assert res.stats["placement"].method == "snake+ls"
    assert res.stats["memory"].method == "cpsat" and res.stats["memory"].exact
    assert dict(res.program.solvers)["placement"].startswith("snake+ls (local search")


@pytest.mark.parametrize("bad,match", [(["placement=nope"], "no method 'nope'"), (["packing=greedy"], "no stage"),
                                       (["placement"], "STAGE=METHOD")])
def test_bad_overrides_are_usage_errors(bad: list[str], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        compile_model(models.small_cnn(), load_target("pimcomp"), CompileOptions(methods=parse_methods(bad)))


def test_stage_times_add_up_to_the_wall_time() -> None:
    res = compile_model(models.small_cnn(), load_target("isaac"), CompileOptions())
    assert {s.name for s in STAGES if s.name != "accuracy"} <= set(res.stage_s)
    assert sum(res.stage_s.values()) == pytest.approx(res.wall_s, rel=0.05)


def test_segmented_throughput_is_reported_not_silent() -> None:
    edge = load_target("edge")
    tiny = replace(edge, name="tiny", chip=replace(edge.chip, mesh_rows=1, mesh_cols=1),
                   core=replace(edge.core, crossbars=3))
    res = compile_model(models.small_cnn(), tiny, CompileOptions(mode="throughput"))
    assert res.program.segments > 1
    # honoured (a stream of inferences) or said: never a latency program that claims nothing
    honoured = res.program.mode == "throughput"
    assert honoured or (any("throughput" in w for w in res.warnings)
                        and ("requested_mode", "throughput") in res.program.extra)


# ---- the loop itself, on stages made for the test --------------------------------------------

@dataclass
class _Log:
    calls: list[str]


class _Counter(Stage[int, int]):
    """Stage 'count': increments the budget it sees; its solution is the budget."""

    name = "count"
    methods = (Method("plain", "heuristic", "the budget as it is"),)
    heuristic = exact = "plain"

    def __init__(self, log: _Log) -> None:
        self.log = log

    def build(self, ctx: Context) -> int:
        return ctx.budget

    def solve(self, problem: int, method: str, options: SolverOptions) -> tuple[int, SolveStats]:
        self.log.calls.append(f"count {problem}")
        return problem, SolveStats(self.name, method, Status.OPTIMAL, float(problem), float(problem), 0.0)

    def apply(self, ctx: Context, solution: int) -> None:
        pass


class _FailsUntilSmall(_Counter):
    """Stage 'fit': infeasible while the budget is above 8; each retry halves it."""

    name = "fit"

    def solve(self, problem: int, method: str, options: SolverOptions) -> tuple[int, SolveStats]:
        self.log.calls.append(f"fit {problem}")
        if problem > 8:
            raise StageInfeasible(f"budget {problem} too large", resource="crossbars")
        return problem, SolveStats(self.name, method, Status.OPTIMAL, float(problem), float(problem), 0.0)

    def retry(self, ctx: Context, error: StageInfeasible) -> str | None:
        ctx.budget //= 2
        return "count"


PLAIN = {"count": "plain", "fit": "plain"}


def test_the_loop_records_every_retry() -> None:
    log = _Log([])
    ctx = Context(None, None, None, None, "latency", 1, budget=32)  # type: ignore[arg-type]
    times: dict[str, float] = {}
    opts = CompileOptions()
    stats, _ = run_stages(ctx, (_Counter(log), _FailsUntilSmall(log)), PLAIN, opts, opts.solver_options(), times,
                          lambda _: None)
    assert log.calls == ["count 32", "fit 32", "count 16", "fit 16", "count 8", "fit 8"]
    fit = [str(a) for a in stats["fit"].attempts]
    assert len(fit) == 2 and "budget 32 too large" in fit[0] and "32 -> 16" in fit[0]
    assert any("budget now 8" in str(a) for a in stats["count"].attempts)
    assert set(times) == {"count", "fit"}


def test_a_stage_without_retry_gives_a_capacity_error() -> None:
    from cimopt.ir.errors import CapacityError

    log = _Log([])
    never = _FailsUntilSmall(log)
    never.retry = lambda ctx, error: None  # type: ignore[method-assign]
    ctx = Context(None, None, None, None, "latency", 1, budget=32)  # type: ignore[arg-type]
    with pytest.raises(CapacityError, match="budget 32 too large"):
        run_stages(ctx, (_Counter(log), never), PLAIN, CompileOptions(), CompileOptions().solver_options(), {},
                   lambda _: None)


def test_methods_command_lists_every_stage() -> None:
    out = subprocess.run([sys.executable, "-m", "cimopt.cli.main", "methods", "--json"], capture_output=True, text=True,
                         timeout=60)
    got = {row["stage"]: [m["name"] for m in row["methods"]] for row in json.loads(out.stdout)}
    assert got == {st.name: [m.name for m in st.methods] for st in STAGES}
    assert stage("placement").exact in got["placement"]


# ---- what a stage may touch, and the harness generic over the registry -----------------------

_SHARED = ("graph", "workload", "target", "cost")


def _decisions(ctx: Context) -> dict[str, object]:
    """What ``ctx`` holds: the shared inputs by identity, everything else by value (deep copies)."""
    out: dict[str, object] = {f: id(getattr(ctx, f)) for f in _SHARED}
    out.update({f.name: copy.deepcopy(getattr(ctx, f.name)) for f in fields(ctx) if f.name not in _SHARED})
    return out


def test_build_reads_the_context_and_never_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    for st in STAGES:
        def checked(ctx: Context, st: Stage[Any, Any] = st, build: Any = st.build) -> Any:
            before = _decisions(ctx)
            problem = build(ctx)
            after = _decisions(ctx)
            assert after == before, (st.name, [k for k in before if after[k] != before[k]])
            built.append(st.name)
            return problem
        monkeypatch.setattr(st, "build", checked)
    compile_model(models.small_cnn(), load_target("pimcomp"), CompileOptions(workers=1, deterministic=True))
    assert set(built) == {st.name for st in STAGES} - {"accuracy"}  # accuracy runs only with --min-sqnr-db


def test_the_scheduling_task_graph_travels_in_instance_and_solution_but_is_not_instance_data() -> None:
    st = stage("scheduling")
    tg = TaskGraph()
    problem = SchedulingProblem((Task("a", 3, 0), Task("b", 2, 0)), ((0, 1, 0),), ("r",))
    with_graph, bare = SchedulingInstance(problem, "latency", tg), SchedulingInstance(problem, "latency")
    assert instances.encode(with_graph) == instances.encode(bare) and with_graph == bare
    assert "task_graph" not in json.dumps(instances.schema(st))
    solution, s = st.run(with_graph, "list", FAST)
    assert solution.task_graph is tg and s.objective == 5.0
    ctx = Context(None, None, None, None, "latency", 1)  # type: ignore[arg-type]
    st.apply(ctx, solution)
    assert ctx.tasks is tg and ctx.schedule == solution.schedule


def test_the_harness_reaches_every_stage_through_its_hooks() -> None:
    assert list(solutions.schema()["definitions"]) == [s.name for s in STAGES if s.solution_format is not None]
    assert generators.SIZES == {s.name: s.generator.SIZE_UNIT for s in STAGES if s.generator is not None}
    assert all(s.objective[1] for s in STAGES)
    bare = _Counter(_Log([]))  # a stage without a solution format or a generator says so
    assert bare.objective == ("", "") and bare.size_unit == ""
    with pytest.raises(SolutionError, match="stage count: no solution format"):
        solutions.document(bare, 1, 1, "plain", 1.0)
    with pytest.raises(UsageError, match="stage count has no instance generator"):
        bare.generate(10, 0, "latency")
    with pytest.raises(UsageError, match="no generator for stage 'tiling'"):
        generators.instance("tiling", 10, 0)


def test_a_new_stages_decision_has_a_place_in_the_context_that_forks_copy() -> None:
    ctx = Context(None, None, None, None, "latency", 1)  # type: ignore[arg-type]
    ctx.decisions["routing"] = ("a", "b")
    fork = ctx.fork()
    fork.decisions["routing"] = ("c",)
    assert ctx.decisions == {"routing": ("a", "b")}


@dataclass(frozen=True)
class _Hops:
    """A toy stage's instance: the bytes each op sends, to be given a route length."""

    sends: tuple[tuple[str, int], ...]


class _RoutingStage(Stage[_Hops, tuple[int, ...]]):
    """A stage written the way a new one is: nothing outside this class and the registry knows it."""

    name = "toyrouting"
    methods = (Method("short", "heuristic", "every flow one hop"),
               Method("exhaustive", "exact", "the same routes, proved optimal: no route is shorter than a hop"))
    heuristic, exact, unit, problem_type = "short", "exhaustive", "byte-hops", _Hops

    def build(self, ctx: Context) -> _Hops:
        return _Hops(tuple((op.name, op.bytes_out) for op in ctx.workload.ops))

    def solve(self, problem: _Hops, method: str, options: SolverOptions) -> tuple[tuple[int, ...], SolveStats]:
        hops = tuple(1 for _ in problem.sends)   # both methods: the shortest route is one hop here
        cost = float(sum(b * h for (_, b), h in zip(problem.sends, hops)))
        return hops, SolveStats(self.name, method, Status.OPTIMAL, cost, cost, 0.0)

    def apply(self, ctx: Context, solution: tuple[int, ...]) -> None:
        ctx.decisions[self.name] = solution


def test_a_new_stage_needs_only_its_class_and_its_registration(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Registering one more stage (what its line in `solver/registry.py` does) is enough for the
    compile loop, ``--method``, `cimopt methods`, the program's stats and instance export."""
    import cimopt.solver.registry as registry
    from cimopt.cli.main import main

    extended = (*STAGES, _RoutingStage())
    for module in list(sys.modules.values()):   # every module that took the registry's tuple
        if getattr(module, "STAGES", None) is STAGES:
            monkeypatch.setattr(module, "STAGES", extended)
    assert registry.STAGES is extended and registry.stage("toyrouting").name == "toyrouting"
    res = compile_model(models.small_cnn(), load_target("pimcomp"),
                        CompileOptions(workers=1, deterministic=True, methods=(("toyrouting", "exhaustive"),)))
    assert res.stats["toyrouting"].method == "exhaustive" and res.stats["toyrouting"].kind == "exact"
    assert "toyrouting" in dict(res.program.stats) or "toyrouting" in json.dumps(res.program.stats, default=str)
    assert main(["methods"]) == 0
    assert "toyrouting" in capsys.readouterr().out
