"""Angle quadrature, broadened energy conservation and detailed balance of pair-rate tables.

A *pair-rate density* r[i, j] (nm^2/ps) is the golden-rule rate from one state of
shell i into one state of shell j times the system area; the rate into the whole
shell j is W[i, j] = r[i, j] * weight (:class:`~.states.QShells`).

Detailed balance (:func:`detailed_balance`): with a broadened energy-conserving
function the raw table obeys r_ij e^{-E_i/kT} = r_ji e^{-E_j/kT} only on the energy
shell.  We replace each pair by

    r'_ij = (r_ij + r_ji) / (1 + exp((E_j - E_i)/kT)),

which (i) satisfies detailed balance exactly for every pair, so one Boltzmann
distribution over all species is stationary; (ii) keeps the pair sum r_ij + r_ji;
(iii) equals r on the energy shell of a phonon process ((n + 1)/(2n + 1) of the
pair sum for emission); (iv) keeps the total rate of an elastic process into a
flat density of states for any ratio of broadening to kT, because
1/(1 + e^x) + 1/(1 + e^-x) = 1 and the broadening is even.  The geometric-mean
form sqrt(r_ij r_ji) e^{-(E_j - E_i)/2kT} (``physics.phonons.enforce_detailed_balance``)
lacks (iv): at 4 K with a 1 meV broadening it speeds elastic tunnelling up by
exp(sigma^2/8k^2T^2) ~ 2.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from hpcx.units import KB_MEV_PER_K as _KB

__all__ = ["angle_nodes", "transfer", "detailed_balance", "broadening_cutoff"]


def angle_nodes(n: int) -> np.ndarray:
    """cos(theta) at the n midpoint nodes of [0, pi] (the angle average of an even periodic
    integrand is their plain mean, spectrally accurate)."""
    return np.cos((np.arange(n) + 0.5) * np.pi / n)


def transfer(a, b, cos, ca: float = 1.0, cb: float = 1.0) -> np.ndarray:
    """|ca a - cb b| for vectors of lengths a, b at angle acos(cos); broadcasts (1/nm)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    s = (ca * a) ** 2 + (cb * b) ** 2 - 2.0 * ca * cb * a * b * cos
    return np.sqrt(np.maximum(s, 0.0))


def broadening_cutoff(hwhm: float, beta: float = 2.0) -> float:
    """|x| (meV) beyond which the gennorm broadening is below 1e-16 of its peak (treated as 0)."""
    sigma = hwhm / np.log(2.0) ** (1.0 / beta)
    return float(sigma * (16.0 * np.log(10.0)) ** (1.0 / beta))


def detailed_balance(r: np.ndarray, E: np.ndarray, T_K: float) -> np.ndarray:
    """Pair table (r + r^T) / (1 + exp((E_j - E_i)/kT)); r (n, n) nm^2/ps, E (n,) meV, T > 0."""
    if T_K <= 0.0:
        raise ValueError("detailed balance needs T > 0")
    E = np.asarray(E, dtype=float)
    dE = E[None, :] - E[:, None]
    return (r + r.T) * expit(-dE / (_KB * T_K))
