"""Frozen dataclasses describing a CIM target.  Units live in field names.

Times are in ns, energies in pJ, powers in mW, sizes in bytes, bandwidths in bytes/ns (= GB/s).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from cimopt.targets.noc_spec import NocSpec
from cimopt.targets.numerics_spec import NumericsSpec


@dataclass(frozen=True)
class ChipSpec:
    """The chip: a mesh of cores, its NoC, the global buffer, off-chip DRAM and static power."""

    mesh_rows: int
    mesh_cols: int
    noc_hop_latency_ns: float
    noc_hop_energy_pj_per_byte: float
    noc_link_bandwidth_bytes_per_ns: float
    global_buffer_bytes: int
    global_buffer_bandwidth_bytes_per_ns: float
    global_buffer_energy_pj_per_byte: float
    dram_bandwidth_bytes_per_ns: float
    dram_energy_pj_per_byte: float
    static_power_mw: float

    @property
    def cores(self) -> int:
        return self.mesh_rows * self.mesh_cols


@dataclass(frozen=True)
class CoreSpec:
    """One core: crossbars with their periphery, a vector unit and a local buffer."""

    crossbars: int
    crossbar_rows: int
    crossbar_cols: int
    cell_bits: int
    dac_bits: int
    #: rows driven at once; a crossbar read takes ceil(rows / dacs) row groups
    dacs_per_crossbar: int
    adcs_per_crossbar: int
    adc_bits: int
    adc_latency_ns: float
    adc_energy_pj: float  # per conversion
    dac_latency_ns: float
    dac_energy_pj: float  # per row drive
    array_read_latency_ns: float
    array_read_energy_pj: float  # per crossbar read (one row group, one input pass)
    sample_hold_latency_ns: float
    shift_add_latency_ns: float
    shift_add_energy_pj: float  # per op
    input_buffer_latency_ns: float
    output_buffer_latency_ns: float
    vector_width: int  # elements per vector-unit cycle
    vector_latency_ns: float  # per vector-unit cycle
    vector_energy_pj_per_op: float
    vector_matmul: bool  # can the vector unit run a MatMul of two activations (attention's Q.K^T)?
    #: vector ops (ONNX op types) the crossbar output stage applies in line to an MVM's outputs
    #: (`ir.passes.epilogue_fusion`); empty: none, every vector op runs on the vector unit
    output_stage_ops: tuple[str, ...]
    output_stage_width: int  # elements per output-stage cycle
    output_stage_latency_ns: float  # per output-stage cycle
    output_stage_energy_pj_per_op: float
    local_buffer_bytes: int
    local_buffer_bandwidth_bytes_per_ns: float
    local_buffer_energy_pj_per_byte: float
    write_latency_ns_per_row: float  # weight programming
    write_energy_pj_per_cell: float
    #: may a program write a run-time operand (an activation) into crossbars, at the programming
    #: cost above, to run a MatMul of two activations there (`ir.written`)?
    runtime_weight_writes: bool


@dataclass(frozen=True)
class PrecisionSpec:
    weight_bits: int
    activation_bits: int


@dataclass(frozen=True)
class HostSpec:
    """A host CPU beside the chip, for the operators the chip cannot run."""

    ops_per_ns: float
    energy_pj_per_op: float
    link_bandwidth_bytes_per_ns: float
    link_latency_ns: float
    link_energy_pj_per_byte: float


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    sources: tuple[str, ...]
    chip: ChipSpec
    core: CoreSpec
    precision: PrecisionSpec
    host: HostSpec | None = None
    numerics: NumericsSpec | None = None   # [numerics]: arithmetic non-idealities (not in digest)
    noc: NocSpec | None = None             # [noc]: topology as data (None: the mesh of the chip fields)

    # ---- derived figures -------------------------------------------------------------
    @property
    def weight_slices(self) -> int:
        """Columns one weight spans: ceil(weight_bits / cell_bits)."""
        return math.ceil(self.precision.weight_bits / self.core.cell_bits)

    @property
    def input_passes(self) -> int:
        """Bit-serial input passes per MVM: ceil(activation_bits / dac_bits)."""
        return math.ceil(self.precision.activation_bits / self.core.dac_bits)

    @property
    def cores(self) -> int:
        return self.chip.cores

    @property
    def total_crossbars(self) -> int:
        return self.chip.cores * self.core.crossbars

    @property
    def weights_per_crossbar(self) -> int:
        """Weights one crossbar holds: rows x (cols // weight_slices)."""
        return self.core.crossbar_rows * (self.core.crossbar_cols // self.weight_slices)

    @property
    def weight_capacity(self) -> int:
        """Weights the whole chip holds at once."""
        return self.total_crossbars * self.weights_per_crossbar

    def core_xy(self, core: int) -> tuple[int, int]:
        """(row, col) of a core on the mesh; cores are numbered row-major."""
        return divmod(core, self.chip.mesh_cols)

    @property
    def noc_spec(self) -> NocSpec:
        """The network's description: ``[noc]``, or the plain mesh of the chip fields."""
        return self.noc if self.noc is not None else NocSpec()

    @property
    def multicast(self) -> bool:
        """Do the routers replicate packets (one transfer to several cores over a tree)?"""
        return self.noc_spec.multicast

    def hops(self, a: int, b: int) -> int:
        """XY-routed mesh hops between cores a and b (Manhattan distance on the mesh of the chip
        fields; the placement's proxy; the routes of another topology are `cimopt.targets.noc`'s)."""
        (ra, ca), (rb, cb) = self.core_xy(a), self.core_xy(b)
        return abs(ra - rb) + abs(ca - cb)

    def digest(self) -> str:
        """sha256 of the target's content (name and [numerics] excluded), to pin a program to its target.

        ``numerics`` changes no instruction's timing or energy, so a program stays valid for a target
        whose accuracy model is edited (and programs compiled before the section existed keep their hash).
        """
        d = asdict(self)
        d.pop("name", None)
        d.pop("numerics", None)
        if self.noc is None:   # a target without [noc] keeps the hash it had before the section existed
            d.pop("noc", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
