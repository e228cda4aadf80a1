# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Ensemble Monte Carlo push of the exciton Boltzmann equation (seed 000 SI, "Monte Carlo
implementation"): free flights with the group velocity, exponential flight times
-ln(1 - u)/Gamma, final states drawn from per-state sampling tables.

Particles of one rank are the contiguous global block [p0, p0 + n).  Each particle owns a
counter-based random stream: draw number c of particle p is Philox4x32-10 (Salmon et al.,
SC'11; Random123) of the counter (c_lo, c_hi, p_lo, p_hi) under the key (seed_lo, seed_hi),
two uniforms in [0, 1) of 53 bits each.  Draw 0 places the particle (Box-Muller), draw 1
picks its initial state and first flight, draw c >= 2 is its (c-1)-th scattering event, so a
trajectory depends only on (seed, p) and the tables: any rank layout gives the same result.

Particle arrays (length n, C-contiguous): state int64 (-1 = decayed), x, y (nm) at time t
(ps), tn the time of the next event (ps), ctr uint64 the next draw number.  Tables over
states (n_s): vx, vy (nm/ps), gout = out-scattering + decay rate (1/ps), decay (1/ps),
CSR rows indptr [n_s + 1], indices [nnz] (final states), cumulative [nnz] (per row
increasing, last exactly 1) or the alias pair prob [nnz], alias [nnz] (Walker/Vose).
Pure-NumPy reference: benchmarks/numpy_push.py.
"""

from cython.parallel import prange
from libc.math cimport INFINITY, cos, log, sin, sqrt
from libc.stdint cimport int64_t, uint32_t, uint64_t

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    static inline void hpcx_philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) {
        int r;
        for (r = 0; r < 10; r++) {
            if (r) { k0 += 0x9E3779B9u; k1 += 0xBB67AE85u; }
            uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
            uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
            c[1] = (uint32_t)p1;
            c[3] = (uint32_t)p0;
            c[0] = n0;
            c[2] = n2;
        }
    }
    /* two uniforms in [0, 1) (53 bits) of draw `ctr` of particle `pid` */
    typedef struct { double u1, u2; } hpcx_pair;
    static inline hpcx_pair hpcx_uniform2(uint64_t seed, uint64_t pid, uint64_t ctr) {
        hpcx_pair out;
        uint32_t c[4];
        c[0] = (uint32_t)ctr; c[1] = (uint32_t)(ctr >> 32);
        c[2] = (uint32_t)pid; c[3] = (uint32_t)(pid >> 32);
        hpcx_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        out.u1 = (double)(((((uint64_t)c[0]) << 32) | c[1]) >> 11) * 0x1.0p-53;
        out.u2 = (double)(((((uint64_t)c[2]) << 32) | c[3]) >> 11) * 0x1.0p-53;
        return out;
    }
    """
    void hpcx_philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) nogil
    ctypedef struct hpcx_pair:
        double u1
        double u2
    hpcx_pair hpcx_uniform2(uint64_t seed, uint64_t pid, uint64_t ctr) nogil

cdef enum:
    _SEARCH = 0
    _ALIAS = 1

SAMPLER_SEARCH = _SEARCH
SAMPLER_ALIAS = _ALIAS
cdef double TWO_PI = 6.283185307179586


def philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1):
    """One Philox4x32-10 block (for the known-answer test): tuple of 4 uint32."""
    cdef uint32_t c[4]
    c[0], c[1], c[2], c[3] = c0, c1, c2, c3
    hpcx_philox4x32_10(c, k0, k1)
    return (c[0], c[1], c[2], c[3])


def uniforms(uint64_t seed, const int64_t[::1] pid, const uint64_t[::1] ctr):
    """(u1, u2) arrays of draw ctr[i] of particle pid[i]."""
    cdef Py_ssize_t i, n = pid.shape[0]
    u1 = np.empty(n)
    u2 = np.empty(n)
    cdef double[::1] a = u1, b = u2
    cdef hpcx_pair pr
    for i in range(n):
        pr = hpcx_uniform2(seed, <uint64_t>pid[i], ctr[i])
        a[i] = pr.u1
        b[i] = pr.u2
    return u1, u2


cdef inline Py_ssize_t _search(const double* cum, Py_ssize_t lo, Py_ssize_t hi, double u) nogil:
    """Smallest k in [lo, hi) with cum[k] > u (cum[hi - 1] = 1 > u)."""
    cdef Py_ssize_t mid
    while lo < hi - 1:
        mid = lo + (hi - lo - 1) // 2
        if cum[mid] > u:
            hi = mid + 1
        else:
            lo = mid + 1
    return lo


def initialise(uint64_t seed, int64_t p0, double sigma, const double[::1] cdf, const double[::1] gout,
               int64_t[::1] state, double[::1] x, double[::1] y, double[::1] t, double[::1] tn,
               uint64_t[::1] ctr):
    """Place particles p0 .. p0+n-1: Gaussian spot of standard deviation sigma (nm) per axis,
    state drawn from cdf [n_s] (increasing, last exactly 1), t = 0, first flight drawn."""
    cdef Py_ssize_t i, n = state.shape[0], ns = cdf.shape[0]
    cdef double u2, r, g
    cdef int64_t s
    cdef hpcx_pair pr
    for i in prange(n, nogil=True, schedule="static"):
        pr = hpcx_uniform2(seed, <uint64_t>(p0 + i), 0)
        r = sigma * sqrt(-2.0 * log(1.0 - pr.u1))
        x[i] = r * cos(TWO_PI * pr.u2)
        y[i] = r * sin(TWO_PI * pr.u2)
        pr = hpcx_uniform2(seed, <uint64_t>(p0 + i), 1)
        u2 = pr.u2
        s = _search(&cdf[0], 0, ns, pr.u1)
        state[i] = s
        t[i] = 0.0
        g = gout[s]
        if g > 0.0:
            tn[i] = -log(1.0 - u2) / g
        else:
            tn[i] = INFINITY
        ctr[i] = 2


def push(uint64_t seed, int64_t p0, double t_end,
         int64_t[::1] state, double[::1] x, double[::1] y, double[::1] t, double[::1] tn,
         uint64_t[::1] ctr,
         const double[::1] vx, const double[::1] vy, const double[::1] gout, const double[::1] decay,
         const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] cumulative,
         const double[::1] prob, const int64_t[::1] alias, int sampler):
    """Advance every live particle to t_end (ps): flights and scattering events up to t_end,
    then the flight to t_end.  Returns (scattering events, decays) of this call."""
    cdef Py_ssize_t i, n = state.shape[0]
    cdef int64_t s, a, b, k
    cdef long long events = 0, decays = 0
    cdef double u1, u2, p, xs, f, g, tt, ti, tni
    cdef uint64_t c
    cdef hpcx_pair pr
    cdef const double* pcum = NULL
    if sampler not in (SAMPLER_SEARCH, SAMPLER_ALIAS):
        raise ValueError("sampler must be 0 (search) or 1 (alias)")
    if sampler == SAMPLER_ALIAS and (prob.shape[0] != indices.shape[0] or alias.shape[0] != indices.shape[0]):
        raise ValueError("alias tables must have nnz entries")
    if sampler == SAMPLER_SEARCH and cumulative.shape[0] != indices.shape[0]:
        raise ValueError("cumulative must have nnz entries")
    if sampler == SAMPLER_SEARCH and cumulative.shape[0] > 0:
        pcum = &cumulative[0]
    for i in prange(n, nogil=True, schedule="dynamic", chunksize=256):
        s = state[i]
        ti = t[i]
        tni = tn[i]
        c = ctr[i]
        while s >= 0 and tni <= t_end:
            x[i] = x[i] + vx[s] * (tni - ti)
            y[i] = y[i] + vy[s] * (tni - ti)
            ti = tni
            pr = hpcx_uniform2(seed, <uint64_t>(p0 + i), c)
            u1 = pr.u1
            u2 = pr.u2
            c = c + 1
            if decay[s] > 0.0:
                p = decay[s] / gout[s]
                if u1 < p:
                    s = -1
                    decays += 1
                    tni = INFINITY
                else:
                    u1 = (u1 - p) / (1.0 - p)
            if s < 0:
                break
            events += 1
            a = indptr[s]
            b = indptr[s + 1]
            if b > a:
                if sampler == _ALIAS:
                    xs = u1 * (b - a)
                    k = <int64_t>xs
                    if k >= b - a:
                        k = b - a - 1
                    f = xs - k
                    k = k + a
                    if f < prob[k]:
                        s = indices[k]
                    else:
                        s = alias[k]
                else:
                    s = indices[_search(pcum, a, b, u1)]
            g = gout[s]
            if g > 0.0:
                tni = ti - log(1.0 - u2) / g
            else:
                tni = INFINITY
        if s >= 0:
            x[i] = x[i] + vx[s] * (t_end - ti)
            y[i] = y[i] + vy[s] * (t_end - ti)
            ti = t_end
        state[i] = s
        t[i] = ti
        tn[i] = tni
        ctr[i] = c
    return int(events), int(decays)


def build_alias(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] cumulative):
    """Walker/Vose alias tables of CSR rows given by cumulative probabilities.

    Returns (prob [nnz], alias [nnz]): entry k of row [a, b) is taken with u in [0, 1) as
    j = floor(u (b - a)), f = frac: final state indices[a + j] if f < prob[a + j] else
    alias[a + j] (a state index).  Exact up to round-off: P(f) summed over a row equals
    diff(cumulative) of that row.
    """
    cdef Py_ssize_t ns = indptr.shape[0] - 1, nnz = indices.shape[0]
    cdef Py_ssize_t r, a, b, m, j, ns_, nl, sm, lg
    cdef double prev
    prob_a = np.ones(nnz)
    alias_a = np.empty(nnz, dtype=np.int64)
    cdef double[::1] prob = prob_a
    cdef int64_t[::1] alias = alias_a
    cdef double[::1] q = np.empty(max(nnz, 1))
    cdef int64_t[::1] small = np.empty(max(nnz, 1), dtype=np.int64)
    cdef int64_t[::1] large = np.empty(max(nnz, 1), dtype=np.int64)
    with nogil:
        for j in range(nnz):
            alias[j] = indices[j]
        for r in range(ns):
            a = indptr[r]
            b = indptr[r + 1]
            m = b - a
            if m == 0:
                continue
            prev = 0.0
            ns_ = 0
            nl = 0
            for j in range(a, b):
                q[j] = (cumulative[j] - prev) * m
                prev = cumulative[j]
                if q[j] < 1.0:
                    small[a + ns_] = j
                    ns_ += 1
                else:
                    large[a + nl] = j
                    nl += 1
            while ns_ > 0 and nl > 0:
                ns_ -= 1
                sm = small[a + ns_]
                lg = large[a + nl - 1]
                prob[sm] = q[sm]
                alias[sm] = indices[lg]
                q[lg] = (q[lg] + q[sm]) - 1.0
                if q[lg] < 1.0:
                    nl -= 1
                    small[a + ns_] = lg
                    ns_ += 1
            # leftovers are 1 up to round-off
            while nl > 0:
                nl -= 1
                prob[large[a + nl]] = 1.0
            while ns_ > 0:
                ns_ -= 1
                prob[small[a + ns_]] = 1.0
    return prob_a, alias_a


def sample(const int64_t[::1] state, const double[::1] x, const double[::1] y, const double[::1] x0,
           const double[::1] y0, const int64_t[::1] batch, const int64_t[::1] group, const double[::1] energy,
           double lo, double width, double[:, :, ::1] mom, int64_t[::1] occ, int64_t[:, ::1] prof):
    """Add the live particles to mom [n_batch, n_group, 10] (count, x, y, x^2, y^2, dx, dy, dx^2, dy^2, E;
    dx = x - x0), occ [n_s] and prof [n_group, n_bin] (bin floor((x - lo) / width)), in particle
    order (a batch's sums do not depend on which rank holds it).  batch: local batch index."""
    cdef Py_ssize_t i, n = state.shape[0], nb = prof.shape[1]
    cdef int64_t s, g, b, j
    cdef double xi, yi, dx, dy, q
    with nogil:
        for i in range(n):
            s = state[i]
            if s < 0:
                continue
            g = group[s]
            b = batch[i]
            xi = x[i]
            yi = y[i]
            dx = xi - x0[i]
            dy = yi - y0[i]
            mom[b, g, 0] += 1.0
            mom[b, g, 1] += xi
            mom[b, g, 2] += yi
            mom[b, g, 3] += xi * xi
            mom[b, g, 4] += yi * yi
            mom[b, g, 5] += dx
            mom[b, g, 6] += dy
            mom[b, g, 7] += dx * dx
            mom[b, g, 8] += dy * dy
            mom[b, g, 9] += energy[s]
            occ[s] += 1
            q = (xi - lo) / width
            if q >= 0.0 and q < nb:
                j = <int64_t>q
                if j < nb:
                    prof[g, j] += 1
