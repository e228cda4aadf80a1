"""The BSE operator interface, its dense implementation, and how vectors are spread over ranks.

An operator is the problem, a solver takes options (the problem/solver split of
Firedrake's SLEPc interface).  Both operators of hpcx, :class:`DenseRows` (the
assembled rows a rank owns, :mod:`hpcx.bse.hamiltonian`) and
:class:`hpcx.bse.matfree.MatFreeBSE` (products without the matrix), provide

- ``N``, ``comm`` and ``local_range`` = (lo, hi): this rank's block of the
  transition index;
- ``apply(x_local)``: this rank's block of H x from its block of x (x may be
  [n_local] or [n_local, m]; collective);
- ``diagonal()``: this rank's block of diag(H) (real, eV);
- ``petsc_mat()`` / ``petsc_comm()``: a PETSc matrix with the same rows;
- ``local_rows()``: this rank's rows [n_local, N] as a dense array (the small-N
  dense eigensolver; O(N^2) for the matrix-free operator);
- ``n_products``: products done so far.

**Layout rule** (one for every operator, every solver and the recursion):
vectors are spread over the ranks of ``comm`` in contiguous blocks of the
global transition order S = (k n_v + v) n_c + c; rank r holds the entries
``local_range`` = [lo, hi).  The blocks of :class:`DenseRows` are PETSc's
default row layout (:func:`hpcx.parallel.block_range` of N); those of
``MatFreeBSE`` hold whole k-points (``block_range`` of n_k, times n_v n_c).
:func:`on_layout` moves k-block data (what :func:`hpcx.bse.supercell.bands_near_gap_mpi`
gives each rank) onto an operator's layout.
"""

from __future__ import annotations

import numpy as np

from ..parallel import allgather_concat, block_range, get_comm


class DenseRows:
    """The assembled rows [start, start + n_local) of a Hermitian BSE Hamiltonian (complex eV).

    rows [n_local, N]; ``start`` must be this rank's PETSc row block
    (:func:`ownership`).  Products gather the vector (N numbers per rank): for N
    up to a few 1e4, where the rows themselves (N^2/p) dominate the memory.
    """

    SOLVER_PREFIX = "slepc"

    def __init__(self, rows, start, comm=None):
        self.comm = get_comm(comm)
        self.rows = rows
        self.N = int(rows.shape[1])
        self.start = int(start)
        self.n_products = 0

    @property
    def local_range(self):
        return self.start, self.start + self.rows.shape[0]

    @property
    def n_local(self):
        return self.rows.shape[0]

    def apply(self, x_local):
        """This rank's block of H x ([n_local] or [n_local, m]); gathers x (collective)."""
        full = allgather_concat(x_local, self.comm)
        self.n_products += 1 if np.ndim(x_local) == 1 else np.shape(x_local)[1]
        return self.rows @ full

    def diagonal(self):
        lo, hi = self.local_range
        return self.rows[np.arange(hi - lo), np.arange(lo, hi)].real.copy()

    def local_rows(self):
        return self.rows

    def petsc_comm(self):
        """PETSc.COMM_SELF for one rank (or the serial stand-in), else ``comm``."""
        from petsc4py import PETSc
        return PETSc.COMM_SELF if self.comm.size == 1 else PETSc.Comm(self.comm)

    def petsc_mat(self):
        """A PETSc MPIDENSE matrix filled with this rank's rows (PETSc's own row layout)."""
        from petsc4py import PETSc
        n_loc = self.n_local
        A = PETSc.Mat().createDense(((n_loc, self.N), (n_loc, self.N)), comm=self.petsc_comm())
        A.setUp()
        if A.getOwnershipRange() != self.local_range:
            lo, hi = A.getOwnershipRange()
            A.destroy()
            raise RuntimeError(f"PETSc owns rows {lo}:{hi}, the rows given are {self.local_range}")
        A.getDenseArray()[:] = self.rows
        A.assemble()
        return A


def ownership(n, comm):
    """[start, stop) of this rank's rows: PETSc's default layout (hpcx.parallel.block_range)."""
    return block_range(n, comm.size, comm.rank)


def on_layout(local, k_start, per_k, local_range, comm):
    """Rows of ``local`` (this rank's k-block: transitions [k_start per_k, ...), first axis) on the
    operator layout ``local_range``: the block itself when it is that range, else gathered and cut
    (the dense operator's PETSc rows cut through k-blocks)."""
    lo, hi = local_range
    if (lo, hi) == (k_start * per_k, k_start * per_k + len(local)):
        return local
    return allgather_concat(local, comm)[lo:hi]


def from_bands(kind, bands, lattice, positions, sites, V, V_x=None, exchange_factor=2.0, comm=None,
               progress=None):
    """The BSE operator ('dense' or 'matfree') of the distributed band window ``bands``
    (hpcx.bse.bands.LocalBands) of a model with ``lattice`` (3, 3) and orbital ``positions``
    (n_orb, 3) Angstrom, interaction ``sites`` (hpcx.bse.interaction.Sites), screened V(r) (eV,
    r in Angstrom) and the exchange matrix V_x [n_site, n_site] eV (None: no exchange).

    'matfree': :class:`hpcx.bse.matfree.MatFreeBSE` on the k-blocks (nothing gathered, nothing
    assembled: ``progress`` is not used); 'dense': the window gathered on every rank, W_st(q)
    lattice sums, and the rows of PETSc's layout assembled (``progress`` told of the rows)."""
    from . import interaction as it
    from .hamiltonian import assemble_rows
    from .matfree import MatFreeBSE
    comm = get_comm(comm)
    if kind == "matfree":
        return MatFreeBSE(bands.grid, lattice, positions, bands.E_v, bands.E_c, bands.C_v, bands.C_c, V, V_x=V_x,
                          site_of_orbital=sites.site_of_orbital, exchange_factor=exchange_factor, comm=comm)
    if kind != "dense":
        raise ValueError(f"operator must be 'dense' or 'matfree', got {kind!r}")
    window = bands.gather(comm)
    W = it.lattice_sum(V(it.site_distances(lattice, bands.grid, sites.positions))).reshape(-1, sites.n_site,
                                                                                          sites.n_site)
    inter = it.Interaction(sites, np.ascontiguousarray(W, dtype=complex), V_x, it.q_index(bands.grid))
    lo, hi = ownership(window.size, comm)
    rows = assemble_rows(window, inter, lo, hi, exchange_factor=exchange_factor if V_x is not None else 0.0,
                         progress=progress)
    return DenseRows(rows, lo, comm)
