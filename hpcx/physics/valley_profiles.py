"""Radial profiles N_v(r, t) of the valley-resolved Wigner equation, solved on (Q, k).

The Wigner equation is linear and translation invariant, so each spatial Fourier component
k is independent.  For a rotationally symmetric spot the transform depends on |Q|, |k| and
the angle theta between them; expanding it in cos(m theta) with coefficients i^m b_m(Q)
(b_m real) turns -i k.v into a real coupling of neighbouring harmonics (docs/theory/valley.md):

    db_0/dt = (C_0 - gamma) b_0 + (k V/2) b_1                  + g u(k) f(t)
    db_1/dt = (C_1 - gamma) b_1 + k V (b_2/2 - b_0)
    db_m/dt = (C_m - gamma) b_m + (k V/2)(b_{m+1} - b_{m-1})    (m >= 2, b_M = 0)

C_m the m-th angular harmonic of the collision operator.  The Q-summed harmonic b_0 of a
group of cells is the 2D Fourier transform of its radial profile; the Hankel transform
N(r) = (1/2pi) int k J0(k r) b_0(k) dk gives the profile.  At small k, b_0 = n - k^2 s/4 +
..., the moment solver's n and s (a consistency check in the tests).  Units: nm, ps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import j0

from .valley_propagate import propagate
from .valley_source import spot_transform

__all__ = ["profile_system", "k_quadrature", "ProfileTrace", "solve_profiles", "hankel"]


def profile_system(kin, k: float, harmonics: int):
    """Sparse generator of (b_0, ..., b_{M-1}) at wavenumber k (1/nm); needs len(kin.C) >= M."""
    M = harmonics
    D = sp.diags(kin.decay)
    V = sp.diags(kin.v * k)
    blocks = [[None] * M for _ in range(M)]
    for m in range(M):
        blocks[m][m] = kin.C[m] - D
        if m + 1 < M:
            blocks[m][m + 1] = 0.5 * V
        if m >= 1:
            blocks[m][m - 1] = -V if m == 1 else -0.5 * V
    return sp.bmat(blocks, format="csr")


def k_quadrature(k_max: float, n_per_panel: int = 16, panels: int = 4):
    """Composite Gauss-Legendre nodes on [0, k_max] with panels refined geometrically towards
    k = 0 (breaks at k_max/4^p): resolves profiles from the spot size to 4^panels times it.
    Returns (k, weights) plus k = 0 first with weight 0 (the spatial integrals)."""
    x, w = np.polynomial.legendre.leggauss(n_per_panel)
    edges = np.concatenate([[0.0], k_max / 4.0 ** np.arange(panels - 1, -1, -1)])
    ks, ws = [np.zeros(1)], [np.zeros(1)]
    for a, b in zip(edges[:-1], edges[1:]):
        ks.append(0.5 * (b - a) * x + 0.5 * (a + b))
        ws.append(0.5 * (b - a) * w)
    return np.concatenate(ks), np.concatenate(ws)


@dataclass(frozen=True)
class ProfileTrace:
    """Fourier components b_0 of groups of cells: ``P`` [group, k, time] and its scattering
    part ``P_scat`` (the transform of dN/dt|scat); ``k`` [k] 1/nm, ``w`` Hankel weights."""

    t: np.ndarray
    k: np.ndarray
    w: np.ndarray
    P: np.ndarray
    P_scat: np.ndarray


def solve_profiles(segments, f, pulse, times, k, w, groups, *, source_end, harmonics=8, log_z=None,
                   fine_dt=0.002, chunk=16, progress=None):
    """Solve every k of ``k`` (from :func:`k_quadrature`); arguments as
    :func:`hpcx.physics.valley_moments.solve_moments`, ``pulse`` the
    :class:`~hpcx.physics.valley_source.Pulse`.  ``chunk`` wavenumbers are propagated together
    as one block-diagonal system; ``progress(n)`` is called after each chunk with its size."""
    kins = [kin for _, kin in segments]
    n = kins[0].n
    z = np.zeros(n) if log_z is None else 0.5 * (np.asarray(log_z) - np.max(log_z))
    G = np.asarray(groups, dtype=float)
    P = np.zeros((len(G), len(k), len(times)))
    Ps = np.zeros_like(P)
    dim = n * harmonics
    for lo in range(0, len(k), chunk):
        ks = k[lo:lo + chunk]
        b = np.zeros(dim * len(ks))
        for i, kk in enumerate(ks):
            b[i * dim:i * dim + n] = kins[0].formation * spot_transform(kk, pulse)
        mats = [(t, sp.block_diag([profile_system(kin, kk, harmonics) for kk in ks], format="csr"))
                for (t, _), kin in zip(segments, kins)]
        Y, seg = propagate(mats, b, f, times, source_end, scale=np.tile(np.exp(z), harmonics * len(ks)),
                           fine_dt=fine_dt)
        for i in range(len(ks)):
            B0 = Y[i * dim:i * dim + n]
            P[:, lo + i] = G @ B0
            for j, kin in enumerate(kins):
                sel = seg == j
                Ps[:, lo + i, sel] = G @ (kin.C[0] @ B0[:, sel])
        if progress is not None:
            progress(len(ks))
    return ProfileTrace(np.asarray(times), k, w, P, Ps)


def hankel(k, w, P, r):
    """N(r) = (1/2 pi) int k J0(k r) P(k) dk by the quadrature (k, w); P [..., k, t] -> [..., t, r]."""
    kern = (w * k)[:, None] * j0(np.outer(k, r)) / (2.0 * np.pi)          # [k, r]
    return np.einsum("...kt,kr->...tr", P, kern)
