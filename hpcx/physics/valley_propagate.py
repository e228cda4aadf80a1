"""Exact propagation of a linear system y' = J y + b f(t), y(t_0) = 0, with piecewise-constant J.

After the source has died out the solution is y(t) = exp(J (t - t_a)) y(t_a), evaluated on a
uniform output grid with the truncated-Taylor action of the matrix exponential
(scipy.sparse.linalg.expm_multiply, accurate to double precision).  While the source acts,
y(t) = int_0^{t - t_0} exp(J tau) b f(t - tau) d tau: u(tau) = exp(J tau) b is computed on a
fine uniform grid and the convolution with f is done by Simpson's rule (error ~ (dt/sigma)^4
for a source of duration sigma).  A diagonal change of variables y = s * y' (``scale``) keeps
components of very different size (a Boltzmann population 1e-13 below another) at full
relative accuracy: with s_j = sqrt(Z_j) a detailed-balance rate matrix becomes symmetric.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import expm_multiply

__all__ = ["propagate"]


def _simpson_weights(k, dt):
    """Simpson weights for k + 1 equally spaced points (trapezoid on the last panel if k is odd)."""
    w = np.zeros(k + 1)
    if k == 0:
        return w
    m = k - (k % 2)
    if m:
        w[:m + 1:2] += 2.0
        w[1:m:2] += 4.0
        w[0] -= 1.0
        w[m] -= 1.0
        w[:m + 1] *= dt / 3.0
    if k % 2:
        w[k - 1:k + 1] += 0.5 * dt
    return w


def _expm_grid(J, y, duration, num):
    """exp(J t) y at t = 0, duration/(num - 1), ..., duration; [num, dim]."""
    if num == 1 or duration == 0.0:
        return np.repeat(y[None, :], num, axis=0)
    return np.asarray(expm_multiply(J, y, start=0.0, stop=duration, num=num, endpoint=True))


def propagate(segments, b, f, times, source_end, *, scale=None, fine_dt=0.002):
    """y at ``times`` (uniform, increasing) for y' = J y + b f(t), y(times[0]) = 0.

    segments: [(t_start, J), ...] with sparse J [dim, dim]; a change of J must fall on an
    output time; a source still acting at the first change of J is cut there (its tail is below
    e^{-R (t - t0)}).  b [dim]; f callable of t (ps); source_end: f is negligible after it.
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
    k_end = i_src * sub
    u = _expm_grid(mats[seg_of[0]], b / s, k_end * dt_out / sub, k_end + 1)          # [k, dim]
    for i in range(i_src + 1):
        k = i * sub
        w = _simpson_weights(k, dt_out / sub)
        tau = np.arange(k + 1) * dt_out / sub
        Y[:, i] = (w * f(times[i] - tau)) @ u[:k + 1]
    mid = np.clip(np.searchsorted(starts, 0.5 * (times[:-1] + times[1:]), "right") - 1, 0, len(segments) - 1)
    i = i_src
    while i < len(times) - 1:
        j = i + 1
        while j < len(times) - 1 and mid[j] == mid[i]:
            j += 1
        Y[:, i:j + 1] = _expm_grid(mats[mid[i]], Y[:, i], (j - i) * dt_out, j - i + 1).T
        i = j
    return s[:, None] * Y, seg_of
