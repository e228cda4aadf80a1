"""Finite-volume cells in |Q| for parabolic valleys, and their thermal (Boltzmann) cell averages.

The isotropic distribution of valley v is represented by the number of excitons in each
annulus ``q0 <= |Q| < q1`` (a cell).  Inside a cell the distribution is taken to have the
local Boltzmann shape exp(-E/kT); every cell average below is exact for that shape, so a
Boltzmann distribution is represented without discretisation error and the rates built on
these cells obey detailed balance exactly (:mod:`hpcx.physics.valley_rates`).
Units: meV, nm, ps, m0, K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

__all__ = ["Cells", "make_cells", "CellThermal", "cell_thermal", "kinetic_energy", "momentum"]


def kinetic_energy(Q, mass):
    """H Q^2 / M (meV) for |Q| in 1/nm and M in m0."""
    return _H * np.asarray(Q, dtype=float) ** 2 / mass


def momentum(E_kin, mass):
    """|Q| (1/nm) of kinetic energy E_kin (meV, clipped at 0) in a valley of mass M (m0)."""
    return np.sqrt(np.maximum(np.asarray(E_kin, dtype=float), 0.0) * mass / _H)


@dataclass(frozen=True)
class Cells:
    """Annular cells of every valley, valley-major order; arrays of shape [n_cells].

    ``q0, q1`` edges (1/nm); ``e0, e1`` absolute energies of the edges (meV, offsets
    included); ``valley`` index; ``mass`` M of the cell's valley (m0); ``offset`` meV;
    ``starts`` the first cell of each valley (and n_cells at the end).
    """

    valley: np.ndarray
    q0: np.ndarray
    q1: np.ndarray
    e0: np.ndarray
    e1: np.ndarray
    mass: np.ndarray
    offset: np.ndarray
    degeneracy: np.ndarray
    starts: tuple

    @property
    def n(self) -> int:
        return len(self.valley)

    def of(self, v: int) -> slice:
        """The cells of valley ``v``."""
        return slice(self.starts[v], self.starts[v + 1])


def make_cells(valleys, q_max, dq: float) -> Cells:
    """Uniform cells of width ~dq (1/nm) on [0, q_max[v]] for every valley (ValleySpec)."""
    parts = {k: [] for k in ("valley", "q0", "q1", "mass", "offset", "deg")}
    starts = [0]
    for v, (spec, qm) in enumerate(zip(valleys, np.broadcast_to(q_max, (len(valleys),)))):
        n = max(2, int(np.ceil(qm / dq)))
        edges = np.linspace(0.0, n * dq, n + 1)
        parts["valley"].append(np.full(n, v))
        parts["q0"].append(edges[:-1])
        parts["q1"].append(edges[1:])
        parts["mass"].append(np.full(n, spec.mass))
        parts["offset"].append(np.full(n, spec.offset))
        parts["deg"].append(np.full(n, float(spec.degeneracy)))
        starts.append(starts[-1] + n)
    c = {k: np.concatenate(x) for k, x in parts.items()}
    return Cells(c["valley"], c["q0"], c["q1"], c["offset"] + kinetic_energy(c["q0"], c["mass"]),
                 c["offset"] + kinetic_energy(c["q1"], c["mass"]), c["mass"], c["offset"], c["deg"],
                 tuple(starts))


@dataclass(frozen=True)
class CellThermal:
    """Boltzmann cell averages at temperature T; arrays [n_cells].

    ``log_z``: log of Z_j = g_v int_cell d^2Q/(2 pi)^2 exp(-E/kT) (1/nm^2, all copies);
    ``v``: sqrt(<v^2>) (nm/ps); ``light_cone``: fraction of the cell's weight with
    |Q| < Q_lc in the bright valley (0 elsewhere).
    """

    T: float
    log_z: np.ndarray
    v: np.ndarray
    mean_kinetic: np.ndarray
    light_cone: np.ndarray

    def boltzmann(self) -> np.ndarray:
        """Equilibrium cell populations, normalised to 1."""
        w = np.exp(self.log_z - self.log_z.max())
        return w / w.sum()


def _log1mexp(x):
    """log(1 - exp(-x)) for x > 0, accurate for small and large x."""
    x = np.asarray(x, dtype=float)
    return np.where(x < 0.693, np.log(-np.expm1(-x)), np.log1p(-np.exp(-x)))


def cell_thermal(cells: Cells, T: float, bright: int = 0, light_cone: float = 0.0) -> CellThermal:
    """Cell weights, rms velocities and light-cone fractions at T (K, > 0)."""
    kT = _KB * T
    x0 = cells.e0 - cells.offset
    width = (cells.e1 - cells.e0) / kT
    log_z = (np.log(cells.degeneracy * cells.mass * kT / (4.0 * np.pi * _H)) - cells.e0 / kT + _log1mexp(width))
    mean = x0 + kT - (cells.e1 - cells.e0) / np.expm1(width)
    v = np.sqrt(4.0 * _H * mean / (_HBAR ** 2 * cells.mass))
    frac = np.zeros(cells.n)
    if light_cone > 0.0:
        sel = (cells.valley == bright) & (cells.q0 < light_cone)
        e_lc = np.minimum(kinetic_energy(light_cone, cells.mass[sel]), cells.e1[sel] - cells.offset[sel])
        frac[sel] = -np.expm1(-(e_lc - x0[sel]) / kT) / -np.expm1(-width[sel])
    return CellThermal(T, log_z, v, mean, frac)
