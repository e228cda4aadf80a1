"""Optical observables of the Wannier-basis BSE (seed 004 Eqs. 6-7, SI Eqs. 38-41).

Velocity matrix elements from the Wannier Hamiltonian, with the centre term that
makes them independent of the home cell of each Wannier function (lattice gauge):

    P_vc(k) = <v k| dH/dk + i (tau_j - tau_i) H_ij(k) |c k>        (eV Angstrom; v = P / hbar)

Exciton amplitudes P_S = sum_{kvc} A^S_{kvc} P_vc(k).  Real part of the sheet
conductivity in units of e^2/hbar (Kubo, Gaussian broadening of width sigma):

    sigma_aa(E) = pi g_s / (N_k A_cell) sum_S |P_S,a|^2 / Omega_S  g(E - Omega_S)

and the independent-particle sigma_ip the same with S -> (k v c), Omega -> E_c - E_v.
g_s = 2 for singlet excitons of a spinless basis, 1 for a spin-explicit one.
Oscillator strength per unit cell (dimensionless, in-plane average):
f_S = g_s 2 m_e |P_S|^2 / (hbar^2 N_k Omega_S).
"""

from __future__ import annotations

import numpy as np
from scipy import constants as _c

#: hbar^2 / (2 m_e) in eV Angstrom^2
HBAR2_2M_EV_A2 = _c.hbar ** 2 / (2 * _c.m_e) / _c.e * 1e20


def velocity_matrix(model, k_frac, C_v, C_c):
    """P [n_k, 2, n_v, n_c] complex eV Angstrom: in-plane (x, y) interband elements."""
    hk = model.hk(k_frac)
    dh = model.dhk(k_frac)[:, :2]
    tau = model.positions
    d = tau[None, :, :2] - tau[:, None, :2]                              # tau_j - tau_i, [i, j, a]
    M = dh + 1j * np.einsum("ija,kij->kaij", d, hk)
    return np.einsum("kiv,kaij,kjc->kavc", C_v.conj(), M, C_c)


def exciton_amplitudes(P, vectors):
    """P_S [n_S, 2] = sum_{kvc} A^S_{kvc} P_vc(k); vectors [N, n_S] in transition order."""
    flat = P.transpose(0, 2, 3, 1).reshape(-1, P.shape[1])              # [(k v c), a]
    return vectors.T @ flat


def gaussian(x, width):
    return np.exp(-0.5 * (x / width) ** 2) / (np.sqrt(2 * np.pi) * width)


def conductivity(energy, omega, weight2, n_k, cell_area, width, spin_factor):
    """sigma(E) [n_E] in e^2/hbar from transition energies omega [n] (eV) and |P|^2 [n] (eV^2 A^2)."""
    pref = np.pi * spin_factor / (n_k * cell_area)
    out = np.zeros(len(energy))
    for chunk in range(0, len(omega), 4096):
        o, w2 = omega[chunk:chunk + 4096], weight2[chunk:chunk + 4096]
        out += gaussian(energy[:, None] - o[None, :], width) @ (w2 / o)
    return pref * out


def oscillator_strength(P_S, omega, n_k, spin_factor):
    """Dimensionless f_S per unit cell, in-plane average of |P_x|^2 and |P_y|^2."""
    p2 = 0.5 * np.sum(np.abs(P_S) ** 2, axis=1)
    return spin_factor * p2 / (HBAR2_2M_EV_A2 * n_k * omega)


def hole_fixed_density(window, vectors, sites, grid, hole_site, lattice, normalise=True):
    """|Psi_S(r_e, r_h)|^2 with the hole on site ``hole_site`` of the home cell (seed 004 Eq. 7).

    Phi_S(i R, j 0) = (1/N_k) sum_kvc A^S_kvc c_i^ck exp(i k.R) conj(c_j^vk); the density on
    electron site s in cell R sums |Phi|^2 over the orbitals of s and of the hole site.
    Returns density [n_S, N_R, n_site] (each state normalised to 1; with normalise=False its
    sum is hole_density(...)[:, hole_site] / N_k) and the electron positions [N_R, n_site, 3]
    (Angstrom, minimum image around the hole).
    """
    from .interaction import bvk_lattice_vectors, min_image
    n1, n2 = grid
    nk, nv, nc = window.n_k, window.n_v, window.n_c
    holes = sites.members(hole_site)
    A = vectors.T.reshape(-1, nk, nv, nc)
    dens = np.zeros((A.shape[0], n1 * n2, sites.n_site))
    for j in holes:
        # F[S, k, i] = sum_c C_c[k, i, c] sum_v A[S, k, v, c] conj(C_v[k, j, v])
        B = np.einsum("skvc,kv->skc", A, window.C_v[:, j, :].conj())
        n_orb = window.C_c.shape[1]              # explicit sizes: n_S = 0 (no wavefunctions) is allowed
        F = np.einsum("kic,skc->ski", window.C_c, B).reshape(A.shape[0], n1, n2, n_orb)
        phi = np.fft.ifft2(F, axes=(1, 2)).reshape(A.shape[0], n1 * n2, n_orb)   # (1/N) sum_k e^{ik.R}
        np.add.at(dens, (slice(None), slice(None), sites.site_of_orbital), np.abs(phi) ** 2)
    if normalise:
        dens /= dens.sum(axis=(1, 2), keepdims=True)
    R = bvk_lattice_vectors(grid) @ lattice
    x = R[:, None, :] + sites.positions[None, :, :] - sites.positions[hole_site][None, None, :]
    pos = min_image(x, lattice, grid) + sites.positions[hole_site]
    return dens, pos


def hole_density(window, vectors, sites):
    """Probability of finding the hole on each site of the home cell, electron anywhere.

    rho_h(j) = sum_{i in j} sum_kc |sum_v A^S_kvc conj(c_i^vk)|^2 (Parseval over the electron
    coordinate of Phi_S; sums to 1 for normalised A).  Where hole_fixed_density shows the
    electron around one hole position, this shows where in the cell the exciton sits (seed
    004 Fig. 3: the pair amplitude is small when the hole is outside the trap).
    vectors [N, n_S]; returns [n_S, n_site].
    """
    nk, nv, nc = window.n_k, window.n_v, window.n_c
    A = vectors.T.reshape(-1, nk, nv, nc)
    out = np.zeros((A.shape[0], sites.n_site))
    for S in range(A.shape[0]):
        B = np.einsum("kvc,kiv->kic", A[S], window.C_v.conj(), optimize=True)      # [n_k, n_orb, n_c]
        np.add.at(out[S], sites.site_of_orbital, np.einsum("kic,kic->i", B, B.conj()).real)
    return out


def brightest_hole_site(window, sites):
    """The site with the largest weight of the top valence band summed over k (where a hole of
    the lowest excitons sits)."""
    weight = np.zeros(sites.n_site)
    np.add.at(weight, sites.site_of_orbital, np.sum(np.abs(window.C_v[:, :, 0]) ** 2, axis=0))
    return int(np.argmax(weight))


def site_nearest_origin(site_positions):
    """Index of the site closest to r = 0 in the plane (the AA point of a twisted cell)."""
    return int(np.argmin(np.linalg.norm(np.asarray(site_positions)[:, :2], axis=1)))


def multiplet_labels(values, tol=1e-6):
    """Multiplet index of each of the ascending energies ``values`` (eV): a new multiplet starts
    where the gap to the previous level exceeds ``tol``."""
    return np.concatenate([[0], np.cumsum(np.diff(values) > tol)])


def multiplet_densities(window, vectors, values, sites, grid, hole, lattice, n_wf, tol=1e-6):
    """Hole-fixed electron densities (:func:`hole_fixed_density`) and hole densities
    (:func:`hole_density`) of the lowest ``n_wf`` states, each member of a degenerate multiplet
    (|E - E'| < tol eV) replaced by the multiplet's average (independent of the basis the solver
    picked in it).  vectors [N, n_eig].  Returns (density [n_wf, n_R, n_site], positions
    [n_R, n_site, 3] Angstrom, hole density [n_wf, n_site], complete): ``complete`` is False when
    the last multiplet may continue beyond the computed eigenpairs (averaged over the computed
    members only)."""
    dens, pos = hole_fixed_density(window, vectors, sites, grid, hole, lattice)
    rho_h = hole_density(window, vectors, sites)
    label = multiplet_labels(values, tol)
    avg = lambda x: np.array([x[label == lab].mean(axis=0) for lab in label])[:n_wf]   # noqa: E731
    return avg(dens), pos, avg(rho_h), bool(label[n_wf - 1] != label[-1])


def peaks(energy, sigma, prominence):
    """(energies eV, heights) of the local maxima of sigma with at least ``prominence`` times its
    maximum as prominence, refined by the parabola through each maximum and its neighbours."""
    from scipy.signal import find_peaks
    if sigma.max() <= 0:
        return np.zeros(0), np.zeros(0)
    idx, _ = find_peaks(sigma, prominence=prominence * sigma.max())
    e, h = [], []
    for i in idx:
        y0, y1, y2 = sigma[i - 1:i + 2]
        den = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        e.append(energy[i] + shift * (energy[1] - energy[0]))
        h.append(y1 - 0.25 * (y0 - y2) * shift)
    return np.array(e), np.array(h)


def velocity_matrix_sparse(model, k_frac, C_v, C_c):
    """P [n_k, 2, n_v, n_c] complex eV Angstrom of a SparseTBModel (supercells): the elements of
    its velocity operators (hpcx.bse.supercell.SparseTBModel.velocity) between the band
    coefficients C_v [n_k, n_orb, n_v] and C_c [n_k, n_orb, n_c] at the k-points k_frac."""
    P = np.array([[C_v[i].conj().T @ (M @ C_c[i]) for M in model.velocity(k)] for i, k in enumerate(k_frac)])
    return P.reshape(len(C_v), 2, C_v.shape[2], C_c.shape[2])
