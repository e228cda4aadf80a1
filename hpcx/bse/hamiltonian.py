"""Tamm-Dancoff BSE Hamiltonian at zero exciton momentum in the Wannier basis (seed 004).

    H[S, S'] = (E_c(k) - E_v(k)) delta_SS' + K^d[S, S'] + K^x[S, S'],   S = (k, v, c)

    K^d = -(1/N_k) sum_{s,t} X_s(kv, k'v') W_st(k - k') Y_t(kc, k'c')       (SI Eq. 18)
    K^x = +(f_x/N_k) sum_{s,t} D_s(kvc) V^x_st conj(D_t(k'v'c'))           (SI Eq. 19)

with site sums of coefficient products (lattice gauge, see hpcx.bse.bands)
X_s = sum_{i in s} c_i^vk conj(c_i^v'k'), Y_t = sum_{i in t} conj(c_i^ck) c_i^c'k',
D_s = sum_{i in s} conj(c_i^ck) c_i^vk, and W, V^x from hpcx.bse.interaction.
f_x = 2 for singlet excitons of a spin-degenerate (spinless) basis, 1 in a
spin-explicit basis.  The direct term's phase convention, exp(-i q.R) with
|R + tau_e - tau_h|, makes H invariant when a Wannier function is assigned to
another home cell (tests/unit/test_bse.py).

Rows are distributed: :func:`assemble_rows` fills rows [start, stop) only, so a
rank's memory is proportional to its rows.  The direct term is the Cython kernel
``hpcx._kernels.bse_assembly`` (obtained through ``hpcx._kernels.load``; NumPy twin in
hpcx/_kernels/reference/bse_assembly.py) (per q = k - k' one ZGEMM of W(q) with the stacked
products of all pairs of that q, then one ZGEMM per pair); the exchange term is a
rank-n_site product accumulated into the rows by ZGEMM.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from scipy.linalg.blas import zgemm

from .._kernels import load


def site_sums(C_a, C_b, site, n_site, conj_a):
    """P[s, a, b] = sum_{i in s} f(C_a[i, a]) g(C_b[i, b]) with the conjugate on a (conj_a) or b."""
    prod = (C_a.conj()[:, :, None] * C_b[:, None, :]) if conj_a else (C_a[:, :, None] * C_b.conj()[:, None, :])
    out = np.zeros((n_site,) + prod.shape[1:], complex)
    np.add.at(out, site, prod)
    return out


def site_matrix(sites):
    """S [n_orb, n_site], S[i, s] = 1 if orbital i sits on site s."""
    S = np.zeros((len(sites.site_of_orbital), sites.n_site))
    S[np.arange(len(sites.site_of_orbital)), sites.site_of_orbital] = 1.0
    return S


def exchange_amplitudes(window, sites):
    """D [n_k * n_v * n_c, n_site]: D_s(kvc) = sum_{i in s} conj(c_i^ck) c_i^vk."""
    prod = np.einsum("kiv,kic->ikvc", window.C_v, window.C_c.conj()).reshape(len(sites.site_of_orbital), -1)
    S = scipy.sparse.csr_matrix(site_matrix(sites).T)                              # [n_site, n_orb]
    return np.asarray((S @ prod).T)


def direct_rows(window, inter, k_start, k_stop, mode=-1, batch=0):
    """[(k_stop - k_start) n_v n_c, N] complex eV: the direct term of the rows of k-points
    k_start <= k < k_stop (all their v, c).  mode: kernel path (-1 by size, 0 loops, 1 ZGEMM
    batched over q); batch: at most this many k-pairs per ZGEMM batch (0: by memory)."""
    n_b = window.n_v * window.n_c
    out = np.empty(((k_stop - k_start) * n_b, window.size), complex)     # the kernel sets every element
    kernel = load("bse_assembly")
    kernel.direct_rows(np.ascontiguousarray(window.C_v), np.ascontiguousarray(window.C_c),
                       np.ascontiguousarray(inter.sites.site_of_orbital, dtype=np.intc), inter.sites.n_site,
                       np.ascontiguousarray(inter.W, dtype=complex), np.ascontiguousarray(inter.q_of, np.intc),
                       int(k_start), int(k_stop), complex(-1.0 / window.n_k), out, int(mode), int(batch))
    return out


def _rows(window, inter, start, stop, exchange_factor, direct, D):
    """H[start:stop, :] with the exchange amplitudes D (None: no exchange term)."""
    n_b = window.n_v * window.n_c
    k_lo, k_hi = start // n_b, -(-stop // n_b)
    if direct and stop > start:
        H = direct_rows(window, inter, k_lo, k_hi)
        if (start, stop) != (k_lo * n_b, k_hi * n_b):        # rows cut through a k-block
            H = H[start - k_lo * n_b:stop - k_lo * n_b].copy()
    else:
        H = np.zeros((stop - start, window.size), complex)
    if D is not None and stop > start:
        DV = D[start:stop] @ inter.V_x
        # H += f/n_k DV D^H in place: H^T (Fortran order) += f/n_k conj(D) DV^T
        Ht = zgemm(exchange_factor / window.n_k, D.T, DV, beta=1.0, c=H.T, trans_a=2, trans_b=1,
                   overwrite_c=1)
        if not np.shares_memory(Ht, H):                        # pragma: no cover - f2py copied
            H[:] = Ht.T
    H[np.arange(stop - start), np.arange(start, stop)] += window.transition_energies()[start:stop]
    return H


def row_chunks(start, stop, n_b, parts=20):
    """[(a, b)]: [start, stop) cut at k-block boundaries (multiples of n_b) into about ``parts``
    pieces of at least n_b rows.  Every row is computed the same way in any such chunking (the
    kernel and the exchange GEMMs work per k-pair and per row): chunks only set how often
    progress is reported."""
    blocks = np.arange(-(-start // n_b), -(-stop // n_b)) * n_b
    step = max(1, -(-len(blocks) // parts))
    cuts = sorted({start, stop, *(int(b) for b in blocks[step::step] if start + n_b <= b <= stop - n_b)})
    return list(zip(cuts[:-1], cuts[1:]))


def assemble_rows(window, inter, start, stop, exchange_factor=2.0, direct=True, progress=None):
    """H[start:stop, :] (complex eV) of the TDA BSE Hamiltonian.

    exchange_factor f_x multiplies K^x (0 or inter.V_x None: no exchange); direct=False
    leaves out K^d (independent-particle limit plus exchange).  ``progress``: an object with
    ``update(n)`` told of the rows as they are done (chunks of whole k-points, :func:`row_chunks`).
    """
    D = exchange_amplitudes(window, inter.sites) if inter.V_x is not None and exchange_factor != 0.0 else None
    if progress is None:
        return _rows(window, inter, start, stop, exchange_factor, direct, D)
    H = np.empty((stop - start, window.size), complex)
    for a, b in row_chunks(start, stop, window.n_v * window.n_c):
        H[a - start:b - start] = _rows(window, inter, a, b, exchange_factor, direct, D)
        progress.update(b - a)
    return H


def assemble_dense(window, inter, exchange_factor=2.0, direct=True):
    """The full N x N Hamiltonian on one process (small problems, tests)."""
    return assemble_rows(window, inter, 0, window.size, exchange_factor, direct)
