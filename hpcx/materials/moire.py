"""Moiré heterobilayer data (moire.toml): first-shell exciton potential and mass;
trapped-exciton systems (biexciton.toml): a moiré system with its dipole length and eps_r.

Lattice constants come from tmd.toml for the electron and hole layers and the
dipole length from heterostructures.toml, so one source of truth holds each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import _entry, _table, heterostructure, tmd

__all__ = ["MoireSystem", "moire_system", "moire_names", "TrappedExcitonSystem", "trapped_exciton_system",
           "trapped_exciton_names"]

_FILE = "moire.toml"
_TRAPPED_FILE = "biexciton.toml"


@dataclass(frozen=True)
class MoireSystem:
    """Interlayer exciton in a moiré heterobilayer.

    A, B (meV): M(r) = sum_n [A cos(g_n.r) + B sin(g_n.r)] (seed 003 Eq. 20);
    exciton_mass (m0); lattice constants (nm) of the electron's and the hole's layer.
    """

    name: str
    electron_layer: str
    hole_layer: str
    environment: str
    stacking: str
    A_meV: float
    B_meV: float
    exciton_mass: float
    a_electron_nm: float
    a_hole_nm: float
    sources: Mapping[str, str] = field(repr=False, compare=False)


def moire_system(name: str) -> MoireSystem:
    """Moiré system by name ('MoSe2-WSe2/hBN')."""
    v, src = _entry(_FILE, "moire system", name)
    e, h = tmd(v["electron_layer"]), tmd(v["hole_layer"])
    src = dict(src, a_electron=e.sources["lattice_constant"], a_hole=h.sources["lattice_constant"])
    return MoireSystem(name, e.name, h.name, v["environment"], v["stacking"], v["A"], v["B"],
                       v["exciton_mass"], e.lattice_constant_nm, h.lattice_constant_nm, src)


def moire_names() -> list[str]:
    """Known moiré system names."""
    return sorted(_table(_FILE))


@dataclass(frozen=True)
class TrappedExcitonSystem:
    """Moiré-trapped interlayer excitons (seed 003 App. III): the moiré system, the dipole
    length d (nm, the heterostructure's interlayer distance) and eps_r of Eq. 27."""

    name: str
    moire: MoireSystem
    dipole_length_nm: float
    eps_r: float
    sources: Mapping[str, str] = field(repr=False, compare=False)


def trapped_exciton_system(name: str) -> TrappedExcitonSystem:
    """Trapped-exciton system by name ('MoSe2-WSe2/hBN'), from biexciton.toml."""
    v, src = _entry(_TRAPPED_FILE, "biexciton system", name)
    hetero = heterostructure(v["heterostructure"])
    return TrappedExcitonSystem(name, moire_system(v["moire_system"]), hetero.interlayer_distance_nm,
                                v["eps_r"], src)


def trapped_exciton_names() -> list[str]:
    """Known trapped-exciton system names."""
    return sorted(_table(_TRAPPED_FILE))
