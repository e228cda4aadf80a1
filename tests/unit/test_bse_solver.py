"""The BSE eigensolver entry: SLEPc (MPIDENSE, Krylov-Schur) == scipy eigh; one normalisation and
residual check; non-convergence named; the DenseRows operator interface."""

import numpy as np
import pytest

from hpcx.bse import hamiltonian as hh
from hpcx.bse import solver as sv
from hpcx.bse.operator import DenseRows
from hpcx.errors import ConvergenceError
from hpcx.parallel import SerialComm

from helpers import V_BARE, V_KELDYSH, require_module, two_band_model
from helpers import bse_setup as _setup


def _operator():
    w, _, inter = _setup(two_band_model(), (6, 6), 1, 1, 2, V_KELDYSH, V_BARE)
    H = hh.assemble_dense(w, inter)
    return H, DenseRows(H, 0, SerialComm())


def test_dense_rows_interface():
    H, op = _operator()
    assert op.local_range == (0, op.N) and op.N == H.shape[0]
    x = np.random.default_rng(0).normal(size=(op.N, 3)) + 0j
    np.testing.assert_array_equal(op.apply(x), H @ x)
    np.testing.assert_array_equal(op.apply(x[:, 0]), H @ x[:, 0])
    np.testing.assert_array_equal(op.diagonal(), H.diagonal().real)
    assert op.n_products == 4


def test_slepc_equals_dense_eigh():
    require_module("slepc4py")
    H, op = _operator()
    ref = np.linalg.eigh(H)
    res = sv.solve(op, 8, sv.SolverOptions(backend="slepc", tol=1e-12))
    assert res.method == "slepc-krylovschur" and res.local_range == (0, op.N)
    np.testing.assert_allclose(res.values, ref[0][:8], atol=1e-10)
    assert res.residuals.max() < 1e-9
    np.testing.assert_allclose(np.linalg.norm(res.vectors, axis=0), 1.0, atol=1e-10)
    # the one normalisation rule: the largest component of each column is real and positive
    big = res.vectors[np.abs(res.vectors).argmax(axis=0), np.arange(8)]
    np.testing.assert_allclose(big.imag, 0.0, atol=1e-15)
    assert np.all(big.real > 0)
    np.testing.assert_allclose(sv.residual_norms(op, res.values, res.vectors), res.residuals)
    # eigenvectors span the same space (degenerate pairs may rotate): projector comparison
    P = res.vectors @ res.vectors.conj().T
    Q = ref[1][:, :8] @ ref[1][:, :8].conj().T
    if ref[0][8] - ref[0][7] > 1e-6:
        assert np.abs(P - Q).max() < 1e-8
    # options from the config pass through the prefix (a different method, same answer)
    lan = sv.solve(op, 8, sv.SolverOptions(backend="slepc", tol=1e-12, options={"eps_type": "lapack"}))
    assert lan.method == "slepc-lapack"
    np.testing.assert_allclose(lan.values, ref[0][:8], atol=1e-10)
    # the preconditioned Davidson method on the dense rows too
    gd = sv.solve(op, 4, sv.SolverOptions(backend="slepc", method="gd", tol=1e-11))
    np.testing.assert_allclose(gd.values, ref[0][:4], atol=1e-8)


def test_dense_fallback():
    H, op = _operator()
    res = sv.solve(op, 5, sv.SolverOptions(backend="dense"))
    assert res.method == "scipy-eigh" and res.iterations == 0
    np.testing.assert_allclose(res.values, np.linalg.eigvalsh(H)[:5], atol=1e-12)
    assert res.residuals.max() < 1e-10
    np.testing.assert_array_equal(res.gather(), res.vectors)


def test_progress_monitor_sees_the_iterations():
    require_module("slepc4py")

    class Count:
        done = 0

        def update(self, n):
            self.done += n
    _, op = _operator()
    count = Count()
    res = sv.solve(op, 8, sv.SolverOptions(backend="slepc", tol=1e-12), progress=count)
    assert count.done == res.iterations > 0


def test_non_convergence_reports_slepc_reason():
    require_module("slepc4py")
    _, op = _operator()
    with pytest.raises(ConvergenceError, match="reason DIVERGED_ITS.*raise bse.max_it"):
        sv.solve(op, 8, sv.SolverOptions(backend="slepc", tol=1e-14, max_it=1, hint="raise bse.max_it"))
    with pytest.raises(ConvergenceError, match="SLEPc failed"):
        sv.solve(op, 8, sv.SolverOptions(backend="slepc", options={"eps_type": "lanczos"}))


def test_residual_limit_is_checked():
    _, op = _operator()
    with pytest.raises(ConvergenceError, match="residual"):
        sv.solve(op, 5, sv.SolverOptions(backend="dense", residual_tol=1e-300))


def test_davidson_on_dense_rows_equals_eigh_and_names_non_convergence():
    """hpcx's block Davidson works on any operator of the interface (here the assembled rows);
    too few iterations raise ConvergenceError with the residual reached."""
    H, op = _operator()
    ref = np.linalg.eigvalsh(H)
    res = sv.solve(op, 5, sv.SolverOptions(backend="davidson", tol=1e-10, max_it=400))
    assert res.method == "slepc-davidson"
    np.testing.assert_allclose(res.values, ref[:5], atol=1e-9)
    assert res.residuals.max() < 1e-9
    with pytest.raises(ConvergenceError, match=r"davidson: \d of 5 eigenpairs converged after 1 iterations"):
        sv.solve(op, 5, sv.SolverOptions(backend="davidson", tol=1e-12, max_it=1))


def test_start_vectors_reach_slepc():
    """An initial space made of the exact lowest eigenvector: Krylov-Schur converges to the same
    pairs (the start changes the work, not the answer)."""
    require_module("slepc4py")
    H, op = _operator()
    ref = np.linalg.eigh(H)
    res = sv.solve(op, 4, sv.SolverOptions(backend="slepc", tol=1e-12), start=ref[1][:, :1])
    np.testing.assert_allclose(res.values, ref[0][:4], atol=1e-10)
