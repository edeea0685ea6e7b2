"""Per-instruction costs on a target: the physics the cost model and the simulator both use.

Units: latencies in ns, energies in pJ, sizes in bytes, powers in mW (mW x ns = pJ).
Every function is pure: it reads the target and its arguments and returns a frozen cost.

Crossbar MVM follows the pipelined front/back-stage model of cycle-level CIM simulators
(pimsim-nn; see docs/hardware.md):

- ``input_passes = ceil(activation_bits / dac_bits)`` bit-serial input passes,
  ``row_groups = ceil(rows_used / dacs_per_crossbar)`` crossbar reads per pass,
  ``adc_rounds = ceil(cols_used / adcs_per_crossbar)`` ADC rounds per read;
- ``front = t_inbuf + t_dac + t_array + t_sample_hold`` (one read of one row group),
- ``back = t_adc + t_shift_add + t_outbuf + (adc_rounds - 1) * max(t_adc, t_shift_add + t_outbuf)``,
- ``latency = front + back + (input_passes * row_groups - 1) * max(front, back)``,
- steady-state issue interval on one crossbar ``= input_passes * row_groups * max(front, back)``.

Buffer traffic of an MVM (reading its input vector, writing its outputs) is not part of `mvm`;
the caller charges it with `buffer_access`, so no byte is counted twice.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

from cimopt.targets.errors import TargetError
from cimopt.targets.noc import Route, route_figures
from cimopt.targets.spec import Target

BUFFER_SPACES: tuple[str, ...] = ("local", "global", "dram")


@dataclass(frozen=True)
class Energy:
    """Energy broken down by where it is spent; every field in pJ.

    Supports ``a + b`` (component-wise), ``k * e`` and ``e * k`` (scaling by a number) and
    ``.total`` (sum of all components, pJ).
    """

    array: float = 0.0  # crossbar reads
    dac: float = 0.0  # row drives
    adc: float = 0.0  # conversions (or the digital adder tree of an SRAM CIM macro)
    shift_add: float = 0.0  # shift-and-add of bit-sliced partial sums
    buffer: float = 0.0  # local and global buffer bytes
    noc: float = 0.0  # NoC byte-hops
    vector: float = 0.0  # vector-unit ops
    host: float = 0.0  # host CPU ops and host-link bytes
    program: float = 0.0  # weight (re)programming
    static: float = 0.0  # static power x time
    dram: float = 0.0  # off-chip bytes

    def __add__(self, other: Energy) -> Energy:
        if not isinstance(other, Energy):
            return NotImplemented
        return Energy(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __mul__(self, k: float) -> Energy:
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            return NotImplemented
        return Energy(**{f.name: getattr(self, f.name) * float(k) for f in fields(self)})

    __rmul__ = __mul__

    @property
    def total(self) -> float:
        """Sum of every component, pJ."""
        return sum(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, float]:
        """Components by name, pJ (for reports)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class InstrCost:
    """Cost of one instruction: latency in ns from issue to result, energy breakdown in pJ."""

    latency_ns: float
    energy: Energy


FREE: InstrCost = InstrCost(0.0, Energy())


def _check_range(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{what} = {value} outside [{low}, {high}]")


def _mvm_stages(target: Target, rows_used: int, cols_used: int, rows_per_read: int = 0) -> tuple[int, float, float]:
    """(reads = input_passes x row_groups, front stage ns, back stage ns) of one MVM.

    ``rows_per_read`` > 0 drives at most that many rows per read (per ADC conversion); 0: as many
    as the DACs can.
    """
    c = target.core
    _check_range("rows_used", rows_used, 1, c.crossbar_rows)
    _check_range("cols_used", cols_used, 1, c.crossbar_cols)
    _check_range("rows_per_read", rows_per_read, 0, c.crossbar_rows)
    driven = min(c.dacs_per_crossbar, rows_per_read) if rows_per_read else c.dacs_per_crossbar
    row_groups = math.ceil(rows_used / driven)
    adc_rounds = math.ceil(cols_used / c.adcs_per_crossbar)
    front = c.input_buffer_latency_ns + c.dac_latency_ns + c.array_read_latency_ns + c.sample_hold_latency_ns
    step = max(c.adc_latency_ns, c.shift_add_latency_ns + c.output_buffer_latency_ns)
    back = c.adc_latency_ns + c.shift_add_latency_ns + c.output_buffer_latency_ns + (adc_rounds - 1) * step
    return target.input_passes * row_groups, front, back


def mvm(target: Target, rows_used: int, cols_used: int, rows_per_read: int = 0) -> InstrCost:
    """One crossbar MVM of one input vector over ``rows_used`` rows and ``cols_used`` columns.

    ``cols_used`` counts physical columns (bit slices included).  Latency in ns follows the
    pipelined model in the module docstring.  Energy in pJ: DAC per active row per pass, array
    read per row group per pass, one ADC conversion and one shift-add per used column per row
    group per pass.  ``rows_per_read``: see `_mvm_stages`.  Raises ValueError when rows/cols are
    outside 1..crossbar size.
    """
    reads, front, back = _mvm_stages(target, rows_used, cols_used, rows_per_read)
    c = target.core
    passes = target.input_passes
    conversions = reads * cols_used
    energy = Energy(
        dac=passes * rows_used * c.dac_energy_pj,
        array=reads * c.array_read_energy_pj,
        adc=conversions * c.adc_energy_pj,
        shift_add=conversions * c.shift_add_energy_pj,
    )
    latency = front + back + (reads - 1) * max(front, back)
    return InstrCost(latency, energy)


def mvm_interval(target: Target, rows_used: int, cols_used: int, rows_per_read: int = 0) -> float:
    """Issue interval in ns between successive MVMs on the same crossbar (pipelined steady state).

    Each MVM occupies ``input_passes x row_groups`` slots of the slower stage, ``max(front, back)``;
    it is never more than `mvm`'s latency.
    """
    reads, front, back = _mvm_stages(target, rows_used, cols_used, rows_per_read)
    return reads * max(front, back)


def vector(target: Target, elements: int, ops_per_element: float) -> InstrCost:
    """Vector-unit work: ``elements`` values, ``ops_per_element`` ALU ops each.

    The unit processes ``vector_width`` elements per cycle, so latency (ns) is
    ``ceil(elements / vector_width) x ops_per_element x vector_latency_ns``; energy (pJ) is
    ``elements x ops_per_element x vector_energy_pj_per_op``.  Zero elements or ops are free.
    """
    c = target.core
    return _lanes("vector", elements, ops_per_element, c.vector_width, c.vector_latency_ns, c.vector_energy_pj_per_op)


def output_stage(target: Target, elements: int, ops_per_element: float) -> InstrCost:
    """Work of the crossbar output stage's in-line vector units (``core.output_stage_ops``):
    ``elements`` values, ``ops_per_element`` ops each, ``output_stage_width`` elements per
    ``output_stage_latency_ns`` cycle; energy (pJ) ``elements x ops_per_element x
    output_stage_energy_pj_per_op``, booked as ``vector``.  Zero elements or ops are free.
    """
    c = target.core
    return _lanes("output_stage", elements, ops_per_element, c.output_stage_width, c.output_stage_latency_ns,
                  c.output_stage_energy_pj_per_op)


def _lanes(unit: str, elements: int, ops_per_element: float, width: int, cycle_ns: float,
           pj_per_op: float) -> InstrCost:
    """``elements`` x ``ops_per_element`` operations on ``width`` lanes: ``ceil(elements / width)
    x ops_per_element`` cycles of ``cycle_ns``, ``pj_per_op`` each (booked as ``vector``)."""
    if elements < 0 or ops_per_element < 0:
        raise ValueError(f"{unit}: elements = {elements} and ops_per_element = {ops_per_element} must be >= 0")
    if elements == 0 or ops_per_element == 0:
        return FREE
    cycles = math.ceil(elements / width) * ops_per_element
    return InstrCost(cycles * cycle_ns, Energy(vector=elements * ops_per_element * pj_per_op))


def buffer_access(target: Target, nbytes: int, space: str) -> InstrCost:
    """Read or write ``nbytes`` bytes of one memory space: ``"local"``, ``"global"`` or ``"dram"``.

    Latency (ns) is bandwidth-limited, ``nbytes / bandwidth`` (bytes/ns); energy (pJ) is
    ``nbytes x energy per byte``, booked as ``buffer`` for on-chip spaces and ``dram`` off chip.
    """
    if nbytes < 0:
        raise ValueError(f"buffer_access: nbytes = {nbytes} must be >= 0")
    if space == "local":
        bw, e = target.core.local_buffer_bandwidth_bytes_per_ns, target.core.local_buffer_energy_pj_per_byte
        return InstrCost(nbytes / bw, Energy(buffer=nbytes * e))
    if space == "global":
        bw, e = target.chip.global_buffer_bandwidth_bytes_per_ns, target.chip.global_buffer_energy_pj_per_byte
        return InstrCost(nbytes / bw, Energy(buffer=nbytes * e))
    if space == "dram":
        bw, e = target.chip.dram_bandwidth_bytes_per_ns, target.chip.dram_energy_pj_per_byte
        return InstrCost(nbytes / bw, Energy(dram=nbytes * e))
    raise ValueError(f"buffer_access: space {space!r} is not one of {', '.join(BUFFER_SPACES)}")


def noc_transfer(target: Target, nbytes: int, src_core: int, dst_core: int) -> InstrCost:
    """Send ``nbytes`` bytes from ``src_core`` to ``dst_core`` over the XY-routed mesh.

    ``hops = target.hops(src, dst)``; latency (ns) ``= hops x noc_hop_latency_ns +
    nbytes / noc_link_bandwidth_bytes_per_ns``; energy (pJ) ``= nbytes x hops x
    noc_hop_energy_pj_per_byte``.  A transfer to the same core (0 hops) or of 0 bytes is free.
    """
    if nbytes < 0:
        raise ValueError(f"noc_transfer: nbytes = {nbytes} must be >= 0")
    for name, core in (("src_core", src_core), ("dst_core", dst_core)):
        _check_range(name, core, 0, target.cores - 1)
    hops = target.hops(src_core, dst_core)
    if hops == 0 or nbytes == 0:
        return FREE
    ch = target.chip
    return InstrCost(
        hops * ch.noc_hop_latency_ns + nbytes / ch.noc_link_bandwidth_bytes_per_ns,
        Energy(noc=nbytes * hops * ch.noc_hop_energy_pj_per_byte),
    )


def noc_routed_transfer(target: Target, nbytes: int, src_core: int, route: Route) -> InstrCost:
    """Send ``nbytes`` bytes from ``src_core`` over the links of ``route`` (a path, or a multicast
    tree whose routers replicate the packets), wormhole-pipelined: every link is held for the
    whole transfer.

    Latency (ns) ``= the deepest branch's link latencies + nbytes / the slowest link's bandwidth``;
    energy (pJ) ``= nbytes x the sum over the links of their energy per byte``.  On the mesh of the
    chip fields and the XY route this is `noc_transfer` exactly.  No link or 0 bytes: free.
    """
    if nbytes < 0:
        raise ValueError(f"noc_routed_transfer: nbytes = {nbytes} must be >= 0")
    _check_range("src_core", src_core, 0, target.cores - 1)
    if not route or nbytes == 0:
        return FREE
    depth, bw, energy = route_figures(target, route, src_core)
    return InstrCost(depth + nbytes / bw, Energy(noc=nbytes * energy))


def program_weights(target: Target, rows: int, cols: int) -> InstrCost:
    """Program ``rows x cols`` cells of one crossbar (row by row).

    Latency (ns) ``= rows x write_latency_ns_per_row``; energy (pJ) ``= rows x cols x
    write_energy_pj_per_cell``.  Raises ValueError when rows/cols exceed the crossbar.
    """
    c = target.core
    _check_range("rows", rows, 0, c.crossbar_rows)
    _check_range("cols", cols, 0, c.crossbar_cols)
    if rows == 0 or cols == 0:
        return FREE
    return InstrCost(rows * c.write_latency_ns_per_row, Energy(program=rows * cols * c.write_energy_pj_per_cell))


def host_op(target: Target, ops: float, nbytes_in_out: int) -> InstrCost:
    """Run ``ops`` operations on the host CPU, moving ``nbytes_in_out`` bytes over the host link.

    Latency (ns) ``= link_latency_ns + nbytes / link_bandwidth + ops / ops_per_ns``; energy (pJ)
    ``= ops x energy_pj_per_op + nbytes x link_energy_pj_per_byte``, booked as ``host``.
    Raises TargetError when the target has no host.
    """
    h = target.host
    if h is None:
        raise TargetError(f"target {target.name!r} has no [host]; an operator that needs the host cannot run on it")
    if ops < 0 or nbytes_in_out < 0:
        raise ValueError(f"host_op: ops = {ops} and nbytes_in_out = {nbytes_in_out} must be >= 0")
    latency = h.link_latency_ns + nbytes_in_out / h.link_bandwidth_bytes_per_ns + ops / h.ops_per_ns
    energy = Energy(host=ops * h.energy_pj_per_op + nbytes_in_out * h.link_energy_pj_per_byte)
    return InstrCost(latency, energy)


def static_energy(target: Target, ns: float) -> Energy:
    """Static energy over ``ns`` nanoseconds: ``static_power_mw x ns`` (mW x ns = pJ)."""
    if ns < 0:
        raise ValueError(f"static_energy: ns = {ns} must be >= 0")
    return Energy(static=target.chip.static_power_mw * ns)
