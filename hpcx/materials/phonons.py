"""Carrier-phonon parameters (phonons.toml) as frozen dataclasses in hpcx units.

Units: energies meV, lengths nm, time ps, masses m0.  Sound velocities in nm/ps
(1 nm/ps = 1000 m/s), deformation potentials D1 in meV and D0 in meV/nm, surface
mass density ``rho`` in m0/nm^2 (so that hbar^2/(m0) = 2 HBAR2_2M0_MEV_NM2 gives
|g|^2 in meV^2 without further constants; 1 m0/nm^2 = 9.109e-13 g/cm^2).

``rho`` is computed, not stored: rho = M_formula / (sqrt(3)/2 a^2) with the formula
mass from phonons.toml and the lattice constant a from tmd.toml (INFERRED).
Every source string, and its confidence tag, is kept in ``.sources`` and
``.confidence``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from scipy import constants as _c

from hpcx.materials import _SCALE as _BASE_SCALE
from hpcx.materials import UnknownMaterialError, _table, tmd

__all__ = ["PhononParams", "Valley", "Calibration", "phonon_params", "multivalley_model", "names", "calibration",
           "calibrated_systems", "scale_acoustic", "ATOMIC_MASS_UNIT_M0",
           "ValleyCoupling", "IntervalleyPhonon", "ValleyCouplings", "valley_couplings"]

#: atomic mass unit in m0
ATOMIC_MASS_UNIT_M0 = _c.atomic_mass / _c.m_e

#: the shared unit table plus the units only phonon data use
_SCALE = {**_BASE_SCALE, "eV/nm": 1e3, "m/s": 1e-3, "u": ATOMIC_MASS_UNIT_M0}
_FILE = "phonons.toml"
_NOT_MATERIALS = ("valleys", "extra", "calibration")


@dataclass(frozen=True)
class PhononParams:
    """Phonons of one TMD monolayer and their coupling to K-valley electrons (e) and holes (h).

    Attributes (hpcx units): ``rho`` m0/nm^2; ``v_LA, v_TA`` nm/ps; ``D1_*`` meV
    (acoustic, D~ = D1 q); ``E_*`` meV (Einstein energies); ``D0_*`` meV/nm.
    ``E_opt/D0_opt_*``: intravalley optical (Gamma) mode; ``E_KKp_*``: K-K' intervalley
    (K-point phonons, acoustic-branch ``ac`` and optical-branch ``op``); ``E_KQ_*``:
    K-Q(Lambda) intervalley (Q-point phonons).
    """

    name: str
    formula_mass: float
    lattice_constant_nm: float
    rho: float
    v_LA: float
    v_TA: float
    D1_LA_e: float
    D1_TA_e: float
    D1_LA_h: float
    D1_TA_h: float
    E_opt: float
    D0_opt_e: float
    D0_opt_h: float
    E_KKp_ac: float
    D0_KKp_ac_e: float
    E_KKp_op: float
    D0_KKp_op_e: float
    E_KQ_ac: float
    D0_KQ_ac_e: float
    E_KQ_op: float
    D0_KQ_op_e: float
    sources: Mapping[str, str] = field(repr=False, compare=False)
    confidence: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def rho_g_per_cm2(self) -> float:
        """Surface mass density in g/cm^2 (for comparison with the literature)."""
        return self.rho * _c.m_e * 1e3 / 1e-14


@dataclass(frozen=True)
class Valley:
    """One exciton valley of a multi-valley parabolic model: offset (meV), masses (m0)."""

    name: str
    offset: float
    m_e: float
    m_h: float
    sources: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def mass(self) -> float:
        """Total exciton mass M = m_e + m_h, m0."""
        return self.m_e + self.m_h


def _convert(raw: Mapping[str, Mapping]) -> tuple[dict, dict, dict]:
    values, src, conf = {}, {}, {}
    for key, item in raw.items():
        values[key] = float(item["value"]) * _SCALE[item["unit"]]
        src[key] = item["source"]
        conf[key] = item["confidence"]
    return values, src, conf


def names() -> list[str]:
    """Materials with phonon parameters."""
    return sorted(k for k in _table(_FILE) if k not in _NOT_MATERIALS)


def phonon_params(name: str) -> PhononParams:
    """Phonon parameters by TMD name ('MoS2', 'MoSe2', 'WS2', 'WSe2')."""
    table = _table(_FILE)
    if name not in names():
        raise UnknownMaterialError(name, "phonon material", names())
    v, src, conf = _convert(table[name])
    a = tmd(name).lattice_constant_nm
    rho = v["formula_mass"] / (math.sqrt(3.0) / 2.0 * a * a)
    src["rho"] = f"INFERRED: formula mass / (sqrt(3)/2 a^2), a = {a} nm from tmd.toml"
    conf["rho"] = "INFERRED"
    return PhononParams(name=name, lattice_constant_nm=a, rho=rho, sources=src, confidence=conf, **v)


def multivalley_model(name: str = "WS2") -> dict[str, Valley]:
    """Valleys of the seed-002 multi-valley exciton model ({'KK', 'KKp', 'KL'} for WS2)."""
    table = _table(_FILE).get("valleys", {})
    if name not in table:
        raise UnknownMaterialError(name, "multi-valley model", sorted(table))
    out = {}
    for vname, raw in table[name].items():
        v, src, _ = _convert(raw)
        out[vname] = Valley(vname, v["offset"], v["m_e"], v["m_h"], src)
    return out


# ----------------------------------------------------------------- valley model (seed 002)
@dataclass(frozen=True)
class ValleyCoupling:
    """One valley of the multi-valley exciton model with its electron's phonon constants.

    ``offset`` meV (relative to KK), masses m0, ``degeneracy`` equivalent copies per hole
    valley, ``D1_e`` meV (effective intravalley acoustic constant of the valley's electron),
    ``D0_opt_e`` meV/nm (its Gamma-optical constant), ``coupling_scale`` a factor on both
    (1 unless CALIBRATED).
    """

    name: str
    offset: float
    m_e: float
    m_h: float
    degeneracy: int
    D1_e: float
    D0_opt_e: float
    coupling_scale: float
    sources: Mapping[str, str] = field(repr=False, compare=False)
    confidence: Mapping[str, str] = field(repr=False, compare=False)

    @property
    def mass(self) -> float:
        """Total exciton mass M = m_e + m_h, m0."""
        return self.m_e + self.m_h


@dataclass(frozen=True)
class IntervalleyPhonon:
    """A zeroth-order intervalley channel: the electron moves between valleys ``a`` and ``b``.

    ``branch`` 'ac' or 'op' (zone-boundary acoustic / optical group), ``energy`` meV
    (Einstein), ``D0`` meV/nm.
    """

    a: str
    b: str
    branch: str
    energy: float
    D0: float
    source: str = field(repr=False, compare=False, default="")


@dataclass(frozen=True)
class ValleyCouplings:
    """The seed-002 valley model data of one material: valleys, intervalley phonons, radiative data.

    ``radiative_linewidth`` meV (hbar gamma of light-cone KK excitons), ``exciton_energy`` meV
    (for the light-cone radius).
    """

    material: str
    valleys: Mapping[str, ValleyCoupling]
    intervalley: tuple
    radiative_linewidth: float
    exciton_energy: float
    sources: Mapping[str, str] = field(repr=False, compare=False)


def valley_couplings(name: str = "WS2") -> ValleyCouplings:
    """Valleys, electron couplings and intervalley phonons of ``[valleys.<name>.*]`` (hpcx units)."""
    table = _table(_FILE).get("valleys", {})
    if name not in table:
        raise UnknownMaterialError(name, "multi-valley model", sorted(table))
    valleys, channels, sources, extra = {}, [], {}, {}
    for vname, raw in table[name].items():
        v, src, conf = _convert(raw)
        sources.update({f"{vname}.{k}": s for k, s in src.items()})
        valleys[vname] = ValleyCoupling(vname, v["offset"], v["m_e"], v["m_h"], int(round(v["degeneracy"])),
                                        v["D1_e"], v["D0_opt_e"], v["coupling_scale"], src, conf)
        for key in raw:
            if key.startswith("iv_") and not key.endswith("_energy"):
                other, branch = key[3:].rsplit("_", 1)
                channels.append(IntervalleyPhonon(vname, other, branch, v[f"{key}_energy"], v[key], src[key]))
        extra.update({k: v[k] for k in ("radiative_linewidth", "exciton_energy") if k in v})
    for ch in channels:
        if ch.b not in valleys:
            raise UnknownMaterialError(ch.b, f"valley of {name} (in {ch.a}.iv_{ch.b}_{ch.branch})", sorted(valleys))
    return ValleyCouplings(name, valleys, tuple(channels), extra["radiative_linewidth"], extra["exciton_energy"],
                           sources)


# ----------------------------------------------------------------- moiré calibration (seed 000)
@dataclass(frozen=True)
class Calibration:
    """The one CALIBRATED scale of a moiré system's exciton-phonon model.

    ``acoustic_scale`` multiplies the acoustic deformation potentials D1 (LA and TA, electron
    and hole) of both layers of the system; ``target`` is the seed number it was fitted to.
    """

    system: str
    acoustic_scale: float
    target: str
    source: str


def calibrated_systems() -> list[str]:
    """Moiré systems with a [calibration] entry."""
    return sorted(_table(_FILE).get("calibration", {}))


def calibration(system: str) -> Calibration:
    """The [calibration."<system>"] entry of phonons.toml (scale 1 with an empty target if none)."""
    raw = _table(_FILE).get("calibration", {}).get(system)
    if raw is None:
        return Calibration(system, 1.0, "", "no calibration: the tabulated couplings")
    item = raw["acoustic_scale"]
    return Calibration(system, float(item["value"]) * _SCALE[item["unit"]], item["target"], item["source"])


def scale_acoustic(params: PhononParams, factor: float) -> PhononParams:
    """``params`` with every acoustic deformation potential D1 multiplied by ``factor``."""
    if factor == 1.0:
        return params
    scaled = {k: getattr(params, k) * factor for k in ("D1_LA_e", "D1_TA_e", "D1_LA_h", "D1_TA_h")}
    return dataclasses.replace(params, **scaled)
