"""Bands and Wannier coefficients on a k-grid, MPI over k; band windows.

Index letters: k (k-point), n (band), i (orbital), v / c (valence / conduction
band of the window).  Coefficients are in the lattice gauge of
:class:`~hpcx.bse.tbmodel.TBModel`: psi_nk(r) = N^-1/2 sum_R,i c_i^nk exp(i k.R) w_i(r - R).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..parallel import allgather_concat, block_range, get_comm


def fix_phases(vectors):
    """Multiply each eigenvector (columns of (..., n_orb, n_b)) by the phase that makes
    the sum of its coefficients real and positive (seed 004 SI C.IV); where that sum
    vanishes, its largest coefficient is made real and positive instead."""
    s = vectors.sum(axis=-2)
    big = np.take_along_axis(vectors, np.abs(vectors).argmax(axis=-2)[..., None, :], axis=-2)[..., 0, :]
    ref = np.where(np.abs(s) > 1e-6, s, big)
    return vectors * (np.conj(ref) / np.abs(ref))[..., None, :]


def diagonalise(model, k_frac):
    """(E [n_k, n_orb] eV ascending, C [n_k, n_orb, n_orb] columns) at fractional k.

    Decoupled blocks of H (e.g. spins) are diagonalised separately, so each
    eigenvector lives in one block even where bands of different blocks are
    degenerate (Kramers pairs at Gamma and M); phases fixed by :func:`fix_phases`.
    """
    hk = model.hk(k_frac)
    n_k, n = hk.shape[:2]
    blocks = model.blocks()
    E = np.empty((n_k, n))
    C = np.zeros((n_k, n, n), complex)
    col = 0
    for idx in blocks:
        e, u = np.linalg.eigh(hk[:, idx[:, None], idx[None, :]])
        E[:, col:col + len(idx)] = e
        C[:, idx[:, None], np.arange(col, col + len(idx))[None, :]] = u
        col += len(idx)
    order = np.argsort(E, axis=1, kind="stable")
    E = np.take_along_axis(E, order, axis=1)
    C = np.take_along_axis(C, order[:, None, :], axis=2)
    return E, fix_phases(C)


def bands_on_grid(model, k_frac, comm=None):
    """:func:`diagonalise` with the k-points block-distributed over ranks, allgathered.

    Every rank gets the same (E, C): each k is diagonalised by exactly one rank.
    """
    comm = get_comm(comm)
    start, stop = block_range(len(k_frac), comm.size, comm.rank)
    E, C = diagonalise(model, np.asarray(k_frac)[start:stop])
    return allgather_concat(E, comm), allgather_concat(C, comm)


class _TransitionBands:
    """n_v, n_c and the transition energies of a band window with fields E_v [n_k, n_v] and
    E_c [n_k, n_c] (eV); transition order S = (k n_v + v) n_c + c."""

    __slots__ = ()

    @property
    def n_v(self):
        return self.E_v.shape[1]

    @property
    def n_c(self):
        return self.E_c.shape[1]

    def transition_energies(self):
        """(N,) eV: E_c(k) - E_v(k) of the window's transitions, transition order."""
        return (self.E_c[:, None, :] - self.E_v[:, :, None]).reshape(-1)


@dataclass(frozen=True)
class BandWindow(_TransitionBands):
    """The valence / conduction bands of the BSE basis on the k-grid.

    k_frac [n_k, 3]; E_v [n_k, n_v] and E_c [n_k, n_c] eV (scissor applied to E_c);
    C_v [n_k, n_orb, n_v], C_c [n_k, n_orb, n_c]; valence bands ordered from the top
    down (v = 0 is the highest), conduction from the bottom up.
    Transition index S = (k * n_v + v) * n_c + c.
    """

    k_frac: np.ndarray
    E_v: np.ndarray
    E_c: np.ndarray
    C_v: np.ndarray
    C_c: np.ndarray
    band_v: np.ndarray
    band_c: np.ndarray
    scissor: float

    @property
    def n_k(self):
        return self.E_v.shape[0]

    @property
    def size(self):
        return self.n_k * self.n_v * self.n_c

    def transitions(self):
        """(N, 3) int: (k, v, c) of each transition, with v, c the model's band indices."""
        k, v, c = np.meshgrid(np.arange(self.n_k), np.arange(self.n_v), np.arange(self.n_c), indexing="ij")
        return np.column_stack([k.ravel(), self.band_v[v.ravel()], self.band_c[c.ravel()]])

    @property
    def qp_gap(self):
        """Smallest E_c - E_v in the basis (eV)."""
        return float(self.transition_energies().min())


def band_window(E, C, k_frac, n_occupied, n_v, n_c, scissor=0.0):
    """Select n_v valence (below band index n_occupied) and n_c conduction bands; E_c += scissor."""
    n_b = E.shape[1]
    if not (1 <= n_v <= n_occupied and 1 <= n_c <= n_b - n_occupied):
        raise ValueError(f"window of {n_v} valence / {n_c} conduction bands does not fit "
                         f"{n_occupied} occupied of {n_b} bands")
    band_v = np.arange(n_occupied - 1, n_occupied - 1 - n_v, -1)
    band_c = np.arange(n_occupied, n_occupied + n_c)
    return BandWindow(np.asarray(k_frac), E[:, band_v], E[:, band_c] + scissor,
                      np.ascontiguousarray(C[:, :, band_v]), np.ascontiguousarray(C[:, :, band_c]),
                      band_v, band_c, float(scissor))


@dataclass(frozen=True)
class LocalBands(_TransitionBands):
    """A band window distributed over ranks by blocks of whole k-points (hpcx.parallel.block_range
    of n_k): k_frac [n_k, 3] of the whole grid (n1 x n2 = ``grid``), this rank's k-points
    [k_start, k_start + n_kl) with E_v [n_kl, n_v], E_c [n_kl, n_c] eV (scissor applied),
    C_v [n_kl, n_orb, n_v], C_c [n_kl, n_orb, n_c]; valence ordered from the top down,
    conduction from the bottom up, transition index S = (k n_v + v) n_c + c."""

    grid: tuple
    k_frac: np.ndarray
    k_start: int
    E_v: np.ndarray
    E_c: np.ndarray
    C_v: np.ndarray
    C_c: np.ndarray
    scissor: float

    @property
    def local_range(self):
        """[lo, hi) of this rank's transitions."""
        nb = self.n_v * self.n_c
        return self.k_start * nb, (self.k_start + len(self.E_v)) * nb

    def gather(self, comm):
        """The whole :class:`BandWindow` on every rank (collective)."""
        return BandWindow(self.k_frac, allgather_concat(self.E_v, comm), allgather_concat(self.E_c, comm),
                          allgather_concat(self.C_v, comm), allgather_concat(self.C_c, comm),
                          np.arange(self.n_v), np.arange(self.n_c), self.scissor)


def near_gap_window(grid, k_frac, k_start, energy, coeff, n_v, n_c, scissor=0.0):
    """(LocalBands, split edges) from the n_v + 1 bands below and n_c + 1 above the gap of this
    rank's k-points (hpcx.bse.supercell.bands_near_gap_mpi, ascending): the window keeps n_v and
    n_c of them (phases fixed); ``split`` counts the k-point edges where a kept band is degenerate
    (1e-6 eV) with the next one outside, i.e. where the window cuts a multiplet."""
    coeff = fix_phases(coeff)
    split = int(np.sum(energy[:, 1] - energy[:, 0] < 1e-6) + np.sum(energy[:, -1] - energy[:, -2] < 1e-6))
    bands = LocalBands(tuple(grid), np.asarray(k_frac), int(k_start),
                       np.ascontiguousarray(energy[:, n_v:0:-1]), np.ascontiguousarray(energy[:, n_v + 1:n_v + 1 + n_c])
                       + scissor, np.ascontiguousarray(coeff[:, :, n_v:0:-1]),
                       np.ascontiguousarray(coeff[:, :, n_v + 1:n_v + 1 + n_c]), float(scissor))
    return bands, split
