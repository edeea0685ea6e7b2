"""The optional ``[noc]`` section of a target file: the network on chip as routers and directed links.

Without the section the network is the 2-D mesh of the ``[chip]`` fields: one router per core
(core ``i`` at router ``i``, numbered row-major), a link each way between neighbours, each with
``chip.noc_link_bandwidth_bytes_per_ns``, ``chip.noc_hop_latency_ns`` and
``chip.noc_hop_energy_pj_per_byte``, and routers that do not replicate packets.  Layout::

    [noc]
    topology = "mesh"       # "mesh" | "torus" | "ring" | "custom"
    multicast = false       # do routers replicate packets (one transfer to many cores over a tree)?
    routers = 0             # custom only: number of routers (0: one per core)
    core_routers = []       # custom only: the router of each core (empty: core i at router i)
    links = [               # links added to the topology (express links); custom: every link
      {src = 0, dst = 13, bandwidth_bytes_per_ns = 64.0, latency_ns = 3.5,
       energy_pj_per_byte = 0.648, both_ways = true},
    ]

``torus``: the mesh plus a wrap-around link each way at the ends of every row and column;
``ring``: cores 0..n-1 in a ring, a link each way between ``i`` and ``i+1 mod n``; ``custom``:
only the links listed (a ring of clusters: ``routers`` routers, several cores per router in
``core_routers``).  A link's ``bandwidth_bytes_per_ns``, ``latency_ns`` and
``energy_pj_per_byte`` default to the chip's NoC fields; ``both_ways`` (default true) adds the
reverse link with the same figures.  Every field of the section is optional.

Errors are `TargetError` naming the file and the dotted field (`cimopt.targets.load`); that every
core reaches every other one is checked where the graph is built (`cimopt.targets.noc`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cimopt.targets.errors import TargetError

TOPOLOGIES: tuple[str, ...] = ("mesh", "torus", "ring", "custom")
MAX_ROUTERS = 1 << 16
_LINK_KEYS: tuple[str, ...] = ("src", "dst", "bandwidth_bytes_per_ns", "latency_ns", "energy_pj_per_byte",
                               "both_ways")
_KEYS: tuple[str, ...] = ("topology", "multicast", "routers", "core_routers", "links")


@dataclass(frozen=True)
class LinkSpec:
    """One directed link from router ``src`` to router ``dst`` (bytes/ns, ns per hop, pJ per byte)."""

    src: int
    dst: int
    bandwidth_bytes_per_ns: float
    latency_ns: float
    energy_pj_per_byte: float


@dataclass(frozen=True)
class NocSpec:
    """The network: its topology, whether routers multicast, custom routers and extra links."""

    topology: str = "mesh"
    multicast: bool = False
    routers: int = 0
    core_routers: tuple[int, ...] = ()
    links: tuple[LinkSpec, ...] = ()


def _fail(source: str, field: str, expected: str, got: object) -> TargetError:
    return TargetError(f"{source}: {field}: expected {expected}, got {got!r}")


def _count(v: object, dotted: str, source: str, low: int, high: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise _fail(source, dotted, f"an integer from {low} to {high}", v)
    return v


def _rate(v: object, dotted: str, source: str, positive: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _fail(source, dotted, "a finite number", v)
    if positive and not 1e-6 <= v <= 1e6:
        raise _fail(source, dotted, "a number from 1e-06 to 1e+06 (physically plausible)", v)
    if not positive and not 0 <= v <= 1e9:
        raise _fail(source, dotted, "a number from 0 to 1e+09 (physically plausible)", v)
    return float(v)


def _parse_link(entry: object, k: int, defaults: tuple[float, float, float], routers: int,
                source: str) -> list[LinkSpec]:
    where = f"noc.links[{k}]"
    if not isinstance(entry, dict):
        raise _fail(source, where, "an inline table {src = .., dst = ..}", entry)
    unknown = sorted(set(entry) - set(_LINK_KEYS))
    if unknown:
        raise TargetError(f"{source}: {where}.{unknown[0]}: unknown field; known fields: {', '.join(_LINK_KEYS)}")
    for key in ("src", "dst"):
        if key not in entry:
            raise TargetError(f"{source}: {where}: missing field {key}")
    src = _count(entry["src"], f"{where}.src", source, 0, routers - 1)
    dst = _count(entry["dst"], f"{where}.dst", source, 0, routers - 1)
    if src == dst:
        raise _fail(source, where, "a link between two different routers", f"{src} -> {dst}")
    bw = _rate(entry.get("bandwidth_bytes_per_ns", defaults[0]), f"{where}.bandwidth_bytes_per_ns", source, True)
    lat = _rate(entry.get("latency_ns", defaults[1]), f"{where}.latency_ns", source, False)
    en = _rate(entry.get("energy_pj_per_byte", defaults[2]), f"{where}.energy_pj_per_byte", source, False)
    both = entry.get("both_ways", True)
    if not isinstance(both, bool):
        raise _fail(source, f"{where}.both_ways", "true or false", both)
    out = [LinkSpec(src, dst, bw, lat, en)]
    if both:
        out.append(LinkSpec(dst, src, bw, lat, en))
    return out


def parse_noc(table: object, cores: int, defaults: tuple[float, float, float], source: str) -> NocSpec:
    """Validate a parsed ``[noc]`` table for a chip of ``cores`` cores; ``defaults``: the chip's
    link bandwidth (bytes/ns), hop latency (ns) and hop energy (pJ/byte) for links that omit them."""
    if not isinstance(table, dict):
        raise _fail(source, "noc", "a table [noc]", table)
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise TargetError(f"{source}: noc.{unknown[0]}: unknown field; known fields of noc: {', '.join(_KEYS)}")
    topology = table.get("topology", "mesh")
    if topology not in TOPOLOGIES:
        raise _fail(source, "noc.topology", f"one of {', '.join(TOPOLOGIES)}", topology)
    multicast = table.get("multicast", False)
    if not isinstance(multicast, bool):
        raise _fail(source, "noc.multicast", "true or false", multicast)
    routers = _count(table.get("routers", 0), "noc.routers", source, 0, MAX_ROUTERS)
    core_routers = table.get("core_routers", [])
    if topology != "custom" and (routers or core_routers):
        raise TargetError(f"{source}: noc.routers, noc.core_routers: only a custom topology sets them "
                          f"(topology {topology!r} has one router per core)")
    n = routers or cores
    if not isinstance(core_routers, list):
        raise _fail(source, "noc.core_routers", "a list of router numbers", core_routers)
    if core_routers and len(core_routers) != cores:
        raise _fail(source, "noc.core_routers", f"one router per core ({cores} entries)", len(core_routers))
    if not core_routers and n < cores:
        raise TargetError(f"{source}: noc.routers: {n} routers for {cores} cores; give noc.core_routers "
                          f"(the router of each core)")
    crs = tuple(_count(r, f"noc.core_routers[{k}]", source, 0, n - 1) for k, r in enumerate(core_routers))
    raw = table.get("links", [])
    if not isinstance(raw, list):
        raise _fail(source, "noc.links", "a list of inline tables", raw)
    links: list[LinkSpec] = []
    for k, entry in enumerate(raw):
        links.extend(_parse_link(entry, k, defaults, n, source))
    seen: set[tuple[int, int]] = set()
    for ln in links:
        if (ln.src, ln.dst) in seen:
            raise TargetError(f"{source}: noc.links: the link {ln.src} -> {ln.dst} is given twice")
        seen.add((ln.src, ln.dst))
    if topology == "custom" and not links and n > 1:
        raise TargetError(f"{source}: noc.links: a custom topology needs its links")
    return NocSpec(topology, multicast, routers, crs, tuple(links))
