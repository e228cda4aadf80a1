"""Lowest eigenpairs of the distributed, dense, Hermitian BSE Hamiltonian.

SLEPc (``EPS``, Hermitian, smallest real part, Krylov-Schur by default) on a PETSc
dense matrix whose rows each rank fills itself (``MPIDENSE``, PETSc's row
ownership); options from the config are inserted under a prefix only around the
solve.  Residual norms ||H x - lambda x|| of the returned pairs are checked and
returned; too few converged pairs raise ConvergenceError with SLEPc's reason.
Without petsc4py/slepc4py the rows are gathered and scipy's dense ``eigh`` solves.

Eigenvectors come back replicated on every rank, columns in transition order,
each scaled so that its largest component is real and positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError
from ..parallel import block_range, get_comm


def slepc_available():
    try:
        import petsc4py  # noqa: F401
        import slepc4py  # noqa: F401
        from petsc4py import PETSc
        return np.dtype(PETSc.ScalarType).kind == "c"
    except ImportError:
        return False


@dataclass(frozen=True)
class EigenResult:
    """values [nev] eV ascending; vectors [N, nev] (columns); residuals [nev] eV; backend, iterations."""

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    backend: str
    iterations: int


def ownership(n, comm):
    """[start, stop) of this rank's rows: PETSc's default layout (hpcx.parallel.block_range)."""
    return block_range(n, comm.size, comm.rank)


def _normalise_phases(vectors):
    idx = np.abs(vectors).argmax(axis=0)
    ref = vectors[idx, np.arange(vectors.shape[1])]
    return vectors * (np.abs(ref) / ref)[None, :]


def _residuals(rows, start, values, vectors, comm):
    """||H x - lambda x|| for replicated vectors, from this rank's rows (eV)."""
    local = rows @ vectors - values[None, :] * vectors[start:start + rows.shape[0]]
    sq = np.sum(np.abs(local) ** 2, axis=0)
    return np.sqrt(np.asarray(comm.allreduce(sq) if comm.size > 1 else sq))


def solve_dense(rows, start, n, nev, comm=None):
    """scipy ``eigh`` of the gathered matrix (every rank solves the same problem)."""
    from scipy.linalg import eigh
    comm = get_comm(comm)
    parts = comm.allgather((start, rows)) if comm.size > 1 else [(start, rows)]
    H = np.empty((n, n), complex)
    for s, r in parts:
        H[s:s + r.shape[0]] = r
    values, vectors = eigh(H, subset_by_index=[0, nev - 1], driver="evr")
    vectors = _normalise_phases(vectors)
    return EigenResult(values, vectors, _residuals(rows, start, values, vectors, comm), "scipy-eigh", 0)


def run_eps(eps, nev, prefix="", options=None, hint=""):
    """Solve a configured SLEPc ``eps`` with ``options`` set as -<prefix><name> only around the
    solve; returns the iteration count.  Raises ConvergenceError (and destroys ``eps``) when SLEPc
    fails or fewer than ``nev`` pairs converged, naming SLEPc's converged reason and ``hint``."""
    from petsc4py import PETSc
    from slepc4py import SLEPc
    eps.setOptionsPrefix(prefix)
    opts = PETSc.Options()
    inserted = []
    for key, value in (options or {}).items():
        opts[prefix + key] = value
        inserted.append(prefix + key)
    try:
        eps.setFromOptions()
        eps.solve()
    except PETSc.Error as exc:
        eps.destroy()
        raise ConvergenceError(f"SLEPc failed (error code {exc.ierr}) with options "
                               f"{options or {}}; see the PETSc message above") from None
    finally:
        for key in inserted:
            opts.delValue(key)
    nconv, its = eps.getConverged(), eps.getIterationNumber()
    if nconv < nev:
        reason = eps.getConvergedReason()
        names = {v: k for k, v in vars(SLEPc.EPS.ConvergedReason).items() if isinstance(v, int)}
        tol, max_it = eps.getTolerances()
        eps_type = eps.getType()
        eps.destroy()
        raise ConvergenceError(f"SLEPc {eps_type}: {nconv} of {nev} eigenpairs converged after {its} "
                               f"iterations (reason {names.get(reason, reason)}, tol {tol:g}, "
                               f"max_it {max_it}){'; ' + hint if hint else ''}")
    return its


def solve_slepc(rows, start, n, nev, comm=None, tol=1e-10, max_it=1000, eps_type="krylovschur",
                ncv=None, options=None, prefix="bse_"):
    """SLEPc EPS on an MPIDENSE matrix filled from ``rows`` (this rank's [start, start+len) rows).

    options: {name: value} set as -<prefix><name> value around the solve (e.g. {"eps_ncv": 64}).
    """
    from petsc4py import PETSc
    from slepc4py import SLEPc
    comm = get_comm(comm)
    pcomm = PETSc.COMM_SELF if comm.size == 1 else PETSc.Comm(comm)
    n_loc = rows.shape[0]
    A = PETSc.Mat().createDense(((n_loc, n), (n_loc, n)), comm=pcomm)
    A.setUp()
    lo, hi = A.getOwnershipRange()
    if (lo, hi) != (start, start + n_loc):
        raise RuntimeError(f"PETSc owns rows {lo}:{hi}, the rows given are {start}:{start + n_loc}")
    A.getDenseArray()[:] = rows
    A.assemble()
    eps = SLEPc.EPS().create(comm=pcomm)
    eps.setOperators(A)
    eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
    eps.setType(eps_type)
    eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL)
    eps.setDimensions(nev, ncv if ncv else PETSc.DECIDE)
    eps.setTolerances(tol, max_it)
    try:
        its = run_eps(eps, nev, prefix, options, hint="raise bse.max_it or bse.ncv")
    except ConvergenceError:
        A.destroy()
        raise
    eps_type = eps.getType()
    values = np.empty(nev)
    vectors = np.empty((n, nev), complex)
    xr, _ = A.createVecs()
    for i in range(nev):
        values[i] = eps.getEigenpair(i, xr).real
        local = xr.getArray()
        vectors[:, i] = np.concatenate(comm.allgather(local.copy())) if comm.size > 1 else local
    eps.destroy()
    A.destroy()
    order = np.argsort(values, kind="stable")
    values, vectors = values[order], _normalise_phases(vectors[:, order])
    return EigenResult(values, vectors, _residuals(rows, start, values, vectors, comm), f"slepc-{eps_type}", its)


def solve(rows, start, n, nev, comm=None, backend="auto", tol=1e-10, max_it=1000, eps_type="krylovschur",
          ncv=None, options=None, prefix="bse_", residual_tol=None):
    """Lowest ``nev`` eigenpairs; backend 'slepc', 'dense' or 'auto' (SLEPc when available).

    Raises ConvergenceError if a returned pair has ||H x - lambda x|| above
    ``residual_tol`` (default 1e3 * tol * max(1, ||lambda||_inf)).
    """
    comm = get_comm(comm)
    if backend == "auto":
        backend = "slepc" if slepc_available() else "dense"
    if backend == "slepc":
        res = solve_slepc(rows, start, n, nev, comm, tol, max_it, eps_type, ncv, options, prefix)
    else:
        res = solve_dense(rows, start, n, nev, comm)
    limit = residual_tol if residual_tol is not None else 1e3 * tol * max(1.0, np.abs(res.values).max())
    bad = np.flatnonzero(res.residuals > limit)
    if bad.size:
        raise ConvergenceError(f"{res.backend}: eigenpair {bad[0]} has residual {res.residuals[bad[0]]:.3e} eV "
                               f"> {limit:.1e} eV")
    return res
