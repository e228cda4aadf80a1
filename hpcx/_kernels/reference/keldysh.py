"""NumPy twin of kernels/keldysh.pyx: the q-integrals of the Wannier-equation potential matrix."""

import numpy as np
from scipy.special import eval_laguerre


def potential_integrals(a, m, q, w, out):
    """Fill ``out[i, j] = sum_k w_k exp(-x) L_m(x)``, x = q_k^2 / 4(a_i + a_j).

    ``a`` [n] Gaussian exponents (1/nm²), ``q``/``w`` [n_q] quadrature nodes (1/nm) and
    weights, ``out`` [n, n] float64, written in place.
    """
    if q.shape[0] != w.shape[0] or out.shape != (a.shape[0], a.shape[0]):
        raise ValueError("shape mismatch: q/w or out")
    if m < 0:
        raise ValueError("m must be >= 0")
    c = a[:, None] + a[None, :]
    x = q[None, None, :] ** 2 / (4.0 * c[..., None])
    out[...] = np.einsum("ijk,k->ij", np.exp(-x) * eval_laguerre(m, x), w)
