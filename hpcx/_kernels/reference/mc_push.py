"""NumPy twin of kernels/mc_push.pyx: the Monte Carlo push, alias tables and ensemble sampling.

Same functions and arguments as ``hpcx._kernels.mc_push`` (``philox4x32``, ``uniforms``,
``initialise``, ``push``, ``build_alias``, ``sample``, ``push_cells``) and the same random numbers:
Philox4x32-10 of the counter (draw_lo, draw_hi, particle_lo, particle_hi) under the key
(seed_lo, seed_hi), two 53-bit uniforms per draw.  Draw 0 places a particle, draw 1 picks
its initial state and first flight, draw c >= 2 is its (c-1)-th event, so a trajectory
depends only on (seed, particle index) and the tables.  Vectorised over particles: each
pass of :func:`push` treats every particle whose next event lies before ``t_end``.  The
definition the kernel is tested against (tests/unit/test_transport_kernel.py: discrete
states, counters and event counts identical, positions to round-off) and the NumPy side
of ``hpcx bench transport``.

Particle arrays (length n): state int64 (-1 = decayed), x, y (nm) at time t (ps), tn the
time of the next event (ps), ctr uint64 the next draw number.  Tables over the n_s
states: vx, vy (nm/ps), gout = out-scattering + decay rate (1/ps), decay (1/ps), CSR rows
indptr [n_s + 1], indices [nnz], cumulative [nnz] (per row increasing, last exactly 1),
or the packed alias tables [nnz, 4] of :func:`build_alias`.
"""

from __future__ import annotations

import numpy as np

SAMPLER_SEARCH = 0
SAMPLER_ALIAS = 1

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK = np.uint64(0xFFFFFFFF)
_S32, _S11 = np.uint64(32), np.uint64(11)


def _philox(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on uint64 arrays holding 32-bit words; k0, k1 Python ints."""
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _S32) ^ c1 ^ np.uint64(k0), p1 & _MASK,
                          (p0 >> _S32) ^ c3 ^ np.uint64(k1), p0 & _MASK)
    return c0, c1, c2, c3


def philox4x32(c0, c1, c2, c3, k0, k1):
    """One block, as the kernel's: tuple of 4 ints."""
    out = _philox(*(np.uint64(v) for v in (c0, c1, c2, c3)), int(k0), int(k1))
    return tuple(int(v) for v in out)


def uniforms(seed, pid, ctr):
    """(u1, u2): draw ctr[i] of particle pid[i], 53-bit uniforms in [0, 1)."""
    pid = np.asarray(pid).astype(np.uint64)
    ctr = np.asarray(ctr, dtype=np.uint64)
    seed = int(seed)
    c0, c1, c2, c3 = _philox(ctr & _MASK, ctr >> _S32, pid & _MASK, pid >> _S32,
                             seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF)
    scale = 2.0 ** -53
    u1 = (((c0 << _S32) | c1) >> _S11).astype(np.float64) * scale
    u2 = (((c2 << _S32) | c3) >> _S11).astype(np.float64) * scale
    return u1, u2


def _flight(t, u2, g):
    with np.errstate(divide="ignore"):
        return np.where(g > 0.0, t - np.log(1.0 - u2) / np.where(g > 0.0, g, 1.0), np.inf)


def _search(cum, lo, hi, u):
    """Smallest k in [lo, hi) with cum[k] > u, vectorised bisection (as the kernel's)."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        go = lo < hi - 1
        if not go.any():
            return lo
        mid = lo + (hi - lo - 1) // 2
        right = cum[np.where(go, mid, 0)] > u
        hi = np.where(go & right, mid + 1, hi)
        lo = np.where(go & ~right, mid + 1, lo)


def initialise(seed, p0, sigma, cdf, gout, state, x, y, t, tn, ctr):
    """As mc_push.initialise: Gaussian spot, state from cdf, first flight; fills the arrays."""
    n = len(state)
    pid = p0 + np.arange(n, dtype=np.int64)
    u1, u2 = uniforms(seed, pid, np.zeros(n, dtype=np.uint64))
    r = sigma * np.sqrt(-2.0 * np.log(1.0 - u1))
    x[:] = r * np.cos(6.283185307179586 * u2)
    y[:] = r * np.sin(6.283185307179586 * u2)
    u1, u2 = uniforms(seed, pid, np.ones(n, dtype=np.uint64))
    s = _search(np.asarray(cdf), np.zeros(n, dtype=np.int64), np.full(n, len(cdf), dtype=np.int64), u1)
    state[:] = s
    t[:] = 0.0
    tn[:] = _flight(np.zeros(n), u2, np.asarray(gout)[s])
    ctr[:] = 2


def push(seed, p0, t_end, state, x, y, t, tn, ctr, vx, vy, gout, decay, indptr, indices, cumulative,
         packed, sampler):
    """As mc_push.push; returns (scattering events, decays)."""
    events = decays = 0
    active = (state >= 0) & (tn <= t_end)
    while active.any():
        i = np.nonzero(active)[0]
        s = state[i]
        dt = tn[i] - t[i]
        x[i] = x[i] + vx[s] * dt
        y[i] = y[i] + vy[s] * dt
        t[i] = tn[i]
        u1, u2 = uniforms(seed, p0 + i, ctr[i])
        ctr[i] += np.uint64(1)
        d = decay[s]
        p = np.where(d > 0.0, d / np.where(gout[s] > 0, gout[s], 1.0), 0.0)
        dead = (d > 0.0) & (u1 < p)
        u1 = np.where(d > 0.0, (u1 - p) / (1.0 - p), u1)
        decays += int(dead.sum())
        a, b = indptr[s], indptr[s + 1]
        has = (b > a) & ~dead
        new = s.copy()
        if sampler == SAMPLER_ALIAS:
            m = b - a
            xs = u1 * m
            j = np.minimum(xs.astype(np.int64), np.maximum(m - 1, 0))
            f = xs - j
            k = np.where(has, a + j, 0)
            pick = np.where(f < packed[k, 0], packed[k, 1], packed[k, 2]).astype(np.int64)
            new = np.where(has, pick, new)
        else:
            k = _search(cumulative, np.where(has, a, 0), np.where(has, b, 1), u1)
            new = np.where(has, indices[np.where(has, k, 0)], new)
        events += int((~dead).sum())
        new = np.where(dead, -1, new)
        state[i] = new
        tn[i] = np.where(dead, np.inf, _flight(t[i], u2, gout[np.maximum(new, 0)]))
        active[i] = (new >= 0) & (tn[i] <= t_end)
    live = state >= 0
    s = state[live]
    x[live] = x[live] + vx[s] * (t_end - t[live])
    y[live] = y[live] + vy[s] * (t_end - t[live])
    t[live] = t_end
    return events, decays


def sample(state, x, y, x0, y0, batch, group, energy, lo, width, mom, occ, prof):
    """As mc_push.sample: adds to mom [n_batch, n_group, 10], occ [n_s], prof [n_group, n_bin]
    with np.bincount, which also adds in particle order (so the sums are identical)."""
    live = state >= 0
    s = state[live]
    g = group[s]
    xs, ys = x[live], y[live]
    dx, dy = xs - x0[live], ys - y0[live]
    nb_, ng = mom.shape[0], mom.shape[1]
    idx = batch[live] * ng + g
    for c, w in enumerate((np.ones_like(xs), xs, ys, xs * xs, ys * ys, dx, dy, dx * dx, dy * dy, energy[s])):
        mom[:, :, c] += np.bincount(idx, weights=w, minlength=nb_ * ng).reshape(nb_, ng)
    occ += np.bincount(s, minlength=len(occ))
    q = (xs - lo) / width
    n_bin = prof.shape[1]
    ok = (q >= 0.0) & (q < n_bin)
    j = q[ok].astype(np.int64)
    ok2 = j < n_bin
    prof += np.bincount(g[ok][ok2] * n_bin + j[ok2], minlength=prof.size).reshape(prof.shape)


def build_alias(indptr, indices, cumulative):
    """Walker/Vose alias tables of CSR rows (as mc_push.build_alias, the same operations in the same
    order, so the tables are identical): packed [nnz, 4] = (prob, final state, alias state, 0)."""
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    cumulative = np.asarray(cumulative, dtype=float)
    nnz = len(indices)
    prob = np.ones(nnz)
    alias = indices.copy()
    for r in range(len(indptr) - 1):
        a, b = int(indptr[r]), int(indptr[r + 1])
        m = b - a
        if m == 0:
            continue
        q = {}
        small, large = [], []
        prev = 0.0
        for j in range(a, b):
            q[j] = (float(cumulative[j]) - prev) * m
            prev = float(cumulative[j])
            (small if q[j] < 1.0 else large).append(j)
        while small and large:
            sm, lg = small.pop(), large[-1]
            prob[sm] = q[sm]
            alias[sm] = indices[lg]
            q[lg] = (q[lg] + q[sm]) - 1.0
            if q[lg] < 1.0:
                large.pop()
                small.append(lg)
        for j in large + small:          # leftovers are 1 up to round-off
            prob[j] = 1.0
    packed = np.zeros((nnz, 4))
    packed[:, 0] = prob
    packed[:, 1] = indices
    packed[:, 2] = alias
    return packed


def push_cells(seed, p0, t_end, cell, x, y, t, tn, ctr, weight, phi, speed, gout, decay, e0, spread, vfac, kT,
               indptr, indices, packed, angles):
    """As mc_push.push_cells (particles on isotropic |Q| cells, weights, continuous directions);
    returns the scattering events."""
    two_pi = 6.283185307179586
    n_q = angles.shape[1]
    events = 0
    born = (cell >= 0) & (t <= t_end)
    active = born & (tn <= t_end)
    while active.any():
        i = np.nonzero(active)[0]
        c = cell[i]
        dt = tn[i] - t[i]
        x[i] = x[i] + speed[i] * np.cos(phi[i]) * dt
        y[i] = y[i] + speed[i] * np.sin(phi[i]) * dt
        d = decay[c]
        weight[i] = np.where(d > 0.0, weight[i] * np.exp(-d * dt), weight[i])
        t[i] = tn[i]
        u1, u2 = uniforms(seed, p0 + i, ctr[i])
        u3, u4 = uniforms(seed, p0 + i, ctr[i] + np.uint64(1))
        ctr[i] += np.uint64(2)
        events += len(i)
        a, m = indptr[c], indptr[c + 1] - indptr[c]
        xs = u1 * m
        k = np.minimum(xs.astype(np.int64), m - 1)
        f = xs - k
        slot = a + k
        e = np.where(f < packed[slot, 0], packed[slot, 1], packed[slot, 2]).astype(np.int64)
        new = indices[e]
        plus = u2 < 0.5
        q = np.where(plus, 2.0 * u2, 2.0 * u2 - 1.0) * (n_q - 1)
        j = np.minimum(q.astype(np.int64), n_q - 2)
        th = angles[e, j] + (q - j) * (angles[e, j + 1] - angles[e, j])
        ph = np.where(plus, phi[i] + th, phi[i] - th)
        ph = np.where(ph >= two_pi, ph - two_pi, np.where(ph < 0.0, ph + two_pi, ph))
        phi[i] = ph
        speed[i] = vfac[new] * np.sqrt(e0[new] - kT * np.log1p(-u3 * spread[new]))
        cell[i] = new
        tn[i] = _flight(t[i], u4, gout[new])
        active[i] = tn[i] <= t_end
    i = np.nonzero(born)[0]
    c = cell[i]
    dt = t_end - t[i]
    x[i] = x[i] + speed[i] * np.cos(phi[i]) * dt
    y[i] = y[i] + speed[i] * np.sin(phi[i]) * dt
    d = decay[c]
    weight[i] = np.where(d > 0.0, weight[i] * np.exp(-d * dt), weight[i])
    t[i] = t_end
    return events
