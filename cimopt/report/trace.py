"""A program's timeline as Chrome trace-event JSON (the Perfetto UI and chrome://tracing open it).

Layout: a process per core, with a thread per unary resource on it (each crossbar group, i.e.
one op replica's crossbars; the vector unit; each crossbar written between segments); a
``NoC`` process with a thread per input port; a ``host`` process; a ``global buffer and DRAM``
process; a ``NoC links`` process with a thread per directed link (``link u->v``, routers), where
each transfer that holds the link has a slice (category ``link``) over its whole time.  Each
instruction, a compact one expanded into its repetitions (`ir.program_expand`), is one complete event (``ph`` "X", category ``instruction``) with
``ts`` = its start and ``dur`` = its length in microseconds (floats; the program counts ns).
Each dependency is a flow (``ph`` "s" at the producer's start, "f" with ``bp`` "e" at the
consumer's start, same category, thread and timestamp as the slice each binds to, one id per
dependency).  Counters (``ph`` "C") give the bytes live per memory space over one inference, from
the memory plan (iteration 0): local buffers on their core's process, the global buffer and DRAM
on theirs.  Metadata events (``ph`` "M") name and order processes and threads.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from cimopt.ir.errors import ProgramError
from cimopt.ir.program import Instruction, Program
from cimopt.ir.program_expand import expand

CATEGORY = "instruction"
LINK_CATEGORY = "link"
_CORE = re.compile(r"core(\d+)")


class _Tracks:
    """pid / tid allocation: cores first (pid = core + 1), then NoC, host, memory."""

    def __init__(self, program: Program) -> None:
        cores = {int(m.group(1)) for i in program.instructions if (m := _CORE.fullmatch(i.unit))}
        cores |= {t.core for t in program.programming}
        cores |= {int(m.group(1)) for s, _ in program.spaces if (m := re.fullmatch(r"core(\d+)\.local", s))}
        top = max(cores, default=-1) + 2
        self.noc, self.host, self.memory, self.links = top, top + 1, top + 2, top + 3
        self.names = {c + 1: f"core {c}" for c in cores}
        self.names.update({self.noc: "NoC", self.host: "host", self.memory: "global buffer and DRAM"})
        if any(i.route for i in program.instructions):
            self.names[self.links] = "NoC links"
        self.threads: dict[tuple[int, str], int] = {}

    def pid_of(self, unit: str) -> int:
        m = _CORE.fullmatch(unit)
        if m:
            return int(m.group(1)) + 1
        return self.noc if unit == "noc" else self.host

    def tid_of(self, pid: int, name: str) -> int:
        key = (pid, name)
        if key not in self.threads:
            self.threads[key] = 1 + sum(1 for p, _ in self.threads if p == pid)
        return self.threads[key]


def _thread_name(ins: Instruction) -> str:
    r = ins.resource
    if not r:
        return f"{ins.kind}s"
    if r.endswith(".vector"):
        return "vector unit"
    if r.startswith("noc.in"):
        return f"port in {r[len('noc.in'):]}"
    if r.startswith("xbar"):
        return f"crossbar {r.split('.', 1)[1]} writes"
    if "#r" in r:
        op, rep = r.rsplit("#r", 1)
        return f"crossbar group {op} replica {rep}"
    return r


def _slice_name(ins: Instruction) -> str:
    if ins.kind == "transfer":
        return f"transfer {ins.op} core {ins.src_core} -> {ins.dst_core}" if ins.op else \
            f"transfer core {ins.src_core} -> {ins.dst_core}"
    return f"{ins.kind} {ins.op}".strip()


def build_trace(program: Program, times: Mapping[int, tuple[int, int]] | None = None,
                source: str = "program") -> dict[str, Any]:
    """The trace-event JSON object of ``program``.

    ``times`` (instruction id -> (start ns, end ns)) replaces the program's times, e.g. with the
    machine's timeline; instructions it does not give keep the program's, marked in their args.
    A compact program is drawn as its flat form, one event per repetition.
    """
    program = expand(program)
    tracks = _Tracks(program)
    when = {i.id: (times or {}).get(i.id, (i.start_ns, i.end_ns)) for i in program.instructions}
    events: list[dict[str, Any]] = []
    where: dict[int, tuple[int, int]] = {}
    for ins in sorted(program.instructions, key=lambda i: (i.start_ns, i.id)):
        pid = tracks.pid_of(ins.unit)
        tid = tracks.tid_of(pid, _thread_name(ins))
        where[ins.id] = (pid, tid)
        start, end = when[ins.id]
        args: dict[str, Any] = {"id": ins.id, "kind": ins.kind, "op": ins.op, "replica": ins.replica,
                                "segment": ins.segment, "resource": ins.resource, "energy_pj": ins.energy_pj,
                                "start_ns": start, "end_ns": end}
        if ins.nbytes:
            args["nbytes"] = ins.nbytes
        if times is not None and ins.id not in times:
            args["timed_by"] = "program (the machine could not time it)"
        events.append({"name": _slice_name(ins), "cat": CATEGORY, "ph": "X", "ts": start / 1e3,
                       "dur": (end - start) / 1e3, "pid": pid, "tid": tid, "args": args})
        for u, v in ins.route:   # the links the transfer holds, each on its own track
            events.append({"name": _slice_name(ins), "cat": LINK_CATEGORY, "ph": "X", "ts": start / 1e3,
                           "dur": (end - start) / 1e3, "pid": tracks.links,
                           "tid": tracks.tid_of(tracks.links, f"link {u}->{v}"),
                           "args": {"id": ins.id, "nbytes": ins.nbytes, "start_ns": start, "end_ns": end}})
    flow = 0
    for ins in program.instructions:
        for d in ins.deps:
            if d not in where:
                continue
            flow += 1
            (sp, st), (fp, ft) = where[d], where[ins.id]
            events.append({"name": "dependency", "cat": CATEGORY, "ph": "s", "id": flow,
                           "ts": when[d][0] / 1e3, "pid": sp, "tid": st})
            events.append({"name": "dependency", "cat": CATEGORY, "ph": "f", "bp": "e", "id": flow,
                           "ts": when[ins.id][0] / 1e3, "pid": fp, "tid": ft})
    events.extend(_counters(program, tracks))
    events[:0] = _metadata(tracks)
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"model": program.model, "target": program.target, "mode": program.mode,
                          "makespan_ns": program.makespan_ns, "timeline": source}}


def live_bytes(program: Program) -> dict[str, list[tuple[int, int]]]:
    """Per memory space, the steps (time ns, bytes live from then on) of one inference's buffers
    (the plan's iteration 0), starting with (0, 0)."""
    deltas: dict[str, dict[int, int]] = {}
    for b in program.buffers:
        if b.iteration != 0:
            continue
        d = deltas.setdefault(b.space, {})
        d[b.start_ns] = d.get(b.start_ns, 0) + b.size_bytes
        d[b.end_ns] = d.get(b.end_ns, 0) - b.size_bytes
    out: dict[str, list[tuple[int, int]]] = {}
    for space, d in sorted(deltas.items()):
        level = 0
        steps = [(0, 0)]
        for t in sorted(d):
            level += d[t]
            if t == 0:
                steps[0] = (0, level)
            else:
                steps.append((t, level))
        out[space] = steps
    return out


def _counters(program: Program, tracks: _Tracks) -> list[dict[str, Any]]:
    events = []
    for space, steps in live_bytes(program).items():
        m = re.fullmatch(r"core(\d+)\.local", space)
        pid = int(m.group(1)) + 1 if m else tracks.memory
        name = "local buffer bytes live" if m else f"{space} bytes live"
        events.extend({"name": name, "ph": "C", "ts": t / 1e3, "pid": pid, "args": {"bytes": v}} for t, v in steps)
    return events


def _metadata(tracks: _Tracks) -> list[dict[str, Any]]:
    pids = sorted(tracks.names)
    ev: list[dict[str, Any]] = []
    for pid in pids:
        ev.append({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": tracks.names[pid]}})
        ev.append({"name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
    for (pid, name), tid in sorted(tracks.threads.items()):
        ev.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})
        ev.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": tid}})
    return ev


def write_trace(trace: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the trace-event JSON to ``path`` (`ProgramError` when it cannot be written)."""
    try:
        with open(path, "w") as f:
            json.dump(trace, f, separators=(",", ":"))
    except OSError as e:
        raise ProgramError(f"{os.fspath(path)}: cannot write the trace ({e.strerror})") from None
