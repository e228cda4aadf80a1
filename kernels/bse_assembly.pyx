# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Direct term of the Wannier-basis BSE for the rows of a block of k-points.

For rows k in [k_start, k_stop) and all columns k' (transition S = (k*n_v + v)*n_c + c):

    K[(k v c), (k' v' c')] = scale * sum_{s, t} X[s, v, v'] W[q(k,k'), s, t] Y[t, c, c']
    X[s, v, v'] = sum_{i in s} C_v[k, i, v] conj(C_v[k', i, v'])        (hole products)
    Y[t, c, c'] = sum_{i in t} conj(C_c[k, i, c]) C_c[k', i, c']        (electron products)

Per k-pair this is two complex GEMMs, T = W^T X (n_s x n_s by n_s x n_v^2) and
K = T^T Y (n_v^2 x n_s by n_s x n_c^2), called through scipy's BLAS without the GIL;
k' is spread over OpenMP threads, each with its own work buffers.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, threadid
cimport openmp
from scipy.linalg.cython_blas cimport zgemm


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
                double complex[:, ::1] out):
    """Add the direct term of rows k_start <= k < k_stop to ``out`` [(k_stop-k_start)*n_v*n_c, N].

    C_v [n_k, n_orb, n_v], C_c [n_k, n_orb, n_c] lattice-gauge coefficients; site [n_orb];
    W [n_q, n_site, n_site]; q_of [n_k, n_k]; scale = -1/n_k for the attractive direct term.
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
    cdef int k, kp, t, v, vp, c, cp, row0, col0
    cdef double complex one = 1.0, zero = 0.0
    cdef char transN = b'N', transT = b'T'
    for k in range(k_start, k_stop):
        for kp in prange(n_k, nogil=True, schedule="static"):
            t = threadid()
            _products(C_v, k, kp, site, &X[t, 0], n_site, n_v, False)
            _products(C_c, k, kp, site, &Y[t, 0], n_site, n_c, True)
            # column-major view: X_cm (nvv x n_s), W_cm = W[q]^T; T_cm = X_cm W_cm^T = (W^T X)^T
            zgemm(&transN, &transT, &nvv, &n_site, &n_site, &one, &X[t, 0], &nvv,
                  &W[q_of[k, kp], 0, 0], &n_site, &zero, &T[t, 0], &nvv)
            # M_cm (ncc x nvv) = Y_cm T_cm^T, i.e. K[vv', cc'] row-major = sum_t T[t, vv'] Y[t, cc']
            zgemm(&transN, &transT, &ncc, &nvv, &n_site, &scale, &Y[t, 0], &ncc,
                  &T[t, 0], &nvv, &zero, &K[t, 0], &ncc)
            row0 = (k - k_start) * n_v * n_c
            col0 = kp * n_v * n_c
            for v in range(n_v):
                for c in range(n_c):
                    for vp in range(n_v):
                        for cp in range(n_c):
                            out[row0 + v * n_c + c, col0 + vp * n_c + cp] = (
                                out[row0 + v * n_c + c, col0 + vp * n_c + cp]
                                + K[t, ((v * n_v + vp) * n_c + c) * n_c + cp])
