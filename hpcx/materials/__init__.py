"""Material parameter sets with citations (TOML data files in this package).

Each entry in the data files is ``{ value, unit, source }``; the loader returns
frozen dataclasses in hpcx units (nm, m0, meV) and keeps the source strings in
``.sources``.  Unknown names raise :class:`UnknownMaterialError`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "TMD",
    "Environment",
    "Heterostructure",
    "UnknownMaterialError",
    "tmd",
    "environment",
    "heterostructure",
    "find_heterostructure",
    "quasiparticle_gap_meV",
    "names",
]

_SCALE = {"nm": 1.0, "m0": 1.0, "1": 1.0, "eV": 1e3, "meV": 1.0, "": 1.0}


class UnknownMaterialError(KeyError):
    """Unknown material name; the message lists the known names."""

    def __init__(self, name: str, kind: str, known: list[str]) -> None:
        self.name, self.kind, self.known = name, kind, known
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


@dataclass(frozen=True)
class TMD:
    """Monolayer TMD: masses (m0), chi2d/lengths (nm), bulk eps tensor, gap (meV)."""

    name: str
    m_e: float
    m_e_dark: float
    m_h: float
    chi2d_nm: float
    lattice_constant_nm: float
    slab_thickness_nm: float
    eps_par: float
    eps_perp: float
    band_gap_meV: float
    sources: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def reduced_mass(self) -> float:
        """Bright A exciton reduced mass m_e m_h/(m_e + m_h), m0."""
        return self.m_e * self.m_h / (self.m_e + self.m_h)

    @property
    def r0_nm(self) -> float:
        """Keldysh length 2 pi chi2d, nm."""
        return 2.0 * 3.141592653589793 * self.chi2d_nm


@dataclass(frozen=True)
class Environment:
    """Dielectric half-space: static tensor (eps_par, eps_perp)."""

    name: str
    eps_par: float
    eps_perp: float
    sources: Mapping[str, str] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Heterostructure:
    """Heterobilayer: layers bottom->top, distance (nm), carrier layers, alignment (meV)."""

    name: str
    layers: tuple[str, ...]
    interlayer_distance_nm: float
    electron_layer: str
    hole_layer: str
    gaps_meV: Mapping[str, float]
    valence_band_offset_meV: float
    interlayer_gap_meV: float
    sources: Mapping[str, str] = field(repr=False, compare=False)


@cache
def _table(filename: str) -> dict[str, Any]:
    with resources.files(__name__).joinpath(filename).open("rb") as fh:
        return tomllib.load(fh)


def _entry(filename: str, kind: str, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    table = _table(filename)
    if name not in table:
        raise UnknownMaterialError(name, kind, sorted(table))
    raw = table[name]
    values = {}
    for key, item in raw.items():
        v = item["value"]
        values[key] = v * _SCALE[item["unit"]] if isinstance(v, (int, float)) else v
    return values, {key: item["source"] for key, item in raw.items()}


def tmd(name: str) -> TMD:
    """Monolayer parameters by name ('MoS2', 'MoSe2', 'WS2', 'WSe2')."""
    v, src = _entry("tmd.toml", "TMD", name)
    return TMD(name, v["m_e"], v["m_e_dark"], v["m_h"], v["chi2d"], v["lattice_constant"],
               v["slab_thickness"], v["eps_par"], v["eps_perp"], v["band_gap"], src)


def environment(name: str) -> Environment:
    """Dielectric environment by name ('vacuum', 'SiO2', 'hBN')."""
    v, src = _entry("environments.toml", "environment", name)
    return Environment(name, v["eps_par"], v["eps_perp"], src)


def heterostructure(name: str) -> Heterostructure:
    """Heterobilayer by name ('MoSe2-WSe2')."""
    v, src = _entry("heterostructures.toml", "heterostructure", name)
    layers = tuple(v["layers"])
    gaps = {layer: v[f"gap_{layer}"] for layer in layers}
    return Heterostructure(name, layers, v["interlayer_distance"], v["electron_layer"],
                           v["hole_layer"], gaps, v["valence_band_offset"], v["interlayer_gap"], src)


def names(kind: str) -> list[str]:
    """Known names for kind 'tmd', 'environment' or 'heterostructure'."""
    files = {"tmd": "tmd.toml", "environment": "environments.toml",
             "heterostructure": "heterostructures.toml"}
    if kind not in files:
        raise UnknownMaterialError(kind, "material kind", sorted(files))
    return sorted(_table(files[kind]))


def find_heterostructure(bottom: str, top: str) -> Heterostructure | None:
    """Heterostructure data for this pair of layer materials (either order), or None."""
    for name in names("heterostructure"):
        hetero = heterostructure(name)
        if sorted(hetero.layers) == sorted((bottom, top)):
            return hetero
    return None


def quasiparticle_gap_meV(electron: str, hole: str, hetero: Heterostructure | None) -> float:
    """Gap (meV) between the conduction band of material ``electron`` and the valence band of ``hole``.

    Intralayer gaps come from the heterostructure's band alignment when the layer is part of
    one, else from tmd.toml; the interlayer gap only from the heterostructure data (NaN for a
    pair without alignment data).
    """
    if electron == hole:
        return hetero.gaps_meV[electron] if hetero is not None else tmd(electron).band_gap_meV
    if hetero is not None and (electron, hole) == (hetero.electron_layer, hetero.hole_layer):
        return hetero.interlayer_gap_meV
    return float("nan")
