"""Kinetics parameters (kinetics.toml): tunnelling, radiative rates, PL line widths, pump.

Units: energies meV, lengths nm, times ps.  Every source string and confidence
tag is kept in ``.sources`` / ``.confidence`` (key ``section.name``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hpcx.materials import UnknownMaterialError, _table

__all__ = ["KineticsData", "kinetics_data"]

_FILE = "kinetics.toml"
_SCALE = {"eV": 1e3, "meV": 1.0, "nm": 1.0, "1": 1.0, "1/ps": 1.0, "ps": 1.0, "1/nm2": 1.0}


@dataclass(frozen=True)
class KineticsData:
    """V_z (meV), cell_overlap, correlation_length (nm), gamma_r {name: 1/ps},
    linewidth {name: FWHM meV}, pump center/fwhm (ps) and density (nm^-2)."""

    V_z: float
    cell_overlap: float
    correlation_length: float
    gamma_r: Mapping[str, float]
    linewidth: Mapping[str, float]
    pump_center: float
    pump_fwhm: float
    pump_density: float
    sources: Mapping[str, str] = field(repr=False, compare=False)
    confidence: Mapping[str, str] = field(repr=False, compare=False)

    def radiative(self, name: str) -> float:
        if name not in self.gamma_r:
            raise UnknownMaterialError(name, "radiative rate (kinetics.toml)", sorted(self.gamma_r))
        return self.gamma_r[name]

    def width(self, name: str) -> float:
        if name not in self.linewidth:
            raise UnknownMaterialError(name, "PL line width (kinetics.toml)", sorted(self.linewidth))
        return self.linewidth[name]


def _value(item):
    return float(item["value"]) * _SCALE[item["unit"]]


def kinetics_data() -> KineticsData:
    """The parameters of hpcx/materials/kinetics.toml."""
    t = _table(_FILE)
    src, conf = {}, {}

    def take(key, item):
        src[key], conf[key] = item["source"], item["confidence"]
        return _value(item)

    tun = {k: take(f"tunnelling.{k}", v) for k, v in t["tunnelling"].items()}
    rad = {name: take(f"radiative.{name}", v["gamma_r"]) for name, v in t["radiative"].items()}
    width = {name: take(f"linewidth.{name}", v) for name, v in t["linewidth"].items()}
    pump = {k: take(f"pump.{k}", v) for k, v in t["pump"].items()}
    return KineticsData(tun["V_z"], tun["cell_overlap"], tun["correlation_length"], rad, width,
                        pump["center"], pump["fwhm"], pump["density"], src, conf)
