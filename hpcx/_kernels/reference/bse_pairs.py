"""NumPy twin of kernels/bse_pairs.pyx: orbital-pair densities of the matrix-free BSE product and
their contraction back to transitions (two einsums; the definition the kernel is tested against)."""

import numpy as np


def pair_density(C_v, C_c, X, out):
    """out[k, i n_orb + j] = sum_vc conj(C_v[k, i, v]) X[k, v, c] C_c[k, j, c]; X [n_k, n_v, n_c],
    out [n_k, n_orb^2] complex128 or complex64 (every element set)."""
    n_k, n_orb = C_v.shape[:2]
    if out.shape != (n_k, n_orb * n_orb) or X.shape != (n_k, C_v.shape[2], C_c.shape[2]):
        raise ValueError("pair_density: shapes of C_v, C_c, X and out do not match")
    out[...] = np.einsum("kiv,kvc,kjc->kij", np.conj(C_v), X, C_c).reshape(n_k, -1)


def pair_contract(C_v, C_c, Q, scale, out):
    """out[k, v, c] = scale sum_ij C_v[k, i, v] Q[k, i n_orb + j] conj(C_c[k, j, c]); Q [n_k, n_orb^2]
    complex128 or complex64, out [n_k, n_v, n_c] (every element set)."""
    n_k, n_orb = C_v.shape[:2]
    if Q.shape != (n_k, n_orb * n_orb) or out.shape != (n_k, C_v.shape[2], C_c.shape[2]):
        raise ValueError("pair_contract: shapes of C_v, C_c, Q and out do not match")
    Qm = np.asarray(Q, dtype=complex).reshape(n_k, n_orb, n_orb)
    out[...] = scale * np.einsum("kiv,kij,kjc->kvc", C_v, Qm, np.conj(C_c))
