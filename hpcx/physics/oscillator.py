"""The 2D isotropic harmonic oscillator: states, radial functions, quadrature, brackets.

Dimensionless coordinates rho = kappa r (kappa^2 = m omega/hbar).  A state
(n, l) (radial number n = 0, 1, ..., angular momentum l) has N = 2n + |l|
quanta, energy hbar omega (N + 1) and, in seed 003 Eq. 26 convention,

    Phi_nl(r, phi) = eta_nl rho^|l| L_n^|l|(rho^2) exp(-rho^2/2 + i l phi),
    eta_nl^2 = kappa^2 n!/(pi (n + |l|)!)

(the seed prints rho instead of rho^|l|; rho^|l| is what solves Eq. 25).
Circular ladder operators a_(+-)^dag = (a_x^dag +- i a_y^dag)/sqrt2 give Fock
states |n+, n-> with l = n+ - n-, n = min(n+, n-) and

    <r | n+, n-> = (-1)^n Phi_nl(r).

Two particles of equal mass in the same trap separate into centre of mass
(mass 2m, rho_c = (rho_1 + rho_2)/sqrt2) and relative motion (mass m/2,
rho_r = (rho_1 - rho_2)/sqrt2): a 50:50 "beam splitter" acting separately on
the + and - quanta (:func:`beam_splitter`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.special import gammaln, roots_legendre


def states(n_quanta):
    """All (n, l) with 2n + |l| <= n_quanta, ordered by N, then l.

    Returns int arrays (n, l, N), each [n_states].
    """
    rows = [(n, l, big) for big in range(n_quanta + 1) for l in range(-big, big + 1, 2)
            for n in [(big - abs(l)) // 2]]
    n, l, big = (np.array(c, dtype=int) for c in zip(*rows))
    return n, l, big


def to_fock(n, l):
    """(n+, n-) of states (n, l)."""
    n, l = np.asarray(n), np.asarray(l)
    return n + np.maximum(l, 0), n + np.maximum(-l, 0)


def from_fock(n_plus, n_minus):
    """(n, l) of Fock states (n+, n-)."""
    n_plus, n_minus = np.asarray(n_plus), np.asarray(n_minus)
    return np.minimum(n_plus, n_minus), n_plus - n_minus


def _laguerre_functions(n_max, l, x, log_weight):
    """exp(log_weight) sqrt(n!/(n+l)!) L_n^l(x) for n < n_max, [n_max, len(x)].

    Three-term recurrence on the normalised polynomials; the weight is applied
    to the start values, so nothing overflows for large n.
    """
    u = np.empty((n_max, x.size))
    u[0] = np.exp(log_weight - 0.5 * gammaln(l + 1))
    if n_max > 1:
        u[1] = (1 + l - x) * u[0] / np.sqrt(1.0 + l)
    for n in range(2, n_max):
        a = np.sqrt(n / (n + l))
        b = np.sqrt(n * (n - 1) / ((n + l) * (n + l - 1.0)))
        u[n] = ((2 * n + l - 1 - x) * a * u[n - 1] - (n + l - 1) * b * u[n - 2]) / n
    return u


def radial_functions(n_max, l, rho):
    """u_n(rho) = sqrt(2 n!/(n+|l|)!) rho^(|l|+1/2) L_n^|l|(rho^2) e^(-rho^2/2), n < n_max.

    Orthonormal on [0, inf) with measure d rho: the radial part of Phi_nl with
    the 2 pi rho of d^2 r absorbed, so <n l|f(r)|n' l> = int u_n u_n' f d rho.
    Returns [n_max, len(rho)]; rho > 0.
    """
    l = abs(int(l))
    rho = np.asarray(rho, dtype=float)
    return _laguerre_functions(n_max, l, rho * rho, (l + 0.5) * np.log(rho) - 0.5 * rho * rho
                               + 0.5 * np.log(2.0))


def radial_profile(n, l, rho):
    """R_nl(rho) = sqrt(n!/(n+|l|)!) rho^|l| L_n^|l|(rho^2) e^(-rho^2/2), so that
    Phi_nl(r, phi) = kappa/sqrt(pi) R_nl(kappa r) e^(i l phi) (Eq. 26).

    One state (n, l); rho >= 0 of any shape; returns the same shape.
    """
    l = abs(int(l))
    shape = np.shape(rho)
    rho = np.atleast_1d(np.asarray(rho, dtype=float)).ravel()
    with np.errstate(divide="ignore"):
        log_rho = np.where(rho > 0, np.log(np.where(rho > 0, rho, 1.0)), -np.inf)
    power = np.where(rho > 0, l * log_rho, 0.0 if l == 0 else -np.inf)
    return _laguerre_functions(n + 1, l, rho * rho, power - 0.5 * rho * rho)[n].reshape(shape)


def radial_quadrature(n_max, l, rho_short, order=24, width=0.5):
    """Composite Gauss-Legendre nodes and weights on [0, rho_max] for products u_n u_n' f.

    Panels double in length from rho_short/64 up to rho = 1 (resolving a
    feature of f at rho_short, e.g. the dipole length) and are ``width`` wide
    beyond; rho_max = sqrt(4 n_max + 2|l| + 62) + 4 lies far past the
    classical turning point of the highest function.  Returns (rho, w).
    """
    rho_max = np.sqrt(4 * n_max + 2 * abs(l) + 62) + 4.0
    edges = [0.0]
    e = min(rho_short, 1.0) / 64.0
    while e < 1.0:
        edges.append(e)
        e *= 2.0
    edges = np.unique(np.concatenate([edges, np.arange(1.0, rho_max, width), [rho_max]]))
    t, w = roots_legendre(order)
    a, b = edges[:-1, None], edges[1:, None]
    return ((b - a) / 2 * t + (a + b) / 2).ravel(), ((b - a) / 2 * w).ravel()


def radial_matrix(func, n_max, l, rho_short=1.0, order=24):
    """<n l| f |n' l> = int u_n(rho) u_n'(rho) f(rho) d rho, [n_max, n_max].

    ``func(rho)`` is the operator in dimensionless radius (vectorised).
    """
    rho, w = radial_quadrature(n_max, l, rho_short, order)
    u = radial_functions(n_max, l, rho)
    return (u * (w * func(rho))) @ u.T


def rho2_matrix(n_max, l):
    """Closed form of <n l| rho^2 |n' l>: diagonal 2n+|l|+1, <n|rho^2|n+1> = -sqrt((n+1)(n+|l|+1))."""
    n = np.arange(n_max)
    off = -np.sqrt((n[:-1] + 1.0) * (n[:-1] + abs(l) + 1.0))
    return np.diag(2.0 * n + abs(l) + 1.0) + np.diag(off, 1) + np.diag(off, -1)


def beam_splitter(total):
    """B[n1, N_c] = <n1, total-n1 | N_c, total-N_c> for one circular mode, [total+1, total+1].

    Particle quanta (n1, n2) vs centre-of-mass/relative quanta (N_c, N_r) with
    a_1^dag = (a_c^dag + a_r^dag)/sqrt2, a_2^dag = (a_c^dag - a_r^dag)/sqrt2.
    Computed as exp(pi/4 G), G = a_c^dag a_r - a_r^dag a_c, through the
    eigenvectors of a real tridiagonal matrix (stable for large ``total``,
    unlike the alternating binomial sum).  Real orthogonal.
    """
    if total == 0:
        return np.ones((1, 1))
    k = np.arange(total)
    # G |k, total-k> has <k+1|G|k> = sqrt((k+1)(total-k)) = b_k, <k|G|k+1> = -b_k  (k = N_c)
    b = np.sqrt((k + 1.0) * (total - k))
    lam, w = eigh_tridiagonal(np.zeros(total + 1), b)
    # G = D (-i T) D^dag with D = diag(i^k), T = tridiag(b): exp(theta G) = D W e^(-i theta lam) W^T D^dag
    phase = 1j ** np.arange(total + 1)
    u = (phase[:, None] * w) @ (np.exp(-1j * np.pi / 4 * lam)[:, None] * w.T) * np.conj(phase)[None, :]
    # exp(pi/4 G) realises a_1 = (a_c + a_r)/sqrt2, a_2 = (a_r - a_c)/sqrt2; the sign
    # (-1)^n2 turns a_2 into (a_c - a_r)/sqrt2
    return np.real(u) * (-1.0) ** (total - np.arange(total + 1))[:, None]

