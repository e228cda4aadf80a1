"""Exciton species and the centre-of-mass momentum shells shared by all species.

States are isotropic shells in |Q|: every rate of the model depends only on the
moduli of the momenta and on the angle between them, so an isotropic initial
state (the pump creates excitons at Q = 0) stays isotropic and the angle can be
integrated out once (:mod:`.detailed_balance`).  The shells are uniform in Q^2,
i.e. of equal k-space area, so each shell holds the same number of states
``weight = Delta(Q^2) / (4 pi)`` per unit area (1/nm^2) and, for a parabolic band,
spans the same energy width ``H Delta(Q^2) / M`` (H = hbar^2/2m0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_C_MEV_NM

from ..exciton_mass import ExcitonMasses

__all__ = ["Exciton", "QShells", "area_uniform_shells", "HBAR_C_MEV_NM", "light_cone"]


@dataclass(frozen=True)
class Exciton(ExcitonMasses):
    """A 1s exciton species: band-bottom energy (meV), carrier masses (m0) and layers."""

    name: str
    energy: float          # E(Q = 0), meV
    m_e: float
    m_h: float
    electron_layer: int
    hole_layer: int

    @property
    def interlayer(self) -> bool:
        return self.electron_layer != self.hole_layer

    def dispersion(self, q2):
        """E(Q) = E0 + hbar^2 Q^2 / 2M (meV) for Q^2 in 1/nm^2."""
        return self.energy + _H * np.asarray(q2, dtype=float) / self.mass


@dataclass(frozen=True)
class QShells:
    """n shells of equal area between Q = 0 and q_max (1/nm).

    ``q2_edges`` (n+1,) in 1/nm^2; ``q2`` the mean Q^2 of each shell (n,) (the mean
    energy of a parabolic band is E(mean Q^2) exactly); ``q`` = sqrt(q2) (1/nm);
    ``weight`` = states per unit area in one shell, d^2Q/(2 pi)^2 (1/nm^2).
    """

    q2_edges: np.ndarray

    @property
    def n(self) -> int:
        return self.q2_edges.size - 1

    @property
    def q2(self) -> np.ndarray:
        return 0.5 * (self.q2_edges[1:] + self.q2_edges[:-1])

    @property
    def q(self) -> np.ndarray:
        return np.sqrt(self.q2)

    @property
    def weight(self) -> float:
        return float(self.q2_edges[1] - self.q2_edges[0]) / (4.0 * np.pi)

    def energies(self, exciton: Exciton) -> np.ndarray:
        """Mean energy of each shell for ``exciton`` (meV), shape (n,)."""
        return exciton.dispersion(self.q2)


def area_uniform_shells(q_max: float, n: int) -> QShells:
    """n equal-area shells on [0, q_max] (1/nm)."""
    if q_max <= 0.0 or n < 2:
        raise ValueError("need q_max > 0 and n >= 2")
    return QShells(np.linspace(0.0, q_max * q_max, n + 1))


def light_cone(exciton: Exciton) -> float:
    """Radius of the light cone Q_lc = E/(hbar c) (1/nm): photons in vacuum at the exciton energy."""
    return exciton.energy / HBAR_C_MEV_NM
