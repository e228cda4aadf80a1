"""The one eigensolver entry of the BSE: lowest eigenpairs of an operator (hpcx.bse.operator).

:func:`solve` takes the problem (a :class:`~hpcx.bse.operator.DenseRows` or a
:class:`~hpcx.bse.matfree.MatFreeBSE`) and the solver's settings
(:class:`SolverOptions`) and returns :class:`EigenPairs`:

- backend ``"slepc"``: SLEPc ``EPS`` (Hermitian) on ``op.petsc_mat()``; methods
  Krylov-Schur (and the other EPS types: smallest real part), or Davidson
  ``gd``/``jd`` preconditioned by diag(H) (Jacobi PC on a diagonal AIJ matrix;
  GD takes the smallest real part, JD the eigenvalues closest to min diag(H)).
  Config options are set as ``-<prefix><name> value`` only around the solve;
- backend ``"dense"``: scipy ``eigh`` of the gathered rows on every rank (small N);
- backend ``"davidson"``: hpcx's block Davidson (:func:`davidson`, no SLEPc needed):
  Rayleigh-Ritz on a basis expanded by the residuals preconditioned with
  (diag(H) - theta)^-1, thick restart; ``tol`` is an absolute residual (eV).
  From start vectors close to the answer (eigenvectors of a coarser k-grid,
  :func:`hpcx.bse.matfree.prolong`) it needs few products;
- ``"auto"``: SLEPc when petsc4py/slepc4py (complex) are importable.

``start`` [n_local, m] (this rank's block of m vectors) seeds any backend:
SLEPc's initial space (Krylov-Schur uses the first vector only), Davidson's
first block.

Every returned pair is normalised the same way (unit norm, the largest
component real and positive) and checked in one place: ||H x - lambda x|| above
``residual_tol`` (default 1e3 tol max(1, |lambda|_max)) raises
ConvergenceError, as do fewer than ``nev`` converged pairs (naming SLEPc's
reason).  Vectors follow the operator's layout (module docstring of
:mod:`hpcx.bse.operator`): ``EigenPairs.vectors`` is this rank's block [n_local,
nev]; :meth:`EigenPairs.gather` gives [N, nev] on every rank.
"""

from __future__ import annotations

import contextlib
import dataclasses
import traceback

import numpy as np

from ..errors import ConvergenceError
from ..parallel import allgather_blocks, allgather_concat, allreduce_sum, min_over_ranks, raised_on_every_rank
from ..stopping import HeldSignals, Interrupted

BACKENDS = ("auto", "slepc", "dense", "davidson")
EPS_TYPES = ("krylovschur", "lanczos", "arnoldi", "lobpcg", "lapack", "gd", "jd")


def slepc_available():
    """True when petsc4py and slepc4py are importable and PETSc's scalars are complex."""
    try:
        import petsc4py  # noqa: F401
        import slepc4py  # noqa: F401
        from petsc4py import PETSc
        return np.dtype(PETSc.ScalarType).kind == "c"
    except ImportError:
        return False


def petsc_reason(exc):
    """The message lines of a ``PETSc.Error`` (what was wrong), without its call trace."""
    lines = [line.split("] ", 1)[-1].strip() for line in str(exc).splitlines()[1:]]
    return "; ".join(line for line in lines if line and "() at " not in line) or f"error code {exc.ierr}"


@contextlib.contextmanager
def _options_set(prefix, options):
    """PETSc's options database holds ``options`` ({name: value}) as -<prefix><name> inside the block only."""
    from petsc4py import PETSc
    opts = PETSc.Options()
    for key, value in (options or {}).items():
        opts[prefix + key] = value
    try:
        yield
    finally:
        for key in options or {}:
            opts.delValue(prefix + key)


def slepc_option_problem(options):
    """Why SLEPc refuses ``options`` ({name: value} of EPS options without the leading '-', e.g.
    {'eps_max_it': '500'}), or None: they are set on a small eigensolver on this rank alone and
    read by its ``setFromOptions`` (a value of the wrong type, an unknown solver type).  Options
    SLEPc does not know are not detected (PETSc ignores them)."""
    if not options or not slepc_available():
        return None
    from petsc4py import PETSc
    from slepc4py import SLEPc
    prefix = "hpcx_option_check_"
    eps = SLEPc.EPS().create(comm=PETSc.COMM_SELF)
    try:
        eps.setOptionsPrefix(prefix)
        with _options_set(prefix, options):
            eps.setFromOptions()
        return None
    except PETSc.Error as exc:
        return petsc_reason(exc)
    finally:
        eps.destroy()


@dataclasses.dataclass(frozen=True)
class SolverOptions:
    """How to solve: backend (BACKENDS), method (EPS_TYPES), SLEPc tol / max_it / ncv (None:
    SLEPc's choice), extra options {name: value} set as -<prefix><name>, a residual limit (None:
    1e3 tol max(1, |lambda|_max), eV) and a hint for the error message (which keys to change).
    For backend 'davidson': tol is the absolute residual (eV), max_it the iterations, ncv the
    largest basis (None: 3 blocks, at least 2; the basis and its products are 2 ncv vectors per rank) and
    ``block`` the vectors refined together (None: nev + 2, or the start vectors if more)."""

    backend: str = "auto"
    method: str = "krylovschur"
    tol: float = 1e-10
    max_it: int = 1000
    ncv: int | None = None
    options: dict = dataclasses.field(default_factory=dict)
    prefix: str = "bse_"
    residual_tol: float | None = None
    hint: str = ""
    block: int | None = None


@dataclasses.dataclass(frozen=True)
class EigenPairs:
    """values [nev] eV ascending; vectors [n_local, nev]: this rank's block ``local_range`` of the
    columns (unit norm, largest component real > 0); residuals [nev] ||H x - lambda x|| eV;
    method (e.g. 'slepc-krylovschur', 'matfree-gd', 'scipy-eigh'); SLEPc iterations; products
    of the operator during the solve."""

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    method: str
    iterations: int
    products: int
    local_range: tuple
    comm: object = dataclasses.field(repr=False, compare=False, default=None)

    def gather(self):
        """[N, nev]: every rank's block, on every rank (collective)."""
        return allgather_concat(self.vectors, self.comm)


def solve(op, nev, options=SolverOptions(), progress=None, start=None):
    """The ``nev`` lowest eigenpairs of the Hermitian operator ``op`` (collective).

    ``progress``: an object with ``update(n)`` (e.g. ``ctx.progress(max_it, ...)``) told
    of every SLEPc (or Davidson) iteration (a monitor; logging is throttled by the reporter).
    ``start``: initial vectors [n_local, m] on the operator's layout (None: the solver's own).
    """
    backend = options.backend
    if backend == "auto":
        backend = "slepc" if slepc_available() else "dense"
    before = op.n_products
    if backend == "slepc":
        values, vectors, iterations, method = _slepc(op, nev, options, progress, start)
    elif backend == "davidson":
        values, vectors, iterations = davidson(op, nev, options, start, progress)
        method = f"{op.SOLVER_PREFIX}-davidson"
    elif backend == "dense":
        values, vectors = _dense(op, nev)
        iterations, method = 0, "scipy-eigh"
    else:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    vectors = normalise_phases(vectors, op.comm)
    residuals = residual_norms(op, values, vectors)
    limit = options.residual_tol if options.residual_tol is not None else \
        1e3 * options.tol * max(1.0, float(np.abs(values).max()))
    bad = np.flatnonzero(residuals > limit)
    if bad.size:
        raise raised_on_every_rank(ConvergenceError(
            f"{method}: eigenpair {bad[0]} has residual {residuals[bad[0]]:.3e} eV > {limit:.1e} eV"
            f"{'; ' + options.hint if options.hint else ''}"), op.comm)
    return EigenPairs(values, vectors, residuals, method, iterations, op.n_products - before,
                      tuple(op.local_range), op.comm)


def normalise_phases(vectors, comm):
    """Columns of the distributed ``vectors`` [n_local, m] times the phase that makes the largest
    component (the first of equal ones, in global order) real and positive."""
    vectors = np.ascontiguousarray(vectors)
    m = vectors.shape[1]
    if vectors.shape[0]:
        idx = np.abs(vectors).argmax(axis=0)
        local = [(np.abs(vectors[idx, np.arange(m)]), vectors[idx, np.arange(m)])]
    else:
        local = [(np.full(m, -np.inf), np.ones(m, complex))]
    parts = allgather_blocks(local, comm)                       # rank order = global order
    biggest = np.array([p[0] for p in parts])                    # [ranks, m]
    owner = biggest.argmax(axis=0)                               # first rank with the global maximum
    ref = np.array([parts[r][1][j] for j, r in enumerate(owner)])
    return vectors * (np.abs(ref) / ref)[None, :]


def residual_norms(op, values, vectors):
    """||H x - lambda x|| (eV) of the distributed unit columns ``vectors`` [n_local, m] (collective;
    one product per column, one vector of temporaries)."""
    local = np.empty(vectors.shape[1])
    for j in range(vectors.shape[1]):
        r = op.apply(vectors[:, j])
        r -= values[j] * vectors[:, j]
        local[j] = np.sum(np.abs(r) ** 2)
    return np.sqrt(np.asarray(allreduce_sum(local, op.comm)))


def _dense(op, nev):
    """scipy ``eigh`` of the gathered matrix (every rank solves the same problem)."""
    from scipy.linalg import eigh
    lo, hi = op.local_range
    parts = allgather_blocks([(lo, op.local_rows())], op.comm)
    H = np.empty((op.N, op.N), complex)
    for s, r in parts:
        H[s:s + r.shape[0]] = r
    values, vectors = eigh(H, subset_by_index=[0, nev - 1], driver="evr")
    return values, vectors[lo:hi]


def _preconditioner(op, eps):
    """GD/JD: diag(H) as the preconditioner matrix (Jacobi PC), target min diag(H)."""
    from petsc4py import PETSc
    from slepc4py import SLEPc
    diag = op.diagonal()
    dmin = min_over_ranks(float(diag.min()) if len(diag) else np.inf, op.comm)
    eps.setTarget(dmin)
    n_local = op.local_range[1] - op.local_range[0]
    P = PETSc.Mat().createAIJ([(n_local, op.N), (n_local, op.N)], nnz=1, comm=op.petsc_comm())
    P.setUp()
    start = P.getOwnershipRange()[0]
    for i, d in enumerate(diag):
        P.setValue(start + i, start + i, d)
    P.assemble()
    st = eps.getST()
    st.setType(SLEPc.ST.Type.PRECOND)
    st.setPreconditionerMat(P)
    ksp = st.getKSP()
    ksp.setType("preonly")
    ksp.getPC().setType("jacobi")
    return P, ksp


def _setup_eps(op, A, nev, o):
    """A configured EPS on A (and the preconditioner matrix or None)."""
    from petsc4py import PETSc
    from slepc4py import SLEPc
    if o.method not in EPS_TYPES:
        raise ValueError(f"method must be one of {EPS_TYPES}, got {o.method!r}")
    eps = SLEPc.EPS().create(comm=op.petsc_comm())
    eps.setOperators(A)
    eps.setProblemType(SLEPc.EPS.ProblemType.HEP)
    eps.setType(o.method)
    P = None
    if o.method in ("gd", "jd"):
        # GD: the smallest eigenvalues (bound excitons lie below min(E_c - E_v): "closest to the
        # gap" would return continuum states); JD needs a target and takes the one at the gap
        eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL if o.method == "gd" else SLEPc.EPS.Which.TARGET_REAL)
        P, ksp = _preconditioner(op, eps)
        if o.method == "jd":
            ksp.setType("bcgs")
            ksp.setTolerances(rtol=1e-3, max_it=10)
    else:
        eps.setWhichEigenpairs(SLEPc.EPS.Which.SMALLEST_REAL)
    eps.setDimensions(nev, o.ncv if o.ncv else PETSc.DECIDE)
    eps.setTolerances(o.tol, o.max_it)
    return eps, P


def _monitor(progress):
    """A SLEPc monitor that reports each iteration to ``progress`` (throttled there)."""
    state = {"its": 0}

    def monitor(eps, its, nconv, eig, errest):
        if its > state["its"]:
            progress.update(its - state["its"])
            state["its"] = its
    return monitor


def _slepc(op, nev, o, progress, start=None):
    """(values [nev], local vectors [n_local, nev], iterations, method name) from SLEPc."""
    A = op.petsc_mat()
    eps, P = _setup_eps(op, A, nev, o)
    try:
        if progress is not None:
            eps.setMonitor(_monitor(progress))
        if start is not None:
            space = []
            for j in range(np.shape(start)[1]):
                v = A.createVecRight()
                v.getArray()[:] = start[:, j]
                space.append(v)
            eps.setInitialSpace(space)
        its = _run_eps(eps, nev, o, op)
        x = A.createVecRight()
        vals, vecs = [], []
        for i in range(eps.getConverged()):
            vals.append(eps.getEigenpair(i, x).real)
            vecs.append(x.getArray().copy())
        method = f"{op.SOLVER_PREFIX}-{eps.getType()}"
    finally:
        eps.destroy()
        A.destroy()
        if P is not None:
            P.destroy()
    order = np.argsort(vals, kind="stable")[:nev]
    vectors = np.array(vecs).T[:, order] if len(vecs[0]) else np.zeros((0, nev), complex)
    return np.array(vals)[order], vectors, its, method


def _stopping_test(op, held):
    """SLEPc's basic stopping test (EPSStoppingBasic), which also ends the iteration once a
    product of ``op`` failed (``op.product_error``, set by its MatMult instead of raising through
    SLEPc, which would leave the solver unusable and crash the process when it is destroyed) or a
    rank received a stop signal (``held``, a :class:`~hpcx.stopping.HeldSignals`; collective, so
    asked first on every rank)."""
    from slepc4py import SLEPc
    reason = SLEPc.EPS.ConvergedReason

    def stopping(eps, its, max_it, nconv, nev):
        if held.requested() or getattr(op, "product_error", None) is not None:
            return reason.DIVERGED_BREAKDOWN
        if nconv >= nev:
            return reason.CONVERGED_TOL
        if its >= max_it:
            return reason.DIVERGED_ITS
        return reason.ITERATING
    return stopping


#: SLEPc's dense direct eigensolvers: no iterations, no stopping test
_DIRECT_TYPES = ("lapack", "scalapack", "elpa", "elemental")


def _run_eps(eps, nev, o, op):
    """Solve with o.options set as -<prefix><name> only around the solve; the iteration count.
    The error of a failed product of ``op`` is raised as it was; a stop signal during the solve
    ends it at the next iteration on every rank and is then delivered (:class:`~hpcx.stopping.HeldSignals`:
    :class:`~hpcx.stopping.Interrupted` outside a polled phase, exit 128 + signal); ConvergenceError
    when SLEPc fails or fewer than ``nev`` pairs converged."""
    from petsc4py import PETSc
    from slepc4py import SLEPc
    eps.setOptionsPrefix(o.prefix)
    held = HeldSignals(op.comm)
    try:
        with _options_set(o.prefix, o.options):
            eps.setFromOptions()
            if eps.getType() not in _DIRECT_TYPES:   # these take no stopping test (and call no product)
                eps.setStoppingTest(_stopping_test(op, held))
            with held:
                eps.solve()
    except PETSc.Error as exc:
        raise ConvergenceError(f"SLEPc failed (error code {exc.ierr}: {petsc_reason(exc)}) with options "
                               f"{o.options or {}}") from None
    if held.agreed:                 # delivered, but its handler only noted it (a polled phase)
        raise Interrupted(held.agreed)
    failed = getattr(op, "product_error", None)
    if failed is not None:
        op.product_error = None
        # the frames of the failed product hold SLEPc's work vectors: released now, not when the
        # exception dies (after PETSc has freed them, which crashes the process)
        traceback.clear_frames(failed.__traceback__)
        raise failed
    nconv, its = eps.getConverged(), eps.getIterationNumber()
    if nconv < nev:
        reason = eps.getConvergedReason()
        names = {v: k for k, v in vars(SLEPc.EPS.ConvergedReason).items() if isinstance(v, int)}
        tol, max_it = eps.getTolerances()
        raise raised_on_every_rank(ConvergenceError(
            f"SLEPc {eps.getType()}: {nconv} of {nev} eigenpairs converged after {its} iterations (reason "
            f"{names.get(reason, reason)}, tol {tol:g}, max_it {max_it}){'; ' + o.hint if o.hint else ''}"), op.comm)
    return its



# --- block Davidson ------------------------------------------------------------------------------
# Every update of a block of vectors runs over blocks of rows (ROWS at a time), so that no
# temporary of n_local x block numbers exists besides the basis, its products and one block.

ROWS = 1 << 15


def _dots(A, B, comm):
    """A^H B summed over ranks (A [n_local, a], B [n_local, b] distributed) -> [a, b] on every rank
    (by blocks of rows: the conjugate of A is never formed whole)."""
    out = np.zeros((A.shape[1], B.shape[1]), complex)
    for r in range(0, A.shape[0], ROWS):
        out += A[r:r + ROWS].conj().T @ B[r:r + ROWS]
    return np.asarray(allreduce_sum(out, comm))


def _column_norms(T, comm):
    """||T[:, c]|| over ranks, by blocks of rows."""
    out = np.zeros(T.shape[1])
    for r in range(0, T.shape[0], ROWS):
        out += np.sum(np.abs(T[r:r + ROWS]) ** 2, axis=0)
    return np.sqrt(np.asarray(allreduce_sum(out, comm)))


def _subtract(T, V, C):
    """T -= V C in place, by blocks of rows."""
    for r in range(0, T.shape[0], ROWS):
        T[r:r + ROWS] -= V[r:r + ROWS] @ C


def _in_rows(M, U):
    """M[:, :U.shape[1]] = M[:, :U.shape[0]] @ U in place, by blocks of rows; returns that view."""
    k, m = U.shape
    for r in range(0, M.shape[0], ROWS):
        M[r:r + ROWS, :m] = M[r:r + ROWS, :k] @ U
    return M[:, :m]


def _orthonormal(T, V, comm, drop=1e-10):
    """The columns of T (overwritten) made orthogonal to the orthonormal V (two passes) and to each
    other (eigen-decomposition of their Gram matrix; directions below ``drop`` of the largest
    removed): a view of the first columns of T."""
    for _ in range(2):
        if V.shape[1]:
            _subtract(T, V, _dots(V, T, comm))
    s, U = np.linalg.eigh(_dots(T, T, comm))
    keep = s > drop * max(s.max(initial=0.0), 1e-300)
    T = _in_rows(T, U[:, keep] / np.sqrt(s[keep]))
    if V.shape[1]:
        _subtract(T, V, _dots(V, T, comm))
    return T


def _start_block(op, out, start):
    """Fill ``out`` [n_local, nb] with ``start`` (its first columns) and deterministic waves on the
    global transition index for the rest (the same vectors on any number of ranks)."""
    lo, hi = op.local_range
    have = 0 if start is None else min(np.shape(start)[1], out.shape[1])
    if have:
        out[:, :have] = start[:, :have]
    S = np.arange(lo, hi, dtype=float)
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    for j in range(have, out.shape[1]):
        out[:, j] = np.exp(2j * np.pi * ((S * golden * (j + 1)) % 1.0 + (S * S * 0.5 ** (j + 3)) % 1.0))


def _residuals(V, HV, U, theta):
    """HV U - V U diag(theta) [n_local, len(theta)], by blocks of rows."""
    R = np.empty((V.shape[0], U.shape[1]), complex)
    for r in range(0, V.shape[0], ROWS):
        R[r:r + ROWS] = HV[r:r + ROWS] @ U - (V[r:r + ROWS] @ U) * theta
    return R


def _precondition(R, V, U, theta, D, comm):
    """R[:, c] -> (D - theta_c)^-1 (r_c - eps_c x_c) in place, x_c = V U[:, c] the Ritz vector and
    eps_c = <x_c|(D - theta_c)^-1 r_c> / <x_c|(D - theta_c)^-1 x_c> (Olsen's correction: the update is
    orthogonal to x_c in the preconditioner's metric, so it does not stall when (D - theta)^-1 (H - theta)
    is close to the identity)."""
    def inverse(c):
        den = D - theta[c]
        return 1.0 / np.where(np.abs(den) < 1e-8, 1e-8, den)
    dots = np.zeros((2, R.shape[1]), complex)
    for c in range(R.shape[1]):
        w = (V @ U[:, c]) * inverse(c)
        dots[:, c] = np.vdot(w, R[:, c]), np.vdot(w, V @ U[:, c])
    dots = np.asarray(allreduce_sum(dots, comm))
    eps = dots[0] / np.where(np.abs(dots[1]) > 0, dots[1], 1.0)
    for c in range(R.shape[1]):
        R[:, c] -= eps[c] * (V @ U[:, c])
        R[:, c] *= inverse(c)


def davidson(op, nev, o=SolverOptions(backend="davidson"), start=None, progress=None):
    """(values [nev], vectors [n_local, nev], iterations): the nev lowest eigenpairs of the
    Hermitian ``op`` by block Davidson with the preconditioner (diag(H) - theta)^-1, converged to
    ||H x - theta x|| <= o.tol (eV).  Memory per rank: the basis and its products (2 o.ncv
    vectors; default o.ncv = 3 blocks, at least 2: a basis of 2 blocks restarts at every
    iteration, enough from start vectors close to the answer, slow from a poor start) and one
    correction block; products: the start block, then one per unconverged pair of the block and
    iteration.  ConvergenceError after o.max_it iterations."""
    comm, D = op.comm, op.diagonal()
    nb = max(o.block or nev + 2, 0 if start is None else np.shape(start)[1], nev)
    m_max = max(o.ncv or 3 * nb, 2 * nb)
    n_loc = op.local_range[1] - op.local_range[0]
    V = np.empty((n_loc, m_max), complex)
    HV = np.empty_like(V)
    _start_block(op, V[:, :nb], start)
    T = _orthonormal(V[:, :nb], V[:, :0], comm)
    cur = 0
    for it in range(o.max_it + 1):
        k = T.shape[1]
        V[:, cur:cur + k] = T
        for j in range(k):
            HV[:, cur + j] = op.apply(V[:, cur + j])
        cur += k
        G = _dots(V[:, :cur], HV[:, :cur], comm)
        theta, U = np.linalg.eigh((G + G.conj().T) / 2)
        U = U[:, :nb]
        T = _residuals(V[:, :cur], HV[:, :cur], U, theta[:nb])
        rn = _column_norms(T, comm)
        if progress is not None:
            progress.update(1)
        if np.all(rn[:nev] <= o.tol):
            break
        if it == o.max_it:
            raise raised_on_every_rank(ConvergenceError(
                f"davidson: {int(np.sum(rn[:nev] <= o.tol))} of {nev} eigenpairs converged after {it} iterations "
                f"(largest residual {rn[:nev].max():.2e} eV, tol {o.tol:g} eV){'; ' + o.hint if o.hint else ''}"),
                comm)
        act = np.flatnonzero(rn > o.tol)
        for c, i in enumerate(act):                         # the unconverged first, in place (c <= i)
            if c != i:
                T[:, c] = T[:, i]
        T = T[:, :len(act)]
        _precondition(T, V[:, :cur], U[:, act], theta[act], D, comm)
        if cur + len(act) > m_max:                          # thick restart from the Ritz vectors
            _in_rows(V[:, :cur], U)
            _in_rows(HV[:, :cur], U)
            cur = nb
        T = _orthonormal(T, V[:, :cur], comm)
    del HV, T
    return theta[:nev], _in_rows(V[:, :cur], U[:, :nev]).copy(), it
