# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Orbital-pair densities of the matrix-free BSE product, and their contraction back to transitions.

For the k-points of a rank (band coefficients C_v [n_k, n_orb, n_v], C_c [n_k, n_orb, n_c]):

    pair_density:   P[k, i n_orb + j] = sum_vc conj(C_v[k, i, v]) X[k, v, c] C_c[k, j, c]
    pair_contract:  Y[k, v, c]        = scale sum_ij C_v[k, i, v] Q[k, i n_orb + j] conj(C_c[k, j, c])

(hpcx.bse.matfree: P = conj(C_v) X C_c^T and Y = C_v^T Q conj(C_c) per k).  Each is two small
contractions per k in the cheaper order (through T[v, j] = sum_c X[v, c] C_c[j, c], resp.
S[i, c] = sum_j Q[i, j] conj(C_c[j, c])), fused in one loop over k without the GIL; the work
array (n_v n_orb, resp. n_orb n_c numbers) is allocated once per call, so the size of the model
(moiré supercells of thousands of orbitals) is not limited.  P and Q are complex128 or complex64 (single-precision FFT
stage); the coefficients, X and Y are complex128 and the sums are done in double precision.
"""

from libc.stdlib cimport free, malloc

ctypedef fused cplx:
    float complex
    double complex


cdef double complex* _work(Py_ssize_t n) except NULL:
    """n complex128 numbers on the heap (at least one); MemoryError when they cannot be had."""
    cdef double complex* p = <double complex*> malloc(max(n, 1) * sizeof(double complex))
    if p == NULL:
        raise MemoryError(f"bse_pairs: no memory for a work array of {n} complex numbers")
    return p


def pair_density(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                 const double complex[:, :, ::1] X, cplx[:, ::1] out):
    """out[k, i n_orb + j] = sum_vc conj(C_v[k, i, v]) X[k, v, c] C_c[k, j, c] (every element set);
    X [n_k, n_v, n_c], out [n_k, n_orb^2] complex128 or complex64."""
    cdef Py_ssize_t n_k = C_v.shape[0], n_orb = C_v.shape[1], n_v = C_v.shape[2], n_c = C_c.shape[2]
    cdef Py_ssize_t k, i, j, v, c
    cdef double complex s
    cdef double complex* T
    if C_c.shape[0] != n_k or C_c.shape[1] != n_orb or X.shape[0] != n_k or X.shape[1] != n_v or \
            X.shape[2] != n_c or out.shape[0] != n_k or out.shape[1] != n_orb * n_orb:
        raise ValueError("pair_density: shapes of C_v, C_c, X and out do not match")
    T = _work(n_v * n_orb)
    try:
        with nogil:
            for k in range(n_k):
                for v in range(n_v):
                    for j in range(n_orb):
                        s = 0
                        for c in range(n_c):
                            s = s + X[k, v, c] * C_c[k, j, c]
                        T[v * n_orb + j] = s
                for i in range(n_orb):
                    for j in range(n_orb):
                        s = 0
                        for v in range(n_v):
                            s = s + C_v[k, i, v].conjugate() * T[v * n_orb + j]
                        out[k, i * n_orb + j] = <cplx> s
    finally:
        free(T)


def pair_contract(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                  cplx[:, ::1] Q, double scale, double complex[:, :, ::1] out):
    """out[k, v, c] = scale sum_ij C_v[k, i, v] Q[k, i n_orb + j] conj(C_c[k, j, c]) (every element
    set); Q [n_k, n_orb^2] complex128 or complex64, out [n_k, n_v, n_c]."""
    cdef Py_ssize_t n_k = C_v.shape[0], n_orb = C_v.shape[1], n_v = C_v.shape[2], n_c = C_c.shape[2]
    cdef Py_ssize_t k, i, j, v, c
    cdef double complex s
    cdef double complex* S
    if C_c.shape[0] != n_k or C_c.shape[1] != n_orb or Q.shape[0] != n_k or Q.shape[1] != n_orb * n_orb or \
            out.shape[0] != n_k or out.shape[1] != n_v or out.shape[2] != n_c:
        raise ValueError("pair_contract: shapes of C_v, C_c, Q and out do not match")
    S = _work(n_orb * n_c)
    try:
        with nogil:
            for k in range(n_k):
                for i in range(n_orb):
                    for c in range(n_c):
                        s = 0
                        for j in range(n_orb):
                            s = s + <double complex> Q[k, i * n_orb + j] * C_c[k, j, c].conjugate()
                        S[i * n_c + c] = s
                for v in range(n_v):
                    for c in range(n_c):
                        s = 0
                        for i in range(n_orb):
                            s = s + C_v[k, i, v] * S[i * n_c + c]
                        out[k, v, c] = scale * s
    finally:
        free(S)
