"""`cimopt trace` and `cimopt run --trace`: Chrome trace-event JSON that obeys the format's rules."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import light_program
from cimopt.cli.main import main
from cimopt.ir import program as prog
from cimopt.ir.program_expand import expand, repetitions
from cimopt.report.trace import build_trace, live_bytes

PHASES = {"X", "s", "f", "C", "M"}
METADATA = {"process_name", "thread_name", "process_sort_index", "thread_sort_index"}


def check_trace_format(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """Assert the rules of the trace-event format this file relies on; return its X slices."""
    assert isinstance(trace["traceEvents"], list) and trace["displayTimeUnit"] in ("ms", "ns")
    events = trace["traceEvents"]
    slices = defaultdict(list)
    named_threads, named_procs = set(), set()
    for e in events:
        assert e["ph"] in PHASES, e
        assert type(e["pid"]) is int
        if e["ph"] != "C":
            assert type(e["tid"]) is int
        if e["ph"] == "M":
            assert e["name"] in METADATA and isinstance(e["args"], dict)
            (named_threads if e["name"] == "thread_name" else named_procs).add(
                (e["pid"], e["tid"]) if e["name"] == "thread_name" else e["pid"])
            continue
        assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        if e["ph"] == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0 and e["cat"] and e["name"]
            slices[(e["pid"], e["tid"])].append(e)
        if e["ph"] == "C":
            assert e["args"] and all(isinstance(v, (int, float)) for v in e["args"].values())
    for key, evs in slices.items():
        assert key in named_threads and key[0] in named_procs
        evs.sort(key=lambda e: (e["ts"], e["dur"]))
        for a, b in zip(evs, evs[1:]):   # slices on one thread never partly overlap
            assert b["ts"] >= a["ts"] + a["dur"] - 1e-9, (a, b)
    starts = {e["id"]: e for e in events if e["ph"] == "s"}
    finishes = Counter(e["id"] for e in events if e["ph"] == "f")
    assert len(starts) == sum(1 for e in events if e["ph"] == "s")      # flow ids unique
    assert set(starts) == set(finishes) and set(finishes.values()) <= {1}
    for e in events:
        if e["ph"] in "sf":
            if e["ph"] == "f":
                assert e["bp"] == "e" and e["cat"] == starts[e["id"]]["cat"]
            # bound to a slice of the same category on its thread that starts at its timestamp
            assert any(x["ts"] == e["ts"] and x["cat"] == e["cat"] for x in slices[(e["pid"], e["tid"])]), e
    return [e for evs in slices.values() for e in evs]


def test_one_slice_per_instruction_at_the_programs_times() -> None:
    """One slice per instruction of the flat form: a compact instruction's repetitions each get one."""
    compact = light_program.squeezenet()[1].program
    p = expand(compact)
    assert len(p.instructions) == repetitions(compact)
    trace = json.loads(json.dumps(build_trace(compact)))
    every = check_trace_format(trace)
    slices = [e for e in every if e["cat"] == "instruction"]   # the others: the links transfers hold
    by_id = {e["args"]["id"]: e for e in slices}
    assert len(slices) == len(by_id) == len(p.instructions)
    assert len(every) - len(slices) == sum(len(i.route) for i in p.instructions)
    for i in p.instructions:
        e = by_id[i.id]
        assert e["ts"] == i.start_ns / 1e3 and e["ts"] + e["dur"] == pytest.approx(i.end_ns / 1e3, abs=1e-6)
    assert max(e["ts"] + e["dur"] for e in slices) == pytest.approx(p.makespan_ns / 1e3)
    flows = sum(1 for e in trace["traceEvents"] if e["ph"] == "s")
    assert flows == sum(len(i.deps) for i in p.instructions)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert {"NoC", "host", "global buffer and DRAM", "core 0"} <= names


def test_counters_follow_the_memory_plan() -> None:
    p = light_program.squeezenet()[1].program
    trace = build_trace(p)
    counters = defaultdict(list)
    for e in trace["traceEvents"]:
        if e["ph"] == "C":
            counters[(e["pid"], e["name"])].append(e["args"]["bytes"])
    steps = live_bytes(p)
    assert len(counters) == len(steps)
    assert max(max(v) for v in counters.values()) == max(max(b for _, b in s) for s in steps.values())
    for space, s in steps.items():   # every byte allocated is freed by the end of the inference
        assert s[-1][1] == 0 and min(b for _, b in s) >= 0, space


def test_trace_and_run_trace_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = light_program.save_model(str(tmp_path))
    p = replace(light_program.squeezenet()[1].program, extra=(("target_ref", light_program.TARGET),))
    prog.save(p, tmp_path / "p.json")
    assert main(["trace", str(tmp_path / "p.json"), "-o", str(tmp_path / "t.json")]) == 0
    planned = json.loads((tmp_path / "t.json").read_text())
    assert main(["run", str(tmp_path / "p.json"), model, "--trace", str(tmp_path / "m.json")]) == 0
    measured = json.loads((tmp_path / "m.json").read_text())
    check_trace_format(measured)
    assert measured["otherData"]["timeline"] == "machine" and planned["otherData"]["timeline"] == "program"
    # the program is right, so the machine's timeline is the program's
    xs = [{k: e[k] for k in ("ts", "dur", "pid", "tid", "name")} for e in planned["traceEvents"] if e["ph"] == "X"]
    ys = [{k: e[k] for k in ("ts", "dur", "pid", "tid", "name")} for e in measured["traceEvents"] if e["ph"] == "X"]
    assert xs == ys and not any("timed_by" in e["args"] for e in measured["traceEvents"] if e["ph"] == "X")
    capsys.readouterr()
    assert main(["trace", str(tmp_path / "none.json"), "-o", str(tmp_path / "x.json")]) == 2
    assert "no such program file" in capsys.readouterr().err


def test_machine_timeline_shows_a_wrong_duration() -> None:
    from cimopt.targets.load import load_target
    from cimopt.targets.machine.executor import execute

    _, res = light_program.squeezenet()
    p = res.program
    victim = next(i for i in p.instructions if i.kind == "mvm" and i.count == 1)
    bad = replace(p, instructions=tuple(replace(i, end_ns=i.end_ns + 1000) if i.id == victim.id else i
                                        for i in p.instructions))
    out = execute(bad, res.frontend.graph, load_target(light_program.TARGET), {}, functional=False)
    timeline = {i: (s, e) for i, s, e in out.timeline}
    assert timeline[victim.id] == (victim.start_ns, victim.end_ns)   # the machine's duration, not the program's
    assert any(v.kind == "duration" for v in out.violations)
    slices = {e["args"]["id"]: e for e in build_trace(bad, timeline, "machine")["traceEvents"] if e["ph"] == "X"}
    assert slices[victim.id]["dur"] == (victim.end_ns - victim.start_ns) / 1e3
