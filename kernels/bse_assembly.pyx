# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False, language_level=3
"""Direct term of the Wannier-basis BSE for the rows of a block of k-points.

For rows k in [k_start, k_stop) and all columns k' (transition S = (k*n_v + v)*n_c + c):

    K[(k v c), (k' v' c')] = scale * sum_{s, t} X[s, v, v'] W[q(k,k'), s, t] Y[t, c, c']
    X[s, v, v'] = sum_{i in s} C_v[k, i, v] conj(C_v[k', i, v'])        (hole products)
    Y[t, c, c'] = sum_{i in t} conj(C_c[k, i, c]) C_c[k', i, c']        (electron products)

Per k-pair this is two complex GEMMs, T = W^T X (n_s x n_s by n_s x n_v^2) and
K = T^T Y (n_v^2 x n_s by n_s x n_c^2) (or, with fewer conduction than valence bands,
T = W Y first and K = X^T T: the first GEMM costs n_s^2 min(n_v, n_c)^2).

Large contractions (supercells) go to ZGEMM through scipy's BLAS without the GIL.  The
first GEMM only depends on the pair through its products, so all pairs that share one
q = k - k' are stacked and multiplied by W(q) in one GEMM of n dimension (pairs) x n_v^2;
the second GEMM is one per pair.  Products and the scatter into the rows run over OpenMP
threads, the GEMMs in sequence (BLAS threads): never BLAS inside OpenMP threads, which
was ~100x slower.  Tiny contractions (a monolayer cell: 3 sites, 2 bands) are written
out and all pairs are spread over OpenMP threads, each with its own work buffers.
"""

import numpy as np
cimport numpy as cnp
from cython.parallel cimport prange, threadid
cimport openmp
from scipy.linalg.cython_blas cimport zgemm

#: flops of one k-pair below which the contraction is hand-written and threaded over k'
DEF SMALL_WORK = 4096


cdef void _products(const double complex[:, :, ::1] C, int k, int kp, const int[::1] ptr,
                    const int[::1] orbs, double complex* out, int n_s, int n, bint conj_first,
                    Py_ssize_t ld=-1) noexcept nogil:
    """out[s * ld + a * n + b] = sum_{i in s} f(C[k, i, a]) g(C[kp, i, b]) (ld = n^2: contiguous
    [s, a, b]); conj on the first (electrons) or on the second (holes) factor.  Orbitals of site
    s: orbs[ptr[s]:ptr[s+1]].  Each site block is written once and summed in L1; real arithmetic
    written out (a C99 complex product calls __muldc3 for inf/nan handling)."""
    cdef int i, j, a, b, s
    cdef double xr, xi
    cdef double* o
    cdef const double* x
    cdef const double* y
    if ld < 0:
        ld = n * n
    for s in range(n_s):
        o = <double*> (out + s * ld)
        for a in range(2 * n * n):
            o[a] = 0
        for j in range(ptr[s], ptr[s + 1]):
            i = orbs[j]
            x = <const double*> &C[k, i, 0]
            y = <const double*> &C[kp, i, 0]
            for a in range(n):
                # conj_first: conj(x) y; else x conj(y)
                xr = x[2 * a]
                xi = -x[2 * a + 1] if conj_first else x[2 * a + 1]
                _axpy_row(xr, xi, y, o + 2 * a * n, n, not conj_first)


cdef inline void _axpy_row(double xr, double xi, const double* y, double* o, int n,
                           bint conj_y) noexcept nogil:
    """o[b] += x f(y[b]) for n complex numbers stored as (re, im); f = conj if conj_y."""
    cdef int b
    cdef double yr, yi
    if conj_y:
        for b in range(n):
            yr = y[2 * b]
            yi = y[2 * b + 1]
            o[2 * b] += xr * yr + xi * yi
            o[2 * b + 1] += xi * yr - xr * yi
    else:
        for b in range(n):
            yr = y[2 * b]
            yi = y[2 * b + 1]
            o[2 * b] += xr * yr - xi * yi
            o[2 * b + 1] += xr * yi + xi * yr


def direct_rows(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                const int[::1] site, int n_site, double complex[:, :, ::1] W,
                const int[:, ::1] q_of, int k_start, int k_stop, double complex scale,
                double complex[:, ::1] out, int mode=-1, int batch=0):
    """Write the direct term of rows k_start <= k < k_stop into ``out`` [(k_stop-k_start)*n_v*n_c, N]
    (every element is set, so ``out`` may come uninitialised).

    C_v [n_k, n_orb, n_v], C_c [n_k, n_orb, n_c] lattice-gauge coefficients; site [n_orb];
    W [n_q, n_site, n_site]; q_of [n_k, n_k]; scale = -1/n_k for the attractive direct term.
    mode: -1 choose by size, 0 hand-written loops over threads, 1 ZGEMM batched over q;
    batch: at most this many pairs per q-batch of the ZGEMM path (0: as memory allows).
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
    cdef int k, kp, t, pair
    cdef int n_pairs = (k_stop - k_start) * n_k
    order = np.argsort(np.asarray(site), kind="stable")
    cdef int[::1] orbs = order.astype(np.intc)
    cdef int[::1] ptr = np.searchsorted(np.asarray(site)[order], np.arange(n_site + 1)).astype(np.intc)
    cdef bint small = (n_site * n_site * min(nvv, ncc) + n_site * nvv * ncc) < SMALL_WORK if mode < 0 else mode == 0
    if n_pairs == 0:
        return
    if not small:
        _direct_batched(C_v, C_c, ptr, orbs, n_site, W, q_of, k_start, k_stop, scale, out, batch)
        return
    cdef double complex[:, ::1] X = np.empty((n_thr, n_site * nvv), complex)
    cdef double complex[:, ::1] Y = np.empty((n_thr, n_site * ncc), complex)
    cdef double complex[:, ::1] T = np.empty((n_thr, n_site * nvv), complex)
    cdef double complex[:, ::1] K = np.empty((n_thr, nvv * ncc), complex)
    # tiny GEMMs: hand-written contraction, all (k, k') pairs in one OpenMP loop (calling a
    # threaded BLAS from inside OpenMP threads costs far more than the work itself)
    for pair in prange(n_pairs, nogil=True, schedule="static"):
        t = threadid()
        _pair(C_v, C_c, ptr, orbs, n_site, W, q_of, k_start + pair // n_k, pair % n_k, k_start, scale,
              &X[t, 0], &Y[t, 0], &T[t, 0], &K[t, 0], out)


#: complex numbers of the stacked products of one q-batch (512 KiB, about a core's L2: larger
#: batches gave no faster first GEMM but a slower second one, which reads T with a larger stride)
DEF BATCH_ELEMENTS = 32768


def _direct_batched(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                    const int[::1] ptr, const int[::1] orbs, int n_site, double complex[:, :, ::1] W,
                    const int[:, ::1] q_of, int k_start, int k_stop, double complex scale,
                    double complex[:, ::1] out, int batch):
    """ZGEMM path: pairs grouped by q; per group T = W(q)^T [X_1 ... X_P] in one GEMM (holes
    first; electrons first, T = W(q) [Y_1 ... Y_P], if n_c < n_v), then K_p = T_p^T Y_p
    (K_p = X_p^T T_p) per pair, then the scatter of K_p into the rows."""
    cdef int n_k = C_v.shape[0]
    cdef int n_v = C_v.shape[2], n_c = C_c.shape[2]
    cdef int nvv = n_v * n_v, ncc = n_c * n_c
    cdef bint holes_first = n_v <= n_c
    cdef int na = nvv if holes_first else ncc            # band pairs of the first (batched) GEMM
    cdef int nb = ncc if holes_first else nvv
    # pairs sorted by q (stable: k ascending within a q)
    qs = np.asarray(q_of[k_start:k_stop]).ravel()
    order = np.argsort(qs, kind="stable").astype(np.intc)
    cdef int[::1] pk = (order // n_k + k_start).astype(np.intc)
    cdef int[::1] pkp = (order % n_k).astype(np.intc)
    cdef int[::1] pq = qs[order].astype(np.intc)
    cdef int n_pairs = len(order)
    cdef int p_max = max(1, min(n_pairs, BATCH_ELEMENTS // (n_site * na)))
    if batch > 0:
        p_max = min(p_max, batch)
    cdef double complex[::1] A = np.empty(p_max * n_site * na, complex)     # [s, p, a]
    cdef double complex[::1] T = np.empty(p_max * n_site * na, complex)     # [u, p, a]
    cdef double complex[::1] B = np.empty(p_max * n_site * nb, complex)     # [p, t, b]
    cdef double complex[::1] K = np.empty(p_max * nvv * ncc, complex)      # [p, vv', cc']
    cdef int first = 0, last, n_p, p, q, lda
    cdef double complex one = 1.0, zero = 0.0
    cdef char transN = b'N', transT = b'T'
    cdef char* transW = &transT if holes_first else &transN
    cdef double complex* L
    cdef double complex* R
    cdef int ldl, ldr
    with nogil:
        while first < n_pairs:
            q = pq[first]
            last = first + 1
            while last < n_pairs and last - first < p_max and pq[last] == q:
                last = last + 1
            n_p = last - first
            lda = n_p * na
            for p in prange(n_p, schedule="static"):
                if holes_first:
                    _products(C_v, pk[first + p], pkp[first + p], ptr, orbs, &A[p * na], n_site, n_v, False, lda)
                    _products(C_c, pk[first + p], pkp[first + p], ptr, orbs, &B[p * n_site * nb], n_site, n_c, True)
                else:
                    _products(C_c, pk[first + p], pkp[first + p], ptr, orbs, &A[p * na], n_site, n_c, True, lda)
                    _products(C_v, pk[first + p], pkp[first + p], ptr, orbs, &B[p * n_site * nb], n_site, n_v, False)
            # column-major views: A_cm (n_p na x n_s), W_cm = W[q]^T.  Holes first:
            # T_cm = A_cm W_cm^T = (W^T X)^T; electrons first: T_cm = A_cm W_cm = (W Y)^T
            zgemm(&transN, transW, &lda, &n_site, &n_site, &one, &A[0], &lda, &W[q, 0, 0], &n_site,
                  &zero, &T[0], &lda)
            for p in range(n_p):
                # K_cm (ncc x nvv) = sum_u Y[u, cc'] T[u, vv'] (holes first) or T[u, cc'] X[u, vv']
                if holes_first:
                    L = &B[p * n_site * nb]
                    ldl = ncc
                    R = &T[p * na]
                    ldr = lda
                else:
                    L = &T[p * na]
                    ldl = lda
                    R = &B[p * n_site * nb]
                    ldr = nvv
                zgemm(&transN, &transT, &ncc, &nvv, &n_site, &scale, L, &ldl, R, &ldr, &zero,
                      &K[p * nvv * ncc], &ncc)
            for p in prange(n_p, schedule="static"):
                _scatter(&K[p * nvv * ncc], out, (pk[first + p] - k_start) * n_v * n_c,
                         pkp[first + p] * n_v * n_c, n_v, n_c)
            first = last


cdef void _scatter(const double complex* K, double complex[:, ::1] out, int row0, int col0,
                   int n_v, int n_c) noexcept nogil:
    """out[row0 + (v, c), col0 + (v', c')] = K[v, v', c, c'] (a write: saves reading out)."""
    cdef int v, c, vp, cp
    for v in range(n_v):
        for c in range(n_c):
            for vp in range(n_v):
                for cp in range(n_c):
                    out[row0 + v * n_c + c, col0 + vp * n_c + cp] = K[((v * n_v + vp) * n_c + c) * n_c + cp]


cdef void _pair(const double complex[:, :, ::1] C_v, const double complex[:, :, ::1] C_c,
                const int[::1] ptr, const int[::1] orbs, int n_site, double complex[:, :, ::1] W, const int[:, ::1] q_of,
                int k, int kp, int k_start, double complex scale, double complex* X, double complex* Y,
                double complex* T, double complex* K, double complex[:, ::1] out) noexcept nogil:
    """One k-pair, hand-written: X, Y site products, T = W^T X, K = T^T Y, scattered into the rows of k."""
    cdef int n_v = C_v.shape[2], n_c = C_c.shape[2]
    cdef int nvv = n_v * n_v, ncc = n_c * n_c
    cdef int c, s, u, a
    cdef double complex acc
    cdef double complex* Wq = &W[q_of[k, kp], 0, 0]
    _products(C_v, k, kp, ptr, orbs, X, n_site, n_v, False)
    _products(C_c, k, kp, ptr, orbs, Y, n_site, n_c, True)
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
    _scatter(K, out, (k - k_start) * n_v * n_c, kp * n_v * n_c, n_v, n_c)
