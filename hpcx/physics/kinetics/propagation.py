"""Exact propagation of the linear rate equations dn/dt = G n + g f(t) (exponential integrator).

G (N, N, 1/ps) is constant and the source has a fixed direction g (N,, nm^-2 ps^-1 per
unit f) with a scalar profile f(t) (here |P(t)|^2 of the pumped polarization).  On a
uniform output grid t_k = k dt the solution is propagated with matrix exponentials of
augmented matrices (Al-Mohy and Higham's device for phi-functions), which is exact for
the homogeneous part at any stiffness:

* while the pump is on (t < ``t_switch``) each output interval is split into ``m``
  substeps of length h and f is replaced by the cubic through its values at
  h (0, 1/3, 2/3, 1).  With z_0 = f, z_j' = z_{j+1} (j < 3), z_3' = 0 the augmented
  system d/ds [n; z] = [[G h, g h, 0], [0, 0, K]] [n; z] (K the 3 x 3 shift) is
  autonomous, so one exp of an (N + 4)-matrix propagates every substep;
* after the pump f decays exactly as f(t_switch) exp(-r (t - t_switch)) (the
  polarization is free, r = 2 kappa), and [[G dt, g dt], [0, -r dt]] propagates
  [n; f] over one output interval exactly.

The error is that of the cubic on the pump substeps only (h <= ``h_max``); columns
of G that sum to zero keep 1^T n exactly (to rounding) without source.

The matrix exponentials use ``scipy.sparse.linalg.expm`` (Al-Mohy and Higham's scaling
and squaring, also for dense arrays): ``scipy.linalg.expm`` of scipy < 1.13 reads an
uninitialised work array for matrices of order >= 400 whose norm selects the degree-9
Pade approximant (a scipy defect, fixed in 1.13), which gives wrong propagators that change
from call to call for the generators of this integrator.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.sparse.linalg import expm

__all__ = ["uniform_step", "evolve", "species_rates"]

_NODES = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0])
# f(s) = sum_j b_j s^j / j!  at the nodes: V b = f(nodes)
_TAYLOR = np.linalg.inv(np.array([[s ** j / math.factorial(j) for j in range(4)] for s in _NODES]))


def uniform_step(t) -> float:
    """Spacing (ps) of the uniform grid t starting at 0; ValueError if it is not one."""
    t = np.asarray(t, dtype=float)
    dt = float(t[1] - t[0])
    if t[0] != 0.0 or dt <= 0.0 or np.max(np.abs(np.diff(t) - dt)) > 1e-9 * dt:
        raise ValueError("the exponential integrator needs a uniform time grid starting at 0")
    return dt


def _polynomial_propagator(G, g, h):
    """exp of [[G h, g h, 0], [0, 0, K]] (N + 4): propagates n over h with a cubic source."""
    N = G.shape[0]
    A = np.zeros((N + 4, N + 4))
    A[:N, :N] = G * h
    A[:N, N] = g * h
    A[N, N + 1] = A[N + 1, N + 2] = A[N + 2, N + 3] = 1.0
    E = expm(A)
    return E[:N, :N], E[:N, N:]


def _decay_propagator(G, g, rate, dt):
    """exp of [[G dt, g dt], [0, -rate dt]] (N + 1): propagates [n; f] with f decaying at ``rate``."""
    N = G.shape[0]
    A = np.zeros((N + 1, N + 1))
    A[:N, :N] = G * dt
    A[:N, N] = g * dt
    A[N, N] = -rate * dt
    return expm(A)


def evolve(G, n0, t, g=None, profile: Callable | None = None, t_switch: float = 0.0,
           tail_rate: float = 0.0, h_max: float = np.inf) -> np.ndarray:
    """n(t_k) (N, nt) of dn/dt = G n + g f(t), n(0) = n0, on the uniform grid t (ps).

    profile: f(t) (vectorised) used on [0, t_switch); afterwards f decays at ``tail_rate``
    (1/ps) from profile(t_switch).  h_max (ps): largest pump substep.  Without g the
    system is free (n(t_k) = exp(G t_k) n0).
    """
    G = np.asarray(G, dtype=float)
    N = G.shape[0]
    dt = uniform_step(t)
    out = np.empty((N, len(t)))
    y = np.array(n0, dtype=float)
    out[:, 0] = y
    if g is None:
        E = expm(G * dt)
        for k in range(1, len(t)):
            out[:, k] = y = E @ y
        return out
    g = np.asarray(g, dtype=float)
    k_switch = min(int(np.searchsorted(t, t_switch * (1.0 - 1e-12))), len(t) - 1)
    m = max(1, math.ceil(dt / h_max))
    h = dt / m
    # the pump's last interval: substeps up to the first one that ends at or after t_switch, then
    # the exact tail over the rest of it when that rest would take more than N substeps (one more
    # exponential of order N + 1, ~10 N^3 flops, is cheaper than > N substeps of N^2 each: long
    # output spacings, e.g. t_end in microseconds)
    last = m                                   # substeps of the last pump interval
    if k_switch > 0:
        cut = max(1, math.ceil((t_switch - t[k_switch - 1]) / h - 1e-9))
        if m - cut > N:
            last = cut
        Eyy, Eyz = _polynomial_propagator(G, g, h)
        for k in range(1, k_switch + 1):
            for j in range(m if k < k_switch else last):
                start = t[k - 1] + j * h
                y = Eyy @ y + Eyz @ (_TAYLOR @ profile(start + h * _NODES))
            out[:, k] = y
    if last < m:                               # the rest of the last pump interval, exactly
        rest = (m - last) * h
        y = (_decay_propagator(G, g, tail_rate, rest) @ np.append(y, float(profile(t[k_switch] - rest))))[:N]
        out[:, k_switch] = y
    E = _decay_propagator(G, g, tail_rate, dt)
    w = np.append(y, float(profile(t[k_switch])))
    for k in range(k_switch + 1, len(t)):
        w = E @ w
        out[:, k] = w[:N]
    return out


def species_rates(G, n, n_species: int, g=None, f=None) -> np.ndarray:
    """d/dt of the species densities (n_species, nt): blocks of N / n_species states summed.

    n (N, nt) from :func:`evolve`; g, f(t_k) (nt,) the source, if any.
    """
    N = G.shape[0]
    S = np.kron(np.eye(n_species), np.ones(N // n_species))
    rate = (S @ G) @ n
    if g is not None:
        rate += np.outer(S @ g, f)
    return rate
