"""Absorption spectra without eigenpairs: Lanczos-Haydock recursion on the BSE operator.

For a Hermitian H and a start vector d (the optical transition amplitudes
d_S, e.g. velocity matrix elements), the spectral measure
mu(E) = sum_lambda |<lambda|d>|^2 delta(E - E_lambda) is what every
absorption formula needs.  m Lanczos steps from d give the tridiagonal
T_m (alpha, beta); its eigenvalues theta_j and the squared first components
of its eigenvectors times ||d||^2 are the nodes and weights of the m-point
Gauss quadrature of mu, exact for all polynomial moments up to degree
2m - 1 and exactly mu when m reaches the dimension of the Krylov space.
Hence

- Gaussian-broadened spectra: sum_j w_j f(theta_j) g_sigma(E - theta_j),
  identical to the eigenpair sum when the recursion is complete;
- Lorentzian (Haydock) spectra: -Im <d|(E + i eta - H)^-1|d>/pi as the
  continued fraction ||d||^2 / (z - a_0 - b_0^2 / (z - a_1 - ...)).

Only products with H are used (any operator of :mod:`hpcx.bse.operator`: the
matrix-free one of :mod:`hpcx.bse.matfree` or the dense rows), each rank keeps
its block of three vectors on the operator's layout (plus the Krylov basis if
``reorthogonalize``), and the dot products are summed over ranks: memory
O(N/p), cost m products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal

from ..parallel import allreduce_sum


@dataclass(frozen=True)
class Recursion:
    """alpha (m,), beta (m - 1,) of T_m; norm2 = ||d||^2; steps actually done."""

    alpha: np.ndarray
    beta: np.ndarray
    norm2: float

    @property
    def steps(self):
        return len(self.alpha)

    def nodes(self):
        """(energies (m,), weights (m,)): Gauss quadrature of the spectral measure."""
        if self.steps == 1:
            return self.alpha.copy(), np.array([self.norm2])
        theta, s = eigh_tridiagonal(self.alpha, self.beta)
        return theta, self.norm2 * np.abs(s[0]) ** 2

    def gaussian(self, energy, sigma, prefactor=None):
        """sum_j w_j f(theta_j) exp(-(E - theta_j)^2 / 2 sigma^2) / (sqrt(2 pi) sigma)."""
        theta, w = self.nodes()
        if prefactor is not None:
            w = w * prefactor(theta)
        e = np.asarray(energy, dtype=float)[:, None]
        return (w * np.exp(-0.5 * ((e - theta) / sigma) ** 2)).sum(axis=1) / (np.sqrt(2 * np.pi) * sigma)

    def lorentzian(self, energy, eta):
        """-(1/pi) Im <d|(E + i eta - H)^-1|d> by the continued fraction (Haydock)."""
        z = np.asarray(energy, dtype=float) + 1j * eta
        g = np.zeros_like(z)
        b2 = np.concatenate([self.beta ** 2, [0.0]])
        for n in range(self.steps - 1, -1, -1):
            g = 1.0 / (z - self.alpha[n] - b2[n] * g)
        return -self.norm2 * g.imag / np.pi


def _dot(a, b, comm):
    return allreduce_sum(complex(np.vdot(a, b)), comm)


def lanczos(op, d_local, steps, reorthogonalize=False, tol=1e-12, progress=None):
    """m <= ``steps`` Lanczos steps of the Hermitian operator ``op`` (``op.apply``, ``op.comm``)
    from the distributed start vector d (this rank's block of ``op.local_range``); stops early at
    breakdown (beta < tol: the Krylov space is exhausted and the quadrature exact).
    ``progress``: an object with ``update(n)``, told of every step."""
    comm = op.comm
    norm2 = _dot(d_local, d_local, comm).real
    if norm2 == 0.0:
        raise ValueError("the start vector (optical matrix elements) is zero")
    q = np.asarray(d_local, dtype=complex) / np.sqrt(norm2)
    q_prev = np.zeros_like(q)
    basis = [q] if reorthogonalize else None
    alpha, beta = [], []
    b = 0.0
    for _ in range(steps):
        w = op.apply(q) - b * q_prev
        a = _dot(q, w, comm).real
        w = w - a * q
        if reorthogonalize:
            for _ in range(2):          # twice is enough (Kahan-Parlett)
                for v in basis:
                    w = w - _dot(v, w, comm) * v
        alpha.append(a)
        if progress is not None:
            progress.update(1)
        b = np.sqrt(_dot(w, w, comm).real)
        if b < tol or len(alpha) == steps:
            break
        beta.append(b)
        q_prev, q = q, w / b
        if reorthogonalize:
            basis.append(q)
    return Recursion(np.array(alpha), np.array(beta), norm2)


def eigenpair_spectrum(values, amplitudes, energy, sigma, prefactor=None):
    """Reference: sum_lambda |amp_lambda|^2 f(E_lambda) g_sigma(E - E_lambda)."""
    w = np.abs(np.asarray(amplitudes)) ** 2
    if prefactor is not None:
        w = w * prefactor(np.asarray(values))
    e = np.asarray(energy, dtype=float)[:, None]
    return (w * np.exp(-0.5 * ((e - values) / sigma) ** 2)).sum(axis=1) / (np.sqrt(2 * np.pi) * sigma)
