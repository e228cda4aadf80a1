"""Multi-valley parabolic exciton model of a TMD monolayer (seed 002): valleys, phonon channels.

Physics only, plain values in, frozen dataclasses out.  Units: meV, nm, ps, m0.
Conventions (docs/theory/valley.md):

* Valley v: E_v(Q) = offset_v + H Q^2 / M_v with H = hbar^2/(2 m0); ``degeneracy`` equivalent
  copies per hole valley (the hole stays in the upper valence band at K).
* Intravalley acoustic phonons (Debye, Omega = hbar c q): exciton vertex
  D_X(q) q with D_X(q) = D1_e F(beta q) - D1_h F(alpha q), alpha = m_e/M, beta = m_h/M.
* Einstein channels (Gamma-optical intravalley, and every intervalley channel): constant
  Omega and vertex D_e F(|beta_a Q_a - beta_b Q_b|) - D_h F(|alpha_a Q_a - alpha_b Q_b|),
  the form-factor argument being the momentum the spectator carrier's partner must absorb;
  for a == b it reduces to D_e F(beta q) - D_h F(alpha q), and it is symmetric in a <-> b,
  so every rate obeys detailed balance exactly.  Hole couplings are stored with the sign
  opposite to the electron's (hpcx/materials/phonons.toml), so the two terms add.
* Coupling |g|^2 A = H V^2 / (rho Omega) (seed 000 SI Eq. 3), rho in m0/nm^2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hpcx.units import HBAR_C_MEV_NM
from hpcx.units import HBAR_MEV_PS as _HBAR

from .exciton_mass import ExcitonMasses

__all__ = ["ValleySpec", "DebyeBranch", "EinsteinChannel", "ValleyModel", "model_from_couplings",
           "HBAR_C_MEV_NM", "hydrogenic_form_factor"]


@dataclass(frozen=True)
class ValleySpec(ExcitonMasses):
    """One exciton valley: ``offset`` meV, electron/hole masses m0, ``degeneracy`` copies."""

    name: str
    offset: float
    m_e: float
    m_h: float
    degeneracy: int = 1


@dataclass(frozen=True)
class DebyeBranch:
    """Intravalley acoustic branch of valley index ``valley``: sound velocity ``c`` nm/ps,
    electron and hole first-order constants ``D1_e``, ``D1_h`` (meV; vertex D_X(q) q)."""

    valley: int
    name: str
    c: float
    D1_e: float
    D1_h: float


@dataclass(frozen=True)
class EinsteinChannel:
    """Dispersionless phonon between valleys ``a`` and ``b`` (indices; a == b: intravalley).

    ``energy`` meV; zeroth-order constants ``D_e``, ``D_h`` meV/nm (D_h = 0 when the hole is a
    spectator, as in every intervalley channel of seed 002).
    """

    a: int
    b: int
    name: str
    energy: float
    D_e: float
    D_h: float = 0.0

    @property
    def intervalley(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class ValleyModel:
    """Valleys, phonon channels and radiative data of one monolayer.

    ``rho`` m0/nm^2; ``form_factor`` F(p) of the 1s relative motion (p in 1/nm, F(0) = 1);
    ``radiative_rate`` 1/ps of excitons of valley ``bright`` with |Q| < ``light_cone`` (1/nm).
    """

    valleys: tuple
    debye: tuple
    einstein: tuple
    rho: float
    form_factor: Callable
    radiative_rate: float = 0.0
    light_cone: float = 0.0
    bright: int = 0

    @property
    def names(self) -> tuple:
        return tuple(v.name for v in self.valleys)

    def without_intervalley(self) -> ValleyModel:
        """The same model with every intervalley channel removed."""
        return dataclasses.replace(self, einstein=tuple(c for c in self.einstein if not c.intervalley))

    def scaled(self, intravalley: float = 1.0, intervalley: float = 1.0) -> ValleyModel:
        """Every intravalley (acoustic and optical) and intervalley constant times a factor
        (the rates scale with its square); for sensitivity studies."""
        deb = tuple(dataclasses.replace(b, D1_e=b.D1_e * intravalley, D1_h=b.D1_h * intravalley)
                    for b in self.debye)
        ein = tuple(dataclasses.replace(c, D_e=c.D_e * (intervalley if c.intervalley else intravalley),
                                        D_h=c.D_h * (intervalley if c.intervalley else intravalley))
                    for c in self.einstein)
        return dataclasses.replace(self, debye=deb, einstein=ein)


def hydrogenic_form_factor(radius_nm: float) -> Callable:
    """F(p) = (1 + (p a/2)^2)^(-3/2): 1s density |phi|^2 ~ exp(-2 r / a) (tests, quick models)."""
    return lambda p: (1.0 + (0.5 * radius_nm * np.asarray(p, dtype=float)) ** 2) ** -1.5


def model_from_couplings(couplings, phonons, form_factor: Callable, *, valleys=None,
                         acoustic_split: float | None = None) -> ValleyModel:
    """The :class:`ValleyModel` of material data.

    couplings: :class:`hpcx.materials.phonons.ValleyCouplings`; phonons:
    :class:`hpcx.materials.phonons.PhononParams` (hole constants, sound velocities, rho,
    Gamma-optical energy).  ``valleys``: names to keep (default all; channels to dropped
    valleys are dropped).  ``acoustic_split``: None keeps the effective TA+LA constant on the
    LA branch (the table's mapping); a number s puts s D1 on LA and sqrt(1 - s^2) D1 v_TA/v_LA
    on TA (same equipartition rate, different low-temperature kinematics).
    """
    names = list(couplings.valleys) if valleys is None else list(valleys)
    specs, deb, ein = [], [], []
    for i, name in enumerate(names):
        vc = couplings.valleys[name]
        specs.append(ValleySpec(name, vc.offset, vc.m_e, vc.m_h, vc.degeneracy))
        d1e, d0e = vc.D1_e * vc.coupling_scale, vc.D0_opt_e * vc.coupling_scale
        if acoustic_split is None:
            deb.append(DebyeBranch(i, "LA", phonons.v_LA, d1e, phonons.D1_LA_h))
            if phonons.D1_TA_e or phonons.D1_TA_h:
                deb.append(DebyeBranch(i, "TA", phonons.v_TA, phonons.D1_TA_e, phonons.D1_TA_h))
        else:
            ta = np.sqrt(1.0 - acoustic_split ** 2) * phonons.v_TA / phonons.v_LA
            deb.append(DebyeBranch(i, "LA", phonons.v_LA, acoustic_split * d1e, acoustic_split * phonons.D1_LA_h))
            deb.append(DebyeBranch(i, "TA", phonons.v_TA, ta * d1e, ta * phonons.D1_LA_h))
        ein.append(EinsteinChannel(i, i, "opt", phonons.E_opt, d0e, phonons.D0_opt_h))
    for ch in couplings.intervalley:
        if ch.a in names and ch.b in names:
            ein.append(EinsteinChannel(names.index(ch.a), names.index(ch.b), f"{ch.a}-{ch.b} {ch.branch}",
                                       ch.energy, ch.D0))
    bright = names.index("KK") if "KK" in names else 0
    return ValleyModel(tuple(specs), tuple(deb), tuple(ein), phonons.rho, form_factor,
                       radiative_rate=couplings.radiative_linewidth / _HBAR,
                       light_cone=couplings.exciton_energy / HBAR_C_MEV_NM, bright=bright)
