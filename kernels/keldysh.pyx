# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Screened-interaction q-integrals in an even-tempered Gaussian basis.

I[i, j] = sum_k w[k] exp(-x) L_m(x),  x = q[k]^2 / (4 (a[i] + a[j])),

with w[k] the quadrature weights already multiplied by 1/eps(q_k) and the
Jacobian.  Pure-NumPy reference: hpcx.physics.wannier._potential_integrals_numpy.
Shapes: a (n,), q and w (nq,), out (n, n) C-contiguous; units as supplied
(a in 1/nm^2, q in 1/nm).
"""

from cython.parallel import prange
from libc.math cimport exp


cdef inline double laguerre(int m, double x) nogil:
    """L_m(x) by the three-term recurrence (k+1) L_{k+1} = (2k+1-x) L_k - k L_{k-1}."""
    cdef double l0 = 1.0, l1 = 1.0 - x, l2
    cdef int k
    if m == 0:
        return l0
    for k in range(1, m):
        l2 = ((2 * k + 1 - x) * l1 - k * l0) / (k + 1)
        l0 = l1
        l1 = l2
    return l1


def potential_integrals(double[::1] a, int m, double[::1] q, double[::1] w, double[:, ::1] out):
    """Fill out[i, j] (i <= j, mirrored) with the q-integral defined in the module docstring."""
    cdef Py_ssize_t n = a.shape[0], nq = q.shape[0]
    cdef Py_ssize_t i, j, k
    cdef double c4, x, s
    if q.shape[0] != w.shape[0] or out.shape[0] != n or out.shape[1] != n:
        raise ValueError("shape mismatch: q/w or out")
    if m < 0:
        raise ValueError("m must be >= 0")
    for i in prange(n, nogil=True, schedule="dynamic"):
        for j in range(i, n):
            c4 = 1.0 / (4.0 * (a[i] + a[j]))
            s = 0.0
            for k in range(nq):
                x = q[k] * q[k] * c4
                s = s + w[k] * exp(-x) * laguerre(m, x)
            out[i, j] = s
            out[j, i] = s
