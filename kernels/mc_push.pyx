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
increasing, last exactly 1) or the packed alias tables [nnz, 4] of build_alias.

Speed: an event is latency-bound (the table entry and the new state's data are random
memory accesses), so push copies the per-state data into one 64-byte record per state and
advances LANES particles in lockstep, each event split into stages over successive rounds
with software prefetches (see _push_lanes); results are unchanged by this.
Particles on isotropic |Q| cells (``push_cells``, the valley Monte Carlo of seed 002): the
state is a cell of a valley, the velocity a speed drawn from the cell's Boltzmann shape times
a continuous direction, the final state an entry of the cell's row (alias tables over entries)
with a scattering angle from the entry's quantile table, and a statistical weight that decays
deterministically at the cell's radiative rate; the plain ``push`` is unchanged by it.
NumPy twin (same functions and arguments): hpcx/_kernels/reference/mc_push.py.
"""

from cython.parallel import prange
from libc.math cimport INFINITY, cos, exp, log, log1p, sin, sqrt
from libc.stdint cimport int64_t, uint32_t, uint64_t

import numpy as np

cdef extern from *:
    """
    #include <stdint.h>
    #define hpcx_prefetch(p) __builtin_prefetch((const void *)(p), 0, 3)
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
    void hpcx_prefetch(const void *p) nogil
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


cdef enum:
    LANES = 32          # particles advanced in lockstep: their table look-ups overlap in memory


cdef struct Tables:
    const double* st          # [n_s, 8]: vx, vy, gout, decay, row start, row length, -, - (one cache line)
    const int64_t* indices
    const double* cum
    const double* packed
    int sampler


cdef struct Counts:
    long long events
    long long decays


cdef struct Lanes:
    int64_t s[LANES]
    int64_t k[LANES]            # alias: 4 x entry of the next event; search: row start; -1: empty row
    int stage[LANES]            # 1: event pending, 2: new state chosen, flight to draw, 3: done
    double ti[LANES]
    double tni[LANES]
    double xx[LANES]
    double yy[LANES]
    double u[LANES]             # alias: fraction f; search: u1
    double u2[LANES]
    uint64_t c[LANES]


cdef inline void _prepare(Lanes* L, Py_ssize_t j, const Tables* tb, uint64_t seed, uint64_t pid, double t_end,
                          Counts* out) nogil:
    """Draw the random pair of lane j's next event (if before t_end), decide decay, locate and
    prefetch its table entry; stage 1 (event pending) or 3 (done)."""
    cdef const double* rec
    cdef hpcx_pair pr
    cdef double u1, p, xs
    cdef int64_t a, m, k
    if L.s[j] < 0 or L.tni[j] > t_end:
        L.stage[j] = 3
        return
    rec = tb.st + 8 * L.s[j]
    pr = hpcx_uniform2(seed, pid, L.c[j])
    L.c[j] = L.c[j] + 1
    u1 = pr.u1
    L.u2[j] = pr.u2
    if rec[3] > 0.0:
        p = rec[3] / rec[2]
        if u1 < p:                      # radiative decay at tni
            L.xx[j] = L.xx[j] + rec[0] * (L.tni[j] - L.ti[j])
            L.yy[j] = L.yy[j] + rec[1] * (L.tni[j] - L.ti[j])
            L.ti[j] = L.tni[j]
            L.s[j] = -1
            L.tni[j] = INFINITY
            L.stage[j] = 3
            out.decays += 1
            return
        u1 = (u1 - p) / (1.0 - p)
    a = <int64_t>rec[4]
    m = <int64_t>rec[5]
    L.stage[j] = 1
    if m == 0:
        L.k[j] = -1
    elif tb.sampler == _ALIAS:
        xs = u1 * m
        k = <int64_t>xs
        if k >= m:
            k = m - 1
        L.u[j] = xs - k
        L.k[j] = 4 * (k + a)
        hpcx_prefetch(tb.packed + L.k[j])
    else:
        L.u[j] = u1
        L.k[j] = a


cdef Counts _push_lanes(const Tables* tb, uint64_t seed, int64_t p0, double t_end, Py_ssize_t i0, Py_ssize_t m,
                        int64_t* state, double* x, double* y, double* t, double* tn, uint64_t* ctr) nogil:
    """Particles i0 .. i0+m-1 (m <= LANES) to t_end, in lockstep.

    Each event is split into stages done in successive rounds over the lanes (draw and
    prefetch the table entry; take the event and prefetch the new state's record; draw the
    flight), so the memory latency of one particle is hidden behind the work of the others.
    Every particle's arithmetic is the same sequence as a one-at-a-time loop (and as the
    NumPy reference), only its place in time differs.
    """
    cdef Lanes L
    cdef Py_ssize_t j, active
    cdef int64_t sj, k, a, b
    cdef int sel
    cdef double g
    cdef const double* rec
    cdef Counts out
    out.events = 0
    out.decays = 0
    for j in range(m):
        L.s[j] = state[i0 + j]
        L.ti[j] = t[i0 + j]
        L.tni[j] = tn[i0 + j]
        L.xx[j] = x[i0 + j]
        L.yy[j] = y[i0 + j]
        L.c[j] = ctr[i0 + j]
        _prepare(&L, j, tb, seed, <uint64_t>(p0 + i0 + j), t_end, &out)
    active = m
    while active > 0:
        active = 0
        for j in range(m):
            if L.stage[j] == 1:
                sj = L.s[j]
                rec = tb.st + 8 * sj
                L.xx[j] = L.xx[j] + rec[0] * (L.tni[j] - L.ti[j])
                L.yy[j] = L.yy[j] + rec[1] * (L.tni[j] - L.ti[j])
                L.ti[j] = L.tni[j]
                out.events += 1
                k = L.k[j]
                if k >= 0:
                    if tb.sampler == _ALIAS:
                        sel = L.u[j] < tb.packed[k]          # 1: the entry's own state, 0: its alias
                        sj = <int64_t>tb.packed[k + 2 - sel]
                    else:
                        a = k
                        b = a + <int64_t>rec[5]
                        sj = tb.indices[_search(tb.cum, a, b, L.u[j])]
                L.s[j] = sj
                hpcx_prefetch(tb.st + 8 * sj)
                L.stage[j] = 2
                active += 1
            elif L.stage[j] == 2:
                g = tb.st[8 * L.s[j] + 2]
                if g > 0.0:
                    L.tni[j] = L.ti[j] - log(1.0 - L.u2[j]) / g
                else:
                    L.tni[j] = INFINITY
                _prepare(&L, j, tb, seed, <uint64_t>(p0 + i0 + j), t_end, &out)
                active += L.stage[j] != 3
    for j in range(m):
        if L.s[j] >= 0:
            L.xx[j] = L.xx[j] + tb.st[8 * L.s[j]] * (t_end - L.ti[j])
            L.yy[j] = L.yy[j] + tb.st[8 * L.s[j] + 1] * (t_end - L.ti[j])
            L.ti[j] = t_end
        state[i0 + j] = L.s[j]
        t[i0 + j] = L.ti[j]
        tn[i0 + j] = L.tni[j]
        x[i0 + j] = L.xx[j]
        y[i0 + j] = L.yy[j]
        ctr[i0 + j] = L.c[j]
    return out


def push(uint64_t seed, int64_t p0, double t_end,
         int64_t[::1] state, double[::1] x, double[::1] y, double[::1] t, double[::1] tn,
         uint64_t[::1] ctr,
         const double[::1] vx, const double[::1] vy, const double[::1] gout, const double[::1] decay,
         const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] cumulative,
         const double[:, ::1] packed, int sampler):
    """Advance every live particle to t_end (ps): flights and scattering events up to t_end,
    then the flight to t_end.  Returns (scattering events, decays) of this call.
    packed: alias tables of :func:`build_alias` (any [0, 4] array for the search sampler)."""
    cdef Py_ssize_t ch, n = state.shape[0], ns = vx.shape[0]
    cdef Py_ssize_t nch = (n + LANES - 1) // LANES
    cdef long long events = 0, decays = 0
    cdef Counts cnt
    cdef Tables tb
    if sampler not in (SAMPLER_SEARCH, SAMPLER_ALIAS):
        raise ValueError("sampler must be 0 (search) or 1 (alias)")
    if sampler == SAMPLER_ALIAS and (packed.shape[0] != indices.shape[0] or packed.shape[1] != 4):
        raise ValueError("alias tables must be [nnz, 4]")
    if sampler == SAMPLER_SEARCH and cumulative.shape[0] != indices.shape[0]:
        raise ValueError("cumulative must have nnz entries")
    if (vy.shape[0] != ns or gout.shape[0] != ns or decay.shape[0] != ns or indptr.shape[0] != ns + 1
            or x.shape[0] != n or y.shape[0] != n or t.shape[0] != n or tn.shape[0] != n or ctr.shape[0] != n):
        raise ValueError("push: inconsistent array lengths")
    if n == 0:
        return 0, 0
    # per-state records, 64-byte aligned: a scattering event touches one line per state
    buf = np.zeros(8 * ns + 8)
    off = (-(buf.ctypes.data // 8)) % 8
    st_a = buf[off:off + 8 * ns].reshape(ns, 8)
    st_a[:, 0], st_a[:, 1], st_a[:, 2], st_a[:, 3] = vx, vy, gout, decay
    st_a[:, 4] = indptr[:ns]
    st_a[:, 5] = np.diff(indptr)
    cdef double[:, ::1] st = st_a
    tb.st = &st[0, 0]
    tb.indices = &indices[0] if indices.shape[0] else NULL
    tb.cum = &cumulative[0] if cumulative.shape[0] else NULL
    tb.packed = &packed[0, 0] if packed.shape[0] else NULL
    tb.sampler = sampler
    for ch in prange(nch, nogil=True, schedule="dynamic", chunksize=16):
        cnt = _push_lanes(&tb, seed, p0, t_end, ch * LANES, min(LANES, n - ch * LANES),
                          &state[0], &x[0], &y[0], &t[0], &tn[0], &ctr[0])
        events += cnt.events
        decays += cnt.decays
    return int(events), int(decays)


def build_alias(const int64_t[::1] indptr, const int64_t[::1] indices, const double[::1] cumulative):
    """Walker/Vose alias tables of CSR rows given by cumulative probabilities.

    Returns packed [nnz, 4] = (prob, final state, alias state, 0) per entry, states stored as
    doubles (exact below 2^53) so that one entry is one 32-byte slot of a cache line.  Entry k
    of row [a, b) is taken with u in [0, 1) as j = floor(u (b - a)), f = frac: final state
    packed[a + j, 1] (= indices[a + j]) if f < packed[a + j, 0] else packed[a + j, 2].  Exact
    up to round-off: the probabilities summed over a row equal diff(cumulative) of that row.
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
    packed = np.zeros((nnz, 4))
    packed[:, 0] = prob_a
    packed[:, 1] = indices
    packed[:, 2] = alias_a
    return packed


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


# -- particles on isotropic |Q| cells (valley Monte Carlo) ---------------------------------------

cdef struct CellTables:
    const double* rec         # [n_cells, 8]: gout, decay, e0, spread, vfac, row start, row length, -
    const double* packed      # [nnz, 4] alias tables over the entries: prob, entry, alias entry, -
    const int64_t* indices    # [nnz] final cell of an entry
    const double* angles      # [nnz, n_q] scattering-angle quantiles
    Py_ssize_t n_q
    double kT


cdef long long _push_cell_particle(const CellTables* tb, uint64_t seed, uint64_t pid, double t_end,
                                   int64_t* cell, double* x, double* y, double* t, double* tn, uint64_t* ctr,
                                   double* weight, double* phi, double* speed) nogil:
    """One particle to t_end (a particle born after t_end is left alone); returns its events."""
    cdef long long events = 0
    cdef int64_t c = cell[0], e, k, m
    cdef double ti = t[0], tni = tn[0], xx = x[0], yy = y[0], w = weight[0], ph = phi[0], v = speed[0]
    cdef double dt, xs, f, q, th, g
    cdef uint64_t cc = ctr[0]
    cdef const double* rec
    cdef const double* row
    cdef hpcx_pair p1, p2
    if c < 0 or ti > t_end:
        return 0
    while tni <= t_end:
        rec = tb.rec + 8 * c
        dt = tni - ti
        xx = xx + v * cos(ph) * dt
        yy = yy + v * sin(ph) * dt
        if rec[1] > 0.0:
            w = w * exp(-rec[1] * dt)
        ti = tni
        p1 = hpcx_uniform2(seed, pid, cc)
        p2 = hpcx_uniform2(seed, pid, cc + 1)
        cc = cc + 2
        events += 1
        m = <int64_t>rec[6]
        if m == 0:                                       # no final state (gout = 0): not reached
            break
        xs = p1.u1 * m                                   # alias: slot k, its entry or its alias
        k = <int64_t>xs
        if k >= m:
            k = m - 1
        f = xs - k
        k = 4 * (<int64_t>rec[5] + k)
        if f < tb.packed[k]:
            e = <int64_t>tb.packed[k + 1]
        else:
            e = <int64_t>tb.packed[k + 2]
        c = tb.indices[e]
        if p1.u2 < 0.5:                                  # angle: sign, then the quantile interval
            q = 2.0 * p1.u2 * (tb.n_q - 1)
        else:
            q = (2.0 * p1.u2 - 1.0) * (tb.n_q - 1)
        k = <int64_t>q
        if k >= tb.n_q - 1:
            k = tb.n_q - 2
        row = tb.angles + e * tb.n_q
        th = row[k] + (q - k) * (row[k + 1] - row[k])
        if p1.u2 < 0.5:
            ph = ph + th
        else:
            ph = ph - th
        if ph >= TWO_PI:
            ph = ph - TWO_PI
        elif ph < 0.0:
            ph = ph + TWO_PI
        rec = tb.rec + 8 * c
        v = rec[4] * sqrt(rec[2] - tb.kT * log1p(-p2.u1 * rec[3]))
        g = rec[0]
        if g > 0.0:
            tni = ti - log(1.0 - p2.u2) / g
        else:
            tni = INFINITY
    dt = t_end - ti
    xx = xx + v * cos(ph) * dt
    yy = yy + v * sin(ph) * dt
    if tb.rec[8 * c + 1] > 0.0:
        w = w * exp(-tb.rec[8 * c + 1] * dt)
    cell[0] = c
    t[0] = t_end
    tn[0] = tni
    x[0] = xx
    y[0] = yy
    ctr[0] = cc
    weight[0] = w
    phi[0] = ph
    speed[0] = v
    return events


def push_cells(uint64_t seed, int64_t p0, double t_end,
               int64_t[::1] cell, double[::1] x, double[::1] y, double[::1] t, double[::1] tn, uint64_t[::1] ctr,
               double[::1] weight, double[::1] phi, double[::1] speed,
               const double[::1] gout, const double[::1] decay, const double[::1] e0, const double[::1] spread,
               const double[::1] vfac, double kT, const int64_t[::1] indptr, const int64_t[::1] indices,
               const double[:, ::1] packed, const double[:, ::1] angles):
    """Advance particles on isotropic |Q| cells to t_end (ps); returns the scattering events.

    Particle p (global index p0 + i) in cell ``cell[i]`` moves with speed ``speed[i]`` (nm/ps)
    in direction ``phi[i]`` (rad); its weight decays as exp(-decay[cell] dt) (radiative decay,
    deterministic).  At an event (time ``tn[i]``) two draws of its Philox stream (ctr, ctr + 1)
    give: u1 the entry of the cell's row (alias tables ``packed`` over entries, from
    :func:`build_alias` with entry indices as states), u2 the scattering angle (sign u2 < 1/2,
    then linear interpolation in the entry's quantiles ``angles[e]``), u3 the new kinetic
    energy e0 - kT log(1 - u3 spread) (the cell's Boltzmann shape; spread = 0: fixed), speed
    vfac sqrt(E_kin), u4 the next flight -ln(1 - u4)/gout.  A particle with t > t_end (not born
    yet) is left alone; the others end at t = t_end.
    """
    cdef Py_ssize_t i, n = cell.shape[0], ns = gout.shape[0]
    cdef long long events = 0
    cdef CellTables tb
    if (decay.shape[0] != ns or e0.shape[0] != ns or spread.shape[0] != ns or vfac.shape[0] != ns
            or indptr.shape[0] != ns + 1 or packed.shape[0] != indices.shape[0] or packed.shape[1] != 4
            or angles.shape[0] != indices.shape[0] or angles.shape[1] < 2):
        raise ValueError("push_cells: inconsistent table shapes")
    if (x.shape[0] != n or y.shape[0] != n or t.shape[0] != n or tn.shape[0] != n or ctr.shape[0] != n
            or weight.shape[0] != n or phi.shape[0] != n or speed.shape[0] != n):
        raise ValueError("push_cells: inconsistent particle array lengths")
    if n == 0:
        return 0
    rec_a = np.zeros((ns, 8))
    rec_a[:, 0], rec_a[:, 1], rec_a[:, 2], rec_a[:, 3], rec_a[:, 4] = gout, decay, e0, spread, vfac
    rec_a[:, 5] = indptr[:ns]
    rec_a[:, 6] = np.diff(indptr)
    cdef double[:, ::1] rec = rec_a
    tb.rec = &rec[0, 0]
    tb.packed = &packed[0, 0] if packed.shape[0] else NULL
    tb.indices = &indices[0] if indices.shape[0] else NULL
    tb.angles = &angles[0, 0] if angles.shape[0] else NULL
    tb.n_q = angles.shape[1]
    tb.kT = kT
    for i in prange(n, nogil=True, schedule="dynamic", chunksize=64):
        events += _push_cell_particle(&tb, seed, <uint64_t>(p0 + i), t_end, &cell[i], &x[i], &y[i], &t[i],
                                      &tn[i], &ctr[i], &weight[i], &phi[i], &speed[i])
    return int(events)
