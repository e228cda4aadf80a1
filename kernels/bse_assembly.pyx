# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Direct term of the Wannier-basis BSE for the rows of a block of k-points.

For rows k in [k_start, k_stop) and all columns k' (transition S = (k*n_v + v)*n_c + c):

    K[(k v c), (k' v' c')] = scale * sum_{s, t} X[s, v, v'] W[q(k,k'), s, t] Y[t, c, c']
    X[s, v, v'] = sum_{i in s} C_v[k, i, v] conj(C_v[k', i, v'])        (hole products)
    Y[t, c, c'] = sum_{i in t} conj(C_c[k, i, c]) C_c[k', i, c']        (electron products)

Per k-pair this is two complex GEMMs, T = W^T X (n_s x n_s by n_s x n_v^2) and
K = T^T Y (n_v^2 x n_s by n_s x n_c^2).  Large ones (supercells) call ZGEMM through
scipy's BLAS without the GIL, k' serial and the BLAS threaded; tiny ones (a monolayer
cell: 3 sites, 2 bands) are written out and k' is spread over OpenMP threads, each
with its own work buffers.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, threadid
cimport openmp
from scipy.linalg.cython_blas cimport zgemm

#: flops of one k-pair below which the contraction is hand-written and threaded over k'
DEF SMALL_WORK = 4096


cdef void _products(const double complex[:, :, ::1] C, int k, int kp, const int[::1] site,
                    double complex* out, int n_s, int n, bint conj_first) noexcept nogil:
    """out[s, a, b] = sum_{i in s} f(C[k, i, a]) g(C[kp, i, b]); conj on the first (electrons)
    or on the second (holes) factor."""
    cdef int i, a, b, s
    cdef int n_orb = C.shape[1]
    cdef double complex x
    for s in range(n_s * n * n):
        out[s] = 0
    for i in range(n_orb):
        s = site[i]
        for a in range(n):
            x = C[k, i, a]
            if conj_first:
                x = x.conjugate()
                for b in range(n):
                    out[(s * n + a) * n + b] = out[(s * n + a) * n + b] + x * C[kp, i, b]
            else:
                for b in range(n):
                    out[(s * n + a) * n + b] = out[(s * n + a) * n + b] + x * C[kp, i, b].conjugate()


def direct_rows(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                const int[::1] site, int n_site, double complex[:, :, ::1] W,
                const int[:, ::1] q_of, int k_start, int k_stop, double complex scale,
                double complex[:, ::1] out, int mode=-1):
    """Add the direct term of rows k_start <= k < k_stop to ``out`` [(k_stop-k_start)*n_v*n_c, N].

    C_v [n_k, n_orb, n_v], C_c [n_k, n_orb, n_c] lattice-gauge coefficients; site [n_orb];
    W [n_q, n_site, n_site]; q_of [n_k, n_k]; scale = -1/n_k for the attractive direct term.
    mode: -1 choose by size, 0 hand-written loops over threads, 1 ZGEMM.
    """
    cdef int n_k = C_v.shape[0]
    cdef int n_v = C_v.shape[2]
    cdef int n_c = C_c.shape[2]
    cdef int nvv = n_v * n_v, ncc = n_c * n_c
    cdef int n_thr = openmp.omp_get_max_threads()
    if out.shape[0] != (k_stop - k_start) * n_v * n_c or out.shape[1] != n_k * n_v * n_c:
        raise ValueError("out has the wrong shape")
    if W.shape[1] != n_site or W.shape[2] != n_site or site.shape[0] != C_v.shape[1]:
        raise ValueError("W / site do not match the coefficients")
    cdef double complex[:, ::1] X = np.empty((n_thr, n_site * nvv), complex)
    cdef double complex[:, ::1] Y = np.empty((n_thr, n_site * ncc), complex)
    cdef double complex[:, ::1] T = np.empty((n_thr, n_site * nvv), complex)
    cdef double complex[:, ::1] K = np.empty((n_thr, nvv * ncc), complex)
    cdef int k, kp, t, pair
    cdef int n_pairs = (k_stop - k_start) * n_k
    cdef bint small = (n_site * n_site * nvv + n_site * nvv * ncc) < SMALL_WORK if mode < 0 else mode == 0
    if small:
        # tiny GEMMs: hand-written contraction, all (k, k') pairs in one OpenMP loop (calling a
        # threaded BLAS from inside OpenMP threads costs far more than the work itself)
        for pair in prange(n_pairs, nogil=True, schedule="static"):
            t = threadid()
            _pair(C_v, C_c, site, n_site, W, q_of, k_start + pair // n_k, pair % n_k, k_start, scale,
                  &X[t, 0], &Y[t, 0], &T[t, 0], &K[t, 0], out, False)
    else:
        # large GEMMs: pairs in sequence, the BLAS uses its own threads
        with nogil:
            for pair in range(n_pairs):
                _pair(C_v, C_c, site, n_site, W, q_of, k_start + pair // n_k, pair % n_k, k_start, scale,
                      &X[0, 0], &Y[0, 0], &T[0, 0], &K[0, 0], out, True)


cdef void _pair(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                const int[::1] site, int n_site, double complex[:, :, ::1] W, const int[:, ::1] q_of,
                int k, int kp, int k_start, double complex scale, double complex* X, double complex* Y,
                double complex* T, double complex* K, double complex[:, ::1] out, bint blas) noexcept nogil:
    """One k-pair: X, Y site products, T = W^T X, K = T^T Y, scattered into the rows of k."""
    cdef int n_v = C_v.shape[2], n_c = C_c.shape[2]
    cdef int nvv = n_v * n_v, ncc = n_c * n_c
    cdef int v, vp, c, cp, s, u, a, row0, col0
    cdef double complex one = 1.0, zero = 0.0, acc
    cdef char transN = b'N', transT = b'T'
    cdef double complex* Wq = &W[q_of[k, kp], 0, 0]
    _products(C_v, k, kp, site, X, n_site, n_v, False)
    _products(C_c, k, kp, site, Y, n_site, n_c, True)
    if blas:
        # column-major view: X_cm (nvv x n_s), W_cm = W[q]^T; T_cm = X_cm W_cm^T = (W^T X)^T
        zgemm(&transN, &transT, &nvv, &n_site, &n_site, &one, X, &nvv, Wq, &n_site, &zero, T, &nvv)
        # M_cm (ncc x nvv) = Y_cm T_cm^T, i.e. K[vv', cc'] row-major = sum_t T[t, vv'] Y[t, cc']
        zgemm(&transN, &transT, &ncc, &nvv, &n_site, &scale, Y, &ncc, T, &nvv, &zero, K, &ncc)
    else:
        for u in range(n_site):
            for a in range(nvv):
                acc = 0
                for s in range(n_site):
                    acc = acc + Wq[s * n_site + u] * X[s * nvv + a]
                T[u * nvv + a] = acc
        for a in range(nvv):
            for c in range(ncc):
                acc = 0
                for u in range(n_site):
                    acc = acc + T[u * nvv + a] * Y[u * ncc + c]
                K[a * ncc + c] = scale * acc
    row0 = (k - k_start) * n_v * n_c
    col0 = kp * n_v * n_c
    for v in range(n_v):
        for c in range(n_c):
            for vp in range(n_v):
                for cp in range(n_c):
                    out[row0 + v * n_c + c, col0 + vp * n_c + cp] = (
                        out[row0 + v * n_c + c, col0 + vp * n_c + cp]
                        + K[((v * n_v + vp) * n_c + c) * n_c + cp])
