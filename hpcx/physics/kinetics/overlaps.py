"""Form factors and relative-motion overlaps of 1s excitons from their radial wavefunctions.

For isotropic (s) states phi(r) normalised as int d^2r |phi|^2 = 1 (real), the
momentum-shifted overlap of two relative-motion wavefunctions is

    O_ab(p) = sum_k phi_a*(k) phi_b(k + p) = int d^2r phi_a(r) phi_b(r) e^{i p.r}
            = 2 pi int_0^inf r dr phi_a(r) phi_b(r) J0(p r),

and the form factor of seed 000 SI Eq. 2 is F(q) = O_aa(q) (F(0) = 1).  The
radial integral is done by the trapezoidal rule on the given r grid; the result
is tabulated once on a p grid and interpolated (:class:`RadialTable`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import trapezoid
from scipy.special import j0

__all__ = ["hankel_overlap", "hankel_matrix", "RadialTable", "overlap_table", "overlap_tables"]


def hankel_overlap(r_nm, phi_a, phi_b, p_nm) -> np.ndarray:
    """O(p) = 2 pi int r phi_a phi_b J0(p r) dr; r (nr,) nm, phi (nr,) 1/nm, p (np,) 1/nm -> (np,)."""
    r = np.asarray(r_nm, dtype=float)
    dens = 2.0 * np.pi * r * np.asarray(phi_a, dtype=float) * np.asarray(phi_b, dtype=float)
    p = np.atleast_1d(np.asarray(p_nm, dtype=float))
    return trapezoid(dens[None, :] * j0(np.outer(p, r)), r, axis=1)


def hankel_matrix(r_nm, p_nm) -> np.ndarray:
    """H (np, nr) with H @ (phi_a phi_b) = :func:`hankel_overlap` (trapezoidal weights, 2 pi r J0(p r))."""
    r = np.asarray(r_nm, dtype=float)
    w = 0.5 * (np.diff(r, prepend=r[0]) + np.diff(r, append=r[-1]))
    return j0(np.outer(np.asarray(p_nm, dtype=float), r)) * (2.0 * np.pi * r * w)[None, :]


@dataclass(frozen=True)
class RadialTable:
    """A function of |p| tabulated on a uniform grid [0, p_max] (1/nm); 0 beyond p_max."""

    p_max: float
    values: np.ndarray

    def __call__(self, p):
        p = np.asarray(p, dtype=float)
        grid = np.linspace(0.0, self.p_max, self.values.size)
        return np.interp(p, grid, self.values, right=0.0)


def overlap_table(r_nm, phi_a, phi_b, p_max: float, n: int = 2001) -> RadialTable:
    """:func:`hankel_overlap` tabulated on n points of [0, p_max] (linear interpolation)."""
    p = np.linspace(0.0, p_max, n)
    return RadialTable(float(p_max), hankel_overlap(r_nm, phi_a, phi_b, p))


def overlap_tables(r_nm, pairs, p_max: float, n: int = 2001, block: int = 128) -> list[RadialTable]:
    """:func:`overlap_table` of every (phi_a, phi_b) in ``pairs`` (all on the grid r): the Bessel
    functions of each block of ``block`` p values (:func:`hankel_matrix`) are evaluated once for all pairs."""
    p = np.linspace(0.0, p_max, n)
    products = np.array([np.asarray(a, dtype=float) * np.asarray(b, dtype=float) for a, b in pairs])
    values = np.empty((len(pairs), n))
    for start in range(0, n, block):
        values[:, start:start + block] = products @ hankel_matrix(r_nm, p[start:start + block]).T
    return [RadialTable(float(p_max), v) for v in values]
