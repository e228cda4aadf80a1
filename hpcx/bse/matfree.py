"""Matrix-free, distributed Tamm-Dancoff BSE operator (PETSc MatShell) and its eigensolvers.

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
Communication per product: two MPI Alltoallv transpositions of the pair
matrices P / Q between the two layouts (n_k n_orb^2 complex in total, each
rank sending and receiving ~ n_k n_orb^2 / p), one Allreduce of n_site
numbers (exchange).  No rank ever holds the whole vector.  Memory per rank:
O((N + n_k n_orb^2) / p) (see :mod:`hpcx.bse.memory`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError
from ..parallel import all_or_none, block_range, get_comm
from .interaction import min_image
from .solver import run_eps


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
    term (None: no exchange); exchange_factor f_x.
    """

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
        self.diagonal = (E_c[:, None, :] - E_v[:, :, None]).reshape(-1)
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
        from mpi4py import MPI
        sdisp = np.concatenate([[0], np.cumsum(scount)[:-1]])
        rdisp = np.concatenate([[0], np.cumsum(rcount)[:-1]])
        recv = np.empty(int(rcount.sum()), dtype=complex)
        self.comm.Alltoallv([send, (scount, sdisp), MPI.C_DOUBLE_COMPLEX],
                            [recv, (rcount, rdisp), MPI.C_DOUBLE_COMPLEX])
        return recv

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

    # --- the product -------------------------------------------------------------
    def apply(self, x_local):
        """This rank's slab of H x from its slab x_local (n_local,) (collective)."""
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
            if self.comm.size > 1:
                from mpi4py import MPI
                rho = self.comm.allreduce(rho, op=MPI.SUM)
            u = (self.f_x / self.n_k) * (self.V_x @ rho)
            idx = np.arange(self.n_orb)
            Q[:, idx, idx] += u[self.site_of_orbital][None, :]
        Y = np.matmul(np.matmul(self.C_v.transpose(0, 2, 1), Q), self.C_c.conj())
        self.n_products += 1
        return Y.reshape(-1) + self.diagonal * x_local

    # --- PETSc ---------------------------------------------------------------------
    def mult(self, mat, x, y):          # petsc4py Mat python-context protocol
        y.array[:] = self.apply(x.array_r)

    def getDiagonal(self, mat, d):      # E_c - E_v (the preconditioner's diagonal)
        d.array[:] = self.diagonal

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

    def dense_local_rows(self):
        """[n_local, N] rows of H built by products with unit vectors (tests only: O(N^2))."""
        out = np.zeros((self.N, self.n_local), dtype=complex)
        off = sum(self._ks[r][1] * 0 + (self._ks[r][1] - self._ks[r][0]) * self.n_v * self.n_c
                  for r in range(self.comm.rank))
        for col in range(self.N):
            e = np.zeros(self.n_local, dtype=complex)
            if off <= col < off + self.n_local:
                e[col - off] = 1.0
            out[col] = self.apply(e)
        return out.T


@dataclass(frozen=True)
class MatFreeResult:
    """values (nev,) eV ascending; vectors (n_local, nev) this rank's slab; residuals (nev,) eV."""

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    method: str
    iterations: int
    products: int


def solve(op, nev, method="krylovschur", tol=1e-10, max_it=2000, ncv=None, options=None, prefix="bse_mf_"):
    """Lowest ``nev`` eigenpairs of the matrix-free operator with SLEPc (collective).

    method: 'krylovschur' (EPS Krylov-Schur, smallest real part) or 'gd' / 'jd'
    (Davidson-type, preconditioned by the diagonal E_c - E_v through a Jacobi PC on
    a diagonal AIJ matrix; GD takes the smallest real part, JD the eigenvalues
    closest to the smallest E_c - E_v).  Residuals
    ||H x - lambda x|| are recomputed with the operator and returned; fewer
    than nev converged pairs raise ConvergenceError with SLEPc's reason.
    """
    from petsc4py import PETSc
    from slepc4py import SLEPc
    A = op.petsc_mat()
    eps = SLEPc.EPS().create(comm=op.petsc_comm())
    eps.setOperators(A)
    eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
    eps.setDimensions(nev=nev, ncv=ncv if ncv else PETSc.DECIDE)
    eps.setTolerances(tol=tol, max_it=max_it)
    P = None
    if method == "krylovschur":
        eps.setType(SLEPc.EPS.Type.KRYLOVSCHUR)
        eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL)
    elif method in ("gd", "jd"):
        eps.setType(SLEPc.EPS.Type.GD if method == "gd" else SLEPc.EPS.Type.JD)
        dmin = float(op.diagonal.min()) if op.n_local else np.inf
        if op.comm.size > 1:
            dmin = op.comm.allreduce(dmin, op=_min_op())
        eps.setTarget(dmin)
        # GD: the smallest eigenvalues (bound excitons lie below min(E_c - E_v): "closest to the
        # gap" would return continuum states); JD needs a target and takes the one at the gap
        eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL if method == "gd" else SLEPc.EPS.Which.TARGET_REAL)
        P = PETSc.Mat().createAIJ([(op.n_local, op.N), (op.n_local, op.N)], nnz=1, comm=op.petsc_comm())
        P.setUp()
        start = P.getOwnershipRange()[0]
        for i, d in enumerate(op.diagonal):
            P.setValue(start + i, start + i, d)
        P.assemble()
        st = eps.getST()
        st.setType(SLEPc.ST.Type.PRECOND)
        st.setPreconditionerMat(P)
        ksp = st.getKSP()
        ksp.setType("preonly")
        ksp.getPC().setType("jacobi")
        if method == "jd":
            ksp.setType("bcgs")
            ksp.setTolerances(rtol=1e-3, max_it=10)
    else:
        raise ValueError(f"method must be krylovschur, gd or jd, got {method!r}")
    try:
        its = run_eps(eps, nev, prefix, options)
    except ConvergenceError:
        A.destroy()
        if P is not None:
            P.destroy()
        raise
    nconv = eps.getConverged()
    x = A.createVecRight()
    vals, vecs = [], []
    for i in range(nconv):
        vals.append(eps.getEigenpair(i, x).real)
        vecs.append(x.getArray().copy())
    order = np.argsort(vals)[:nev]
    values = np.array(vals)[order]
    vectors = np.array(vecs).T[:, order] if op.n_local else np.zeros((0, nev), complex)
    residuals = residual_norms(op, values, vectors)
    eps.destroy()
    A.destroy()
    if P is not None:
        P.destroy()
    return MatFreeResult(values, vectors, residuals, method, its, op.n_products)


def _min_op():
    from mpi4py import MPI
    return MPI.MIN


def residual_norms(op, values, vectors):
    """||H x - lambda x|| / ||x|| for distributed columns (collective)."""
    res = np.empty(len(values))
    for n, lam in enumerate(values):
        x = vectors[:, n]
        r = op.apply(x) - lam * x
        num = np.sum(np.abs(r) ** 2)
        den = np.sum(np.abs(x) ** 2)
        if op.comm.size > 1:
            num, den = op.comm.allreduce(num), op.comm.allreduce(den)
        res[n] = np.sqrt(num / den)
    return res
