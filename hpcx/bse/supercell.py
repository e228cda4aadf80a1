"""Supercells of a tight-binding model as sparse Bloch Hamiltonians.

A supercell is given by an integer 2x2 matrix M: its lattice vectors are
A_i = sum_j M_ij a_j (rows, Angstrom), it holds |det M| unit cells (sites)
n = (n1, n2) and the orbitals (site, i) in that order, orbital index
site * n_orb + i.  Every unit-cell hopping <i, n|H|j, n + R> is copied to
every site: the target n + R = t0 + L.M with t0 a site of the supercell and
L an integer supercell lattice vector, so the hopping lands in the supercell
block H_L at (site(n), i), (site(t0), j).  The result is a
:class:`SparseTBModel` whose H(k) is a scipy.sparse CSR matrix; nothing of
size n_orb_sc^2 is ever stored.

Gauges are those of :mod:`hpcx.bse.tbmodel`; ``to_tbmodel`` gives a dense
:class:`TBModel` for small cells (tests, the dense BSE reference).

Commensurate twisted cells of hexagonal layers: a hexagonal supercell of a
layer with 60-degree lattice vectors (a1, a2) spanned by m1 a1 + m2 a2 and
its 60-degree rotation is M = [[m1, m2], [-m2, m1 + m2]] with
|det M| = m1^2 + m1 m2 + m2^2 sites (:func:`hexagonal_supercell_matrix`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .tbmodel import GAUGES, LatticeModel, TBModel


def _adjugate(M):
    """Integer adjugate of a 2x2 integer matrix: M @ adj = det * 1."""
    return np.array([[M[1, 1], -M[0, 1]], [-M[1, 0], M[0, 0]]], dtype=np.int64)


def supercell_sites(M):
    """(n_sites, 2) int: unit-cell vectors n = (n1, n2) inside the supercell of M.

    Site n belongs to the cell when its supercell coordinates n.M^{-1} lie in
    [0, 1)^2 (exact integer arithmetic); ordered lexicographically.
    """
    M = np.asarray(M, dtype=np.int64)
    det = int(round(np.linalg.det(M)))
    if det == 0:
        raise ValueError(f"supercell matrix {M.tolist()} is singular")
    corners = np.array([[0, 0], M[0], M[1], M[0] + M[1]])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    g1, g2 = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    n = np.column_stack([g1.ravel(), g2.ravel()])
    f = n @ _adjugate(M)                       # = det * (n . M^{-1})
    if det < 0:
        f, det = -f, -det
    inside = np.all((f >= 0) & (f < det), axis=1)
    sites = n[inside]
    if len(sites) != det:  # pragma: no cover - guards the enumeration itself
        raise RuntimeError(f"found {len(sites)} sites for |det M| = {det}")
    return sites


def _reduce(t, M, adj, det, site_index):
    """Split unit-cell vectors t (..., 2) into supercell vector L and site index s: t = site_s + L.M."""
    f = t @ adj
    L = np.floor_divide(f, det)
    rem = f - L * det                           # det * fractional part, in [0, det)
    keys = rem[..., 0] * det + rem[..., 1]
    return L, site_index(keys)


def hexagonal_supercell_matrix(m1, m2):
    """M = [[m1, m2], [-m2, m1 + m2]]: the hexagonal cell spanned by m1 a1 + m2 a2 and its
    60-degree rotation (a1, a2 at 60 degrees); |det M| = m1^2 + m1 m2 + m2^2."""
    return np.array([[m1, m2], [-m2, m1 + m2]], dtype=np.int64)


@dataclass(frozen=True)
class SparseTBModel(LatticeModel):
    """A tight-binding model stored as one list of hoppings (COO with duplicates).

    lattice:   (3, 3) Angstrom, rows A1, A2, A3
    positions: (n_orb, 3) Angstrom, orbital centres in the home cell
    rows, cols: (n_hop,) int orbital indices; value (n_hop,) complex eV;
    R:         (n_hop, 3) int lattice vector of each hopping:
               value = <rows, 0|H|cols, R>.
    """

    lattice: np.ndarray
    positions: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    R: np.ndarray
    value: np.ndarray
    labels: tuple = ()

    @property
    def nnz(self):
        return len(self.value)

    def _shift(self, gauge):
        if gauge not in GAUGES:
            raise ValueError(f"gauge must be one of {GAUGES}, got {gauge!r}")
        d = self.R @ self.lattice
        if gauge == "atomic":
            d = d + self.positions[self.cols] - self.positions[self.rows]
        return d

    def hk(self, k_frac, gauge="lattice"):
        """CSR (n_orb, n_orb) complex eV: H(k) at one fractional k (length 2 or 3)."""
        phase = np.exp(1j * (self._shift(gauge) @ self.cartesian(k_frac)[0]))
        h = sp.coo_matrix((self.value * phase, (self.rows, self.cols)), shape=(self.n_orb,) * 2)
        return h.tocsr()

    def velocity(self, k_frac):
        """[M_x, M_y] CSR (n_orb, n_orb) complex eV Angstrom at one fractional k, lattice gauge:
        M_a = dH/dk_a + i (tau_j - tau_i)_a H_ij(k) = i sum_hop (R.A + tau_j - tau_i)_a e^{ik.R.A} t,
        the operator whose band matrix elements hpcx.bse.optics.velocity_matrix returns."""
        d_lat = self.R @ self.lattice
        phase = np.exp(1j * (d_lat @ self.cartesian(k_frac)[0]))
        d = d_lat + self.positions[self.cols] - self.positions[self.rows]
        shape = (self.n_orb,) * 2
        return [sp.coo_matrix((1j * d[:, a] * self.value * phase, (self.rows, self.cols)), shape=shape).tocsr()
                for a in range(2)]

    def hermiticity_error(self, k_frac=(0.123, 0.321)):
        """max |H(k) - H(k)^dagger| (eV) at one generic k."""
        h = self.hk(k_frac)
        d = (h - h.conj().T)
        return float(abs(d).max()) if d.nnz else 0.0

    def with_onsite(self, delta):
        """A copy with ``delta`` (n_orb,) eV added to the on-site energies."""
        delta = np.asarray(delta, dtype=float)
        idx = np.arange(self.n_orb)
        keep = delta != 0.0
        return SparseTBModel(self.lattice, self.positions,
                             np.concatenate([self.rows, idx[keep]]), np.concatenate([self.cols, idx[keep]]),
                             np.concatenate([self.R, np.zeros((keep.sum(), 3), dtype=np.int64)]),
                             np.concatenate([self.value, delta[keep].astype(complex)]), self.labels)

    def to_tbmodel(self):
        """Dense :class:`TBModel` (n_R, n_orb, n_orb); only for small cells."""
        Rs, inverse = np.unique(self.R, axis=0, return_inverse=True)
        H = np.zeros((len(Rs), self.n_orb, self.n_orb), dtype=complex)
        np.add.at(H, (inverse.ravel(), self.rows, self.cols), self.value)
        return TBModel(self.lattice.copy(), self.positions.copy(), Rs, H, self.labels)


def from_tbmodel(model, cutoff=0.0):
    """The hoppings of a dense :class:`TBModel` as a :class:`SparseTBModel`, those with
    |H| <= ``cutoff`` (eV; 0: exact zeros) dropped.  A cutoff keeps H(k) Hermitian: |H_ij(R)| =
    |H_ji(-R)| for a Hermitian model, so both partners go or stay together."""
    r, i, j = np.nonzero(np.abs(model.H_Rij) > cutoff)
    return SparseTBModel(np.asarray(model.lattice, float), np.asarray(model.positions, float), i, j,
                         np.asarray(model.R, np.int64)[r], model.H_Rij[r, i, j].astype(complex),
                         tuple(model.labels))


def fold(model, M):
    """Supercell of ``model`` (TBModel or SparseTBModel) for the integer 2x2 matrix M.

    Returns (SparseTBModel, sites (n_sites, 2) int).  Works for any model:
    only the in-plane components of R are folded (R3 is kept).
    """
    unit = model if isinstance(model, SparseTBModel) else from_tbmodel(model)
    M = np.asarray(M, dtype=np.int64)
    if M.shape != (2, 2):
        raise ValueError(f"supercell matrix must be 2x2, got shape {M.shape}")
    sites = supercell_sites(M)
    n_s, n_o = len(sites), unit.n_orb
    det = n_s
    adj = _adjugate(M)
    if round(np.linalg.det(M)) < 0:
        adj = -adj
    lookup = {}
    f = sites @ adj
    for s, key in enumerate(f[:, 0] * det + f[:, 1]):
        lookup[int(key)] = s
    table = np.full(det * det, -1, dtype=np.int64)
    for key, s in lookup.items():
        table[key] = s

    lattice = np.array(unit.lattice, dtype=float)
    sc_lattice = lattice.copy()
    sc_lattice[:2] = M @ lattice[:2]
    positions = (unit.positions[None, :, :] + (sites @ lattice[:2])[:, None, :]).reshape(-1, 3)

    # every hop (h) from every site (s): target site and supercell vector
    t = sites[:, None, :] + unit.R[None, :, :2]                     # (n_s, n_hop, 2)
    L, s_to = _reduce(t, M, adj, det, lambda keys: table[keys])
    s_from = np.broadcast_to(np.arange(n_s)[:, None], s_to.shape)
    rows = (s_from * n_o + unit.rows[None, :]).ravel()
    cols = (s_to * n_o + unit.cols[None, :]).ravel()
    R = np.concatenate([L.reshape(-1, 2), np.broadcast_to(unit.R[None, :, 2:], L.shape[:2] + (1,)).reshape(-1, 1)],
                       axis=1)
    value = np.broadcast_to(unit.value[None, :], s_to.shape).ravel().copy()
    labels = tuple(f"{lab}@{s}" for s in range(n_s) for lab in unit.labels) if unit.labels else ()
    return SparseTBModel(sc_lattice, positions, rows, cols, R.astype(np.int64), value, labels), sites


def unfolded_kpoints(M, K_frac):
    """Unit-cell fractional k-points that fold onto the supercell point K_frac (2 or 3 comps).

    Returns (|det M|, 3): k = (K + m) M^{-T} for the |det M| distinct integer m mod M^T.
    """
    M = np.asarray(M, dtype=np.int64)
    K = np.zeros(2)
    K[:] = np.asarray(K_frac, dtype=float)[:2]
    # distinct m: the sites of the cell of M^T (reciprocal supercell relation)
    ms = supercell_sites(M.T)
    k = (K[None, :] + ms) @ np.linalg.inv(M.T)
    return np.column_stack([k, np.zeros(len(k))])


# ---------------------------------------------------------------------------
# bands nearest the gap


def _select(w, v, sigma, n_v, n_c):
    """The n_v highest eigenpairs below sigma and the n_c lowest above, ascending; None if short."""
    order = np.argsort(w)
    w, v = w[order], v[:, order]
    below, above = np.flatnonzero(w < sigma), np.flatnonzero(w >= sigma)
    if len(below) < n_v or len(above) < n_c:
        return None
    pick = np.concatenate([below[len(below) - n_v:], above[:n_c]])
    return w[pick], v[:, pick]


def _dense(h, sigma, n_v, n_c):
    w, v = np.linalg.eigh(h.toarray())
    got = _select(w, v, sigma, n_v, n_c)
    if got is None:
        raise ValueError(f"fewer than {n_v} bands below or {n_c} above the shift {sigma} eV")
    return got


def _scipy_sinvert(h, sigma, n_v, n_c, tol):
    from scipy.sparse.linalg import eigsh
    n = h.shape[0]
    nev = min(n - 2, 2 * max(n_v, n_c) + 4)
    while True:
        w, v = eigsh(h, k=nev, sigma=sigma, which="LM", tol=tol)
        got = _select(w, v, sigma, n_v, n_c)
        if got is not None:
            return got
        if nev >= n - 2:
            return _dense(h, sigma, n_v, n_c)
        nev = min(n - 2, 2 * nev)


def _slepc_sinvert(h, sigma, n_v, n_c, tol):
    from petsc4py import PETSc
    from slepc4py import SLEPc
    h = h.tocsr()
    A = PETSc.Mat().createAIJ(size=h.shape, csr=(h.indptr, h.indices, h.data), comm=PETSc.COMM_SELF)
    A.assemble()
    n = h.shape[0]
    nev = min(n - 1, 2 * max(n_v, n_c) + 4)
    try:
        while True:
            eps = SLEPc.EPS().create(comm=PETSc.COMM_SELF)
            eps.setOperators(A)
            eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
            eps.setTarget(sigma)
            eps.setWhichEigenpairs(SLEPc.EPS.Which.TARGET_MAGNITUDE)
            eps.setDimensions(nev=nev)
            eps.setTolerances(tol=tol, max_it=1000)
            st = eps.getST()
            st.setType(SLEPc.ST.Type.SINVERT)
            ksp = st.getKSP()
            ksp.setType("preonly")
            pc = ksp.getPC()
            pc.setType("lu")
            eps.solve()
            nconv = eps.getConverged()
            w = np.empty(nconv)
            v = np.empty((n, nconv), dtype=complex)
            x = A.createVecRight()
            for i in range(nconv):
                w[i] = eps.getEigenpair(i, x).real
                v[:, i] = x.getArray()
            eps.destroy()
            got = _select(w, v, sigma, n_v, n_c) if nconv >= n_v + n_c else None
            if got is not None:
                return got
            if nev >= n - 1:
                return _dense(h, sigma, n_v, n_c)
            nev = min(n - 1, 2 * nev)
    finally:
        A.destroy()


SOLVERS = ("auto", "dense", "scipy", "slepc")


def bands_near_gap(model, k_frac, n_v, n_c, sigma, gauge="lattice", solver="auto", tol=1e-12,
                   dense_below=400, progress=None):
    """The n_v bands just below and n_c just above the energy ``sigma`` (eV) at each k.

    Shift-and-invert around sigma (SLEPc EPS with ST sinvert and a sparse LU,
    or scipy ``eigsh(sigma=...)``); ``solver="auto"`` takes dense ``eigh`` for
    cells with fewer than ``dense_below`` orbitals, else SLEPc if importable,
    else scipy.  Returns energies (n_k, n_v + n_c) ascending and coefficients
    (n_k, n_orb, n_v + n_c) (columns, unit norm) in ``gauge``.  ``progress``: an object with
    ``update(n)``, told of every k-point.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "auto":
        if model.n_orb < dense_below:
            solver = "dense"
        else:
            try:
                import slepc4py  # noqa: F401
                solver = "slepc"
            except ImportError:
                solver = "scipy"
    solve = {"dense": lambda h: _dense(h, sigma, n_v, n_c),
             "scipy": lambda h: _scipy_sinvert(h, sigma, n_v, n_c, tol),
             "slepc": lambda h: _slepc_sinvert(h, sigma, n_v, n_c, tol)}[solver]
    k_frac = np.atleast_2d(np.asarray(k_frac, dtype=float))
    n_b = n_v + n_c
    energy = np.empty((len(k_frac), n_b))
    coeff = np.empty((len(k_frac), model.n_orb, n_b), dtype=complex)
    for i, k in enumerate(k_frac):
        energy[i], coeff[i] = solve(model.hk(k, gauge))
        if progress is not None:
            progress.update(1)
    return energy, coeff


def bands_near_gap_mpi(model, k_frac, n_v, n_c, sigma, comm, **kwargs):
    """:func:`bands_near_gap` with the k-points block-distributed over ``comm``.

    Returns (start, energy_local, coeff_local) for this rank's block
    [start, start + n_local) of k_frac (PETSc-style layout); nothing is gathered.
    """
    from ..parallel import all_or_none, block_range
    start, stop = block_range(len(k_frac), comm.size, comm.rank)
    with all_or_none(comm):
        energy, coeff = bands_near_gap(model, np.asarray(k_frac)[start:stop], n_v, n_c, sigma, **kwargs)
    return start, energy, coeff
