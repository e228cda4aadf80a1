"""Matrix-free, distributed Tamm-Dancoff BSE operator (PETSc MatShell).

The Hamiltonian is the one of :mod:`hpcx.bse.hamiltonian` (seed 004 SI Eqs.
18-19, lattice gauge, transition index S = (k n_v + v) n_c + c):

    (H x)_kvc = (E_c - E_v) x_kvc
              - sum_ij c_i^vk conj(c_j^ck) sum_k' W_s(i)t(j)(k - k') P_ij(k')
              + (f_x/N_k) sum_i c_i^vk conj(c_i^ck) (V^x rho)_s(i),

    P_ij(k') = sum_v'c' conj(c_i^v'k') x_k'v'c' c_j^c'k'   (= conj(C_v) X C_c^T),
    rho_t    = sum_k' sum_{i in t} P_ii(k'),
    W_st(q)  = sum_R exp(-i q.R) V(|R + tau_t - tau_s|_BvK)  (R over the k-grid's BvK cell).

The direct term is a convolution over the k-grid for every orbital pair
(i, j): with V_R the real-space potential of the pair,
sum_k' W(k - k') P(k') / N_k = fft2(V_R * ifft2(P)) (numpy conventions), so a
product costs two FFTs per pair plus two GEMMs per k; H is never formed.  The
exchange term is the rank-n_site product above.

Distribution (p ranks):
- the vector: rank r owns the transitions of its block of k-points
  (PETSc local size (k_stop - k_start) n_v n_c); its band coefficients only
  for those k;
- the k-convolution: rank r owns a block of orbital pairs (i, j) for all k.
Communication per product (hpcx.parallel): two Alltoallv transpositions of the pair
matrices P / Q between the two layouts (n_k n_orb^2 complex in total, each
rank sending and receiving ~ n_k n_orb^2 / p), one Allreduce of n_site
numbers (exchange).  No rank ever holds the whole vector.  Memory per rank:
O((N + n_k n_orb^2) / p) (see :mod:`hpcx.bse.memory`).

Data layout per rank (what a faster product may rely on and must keep):
- ``C_v`` [n_kl, n_orb, n_v], ``C_c`` [n_kl, n_orb, n_c] (C order): band coefficients of the
  local k-points; ``_diagonal`` [n_kl n_v n_c] = E_c - E_v in transition order;
- ``V_R`` [n1, n2, p1 - p0] real eV: the potential of the local orbital pairs
  (i, j) = divmod(pair, n_orb), pair in [p0, p1), on the Born-von Karman lattice vectors;
- a vector block x [n_kl n_v n_c] is X[k, v, c] (C order); the pair matrices P, Q are
  [n_kl, n_orb^2] by k and [n_k, p1 - p0] by pair (k = i n2 + j of the grid);
- exchange: ``site_of_orbital`` [n_orb], ``V_x`` [n_site, n_site].
The operator interface and the layout rule of vectors are those of
:mod:`hpcx.bse.operator`; eigenpairs come from :func:`hpcx.bse.solver.solve`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..parallel import all_or_none, allreduce_sum, alltoallv, block_range, get_comm
from .interaction import min_image


def _evaluate(V, r, li, lj):
    try:
        return V(r, li, lj)
    except TypeError:
        return V(r)


def pair_potential(lattice, grid, positions, layer, pairs, V):
    """(n1, n2, n_pairs) real eV: V(|R + tau_j - tau_i|_BvK) for orbital pairs (i, j).

    positions (n_orb, 3) Angstrom (orbital centres), layer (n_orb,) int, pairs
    (n_pairs, 2) int (hole orbital i, electron orbital j); V a callable V(r) or
    V(r, layer_i, layer_j) (as in hpcx.bse.interaction).
    """
    n1, n2 = grid
    a, b = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    R = np.column_stack([a.ravel(), b.ravel(), np.zeros(n1 * n2)]) @ lattice
    i, j = pairs[:, 0], pairs[:, 1]
    d = R[:, None, :] + (positions[j] - positions[i])[None, :, :]
    r = np.linalg.norm(min_image(d, lattice, grid), axis=-1)
    li = np.broadcast_to(layer[i][None, :], r.shape)
    lj = np.broadcast_to(layer[j][None, :], r.shape)
    # V is evaluated once per distinct (r, layer_i, layer_j): in a supercell the n_k n_orb^2
    # pair distances take few distinct values (orbitals share sites, lattice symmetry)
    key = np.column_stack([np.round(r.ravel(), 12), li.ravel(), lj.ravel()])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    vals = np.asarray(_evaluate(V, uniq[:, 0], uniq[:, 1].astype(int), uniq[:, 2].astype(int)), dtype=float)
    return vals[inverse.ravel()].reshape(n1, n2, len(pairs))


@dataclass
class Layout:
    """Who owns what: k-blocks (vector) and orbital-pair blocks (convolution)."""

    n_k: int
    n_pairs: int
    size: int

    def k_range(self, rank):
        return block_range(self.n_k, self.size, rank)

    def pair_range(self, rank):
        return block_range(self.n_pairs, self.size, rank)


class MatFreeBSE:
    """y = H x for the BSE Hamiltonian without forming H (see module docstring).

    grid (n1, n2): the k-grid, k index i n2 + j; lattice (3, 3) Angstrom (unit cell of
    the model); positions (n_orb, 3) Angstrom; layer (n_orb,) int or None;
    E_v, E_c (n_kl, n_v/n_c) eV and C_v, C_c (n_kl, n_orb, n_v/n_c) for THIS rank's
    k-points [k_start, k_stop) = block_range(n_k, size, rank); direct: V(r[, li, lj])
    screened potential; V_x (n_site, n_site) eV and site_of_orbital for the exchange
    term (None: no exchange); exchange_factor f_x.  The operator interface of
    :mod:`hpcx.bse.operator` (local_range, apply, diagonal, petsc_mat, local_rows).
    """

    SOLVER_PREFIX = "matfree"

    def __init__(self, grid, lattice, positions, E_v, E_c, C_v, C_c, direct, layer=None, V_x=None,
                 site_of_orbital=None, exchange_factor=2.0, comm=None):
        self.comm = get_comm(comm)
        self.grid = (int(grid[0]), int(grid[1]))
        self.n_k = self.grid[0] * self.grid[1]
        self.n_orb = positions.shape[0]
        self.n_v, self.n_c = E_v.shape[1], E_c.shape[1]
        self.layout = Layout(self.n_k, self.n_orb * self.n_orb, self.comm.size)
        self.k_start, self.k_stop = self.layout.k_range(self.comm.rank)
        n_kl = self.k_stop - self.k_start
        with all_or_none(self.comm):     # a wrong slab on one rank must not hang the others
            if E_v.shape[0] != n_kl or C_v.shape != (n_kl, self.n_orb, self.n_v) or \
                    C_c.shape != (n_kl, self.n_orb, self.n_c):
                raise ValueError(f"rank {self.comm.rank}: band data must hold the {n_kl} k-points "
                                 f"[{self.k_start}, {self.k_stop}) of the block layout")
        self._diagonal = (E_c[:, None, :] - E_v[:, :, None]).reshape(-1)
        self.C_v = np.ascontiguousarray(C_v)
        self.C_c = np.ascontiguousarray(C_c)
        self.n_local = n_kl * self.n_v * self.n_c
        self.N = self.n_k * self.n_v * self.n_c
        layer = np.zeros(self.n_orb, int) if layer is None else np.asarray(layer)
        p0, p1 = self.layout.pair_range(self.comm.rank)
        pairs = np.column_stack(np.divmod(np.arange(p0, p1), self.n_orb))
        self.V_R = pair_potential(np.asarray(lattice, float), self.grid, np.asarray(positions, float), layer,
                                  pairs, direct)
        self.p0, self.p1 = p0, p1
        self.exchange = V_x is not None and exchange_factor != 0.0
        if self.exchange:
            self.site_of_orbital = np.asarray(site_of_orbital)
            self.n_site = int(V_x.shape[0])
            self.V_x = np.asarray(V_x, float)
            self.f_x = float(exchange_factor)
        self._counts()
        self.n_products = 0

    # --- communication layout -------------------------------------------------
    def _counts(self):
        L, n_o2 = self.layout, self.n_orb * self.n_orb
        ks = [L.k_range(r) for r in range(L.size)]
        ps = [L.pair_range(r) for r in range(L.size)]
        me_k = self.k_stop - self.k_start
        me_p = self.p1 - self.p0
        self._send_fwd = np.array([me_k * (p1 - p0) for p0, p1 in ps])      # my k, their pairs
        self._recv_fwd = np.array([(k1 - k0) * me_p for k0, k1 in ks])      # their k, my pairs
        self._pairs = ps
        self._ks = ks
        assert n_o2 == L.n_pairs

    def _alltoallv(self, send, scount, rcount):
        sdisp = np.concatenate([[0], np.cumsum(scount)[:-1]])
        rdisp = np.concatenate([[0], np.cumsum(rcount)[:-1]])
        recv = np.empty(int(rcount.sum()), dtype=complex)
        return alltoallv(send, scount, sdisp, recv, rcount, rdisp, self.comm)

    def _to_pairs(self, P_loc):
        """(n_kl, n_orb^2) by k -> (n_k, my pairs) by pair block."""
        if self.comm.size == 1:
            return P_loc
        send = np.concatenate([P_loc[:, p0:p1].ravel() for p0, p1 in self._pairs])
        return self._alltoallv(send, self._send_fwd, self._recv_fwd).reshape(self.n_k, self.p1 - self.p0)

    def _to_k(self, Q_pairs):
        """(n_k, my pairs) -> (n_kl, n_orb^2)."""
        if self.comm.size == 1:
            return Q_pairs
        send = np.ascontiguousarray(Q_pairs).ravel()                       # k blocks are contiguous rows
        recv = self._alltoallv(send, self._recv_fwd, self._send_fwd)
        n_kl = self.k_stop - self.k_start
        out = np.empty((n_kl, self.n_orb * self.n_orb), dtype=complex)
        off = 0
        for p0, p1 in self._pairs:
            n = n_kl * (p1 - p0)
            out[:, p0:p1] = recv[off:off + n].reshape(n_kl, p1 - p0)
            off += n
        return out

    # --- the operator interface ----------------------------------------------------
    @property
    def local_range(self):
        """[lo, hi) of this rank's transitions: its whole k-points."""
        nb = self.n_v * self.n_c
        return self.k_start * nb, self.k_stop * nb

    def diagonal(self):
        """E_c - E_v of this rank's transitions (eV)."""
        return self._diagonal

    def apply(self, x_local):
        """This rank's block of H x from its block x_local [n_local] or [n_local, m] (collective)."""
        if np.ndim(x_local) == 2:
            return np.column_stack([self.apply(x_local[:, j]) for j in range(x_local.shape[1])]) \
                if x_local.shape[1] else np.zeros((self.n_local, 0), complex)
        n_kl = self.k_stop - self.k_start
        X = np.asarray(x_local, dtype=complex).reshape(n_kl, self.n_v, self.n_c)
        # P(k) = conj(C_v) X C_c^T, per local k (GEMMs)
        P = np.matmul(np.matmul(self.C_v.conj(), X), self.C_c.transpose(0, 2, 1))
        P = P.reshape(n_kl, self.n_orb * self.n_orb)
        # direct term: convolution over k per orbital pair, by FFT, in the pair layout
        Pp = self._to_pairs(P).reshape(self.grid[0], self.grid[1], -1)
        Qp = np.fft.fft2(self.V_R * np.fft.ifft2(Pp, axes=(0, 1)), axes=(0, 1)).reshape(self.n_k, -1)
        Q = -self._to_k(Qp).reshape(n_kl, self.n_orb, self.n_orb)
        if self.exchange:
            diagP = np.einsum("kii->i", P.reshape(n_kl, self.n_orb, self.n_orb))
            rho = np.zeros(self.n_site, dtype=complex)
            np.add.at(rho, self.site_of_orbital, diagP)
            rho = allreduce_sum(rho, self.comm)
            u = (self.f_x / self.n_k) * (self.V_x @ rho)
            idx = np.arange(self.n_orb)
            Q[:, idx, idx] += u[self.site_of_orbital][None, :]
        Y = np.matmul(np.matmul(self.C_v.transpose(0, 2, 1), Q), self.C_c.conj())
        self.n_products += 1
        return Y.reshape(-1) + self._diagonal * x_local

    # --- PETSc ---------------------------------------------------------------------
    def mult(self, mat, x, y):          # petsc4py Mat python-context protocol
        y.array[:] = self.apply(x.array_r)

    def getDiagonal(self, mat, d):      # E_c - E_v (the preconditioner's diagonal)
        d.array[:] = self._diagonal

    def petsc_comm(self):
        """The PETSc communicator of ``comm`` (PETSc.COMM_SELF for one rank or the serial stand-in)."""
        from petsc4py import PETSc
        return PETSc.COMM_SELF if self.comm.size == 1 else PETSc.Comm(self.comm)

    def petsc_mat(self):
        """A PETSc MatShell (type python) on comm with this rank's rows."""
        from petsc4py import PETSc
        A = PETSc.Mat().createPython([(self.n_local, self.N), (self.n_local, self.N)], context=self,
                                     comm=self.petsc_comm())
        A.setUp()
        return A

    def local_rows(self):
        """[n_local, N] rows of H built by products with unit vectors (small N only: O(N^2))."""
        out = np.zeros((self.N, self.n_local), dtype=complex)
        off = sum(self._ks[r][1] * 0 + (self._ks[r][1] - self._ks[r][0]) * self.n_v * self.n_c
                  for r in range(self.comm.rank))
        for col in range(self.N):
            e = np.zeros(self.n_local, dtype=complex)
            if off <= col < off + self.n_local:
                e[col - off] = 1.0
            out[col] = self.apply(e)
        return out.T

