"""Monte Carlo tables on |Q| cells, built from the same rates as the valley moment solver.

A particle of the valley Monte Carlo sits in a cell j of a valley (the moment solver's cells,
:mod:`hpcx.physics.valley_cells`), flies with speed v = (2/hbar) sqrt(H E_kin / M) in a
continuous direction phi, and scatters at the cell's out-rate Gamma_j = sum_i W^(0)_ij into
cell i with probability W^(0)_ij / Gamma_j, turning by an angle drawn from the angle
distribution of the pair (:mod:`hpcx.physics.valley_mc_angles`; its mean cos theta is
W^(1)_ij / W^(0)_ij), with a new kinetic energy drawn from cell i's Boltzmann shape
exp(-E/kT) on [E0_i, E1_i] (the moment solver's assumption inside a cell).  Radiative decay
lowers a particle's weight at the cell's rate (the light-cone fraction times gamma).  So the
Monte Carlo solves the Wigner equation on the moment solver's discretisation; the one
difference is that a particle's speed is its own, where the moment solver uses the cell's
rms speed (``speeds = "rms"`` gives every particle that speed: the same equation exactly).
Units: meV, nm, ps, 1/nm, K.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

from .valley_mc_angles import AngleNodes, model_nodes, quantile_tables

__all__ = ["CellTable", "cell_table", "table_from_rates", "speed_factor", "SPEEDS"]

SPEEDS = ("boltzmann", "rms")


def speed_factor(mass) -> np.ndarray:
    """(2/hbar) sqrt(H/M): speed (nm/ps) = factor x sqrt(kinetic energy in meV), M in m0."""
    return 2.0 / _HBAR * np.sqrt(_H / np.asarray(mass, dtype=float))


@dataclass(frozen=True)
class CellTable:
    """Per cell [n]: ``valley`` index, ``gout`` out-rate and ``decay`` radiative rate (1/ps),
    kinetic-energy shape ``e0`` (meV) and ``spread`` = 1 - exp(-(E1 - E0)/kT) (0: every particle
    has E_kin = e0), ``vfac`` (:func:`speed_factor`), ``kT`` (meV); rows of the final cells
    ``indptr`` [n + 1], ``indices`` [nnz], ``cumulative`` [nnz] (per row increasing, last 1),
    ``angles`` [nnz, K + 1] scattering-angle quantiles (rad, [0, pi]) of each entry and the
    target ``mean_cos`` [nnz] (W^(1)/W^(0)).  ``packed``: alias tables over the entries."""

    valley: np.ndarray
    gout: np.ndarray
    decay: np.ndarray
    e0: np.ndarray
    spread: np.ndarray
    vfac: np.ndarray
    kT: float
    indptr: np.ndarray
    indices: np.ndarray
    cumulative: np.ndarray
    angles: np.ndarray
    mean_cos: np.ndarray
    packed: np.ndarray = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.gout)

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def with_alias(self, kernel):
        """Copy with the alias tables over entries (``kernel.build_alias`` with entry indices)."""
        packed = kernel.build_alias(self.indptr, np.arange(self.nnz, dtype=np.int64), self.cumulative)
        return dataclasses.replace(self, packed=packed)

    def speed(self, u, cells) -> np.ndarray:
        """Speeds (nm/ps) of uniforms u in [0, 1) in ``cells`` (the kernel's formula)."""
        return self.vfac[cells] * np.sqrt(self.e0[cells] - self.kT * np.log1p(-u * self.spread[cells]))


def _rows(W0):
    """Columns of W0 [to, from] as CSR rows of the initial cells: (gout, indptr, indices, cumulative,
    values)."""
    C = sp.csc_matrix(W0)
    C.sum_duplicates()
    C.sort_indices()
    C.eliminate_zeros()
    indptr, indices, vals = C.indptr.astype(np.int64), C.indices.astype(np.int64), C.data.astype(float)
    counts = np.diff(indptr)
    col = np.repeat(np.arange(C.shape[1]), counts)
    gout = np.bincount(col, weights=vals, minlength=C.shape[1])
    csum = np.cumsum(vals)
    before = np.concatenate([[0.0], csum])[indptr[:-1]][col]
    cum = (csum - before) / np.where(gout[col] > 0, gout[col], 1.0)
    last = indptr[1:][counts > 0] - 1
    cum[last] = 1.0
    return gout, indptr, indices, cum, vals, col


def table_from_rates(W0, W1, valley, e0, spread, vfac, kT, decay=None, nodes=None, T=None,
                     intervals: int = 32) -> CellTable:
    """A :class:`CellTable` of rates W0, W1 [to, from] (sparse, 1/ps; harmonics m = 0, 1).

    ``nodes``: :class:`~hpcx.physics.valley_mc_angles.AngleNodes` of the channels (with ``T``),
    or None: every pair's angle distribution is the isotropic one corrected to W1/W0.
    """
    gout, indptr, indices, cum, vals, col = _rows(W0)
    n = len(gout)
    W1c = sp.csc_matrix(W1)
    target = np.asarray(W1c[indices, col]).ravel() / vals
    lo, hi = np.minimum(indices, col), np.maximum(indices, col)
    pair_key, inverse = np.unique(lo * n + hi, return_inverse=True)
    first = np.zeros(len(pair_key), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    if nodes is None:
        nodes = AngleNodes(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 1)), np.zeros((0, 1)),
                           np.zeros(0))
        T = 1.0 if T is None else T
    q = quantile_tables(nodes, pair_key // n, pair_key % n, target[first], T, n, intervals)
    return CellTable(np.asarray(valley, dtype=np.int64), gout, np.zeros(n) if decay is None else
                     np.asarray(decay, dtype=float), np.asarray(e0, dtype=float), np.asarray(spread, dtype=float),
                     np.asarray(vfac, dtype=float), float(kT), indptr, indices, cum,
                     np.ascontiguousarray(q[inverse]), target)


def cell_table(model, tables, intervalley: bool = True, speeds: str = "boltzmann", intervals: int = 32) -> CellTable:
    """The :class:`CellTable` of :class:`~hpcx.physics.valley_rates.RateTables` ``tables`` of
    ``model`` (same cells, rates and radiative decay; ``intervalley`` False drops those channels)."""
    if speeds not in SPEEDS:
        raise ValueError(f"speeds must be one of {', '.join(SPEEDS)}")
    cells, th = tables.cells, tables.thermal
    kT = _KB * th.T
    if speeds == "rms":
        e0, spread = th.mean_kinetic, np.zeros(cells.n)
    else:
        e0, spread = cells.e0 - cells.offset, -np.expm1(-(cells.e1 - cells.e0) / kT)
    nodes = model_nodes(model, cells, th.T, intervalley)
    return table_from_rates(tables.W(0, intervalley), tables.W(1, intervalley), cells.valley, e0, spread,
                            speed_factor(cells.mass), kT, tables.radiative, nodes, th.T, intervals)
