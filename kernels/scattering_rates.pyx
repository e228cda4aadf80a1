# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Golden-rule exciton-phonon rates of the local rows of a scattering table.

For local row i (global state start + i) and final state f, one coupling term
(g2 meV^2, phonon energy om meV) contributes, without the prefactor 2 pi / hbar,

    W[i, f] += g2 ((n + 1) L(x + om) + n L(x - om)),   x = E[f] - E[start + i],
    W[f, i] += g2 ((n + 1) L(-x + om) + n L(-x - om))  (reverse table),

with n = 1/(exp(om / kT) - 1) and L the generalised normal density (shape beta)
whose half width at half maximum is max(gamma_i + gamma_f, width_min).  Dense
couplings (one Einstein mode: g2 [n_loc, n], one om) and CSR couplings (rows by
``indptr``, columns ``col``, per-term g2 and om) are separate entry points.
Outputs accumulate (+=): row sums [n_loc] or tables [n_loc, n].  Rows are
independent (prange over rows), each summed in a fixed order, so the result
does not depend on the number of threads or on the rank layout of the rows.
NumPy twin (same functions and arguments): hpcx/_kernels/reference/scattering_rates.py.
Units: meV, K; kb in meV/K.
"""

from cython.parallel import prange
from libc.math cimport exp, expm1, fabs, log, pow, sqrt, tgamma

DEF UNDERFLOW = 746.0   # exp(-t) == 0.0 in double precision for t > 745.2


cdef inline double density(double x, double inv, double norm, double beta, bint gauss) nogil:
    """norm * inv * exp(-(|x| inv)^beta); 0 where exp underflows to exactly 0."""
    cdef double y = fabs(x) * inv, t
    if gauss:
        t = y * y
    else:
        t = pow(y, beta)
    if t > UNDERFLOW:
        return 0.0
    return norm * inv * exp(-t)


cdef inline double bose(double om, double kT) nogil:
    if kT <= 0.0:
        return 0.0
    return 1.0 / expm1(om / kT)


cdef inline void pair(double x, double om, double g2, double wid, double nb, double beta, bint gauss,
                      double norm, double hw2sig, double* fwd, double* bwd) nogil:
    """Forward and reverse contributions of one coupling term (see module docstring)."""
    cdef double inv = hw2sig / wid, ep, em, rp, rm
    ep = density(x + om, inv, norm, beta, gauss)
    em = density(x - om, inv, norm, beta, gauss)
    # (-x + om) = -(x - om) and the density is even: the reverse terms reuse ep, em
    rp = em
    rm = ep
    if ep == 0.0 and em == 0.0:
        fwd[0] = 0.0
        bwd[0] = 0.0
        return
    fwd[0] = g2 * ((nb + 1.0) * ep + nb * em)
    bwd[0] = g2 * ((nb + 1.0) * rp + nb * rm)


cdef inline double width(double gi, double gf, double wmin) nogil:
    cdef double w = gi + gf
    return w if w > wmin else wmin


def _constants(double beta):
    """(norm, hwhm -> 1/sigma factor, gaussian?) of the generalised normal of shape beta."""
    gauss = beta == 2.0
    norm = 1.0 / sqrt(3.141592653589793) if gauss else beta / (2.0 * tgamma(1.0 / beta))
    return norm, pow(log(2.0), 1.0 / beta), gauss


cdef void dense_row(Py_ssize_t i, double[::1] E, double[::1] gamma, Py_ssize_t start,
                    double[:, ::1] g2, double om, double kT, double beta, double width_min, bint gauss,
                    double norm, double h2s, double[::1] rowsum, double[:, ::1] fwd, double[:, ::1] bwd,
                    bint do_sum, bint do_fwd, bint do_bwd) nogil:
    cdef Py_ssize_t f, n = g2.shape[1]
    cdef double a, b, s = 0.0, nb = bose(om, kT)
    for f in range(n):
        if g2[i, f] == 0.0:
            continue
        pair(E[f] - E[start + i], om, g2[i, f], width(gamma[start + i], gamma[f], width_min),
             nb, beta, gauss, norm, h2s, &a, &b)
        s += a
        if do_fwd:
            fwd[i, f] += a
        if do_bwd:
            bwd[i, f] += b
    if do_sum:
        rowsum[i] += s


cdef void sparse_row(Py_ssize_t i, double[::1] E, double[::1] gamma, Py_ssize_t start, long[::1] indptr,
                     int[::1] col, double[::1] g2, double[::1] om, double[::1] nbs, bint have_nb, double kT,
                     double beta, double width_min,
                     bint gauss, double norm, double h2s, double[::1] rowsum, double[:, ::1] fwd,
                     double[:, ::1] bwd, bint do_sum, bint do_fwd, bint do_bwd) nogil:
    cdef Py_ssize_t k, f
    cdef double a, b, s = 0.0, nb
    for k in range(indptr[i], indptr[i + 1]):
        f = col[k]
        nb = nbs[k] if have_nb else bose(om[k], kT)
        pair(E[f] - E[start + i], om[k], g2[k], width(gamma[start + i], gamma[f], width_min),
             nb, beta, gauss, norm, h2s, &a, &b)
        s += a
        if do_fwd:
            fwd[i, f] += a
        if do_bwd:
            bwd[i, f] += b
    if do_sum:
        rowsum[i] += s


def dense_rates(double[::1] E, double[::1] gamma, Py_ssize_t start, double[:, ::1] g2, double om,
                double T, double kb, double beta, double width_min,
                double[::1] rowsum=None, double[:, ::1] fwd=None, double[:, ::1] bwd=None):
    """Add one dense mode's rates (no 2 pi/hbar) to rowsum [n_loc] and/or fwd, bwd [n_loc, n]."""
    cdef Py_ssize_t n_loc = g2.shape[0], n = g2.shape[1], i
    cdef double kT = kb * T, norm, h2s
    cdef bint gauss, do_sum = rowsum is not None, do_fwd = fwd is not None, do_bwd = bwd is not None
    _check(E, gamma, start, n_loc, n, rowsum, fwd, bwd)
    norm, h2s, gauss = _constants(beta)
    for i in prange(n_loc, nogil=True, schedule="guided"):
        dense_row(i, E, gamma, start, g2, om, kT, beta, width_min, gauss, norm, h2s, rowsum, fwd, bwd,
                  do_sum, do_fwd, do_bwd)


def sparse_rates(double[::1] E, double[::1] gamma, Py_ssize_t start, long[::1] indptr, int[::1] col,
                 double[::1] g2, double[::1] om, double T, double kb, double beta, double width_min,
                 double[::1] rowsum=None, double[:, ::1] fwd=None, double[:, ::1] bwd=None,
                 double[::1] nb=None):
    """Add CSR couplings (row i: terms indptr[i]..indptr[i+1]) to rowsum and/or fwd, bwd.

    nb: Bose factors of the terms at T (optional; computed per term otherwise)."""
    cdef Py_ssize_t n_loc = indptr.shape[0] - 1, n = E.shape[0], i
    cdef double kT = kb * T, norm, h2s
    cdef bint gauss, do_sum = rowsum is not None, do_fwd = fwd is not None, do_bwd = bwd is not None
    cdef bint have_nb = nb is not None
    if have_nb and nb.shape[0] != g2.shape[0]:
        raise ValueError("nb must have one entry per term")
    if T <= 0.0:
        have_nb = False
    if col.shape[0] != g2.shape[0] or om.shape[0] != g2.shape[0] or indptr[n_loc] > g2.shape[0]:
        raise ValueError("col, g2, om must have indptr[-1] entries")
    _check(E, gamma, start, n_loc, n, rowsum, fwd, bwd)
    norm, h2s, gauss = _constants(beta)
    for i in prange(n_loc, nogil=True, schedule="guided"):
        sparse_row(i, E, gamma, start, indptr, col, g2, om, nb, have_nb, kT, beta, width_min, gauss, norm, h2s,
                   rowsum, fwd, bwd, do_sum, do_fwd, do_bwd)


def _check(E, gamma, Py_ssize_t start, Py_ssize_t n_loc, Py_ssize_t n, rowsum, fwd, bwd):
    if E.shape[0] != n or gamma.shape[0] != n or start < 0 or start + n_loc > n:
        raise ValueError("E and gamma need n entries and rows start..start+n_loc inside them")
    if rowsum is not None and rowsum.shape[0] != n_loc:
        raise ValueError("rowsum must have n_loc entries")
    for out in (fwd, bwd):
        if out is not None and (out.shape[0] != n_loc or out.shape[1] != n):
            raise ValueError("fwd/bwd must be [n_loc, n]")
