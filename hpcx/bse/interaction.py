"""Electron-hole interaction between Wannier centres: potentials and lattice sums W_ij(q).

Orbitals at the same centre interact identically, so everything is done per
*site* (distinct centre).  On the n1 x n2 Born-von Karman supercell of the k-grid
(seed 004 SI Eqs. 17-18: R runs over the lattice vectors commensurate with the
grid), the lattice sum between sites i and j is

    W_ij(q) = sum_R exp(-i q.R) V(|R + tau_j - tau_i|_BvK),

with |x|_BvK the minimum-image length in the supercell (periodic, so W does not
depend on which N lattice vectors are summed or on the home cell of a site; the
q = 0 term is finite).  q runs over the differences of the grid, so the sum over
R is one 2D FFT.  The direct term uses the screened (Keldysh) V with the on-site
regularisation of seed 004 Methods, V(0) = U V(a); the exchange term the bare
Coulomb V at q = 0.  Units: eV, Angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..physics.screening import keldysh_real_space
from ..units import COULOMB_EV_ANGSTROM


@dataclass(frozen=True)
class Sites:
    """site_of_orbital [n_orb] int, positions [n_site, 3] Angstrom, layer [n_site] int."""

    site_of_orbital: np.ndarray
    positions: np.ndarray
    layer: np.ndarray

    @property
    def n_site(self):
        return len(self.positions)

    def members(self, s):
        return np.flatnonzero(self.site_of_orbital == s)


def group_sites(positions, tol=1e-4, layer_gap=2.5):
    """Group orbital centres closer than ``tol`` (Angstrom) into sites.

    Layers: sorted site heights are split where consecutive heights differ by more
    than ``layer_gap`` (Angstrom; metal-chalcogen planes of one TMD are ~1.7 apart,
    the van der Waals gap between layers ~3).
    """
    positions = np.asarray(positions, float)
    site = -np.ones(len(positions), int)
    centres = []
    for i, p in enumerate(positions):
        for s, c in enumerate(centres):
            if np.linalg.norm(p - c) < tol:
                site[i] = s
                break
        else:
            site[i] = len(centres)
            centres.append(p)
    centres = np.array(centres)
    z = centres[:, 2]
    order = np.argsort(z)
    layer = np.zeros(len(centres), int)
    current = 0
    for a, b in zip(order[:-1], order[1:]):
        if z[b] - z[a] > layer_gap:
            current += 1
        layer[b] = current
    return Sites(site, centres, layer)


def keldysh(r0, eps=1.0, onsite_length=None, onsite_u=1.0, interlayer_distance=0.0):
    """V(r) eV (r in Angstrom) of the Rytova-Keldysh sheet, r0 and lengths in Angstrom;
    the interlayer form replaces r0/eps by r0/eps + d (seed 004 main text)."""
    def V(r):
        return 1e-3 * keldysh_real_space(np.asarray(r) * 0.1, r0 * 0.1, eps,
                                         None if onsite_length is None else onsite_length * 0.1,
                                         interlayer_distance * 0.1, onsite_u)
    return V


def coulomb(eps=1.0, cutoff=None):
    """Bare V(r) = e^2/(4 pi eps0 eps max(r, cutoff)) eV, r in Angstrom.

    The cap at ``cutoff`` (the lattice constant) regularises r = 0 as PyMEX does for its
    bare Coulomb term (imaitygit/PyMEX src/potential.py, coulomb_simple: r <= a0 -> V(a0)).
    """
    def V(r):
        r = np.asarray(r, float)
        if cutoff is None and np.any(r == 0):
            raise ValueError("r = 0 needs a cutoff for the bare Coulomb interaction")
        rr = r if cutoff is None else np.maximum(r, cutoff)
        return COULOMB_EV_ANGSTROM / (eps * rr)
    return V


def bvk_lattice_vectors(grid):
    """(n1*n2, 3) int lattice vectors R = (a, b, 0), a < n1, b < n2, index a*n2 + b."""
    n1, n2 = grid
    a, b = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    return np.column_stack([a.ravel(), b.ravel(), np.zeros(n1 * n2, int)])


def min_image(x, lattice, grid):
    """Minimum-image Cartesian vectors (..., 3) in the n1 x n2 supercell (in-plane periodic)."""
    sup = lattice[:2, :2] * np.asarray(grid)[:, None]             # rows: n1 a1, n2 a2 (in-plane)
    inv = np.linalg.inv(sup)
    frac = x[..., :2] @ inv
    frac -= np.round(frac)
    best = None
    for s1 in (-1, 0, 1):
        for s2 in (-1, 0, 1):
            cand = (frac + np.array([s1, s2])) @ sup
            n2 = np.sum(cand ** 2, axis=-1)
            if best is None:
                best, best_n2 = cand, n2
            else:
                better = n2 < best_n2 - 1e-12
                best = np.where(better[..., None], cand, best)
                best_n2 = np.where(better, n2, best_n2)
    return np.concatenate([best, x[..., 2:]], axis=-1)


def site_distances(lattice, grid, site_positions):
    """(n1, n2, n_site, n_site) Angstrom: |R + tau_j - tau_i|_BvK for R = (a, b)."""
    R = bvk_lattice_vectors(grid) @ lattice
    d = R[:, None, None, :] + site_positions[None, None, :, :] - site_positions[None, :, None, :]
    return np.linalg.norm(min_image(d, lattice, grid), axis=-1).reshape(*grid, *d.shape[1:3])


def lattice_sum(V_R):
    """W[q1, q2, i, j] = sum_R exp(-2 pi i (q1 a/n1 + q2 b/n2)) V_R[a, b, i, j] (a 2D FFT)."""
    return np.fft.fft2(V_R, axes=(0, 1))


def q_index(grid):
    """(n_k, n_k) int: flat index of k - k' (mod the grid) for the unshifted grid
    k = (i/n1, j/n2, 0), flat index i*n2 + j (as hpcx.bse.tbmodel.monkhorst_pack)."""
    n1, n2 = grid
    i, j = np.divmod(np.arange(n1 * n2), n2)
    return (((i[:, None] - i[None, :]) % n1) * n2 + (j[:, None] - j[None, :]) % n2).astype(np.intc)


@dataclass(frozen=True)
class Interaction:
    """What the kernel assembly needs.

    sites: :class:`Sites`; W [n_q, n_site, n_site] complex eV (screened, direct term);
    V_x [n_site, n_site] real eV (bare, q = 0, exchange term) or None;
    q_of [n_k, n_k] int, the index of k - k' into W.
    """

    sites: Sites
    W: np.ndarray
    V_x: np.ndarray | None
    q_of: np.ndarray


def build_interaction(lattice, grid, sites, direct, exchange=None):
    """Interaction on the n1 x n2 grid.

    direct / exchange: callables V(r, layer_i, layer_j) -> eV (arrays), or a plain V(r)
    for a single layer; exchange None leaves out the exchange term.
    """
    dist = site_distances(lattice, grid, sites.positions)
    li, lj = np.meshgrid(sites.layer, sites.layer, indexing="ij")
    li = np.broadcast_to(li, dist.shape)
    lj = np.broadcast_to(lj, dist.shape)

    def evaluate(V):
        try:
            return V(dist, li, lj)
        except TypeError:
            return V(dist)

    W = lattice_sum(evaluate(direct)).reshape(-1, sites.n_site, sites.n_site)
    V_x = None
    if exchange is not None:
        V_x = evaluate(exchange).sum(axis=(0, 1))
    return Interaction(sites, np.ascontiguousarray(W), V_x, q_index(grid))


def layered_keldysh(r0, eps=1.0, onsite_length=None, onsite_u=1.0, interlayer_distance=0.0):
    """V(r, layer_i, layer_j): intralayer Keldysh, interlayer with r0 -> r0 + d eps (seed 004)."""
    intra = keldysh(r0, eps, onsite_length, onsite_u)
    inter = keldysh(r0, eps, onsite_length, onsite_u, interlayer_distance)

    def V(r, li, lj):
        return np.where(li == lj, intra(r), inter(r))
    return V
