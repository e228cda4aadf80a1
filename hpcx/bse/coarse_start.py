"""Lowest eigenpairs of the matrix-free BSE on a fine k-grid, started from those of coarser grids.

A Krylov solver needs ~25 products per pair from a random vector, whatever N: the count is set
by the spread of the spectrum (bound states meV apart below a continuum eV wide), not by the
grid.  Bound excitons are localised in real space, though: once the Born-von Karman cell of a
coarse grid contains them, their eigenvectors carried to a finer grid
(:func:`hpcx.bse.matfree.prolong`) are close to those of the fine problem, and block Davidson
(:func:`hpcx.bse.solver.davidson`, preconditioner (E_c - E_v - theta)^-1) refines them in a few
iterations.  The coarse solves cost (n_coarse / n_fine)^2 of a fine product per product.

The answer does not depend on the start: every level is converged to its own tolerance and the
residuals of the finest are recomputed with the double-precision product
(:func:`hpcx.bse.solver.solve`); the eigenvalues of all levels are returned, so the convergence in
the grid is visible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .matfree import prolong
from .solver import SolverOptions, solve


@dataclass(frozen=True)
class Level:
    """One grid of the sequence: n (n x n grid), N, products of its solve (its start vectors
    included), seconds on this rank (operator set-up, prolongation and solve), eigenvalues (eV),
    method and largest residual (eV)."""

    n: int
    N: int
    products: int
    seconds: float
    values: np.ndarray
    method: str
    max_residual: float


#: the default solvers: Krylov-Schur on the coarsest grid, block Davidson from the start vectors above
COARSE = SolverOptions(backend="slepc", tol=1e-8)
FINE = SolverOptions(backend="davidson", tol=1e-8)


def solve_from_coarse(build, grids, nev, fine=FINE, coarse=COARSE, extra=2, coarse_precision="double",
                      progress=None):
    """(EigenPairs of the finest grid, [Level per grid]) (collective).

    build(n) -> the :class:`~hpcx.bse.matfree.MatFreeBSE` of the n x n grid (same model, same
    communicator); grids ascending, the last the target; the first is solved with ``coarse``
    (precision ``coarse_precision`` of its FFT stage), every other one with ``fine`` from the
    previous grid's nev + ``extra`` eigenvectors (``extra`` guard vectors keep a multiplet cut by
    the nev-th pair whole); the finest returns nev pairs."""
    grids = [int(n) for n in grids]
    if any(b <= a for a, b in zip(grids, grids[1:])):
        raise ValueError(f"grids must be ascending, got {grids}")
    levels, prev, vectors, res = [], None, None, None
    for i, n in enumerate(grids):
        t0 = time.perf_counter()
        op = build(n)
        last = i == len(grids) - 1
        if i == 0 and not last:
            op.precision = coarse_precision
        start = None if prev is None else prolong(prev, op, vectors)
        prev = vectors = None
        before = op.n_products
        res = solve(op, nev if last else nev + extra, fine if i else coarse, progress=progress, start=start)
        del start
        levels.append(Level(n, op.N, op.n_products - before, time.perf_counter() - t0, res.values,
                            res.method, float(res.residuals.max())))
        op.precision = "double"
        prev, vectors = op, res.vectors
    return res, levels
