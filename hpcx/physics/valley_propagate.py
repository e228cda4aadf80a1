"""Exact propagation of a linear system y' = J y + b f(t), y(t_0) = 0, with piecewise-constant J.

After the source has died out the solution is y(t) = exp(J (t - t_a)) y(t_a), evaluated on a
uniform output grid with the truncated-Taylor action of the matrix exponential
(scipy.sparse.linalg.expm_multiply, accurate to double precision).  While the source acts,
y(t) = int_0^{t - t_0} exp(J tau) b f(t - tau) d tau: u(tau) = exp(J tau) b is computed on a
fine uniform grid and the convolution with f is done by Simpson's rule (error ~ (dt/sigma)^4
for a source of duration sigma).  The fine grid is walked in blocks of at most
:data:`BLOCK_BYTES` (:func:`block_points`), each block's u continuing from the last point of the
one before, so the memory is one block of u and the output whatever the source's duration.

A diagonal change of variables y = s * y' (``scale``) keeps components of very different size
(a Boltzmann population 1e-13 below another) at full relative accuracy: with s_j = sqrt(Z_j) a
detailed-balance rate matrix becomes symmetric.
"""

from __future__ import annotations

import gc

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import expm_multiply

__all__ = ["propagate", "block_points", "BLOCK_BYTES"]

BLOCK_BYTES = 16 * 2 ** 20     # one block of u(tau) on the fine grid, [points, dim] float64
_NORM_ESTIMATE_SEED = 12345   # numpy global seed for SciPy's randomised 1-norm estimates (see _expm_grid)


def block_points(dim, block_bytes=BLOCK_BYTES):
    """Fine-grid points per block of u for a system of ``dim`` unknowns (at least 64)."""
    return max(64, int(block_bytes) // (8 * max(int(dim), 1)))


def _simpson_weights(k, dt, j):
    """Simpson weights of the points ``j`` (indices in 0..k) of k + 1 equally spaced points
    (trapezoid on the last panel if k is odd)."""
    j = np.asarray(j)
    w = np.zeros(len(j))
    if k == 0:
        return w
    m = k - (k % 2)
    if m:
        inner = j <= m
        w[inner] = np.where(j[inner] % 2 == 1, 4.0, 2.0)
        w[(j == 0) | (j == m)] = 1.0
        w *= dt / 3.0
    if k % 2:
        w[(j == k - 1) | (j == k)] += 0.5 * dt
    return w


def _expm_grid(J, y, duration, num):
    """exp(J t) y at t = 0, duration/(num - 1), ..., duration; [num, dim].

    SciPy chooses the Taylor degree and the number of steps from 1-norm estimates of powers of
    J (``onenormest``), whose start vectors come from NumPy's global random state: near a
    threshold a different draw picks other steps and changes the result at the 1e-15 level, so
    the state is seeded for the call (and restored), making every run, rank count and restart
    give the same numbers.  The estimates also leave linear operators in reference cycles (an
    operator and its adjoint), each holding a copy of J; they are freed at once here instead of
    at the next garbage collection, which with few Python objects comes seldom (measured: +40 MB
    per call for a 16-wavenumber profile system, up to 0.4 GB held)."""
    if num == 1 or duration == 0.0:
        return np.repeat(y[None, :], num, axis=0)
    state = np.random.get_state()
    np.random.seed(_NORM_ESTIMATE_SEED)
    try:
        out = np.asarray(expm_multiply(J, y, start=0.0, stop=duration, num=num, endpoint=True))
    finally:
        np.random.set_state(state)
    gc.collect()
    return out


def propagate(segments, b, f, times, source_end, *, scale=None, fine_dt=0.002, block=None):
    """y at ``times`` (uniform, increasing) for y' = J y + b f(t), y(times[0]) = 0.

    segments: [(t_start, J), ...] with sparse J [dim, dim]; a change of J must fall on an
    output time; a source still acting at the first change of J is cut there (its tail is below
    e^{-R (t - t0)}).  b [dim]; f callable of t (ps); source_end: f is negligible after it.
    ``block``: fine-grid points per block of u (default :func:`block_points`).
    Returns Y [dim, len(times)] and the segment index of every time.
    """
    times = np.asarray(times, dtype=float)
    dt_out = times[1] - times[0] if len(times) > 1 else 1.0
    if len(times) > 2 and not np.allclose(np.diff(times), dt_out, rtol=1e-9, atol=1e-12):
        raise ValueError("propagate: output times must be uniform")
    s = np.ones(len(b)) if scale is None else np.asarray(scale, dtype=float)
    mats = [sp.diags(1.0 / s) @ J @ sp.diags(s) for _, J in segments]
    starts = np.array([t for t, _ in segments])
    seg_of = np.clip(np.searchsorted(starts, times, "right") - 1, 0, len(segments) - 1)
    if not all(np.any(np.isclose(times, t, rtol=0.0, atol=1e-9)) for t in starts[1:]):
        raise ValueError("propagate: every change of J must fall on an output time")
    i_src = int(min(np.searchsorted(times, source_end, "left"), len(times) - 1))
    if len(starts) > 1:     # the source tail after the first change of J (< e^-R(t - t0)) is dropped
        i_src = min(i_src, int(np.argmin(np.abs(times - starts[1]))))
    Y = np.zeros((len(b), len(times)))
    sub = max(1, int(np.ceil(dt_out / fine_dt)))
    _convolve_source(Y, mats[seg_of[0]], b / s, f, times, i_src, sub, dt_out / sub,
                     block or block_points(len(b)))
    mid = np.clip(np.searchsorted(starts, 0.5 * (times[:-1] + times[1:]), "right") - 1, 0, len(segments) - 1)
    i = i_src
    while i < len(times) - 1:
        j = i + 1
        while j < len(times) - 1 and mid[j] == mid[i]:
            j += 1
        Y[:, i:j + 1] = _expm_grid(mats[mid[i]], Y[:, i], (j - i) * dt_out, j - i + 1).T
        i = j
    return s[:, None] * Y, seg_of


def _convolve_source(Y, J, b, f, times, i_src, sub, h, block):
    """Y[:, i] = sum_j w_j f(t_i - tau_j) u_j for i <= i_src (Simpson over tau_j = j h, j <= i sub),
    u_j = exp(J tau_j) b, computed in blocks of ``block`` fine points (each from the last point of
    the block before), so that only [block, dim] of u is held at a time."""
    k_end = i_src * sub
    last = None
    for a in range(0, k_end + 1, block):
        e = min(a + block, k_end + 1)
        if last is None:
            u = _expm_grid(J, b, (e - 1 - a) * h, e - a)                    # tau = a h ... (e - 1) h
        else:
            u = _expm_grid(J, last, (e - a) * h, e - a + 1)[1:]             # from tau = (a - 1) h
        last = u[-1].copy()
        for i in range(-(-a // sub), i_src + 1):                            # outputs with i sub >= a
            j = np.arange(a, min(e, i * sub + 1))
            Y[:, i] += (_simpson_weights(i * sub, h, j) * f(times[i] - j * h)) @ u[:len(j)]
        del u                               # before the next block is computed: one block alive at a time
