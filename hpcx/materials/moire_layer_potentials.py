"""Layer potentials of moiré heterobilayers (moire_layer_potentials.toml): stacking-resolved band edges.

The physics that turns them into the exciton's potential is
:mod:`hpcx.physics.moire_potential`; this module only reads the data file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import _entry, _table

__all__ = ["LayerPotentialData", "layer_potential_data", "layer_potential_names"]

_FILE = "moire_layer_potentials.toml"


@dataclass(frozen=True)
class LayerPotentialData:
    """Band edges (meV) at (R_h^h, R_h^M, R_h^X) of the electron's conduction band and the hole's
    valence band, the interlayer gap modulation and the conduction-band share of it."""

    name: str
    stacking: str
    gap_modulation_meV: tuple[float, float, float]
    conduction_fraction: float
    conduction_edges_meV: tuple[float, float, float]
    valence_edges_meV: tuple[float, float, float]
    sources: Mapping[str, str] = field(repr=False, compare=False)


def layer_potential_data(name: str) -> LayerPotentialData:
    """Layer-potential data of a moiré system ('MoSe2-WSe2/hBN')."""
    v, src = _entry(_FILE, "moire layer-potential system", name)
    return LayerPotentialData(name, v["stacking"], tuple(v["gap_modulation"]), v["conduction_fraction"],
                              tuple(v["conduction_edges"]), tuple(v["valence_edges"]), src)


def layer_potential_names() -> list[str]:
    """Systems in the data file (the [extra] table of alternatives excluded)."""
    return sorted(k for k in _table(_FILE) if k != "extra")
