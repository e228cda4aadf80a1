"""BSE eigensolver: SLEPc (MPIDENSE, Krylov-Schur) == scipy eigh; residuals; non-convergence."""

import numpy as np
import pytest

from hpcx.bse import hamiltonian as hh
from hpcx.bse import solver as sv
from hpcx.errors import ConvergenceError
from hpcx.parallel import SerialComm

from helpers import V_BARE, V_KELDYSH, two_band_model
from helpers import bse_setup as _setup

needs_slepc = pytest.mark.skipif(not sv.slepc_available(), reason="slepc4py (complex) not installed")


def _rows():
    w, _, inter = _setup(two_band_model(), (6, 6), 1, 1, 2, V_KELDYSH, V_BARE)
    return hh.assemble_dense(w, inter), w.size


@needs_slepc
def test_slepc_equals_dense_eigh():
    H, n = _rows()
    ref = np.linalg.eigh(H)
    res = sv.solve(H, 0, n, 8, SerialComm(), backend="slepc", tol=1e-12)
    assert res.backend == "slepc-krylovschur"
    np.testing.assert_allclose(res.values, ref[0][:8], atol=1e-10)
    assert res.residuals.max() < 1e-9
    np.testing.assert_allclose(np.linalg.norm(res.vectors, axis=0), 1.0, atol=1e-10)
    # eigenvectors span the same space (degenerate pairs may rotate): projector comparison
    P = res.vectors @ res.vectors.conj().T
    Q = ref[1][:, :8] @ ref[1][:, :8].conj().T
    if ref[0][8] - ref[0][7] > 1e-6:
        assert np.abs(P - Q).max() < 1e-8
    # options from the config pass through the prefix (a different method, same answer)
    lan = sv.solve(H, 0, n, 8, SerialComm(), backend="slepc", tol=1e-12, options={"eps_type": "lapack"})
    assert lan.backend == "slepc-lapack"
    np.testing.assert_allclose(lan.values, ref[0][:8], atol=1e-10)


def test_dense_fallback():
    H, n = _rows()
    res = sv.solve(H, 0, n, 5, SerialComm(), backend="dense")
    np.testing.assert_allclose(res.values, np.linalg.eigvalsh(H)[:5], atol=1e-12)
    assert res.residuals.max() < 1e-10


@needs_slepc
def test_non_convergence_reports_slepc_reason():
    H, n = _rows()
    with pytest.raises(ConvergenceError, match="reason DIVERGED_ITS"):
        sv.solve(H, 0, n, 8, SerialComm(), backend="slepc", tol=1e-14, max_it=1)
    with pytest.raises(ConvergenceError, match="SLEPc failed"):
        sv.solve(H, 0, n, 8, SerialComm(), backend="slepc", options={"eps_type": "lanczos"})
