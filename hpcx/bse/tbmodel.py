"""The single-particle model every BSE input is converted to: H_ij(R) on a lattice.

``TBModel`` holds real-space hoppings ``H_Rij = <i, 0|H|j, R>`` (eV) for integer
lattice vectors ``R`` (in units of the lattice vectors), the lattice (Angstrom,
rows a1, a2, a3) and the orbital centres tau_i (Angstrom, Cartesian).  Wannier90
files, the built-in three-band model and moiré supercells all produce one, so the
BSE code sees one interface.

Bloch sums use one of two gauges (the choice changes eigenvectors by the
diagonal phase exp(i k.tau_i), never eigenvalues):

- ``"lattice"``: H_ij(k) = sum_R exp(i k.R) H_Rij       (Wannier90's convention)
- ``"atomic"``:  H_ij(k) = sum_R exp(i k.(R + tau_j - tau_i)) H_Rij
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAUGES = ("lattice", "atomic")


class LatticeModel:
    """What every model on a lattice shares: ``lattice`` (3, 3) Angstrom and ``positions``
    (n_orb, 3) Angstrom attributes, and what follows from them."""

    @property
    def n_orb(self):
        return self.positions.shape[0]

    @property
    def reciprocal(self):
        """(3, 3) 1/Angstrom, rows b1, b2, b3 with a_i . b_j = 2 pi delta_ij."""
        return 2.0 * np.pi * np.linalg.inv(self.lattice).T

    def cartesian(self, k_frac):
        """(n_k, 3) 1/Angstrom from fractional k (n_k, 3) or (n_k, 2)."""
        k_frac = np.atleast_2d(np.asarray(k_frac, dtype=float))
        if k_frac.shape[1] == 2:
            k_frac = np.column_stack([k_frac, np.zeros(len(k_frac))])
        return k_frac @ self.reciprocal


@dataclass(frozen=True)
class TBModel(LatticeModel):
    """Real-space tight-binding Hamiltonian.

    lattice:   (3, 3) Angstrom, rows are a1, a2, a3 (a3 = vacuum direction in 2D)
    positions: (n_orb, 3) Angstrom, Cartesian orbital centres in the home cell
    R:         (n_R, 3) int, lattice vectors in units of a1, a2, a3
    H_Rij:     (n_R, n_orb, n_orb) complex eV, H_Rij[r, i, j] = <i, 0|H|j, R[r]>
    labels:    orbital names (optional)
    """

    lattice: np.ndarray
    positions: np.ndarray
    R: np.ndarray
    H_Rij: np.ndarray
    labels: tuple = ()

    def __post_init__(self):
        n_orb = self.positions.shape[0]
        if self.lattice.shape != (3, 3):
            raise ValueError(f"lattice must be (3, 3), got {self.lattice.shape}")
        if self.positions.shape != (n_orb, 3):
            raise ValueError(f"positions must be (n_orb, 3), got {self.positions.shape}")
        if self.R.ndim != 2 or self.R.shape[1] != 3:
            raise ValueError(f"R must be (n_R, 3), got {self.R.shape}")
        if self.H_Rij.shape != (self.R.shape[0], n_orb, n_orb):
            raise ValueError(f"H_Rij must be (n_R, {n_orb}, {n_orb}), got {self.H_Rij.shape}")

    def hermiticity_error(self):
        """max |H_ij(R) - conj(H_ji(-R))| (eV); 0 for a Hermitian model."""
        index = {tuple(r): n for n, r in enumerate(self.R)}
        worst = 0.0
        for n, r in enumerate(self.R):
            m = index.get(tuple(-r))
            if m is None:
                worst = max(worst, float(np.abs(self.H_Rij[n]).max()))
            else:
                worst = max(worst, float(np.abs(self.H_Rij[n] - self.H_Rij[m].conj().T).max()))
        return worst

    def _phases(self, k_frac, gauge):
        """(n_k, n_R) or (n_k, n_R, n_orb, n_orb) Bloch phases."""
        if gauge not in GAUGES:
            raise ValueError(f"gauge must be one of {GAUGES}, got {gauge!r}")
        k_cart = self.cartesian(k_frac)
        R_cart = self.R @ self.lattice
        phase_R = np.exp(1j * k_cart @ R_cart.T)
        if gauge == "lattice":
            return phase_R
        phase_tau = np.exp(1j * k_cart @ self.positions.T)            # (n_k, n_orb)
        return phase_R[:, :, None, None] * phase_tau.conj()[:, None, :, None] * phase_tau[:, None, None, :]

    def hk(self, k_frac, gauge="lattice"):
        """(n_k, n_orb, n_orb) complex eV: the Bloch Hamiltonian at fractional k."""
        phases = self._phases(k_frac, gauge)
        if gauge == "lattice":
            return np.einsum("kr,rij->kij", phases, self.H_Rij)
        return np.einsum("krij,rij->kij", phases, self.H_Rij)

    def dhk(self, k_frac, gauge="lattice"):
        """(n_k, 3, n_orb, n_orb) complex eV Angstrom: dH(k)/dk_alpha, Cartesian alpha."""
        phases = self._phases(k_frac, gauge)
        R_cart = self.R @ self.lattice
        if gauge == "lattice":
            return 1j * np.einsum("kr,ra,rij->kaij", phases, R_cart, self.H_Rij)
        d = R_cart[:, None, None, :] + self.positions[None, None, :, :] - self.positions[None, :, None, :]
        return 1j * np.einsum("krij,rija,rij->kaij", phases, d, self.H_Rij)

    def bands(self, k_frac, gauge="lattice"):
        """Eigenvalues (n_k, n_orb) eV ascending and eigenvectors (n_k, n_orb, n_orb), columns."""
        return np.linalg.eigh(self.hk(k_frac, gauge))

    def blocks(self, tol=0.0):
        """Orbital index arrays of the decoupled blocks of H (e.g. the two spins of a
        spin-diagonal model): connected components of |H_ij(R)| > tol over all R."""
        from scipy.sparse.csgraph import connected_components
        coupled = (np.abs(self.H_Rij) > tol).any(axis=0)
        n, label = connected_components(coupled | coupled.T, directed=False)
        return [np.flatnonzero(label == b) for b in range(n)]

    def rehome(self, orbital, shift):
        """The same crystal with orbital ``orbital`` assigned to the cell at integer ``shift``.

        Its centre moves by shift @ lattice and its hoppings are relabelled,
        H'_mj(R) = H_mj(R - shift), H'_im(R) = H_im(R + shift); physical observables
        (band energies, BSE eigenvalues) are unchanged, lattice-gauge coefficients
        pick up the phase exp(i k.shift) on that orbital.
        """
        m = int(orbital)
        shift = np.asarray(shift, dtype=int)
        acc = {}

        def add(r, i, j, value):
            key = tuple(int(x) for x in r)
            if key not in acc:
                acc[key] = np.zeros((self.n_orb, self.n_orb), complex)
            acc[key][i, j] += value

        for r, h in zip(self.R, self.H_Rij):
            for i, j in zip(*np.nonzero(h)):
                new_r = r + (i == m) * shift - (j == m) * shift
                add(new_r, i, j, h[i, j])
        add((0, 0, 0), 0, 0, 0.0)
        keys = sorted(acc)
        pos = self.positions.copy()
        pos[m] = pos[m] + shift @ self.lattice
        return TBModel(self.lattice, pos, np.array(keys, int), np.array([acc[k] for k in keys]), self.labels)


def monkhorst_pack(n1, n2, shift=False):
    """(n1*n2, 3) fractional k-points of a 2D n1 x n2 grid including Gamma (shift=False)."""
    i, j = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    k = np.column_stack([i.ravel() / n1, j.ravel() / n2, np.zeros(n1 * n2)])
    if shift:
        k[:, 0] += 0.5 / n1
        k[:, 1] += 0.5 / n2
    return k
