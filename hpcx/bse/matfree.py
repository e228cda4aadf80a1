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
product costs two 2D FFTs per pair plus two small contractions per k (kernel
``bse_pairs`` below BLAS_PAIRS_FROM_ORBITALS orbitals, batched ZGEMMs from there); H is never
formed.  The exchange term is the rank-n_site product above.

Distribution (p ranks):
- the vector: rank r owns the transitions of its block of k-points
  (PETSc local size (k_stop - k_start) n_v n_c); its band coefficients only
  for those k; the pair densities P and the results Q of its k-points (and
  the grid rows they touch) are computed there;
- the k-convolution (:class:`hpcx.bse.kconv.KConvolution`): the transforms
  along the second grid axis on the rank's rows, those along the first axis
  on an equal block of the n2 n_orb^2 columns (second-axis index, pair) — the
  FFT work is split evenly whatever the number of pairs.
Communication per product (hpcx.parallel): two all-to-all exchanges between the
row and the column layout (n_k n_orb^2 numbers in total, ~n_k n_orb^2 / p per
rank, each in pieces overlapped with the transforms), one Allreduce of n_site
numbers (exchange).  No rank ever holds the whole vector.  Memory per rank:
O((N + n_k n_orb^2) / p) (see :mod:`hpcx.bse.memory`).

``precision="single"`` does the transforms (and the exchanges) in complex64:
products accurate to ~1e-7 relative at half the FFT cost and communication,
for the early iterations of a solve; residuals are always checked with the
double-precision product (:func:`hpcx.bse.solver.solve`).

Data layout per rank (what a faster product may rely on and must keep):
- ``C_v`` [n_kl, n_orb, n_v], ``C_c`` [n_kl, n_orb, n_c] (C order): band coefficients of the
  local k-points; ``_diagonal`` [n_kl n_v n_c] = E_c - E_v in transition order;
- a vector block x [n_kl n_v n_c] is X[k, v, c] (C order); the pair matrices P, Q are
  [n_kl, n_orb^2] by k (pair = i n_orb + j), k = i1 n2 + i2 on the grid;
- ``conv``: the :class:`~hpcx.bse.kconv.KConvolution` with the real-space potential of this
  rank's columns (V(|R + tau_j - tau_i|_BvK) in eV on the Born-von Karman lattice vectors);
- exchange: ``site_of_orbital`` [n_orb], ``V_x`` [n_site, n_site].
The operator interface and the layout rule of vectors are those of
:mod:`hpcx.bse.operator`; eigenpairs come from :func:`hpcx.bse.solver.solve`;
:func:`prolong` carries eigenvectors from a coarser k-grid to a finer one (start vectors).
"""

from __future__ import annotations

import numpy as np

from .. import _kernels
from ..parallel import abort_with, all_or_none, allgather_concat, allreduce_sum, block_range, get_comm
from .interaction import min_image
from .kconv import KConvolution

#: From this many orbitals on, the pair densities and their contraction are batched ZGEMMs
#: (2-3x faster than the fused kernel's loops at 300-1000 orbitals: moiré supercells); below it
#: the kernel (hpcx._kernels.bse_pairs), which avoids a BLAS call per k-point for small models.
BLAS_PAIRS_FROM_ORBITALS = 64
#: bytes of the complex128 temporaries of one block of k-points of the ZGEMM path
BLAS_PAIRS_BLOCK_BYTES = 16 * 2 ** 20


def _k_blocks(n_k, n_orb):
    """[a, b) blocks of k-points whose [b - a, n_orb, n_orb] complex128 block fits the block bytes."""
    step = max(1, BLAS_PAIRS_BLOCK_BYTES // (16 * n_orb * n_orb))
    return [(a, min(a + step, n_k)) for a in range(0, n_k, step)]


def blas_pair_density(C_v, C_c, X, out):
    """The kernel's pair_density by batched matrix products: out[k, i n_orb + j] = sum_vc
    conj(C_v[k, i, v]) X[k, v, c] C_c[k, j, c]; X [n_k, n_v, n_c], out [n_k, n_orb^2] complex128 or
    complex64 (every element set, sums in double precision)."""
    n_k, n = C_v.shape[:2]
    for a, b in _k_blocks(n_k, n):
        out[a:b] = (np.conj(C_v[a:b]) @ (X[a:b] @ C_c[a:b].transpose(0, 2, 1))).reshape(b - a, n * n)


def blas_pair_contract(C_v, C_c, Q, scale, out):
    """The kernel's pair_contract by batched matrix products: out[k, v, c] = scale sum_ij
    C_v[k, i, v] Q[k, i n_orb + j] conj(C_c[k, j, c]); Q [n_k, n_orb^2] complex128 or complex64,
    out [n_k, n_v, n_c] (sums in double precision)."""
    n_k, n = C_v.shape[:2]
    for a, b in _k_blocks(n_k, n):
        S = Q[a:b].astype(complex, copy=False).reshape(b - a, n, n) @ np.conj(C_c[a:b])
        out[a:b] = scale * (C_v[a:b].transpose(0, 2, 1) @ S)


class _BlasPairs:
    """The bse_pairs interface on batched ZGEMMs (models of many orbitals)."""

    pair_density = staticmethod(blas_pair_density)
    pair_contract = staticmethod(blas_pair_contract)


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


def column_potential(lattice, grid, positions, layer, columns, V):
    """(n1, len(columns)) real eV: V(|R + tau_j - tau_i|_BvK) for the columns c = i2 n_orb^2 + i n_orb + j
    of :class:`hpcx.bse.kconv.KConvolution` (R = i1 a1 + i2 a2, i1 the row).  Evaluated once per
    distinct (displacement tau_j - tau_i, layers) and distinct distance."""
    n1, n2 = grid
    n_orb = len(positions)
    i2, pair = np.divmod(np.asarray(columns), n_orb * n_orb)
    i, j = np.divmod(pair, n_orb)
    disp = np.column_stack([np.round(positions[j] - positions[i], 12), layer[i], layer[j]])
    groups, g_of = np.unique(disp, axis=0, return_inverse=True)
    g_of = g_of.ravel()
    lo = int(i2.min()) if len(i2) else 0
    m = (int(i2.max()) + 1 - lo) if len(i2) else 0
    a, b = np.meshgrid(np.arange(n1), np.arange(lo, lo + m), indexing="ij")
    R = np.stack([a, b, np.zeros_like(a)], axis=-1) @ lattice                     # [n1, m, 3]
    d = R[None] + groups[:, None, None, :3]                                        # [g, n1, m, 3]
    r = np.linalg.norm(min_image(d, lattice, grid), axis=-1)
    li = np.broadcast_to(groups[:, None, None, 3], r.shape)
    lj = np.broadcast_to(groups[:, None, None, 4], r.shape)
    key = np.column_stack([np.round(r.ravel(), 12), li.ravel(), lj.ravel()])
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    vals = np.asarray(_evaluate(V, uniq[:, 0], uniq[:, 1].astype(int), uniq[:, 2].astype(int)), dtype=float)
    table = vals[inverse.ravel()].reshape(r.shape)                                 # [g, n1, m]
    return np.ascontiguousarray(table[g_of, :, i2 - lo].T) if len(i2) else np.zeros((n1, 0))


class MatFreeBSE:
    """y = H x for the BSE Hamiltonian without forming H (see module docstring).

    grid (n1, n2): the k-grid, k index i n2 + j; lattice (3, 3) Angstrom (unit cell of
    the model); positions (n_orb, 3) Angstrom; layer (n_orb,) int or None;
    E_v, E_c (n_kl, n_v/n_c) eV and C_v, C_c (n_kl, n_orb, n_v/n_c) for THIS rank's
    k-points [k_start, k_stop) = block_range(n_k, size, rank); direct: V(r[, li, lj])
    screened potential; V_x (n_site, n_site) eV and site_of_orbital for the exchange
    term (None: no exchange); exchange_factor f_x; precision 'double' or 'single' (the
    FFT stage, settable later); chunks: pieces of each exchange (None: automatic).  The operator
    interface of :mod:`hpcx.bse.operator` (local_range, apply, diagonal, petsc_mat, local_rows).
    """

    SOLVER_PREFIX = "matfree"
    PRECISIONS = {"double": np.complex128, "single": np.complex64}

    def __init__(self, grid, lattice, positions, E_v, E_c, C_v, C_c, direct, layer=None, V_x=None,
                 site_of_orbital=None, exchange_factor=2.0, comm=None, precision="double", chunks=None):
        self.comm = get_comm(comm)
        self.grid = (int(grid[0]), int(grid[1]))
        self.n_k = self.grid[0] * self.grid[1]
        self.n_orb = positions.shape[0]
        self.n_v, self.n_c = E_v.shape[1], E_c.shape[1]
        self.k_start, self.k_stop = block_range(self.n_k, self.comm.size, self.comm.rank)
        self._ks = [block_range(self.n_k, self.comm.size, r) for r in range(self.comm.size)]
        n_kl = self.k_stop - self.k_start
        with all_or_none(self.comm):     # a wrong slab on one rank must not hang the others
            if E_v.shape[0] != n_kl or C_v.shape != (n_kl, self.n_orb, self.n_v) or \
                    C_c.shape != (n_kl, self.n_orb, self.n_c):
                raise ValueError(f"rank {self.comm.rank}: band data must hold the {n_kl} k-points "
                                 f"[{self.k_start}, {self.k_stop}) of the block layout")
            if precision not in self.PRECISIONS:
                raise ValueError(f"precision must be one of {sorted(self.PRECISIONS)}, got {precision!r}")
        self._diagonal = (E_c[:, None, :] - E_v[:, :, None]).reshape(-1)
        self.C_v = np.ascontiguousarray(C_v, dtype=complex)
        self.C_c = np.ascontiguousarray(C_c, dtype=complex)
        self.n_local = n_kl * self.n_v * self.n_c
        self.N = self.n_k * self.n_v * self.n_c
        layer = np.zeros(self.n_orb, int) if layer is None else np.asarray(layer)
        self.conv = KConvolution(self.grid, self.n_orb ** 2, (self.k_start, self.k_stop), self.comm,
                                 self.PRECISIONS[precision], chunks)
        self.conv.set_potential(column_potential(np.asarray(lattice, float), self.grid, np.asarray(positions, float),
                                                 layer, np.arange(self.conv.col0, self.conv.col1), direct))
        self._precision = precision
        self.exchange = V_x is not None and exchange_factor != 0.0
        if self.exchange:
            self.site_of_orbital = np.asarray(site_of_orbital)
            self.n_site = int(V_x.shape[0])
            self.V_x = np.asarray(V_x, float)
            self.f_x = float(exchange_factor)
        self._kernel = _kernels.load("bse_pairs") if self.n_orb < BLAS_PAIRS_FROM_ORBITALS else _BlasPairs
        self.n_products = 0
        self.product_error = None

    @property
    def precision(self):
        """'double' or 'single': the precision of the FFT stage of the products (settable)."""
        return self._precision

    @precision.setter
    def precision(self, value):
        if value not in self.PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(self.PRECISIONS)}, got {value!r}")
        if value != self._precision:
            self.conv.dtype = self.PRECISIONS[value]
            self._precision = value

    # --- the operator interface ----------------------------------------------------------------
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
            out = np.empty((self.n_local, x_local.shape[1]), complex)
            for j in range(x_local.shape[1]):
                out[:, j] = self.apply(x_local[:, j])
            return out
        x = np.ascontiguousarray(x_local, dtype=complex)
        P = self.pair_densities(x)
        if self.exchange:
            n = self.n_orb
            rho = np.zeros(self.n_site, dtype=complex)
            np.add.at(rho, self.site_of_orbital, P[:, ::n + 1].sum(axis=0))
            u = (self.f_x / self.n_k) * (self.V_x @ allreduce_sum(rho, self.comm))
        Q = self.conv.convolve()
        if self.exchange:
            Q[:, ::self.n_orb + 1] -= u[self.site_of_orbital].astype(Q.dtype)[None, :]
        y = self.contract(Q, -1.0)
        y += self._diagonal * x
        self.n_products += 1
        return y

    def pair_densities(self, x):
        """P [n_kl, n_orb^2] = conj(C_v) X C_c^T of the local block x, written into the
        convolution's buffer (its padding cleared)."""
        self.conv.clear_padding()
        P = self.conv.k_block()
        self._kernel.pair_density(self.C_v, self.C_c, x.reshape(-1, self.n_v, self.n_c), P)
        return P

    def contract(self, Q, scale):
        """scale C_v^T Q conj(C_c) per local k: [n_local] complex128 (Q [n_kl, n_orb^2])."""
        y = np.empty((self.k_stop - self.k_start, self.n_v, self.n_c), complex)
        self._kernel.pair_contract(self.C_v, self.C_c, Q, float(scale), y)
        return y.reshape(-1)

    # --- PETSc ---------------------------------------------------------------------------------
    def mult(self, mat, x, y):          # petsc4py Mat python-context protocol
        """y = H x for SLEPc.  An error must not unwind through SLEPc (its solver would be left with
        work matrices checked out and crash the process when destroyed): on one rank it is kept
        in ``product_error``, the product returns zeros and the solver's stopping test ends the
        solve, which raises it (hpcx.bse.solver); on several ranks, which may be waiting for this
        one in an exchange of the product, it ends the run with the error named."""
        if self.product_error is None:
            try:
                y.array[:] = self.apply(x.array_r)
                return
            except Exception as exc:  # noqa: BLE001 - re-raised after the solve, or the run aborted
                if self.comm.size > 1:
                    abort_with(exc, self.comm, "in a product of the matrix-free BSE operator")
                self.product_error = exc
        y.set(0.0)

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
        off = self.local_range[0]
        for col in range(self.N):
            e = np.zeros(self.n_local, dtype=complex)
            if off <= col < off + self.n_local:
                e[col - off] = 1.0
            out[col] = self.apply(e)
        return out.T


def prolong(coarse, fine, vectors):
    """Vectors of the operator ``coarse`` carried to the finer k-grid of ``fine`` (collective; both
    :class:`MatFreeBSE` of one model on Gamma-centred grids, on the same communicator).

    vectors [coarse.n_local, m] (this rank's block).  Each becomes its electron-hole amplitude in
    real space, p_ij(R) = ifft2(conj(C_v) X C_c^T) on the coarse Born-von Karman cell
    (R in the minimum-image range), is placed at the same lattice vectors R of the fine cell (zero
    elsewhere) and transformed back on the fine grid, P = fft2(p), and projected on the fine bands,
    X = C_v^T P conj(C_c).  Exact for a bound exciton contained in the coarse cell: a start vector
    for :func:`hpcx.bse.solver.solve`.  Returns [fine.n_local, m] (unnormalised)."""
    vectors = np.asarray(vectors)
    if coarse.n_orb != fine.n_orb or (coarse.n_v, coarse.n_c) != (fine.n_v, fine.n_c):
        raise ValueError("prolong: the two operators must share orbitals and band window")
    rows, rows_f = _embedding(coarse.grid[0], fine.grid[0])
    cols2, cols2_f = _embedding(coarse.grid[1], fine.grid[1])
    n_p = fine.n_orb ** 2
    c = np.arange(fine.conv.col0, fine.conv.col1)
    i2_f, pair = np.divmod(c, n_p)
    where = np.full(fine.grid[1], -1)
    where[cols2_f] = cols2
    keep = where[i2_f] >= 0
    src_cols = where[i2_f[keep]] * n_p + pair[keep]
    out = np.empty((fine.n_local, vectors.shape[1]), complex)
    for m in range(vectors.shape[1]):
        coarse.pair_densities(np.ascontiguousarray(vectors[:, m], dtype=complex))
        p = allgather_concat(coarse.conv.to_real_space().T, coarse.comm).T        # [n1c, n2c n_p], all columns
        q = np.zeros((fine.grid[0], len(c)), fine.conv.dtype)
        q[np.ix_(rows_f, np.flatnonzero(keep))] = p[np.ix_(rows, src_cols)]
        out[:, m] = fine.contract(fine.conv.from_real_space(q), 1.0)
    return out


def _embedding(n_coarse, n_fine):
    """(coarse indices, fine indices) of the lattice vectors R in the minimum-image range
    [-(n_coarse // 2), n_coarse - n_coarse // 2) of the coarse cell."""
    if n_fine < n_coarse:
        raise ValueError(f"prolong: grid {n_fine} is coarser than {n_coarse}")
    R = np.arange(n_coarse) - n_coarse // 2
    return R % n_coarse, R % n_fine
