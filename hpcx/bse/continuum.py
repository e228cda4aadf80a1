"""Effective-mass (continuum) limit of the modulated moiré supercell BSE.

An independent check of the ``bse_moire`` workflow: the same layer (effective
masses of the tight-binding model at K), the same Keldysh interaction (1s
exciton of the Wannier equation, hpcx.physics.wannier) and the same
first-harmonic modulation (hpcx.bse.modulation), but the exciton is a
structureless particle of mass M = m_e + m_h moving in the moiré potential.

Derivation (docs/theory/bse_moire.md, "Continuum limit").  The modulation
shifts the conduction (d_z2) on-site energies by Delta_c(r) and the valence
(d_xy, d_x2-y2) ones by Delta_v(r).  An electron in the conduction band at
r_e gains Delta_c(r_e); removing a valence electron at r_h (the hole) costs
-Delta_v(r_h).  The pair energy is therefore

    W(r_e, r_h) = Delta_c(r_e) - Delta_v(r_h).

With R = beta_e r_e + beta_h r_h, r = r_e - r_h (beta_e = m_e/M,
beta_h = m_h/M) we have r_e = R + beta_h r, r_h = R - beta_e r.  In the
basis of 1s excitons with centre-of-mass momentum Q,
Psi_Q = e^{iQ.R} phi_1s(r)/sqrt(A),

    <Q'| e^{i g.r_e} |Q> = delta_{Q', Q+g} int d^2r |phi_1s|^2 e^{i beta_h g.r}
                         = delta_{Q', Q+g} F(beta_h |g|),
    <Q'| e^{i g.r_h} |Q> = delta_{Q', Q+g} F(beta_e |g|)   (F real and even: 1s is isotropic).

The first-harmonic form Delta_a(r) = 2 V_a sum_j cos(g_j.r + phi_a)
(hpcx.bse.modulation; G'_j.r = g_j.r at the metal sites) has the Fourier
components Delta_a(g_j) = V_a e^{i phi_a}, Delta_a(-g_j) = V_a e^{-i phi_a}.
Hence the exciton's centre-of-mass potential has

    U(g_j) = V_c e^{i phi_c} F(beta_h |g|) - V_v e^{i phi_v} F(beta_e |g|),   U(-g_j) = conj(U(g_j)),

and in plane waves Q + g (moiré reciprocal vectors g)

    H_gg'(Q) = hbar^2 |Q + g|^2/(2M) delta_gg' + U(g - g').

Light couples to the g = 0 component at Q = 0 only, so the absorption peaks are
the eigenvalues E_eta of H(0) (relative to the unmodulated 1s level) with
weights |<g=0|eta>|^2 (sum 1).  Neglected: the mixing of 1s with 2s, 2p, ...
by the potential (second order in U over the 1s-2s spacing), the valley
(K/K') and spin degeneracy (the same U for both valleys: the modulation is an
on-site potential), and non-parabolicity.

Units: eV, Angstrom, masses in m0 (the Wannier solver works in meV, nm;
converted here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..physics.moire import MoireHamiltonian, MoirePotential
from ..physics.screening import keldysh_epsilon
from ..physics.wannier import solve_wannier
from ..units import HBAR2_2M0_MEV_NM2

#: hbar^2/(2 m0) in eV Angstrom^2 (1 meV nm^2 = 0.1 eV Angstrom^2)
HBAR2_2M0_EV_A2 = HBAR2_2M0_MEV_NM2 * 0.1

#: K of the 60-degree lattice (a1 = a x, a2 at +60 deg) in fractional coordinates
K_FRAC = (2.0 / 3.0, 1.0 / 3.0)


def effective_masses(model, n_occ=1, step=2e-3, k_frac=K_FRAC):
    """(m_e, m_h) in m0 at ``k_frac`` (default K) from the band curvature.

    Isotropic average: m = 4 (hbar^2/2m0) / |laplacian E|, the Laplacian from the
    five-point central difference in Cartesian kx, ky with ``step`` (1/Angstrom);
    by C3 symmetry the mass tensor at K is isotropic (trigonal warping is third
    order).  m_e from band n_occ (lowest conduction), m_h from band n_occ - 1.
    model: a TBModel (``reciprocal``, ``bands(k_frac)``).
    """
    B = model.reciprocal[:2, :2]
    d = step * np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=float)
    k = np.asarray(k_frac, dtype=float)[:2] + d @ np.linalg.inv(B)
    E, _ = model.bands(k)
    lap = (E[1:].sum(axis=0) - 4.0 * E[0]) / step**2            # eV Angstrom^2, per band
    return float(4.0 * HBAR2_2M0_EV_A2 / lap[n_occ]), float(-4.0 * HBAR2_2M0_EV_A2 / lap[n_occ - 1])


def keldysh_exciton(m_e, m_h, r0, eps=1.0, states=("1s",)):
    """WannierResult of the Keldysh exciton: reduced mass m_e m_h/M (m0), r0 (Angstrom),
    eps the mean dielectric constant; V(q) = 2 pi e^2/(q (eps + r0 q)) as in
    hpcx.bse.interaction.keldysh (binding energies in meV, form factors of q in 1/nm)."""
    mu = m_e * m_h / (m_e + m_h)
    r0_nm = 0.1 * r0
    return solve_wannier(mu, lambda q: keldysh_epsilon(q, r0_nm, eps), tuple(states))


def form_factors(exciton, m_e, m_h, g_abs, state="1s"):
    """(F(beta_e |g|), F(beta_h |g|)), dimensionless; g_abs in 1/Angstrom."""
    M = m_e + m_h
    q = 10.0 * np.array([m_e / M * g_abs, m_h / M * g_abs])      # 1/nm
    f = exciton.form_factor(state, q)
    return float(f[0]), float(f[1])


def com_potential(harmonics, F_e, F_h):
    """U(g_j) (complex eV) = V_c e^{i phi_c} F_h - V_v e^{i phi_v} F_e.

    harmonics: {'conduction': (V eV, phi rad), 'valence': (V, phi)} as from
    ModulationData.harmonics; F_e = F(beta_e |g|) (the hole's factor),
    F_h = F(beta_h |g|) (the electron's factor).  U(-g_j) = conj(U(g_j)).
    """
    Vc, pc = harmonics["conduction"]
    Vv, pv = harmonics["valence"]
    return complex(Vc * np.exp(1j * pc) * F_h - Vv * np.exp(1j * pv) * F_e)


@dataclass(frozen=True)
class _CellMoire:
    """Moiré vectors of a TwistedCell in the interface MoireHamiltonian reads from
    hpcx.physics.moire.MoireGeometry: ``g`` (3, 2) 1/nm, g_abs, reciprocal_basis."""

    g: np.ndarray

    @property
    def g_abs(self):
        return float(np.linalg.norm(self.g[0]))

    @property
    def reciprocal_basis(self):
        return self.g[:2].copy()


def kinetic_energy(g_abs, M):
    """hbar^2 g^2/(2M) in eV (shape of g_abs); g_abs in 1/Angstrom, M in m0."""
    return HBAR2_2M0_EV_A2 * np.asarray(g_abs, dtype=float) ** 2 / M


def shells_for(ratio):
    """Number of plane-wave shells (hpcx.physics.moire.plane_wave_basis) with
    |g|^2 <= ratio |g_1|^2 (shell 0 = {0}); at least 1."""
    n = int(np.ceil(np.sqrt(max(ratio, 1.0)))) + 1
    s1, s2 = np.meshgrid(np.arange(-2 * n, 2 * n + 1), np.arange(-2 * n, 2 * n + 1))
    norm2 = np.unique(s1**2 + s2**2 - s1 * s2)
    return max(1, int(np.count_nonzero(norm2 <= ratio)) - 1)


@dataclass(frozen=True)
class FoldedSpectrum:
    """Absorption of the continuum model at Q = 0.

    energies: (n_g,) eV, eigenvalues of H(0) relative to the unmodulated 1s level;
    weights: (n_g,) bright weights |<g=0|eta>|^2 (sum 1);
    kinetic: hbar^2 g^2/2M (eV) of the first moiré shell; U: U(g_0) (complex eV);
    n_g: plane waves in the basis.
    """

    energies: np.ndarray
    weights: np.ndarray
    kinetic: float
    U: complex
    n_g: int

    def peaks(self, span=0.25, min_ratio=0.01):
        """(energies eV above the lowest state, weights / weight of the lowest) of the
        states within ``span`` eV of the lowest with at least ``min_ratio`` of its weight."""
        e = self.energies - self.energies[0]
        w = self.weights / self.weights[0]
        keep = (e <= span) & (w >= min_ratio)
        return e[keep], w[keep]


def folded_spectrum(moire_vectors, U, M, cutoff=3.0, dispersion=None, Q=(0.0, 0.0)):
    """Eigenstates of H_gg'(Q) = hbar^2 |Q + g|^2/2M delta_gg' + U(g - g') (first shell only).

    moire_vectors: (3, 2) 1/Angstrom, g_j = C3^j g_0 (TwistedCell.moire_vectors);
    U: complex eV at g_j (conj at -g_j); M: exciton mass (m0); cutoff: plane waves
    with hbar^2 g^2/2M <= cutoff (eV) are kept.  dispersion: optional callable
    (n, 2) 1/Angstrom -> (n,) eV replacing the parabola on the diagonal (e.g.
    pair_dispersion, a non-parabolicity estimate).  Q: centre-of-mass momentum (2,) 1/Angstrom;
    Q = 0 (default) is the optically active sector, Q = moire_corner(...) the one of the
    intervalley (e in K, h in K') pairs of a cell that folds K to the moire K point.  The
    weights are |<g=0|eta>|^2 at any Q (bright only at Q = 0).  Returns a FoldedSpectrum.
    """
    geom = _CellMoire(10.0 * np.asarray(moire_vectors, dtype=float)[:3, :2])
    kin = float(kinetic_energy(0.1 * geom.g_abs, M))
    ham = MoireHamiltonian(geom, MoirePotential(1e3 * complex(U)), M, shells_for(cutoff / kin))
    q = 10.0 * np.asarray(Q, dtype=float)[None, :2]                # 1/nm
    h = ham.matrix(q)[0]                                           # meV
    if dispersion is not None:
        h[np.diag_indices(ham.n_g)] = 1e3 * np.asarray(dispersion(0.1 * (q + ham.g)), dtype=float)
    e, v = np.linalg.eigh(h)
    # plane_wave_basis puts g = 0 first: row 0 of v is <g=0|eta>
    return FoldedSpectrum(1e-3 * e, np.abs(v[0, :]) ** 2, kin, complex(U), ham.n_g)


def pair_dispersion(model, m_e, m_h, n_occ=1, k_frac=K_FRAC):
    """Callable Q (n, 2) 1/Angstrom -> (n,) eV: the free pair energy
    [E_c(K + beta_e Q) - E_c(K)] - [E_v(K - beta_h Q) - E_v(K)] of the model's band edges
    (beta = m/M as in the continuum model); hbar^2 Q^2/2M at small Q.  A non-parabolicity
    estimate of the exciton's centre-of-mass dispersion, not the exciton dispersion itself."""
    B_inv = np.linalg.inv(model.reciprocal[:2, :2])
    K = np.asarray(k_frac, dtype=float)[:2]
    M = m_e + m_h
    E0 = model.bands(K[None, :])[0][0]

    def dispersion(Q):
        Q = np.atleast_2d(np.asarray(Q, dtype=float))
        Ec = model.bands(K + (m_e / M) * Q @ B_inv)[0][:, n_occ]
        Ev = model.bands(K - (m_h / M) * Q @ B_inv)[0][:, n_occ - 1]
        return (Ec - E0[n_occ]) - (Ev - E0[n_occ - 1])
    return dispersion


def moire_corner(moire_vectors):
    """The moire Brillouin-zone corner (2 g_0 + g_1)/3 (2,) 1/Angstrom, |.| = |g|/sqrt(3):
    the centre-of-mass momentum of intervalley pairs (electron at K, hole at K' = -K) when
    the cell folds K to the moire K point (m1 - m2 not a multiple of 3)."""
    g = np.asarray(moire_vectors, dtype=float)[:2, :2]
    return (2.0 * g[0] + g[1]) / 3.0


def continuum_spectrum(cell, harmonics, m_e, m_h, exciton, cutoff=3.0, dispersion=None, Q=(0.0, 0.0)):
    """FoldedSpectrum of a TwistedCell with modulation ``harmonics`` (see com_potential),
    masses (m0) and the 1s ``exciton`` (keldysh_exciton); also returns (F_e, F_h).
    cutoff, dispersion, Q: as in folded_spectrum (the modulation is an on-site potential, so
    intra- and intervalley pairs feel the same U)."""
    g = cell.moire_vectors
    F_e, F_h = form_factors(exciton, m_e, m_h, float(np.linalg.norm(g[0])))
    U = com_potential(harmonics, F_e, F_h)
    return folded_spectrum(g, U, m_e + m_h, cutoff, dispersion, Q), (F_e, F_h)
