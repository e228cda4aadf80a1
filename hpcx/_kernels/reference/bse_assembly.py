"""NumPy twin of kernels/bse_assembly.pyx: the direct term of the Wannier-basis BSE for a block of rows.

For rows k in [k_start, k_stop) and all columns k' (transition S = (k n_v + v) n_c + c):

    K[(k v c), (k' v' c')] = scale * sum_{s, t} X[s, v, v'] W[q(k, k'), s, t] Y[t, c, c']
    X[s, v, v'] = sum_{i in s} C_v[k, i, v] conj(C_v[k', i, v'])        (hole products)
    Y[t, c, c'] = sum_{i in t} conj(C_c[k, i, c]) C_c[k', i, c']        (electron products)

Per k: the site products of all k' at once (np.add.at over the orbitals of each site), then
one einsum over the site pair.  Slow and readable: the definition the kernel is tested against.
"""

import numpy as np


def _site_products(A, B, site, n_site, conj_first):
    """P[k', s, a, b] = sum_{i in s} f(A[i, a]) g(B[k', i, b]); f = conj if conj_first, else g = conj."""
    prod = (A.conj()[None, :, :, None] * B[:, :, None, :]) if conj_first else \
        (A[None, :, :, None] * B.conj()[:, :, None, :])
    out = np.zeros((B.shape[0], n_site) + prod.shape[2:], complex)
    np.add.at(out, (slice(None), site), prod)
    return out


def direct_rows(C_v, C_c, site, n_site, W, q_of, k_start, k_stop, scale, out, mode=-1, batch=0):
    """Write the direct term of rows k_start <= k < k_stop into ``out`` [(k_stop-k_start)*n_v*n_c, N]
    (every element is set).  Arguments as the compiled kernel: C_v [n_k, n_orb, n_v], C_c
    [n_k, n_orb, n_c] lattice-gauge coefficients, site [n_orb], W [n_q, n_site, n_site] eV,
    q_of [n_k, n_k], scale (-1/n_k for the attractive direct term); ``mode`` and ``batch`` select
    code paths of the compiled kernel and do not change the result (ignored here)."""
    C_v, C_c = np.asarray(C_v), np.asarray(C_c)
    n_k, _, n_v = C_v.shape
    n_c = C_c.shape[2]
    if out.shape != ((k_stop - k_start) * n_v * n_c, n_k * n_v * n_c):
        raise ValueError("out has the wrong shape")
    W = np.asarray(W)
    site = np.asarray(site)
    if W.shape[1] != n_site or W.shape[2] != n_site or site.shape[0] != C_v.shape[1]:
        raise ValueError("W / site do not match the coefficients")
    nb = n_v * n_c
    for k in range(k_start, k_stop):
        X = _site_products(C_v[k], C_v, site, n_site, conj_first=False)          # [k', s, v, v']
        Y = _site_products(C_c[k], C_c, site, n_site, conj_first=True)           # [k', t, c, c']
        K = scale * np.einsum("psvw,pst,ptcd->pvcwd", X, W[np.asarray(q_of)[k]], Y)
        row = (k - k_start) * nb
        out[row:row + nb] = K.transpose(1, 2, 0, 3, 4).reshape(nb, n_k * nb)
