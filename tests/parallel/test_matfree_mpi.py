"""Matrix-free BSE on 2 ranks: the distributed product and eigenpairs equal the serial ones."""

import numpy as np
import pytest

from hpcx.bse.matfree import MatFreeBSE
from hpcx.bse.solver import SolverOptions, solve
from hpcx.parallel import SerialComm, block_range

from helpers import (
    band_edges as window,
)
from helpers import (
    dense_bse_reference as dense_reference,
)
from helpers import (
    require_module,
)
from helpers import (
    smooth_potential as potential,
)
from helpers import (
    three_band_model as _three_band_model,
)

pytestmark = pytest.mark.mpi


def _ops(comm, grid, n_v, n_c, V_x=None, site=None):
    model = _three_band_model()
    _, E_v, E_c, C_v, C_c = window(model, grid, n_v, n_c)
    k0, k1 = block_range(grid[0] * grid[1], comm.size, comm.rank)
    par = MatFreeBSE(grid, model.lattice, model.positions, E_v[k0:k1], E_c[k0:k1], C_v[k0:k1], C_c[k0:k1],
                     potential, V_x=V_x, site_of_orbital=site, comm=comm)
    ser = MatFreeBSE(grid, model.lattice, model.positions, E_v, E_c, C_v, C_c, potential, V_x=V_x,
                     site_of_orbital=site, comm=SerialComm())
    H = dense_reference(model, grid, E_v, E_c, C_v, C_c, potential, V_x, site)
    return par, ser, H, (k0 * n_v * n_c, k1 * n_v * n_c)


@pytest.mark.parametrize("grid", [(3, 3), (1, 1), (4, 5)])
def test_distributed_product_equals_dense(comm, grid):
    assert comm.size >= 2
    V_x = np.array([[1.0, 0.4], [0.4, 0.9]])
    par, ser, H, (s0, s1) = _ops(comm, grid, 1, 2, V_x, np.array([0, 0, 1]))
    x = np.random.default_rng(5).normal(size=ser.N) + 1j * np.random.default_rng(6).normal(size=ser.N)
    y = par.apply(x[s0:s1])
    ref = (H @ x)[s0:s1]
    num = comm.allreduce(np.sum(np.abs(y - ref) ** 2))
    den = comm.allreduce(np.sum(np.abs(ref) ** 2))
    assert np.sqrt(num / den) < 1e-10
    np.testing.assert_allclose(y, ser.apply(x)[s0:s1], rtol=0, atol=1e-13)


def test_two_rank_eigenvalues_equal_serial(comm):
    require_module("slepc4py")
    par, _, H, _ = _ops(comm, (4, 4), 1, 2)
    res = solve(par, 5, SolverOptions(tol=1e-11))
    np.testing.assert_allclose(res.values, np.linalg.eigvalsh(H)[:5], atol=1e-9)
    assert np.all(res.residuals < 1e-7)
    vals = comm.allgather(res.values)
    np.testing.assert_array_equal(vals[0], vals[1])


def test_two_rank_recursion_equals_serial(comm):
    from hpcx.bse.recursion import lanczos
    par, ser, H, (s0, s1) = _ops(comm, (4, 4), 1, 2)
    d = np.random.default_rng(2).normal(size=ser.N) + 0j
    # plain Lanczos amplifies round-off differences of the dot products (reduction order) as
    # orthogonality is lost, so the first steps agree to round-off and the spectra to 1e-8
    r2 = lanczos(par, d[s0:s1], 30)
    r1 = lanczos(ser, d, 30)
    np.testing.assert_allclose(r2.alpha[:8], r1.alpha[:8], atol=1e-11)
    e = np.linspace(0, 12, 200)
    s2, s1_ = r2.gaussian(e, 0.25), r1.gaussian(e, 0.25)
    assert np.abs(s2 - s1_).max() < 1e-8 * s1_.max()


def test_dense_rows_and_matfree_share_one_solver_and_layout_rule(comm):
    """The same H as assembled rows (PETSc row blocks) and matrix-free (k-blocks): one solve(),
    vectors on each operator's own layout, gathered to the same eigenvectors."""
    require_module("slepc4py")
    from hpcx.bse.operator import DenseRows, ownership
    par, _, H, (s0, s1) = _ops(comm, (4, 4), 1, 2)
    lo, hi = ownership(H.shape[0], comm)
    dense = DenseRows(np.ascontiguousarray(H[lo:hi]), lo, comm)
    a = solve(dense, 5, SolverOptions(tol=1e-11))
    b = solve(par, 5, SolverOptions(tol=1e-11))
    assert a.local_range == (lo, hi) and a.vectors.shape == (hi - lo, 5)
    assert b.local_range == (s0, s1) and b.vectors.shape == (s1 - s0, 5)
    np.testing.assert_allclose(a.values, b.values, atol=1e-9)
    A, B = a.gather(), b.gather()
    ref = np.linalg.eigh(H)
    assert ref[0][5] - ref[0][4] > 1e-6                    # the 5 lowest are a closed subspace
    np.testing.assert_allclose(A @ A.conj().T, B @ B.conj().T, atol=1e-7)
    np.testing.assert_allclose(A @ A.conj().T, ref[1][:, :5] @ ref[1][:, :5].conj().T, atol=1e-7)


@pytest.mark.parametrize("grid,chunks", [((7, 6), 3), ((9, 2), 2), ((2, 11), 4)])
def test_pieces_of_the_exchange_do_not_change_the_product(comm, grid, chunks):
    """The exchanges in pieces (non-blocking, overlapped) give the serial product; rows shared by
    two ranks included (k-blocks that cut grid rows), with exchange term, double and single."""
    model = _three_band_model()
    _, E_v, E_c, C_v, C_c = window(model, grid, 1, 2)
    V_x, site = np.array([[1.0, 0.4], [0.4, 0.9]]), np.array([0, 0, 1])
    k0, k1 = block_range(grid[0] * grid[1], comm.size, comm.rank)
    ser = MatFreeBSE(grid, model.lattice, model.positions, E_v, E_c, C_v, C_c, potential, V_x=V_x,
                     site_of_orbital=site, comm=SerialComm())
    x = np.random.default_rng(5).normal(size=ser.N) + 1j * np.random.default_rng(6).normal(size=ser.N)
    s0, s1 = k0 * 2, k1 * 2
    for precision, tol in [("double", 1e-13), ("single", 1e-5)]:
        par = MatFreeBSE(grid, model.lattice, model.positions, E_v[k0:k1], E_c[k0:k1], C_v[k0:k1], C_c[k0:k1],
                         potential, V_x=V_x, site_of_orbital=site, comm=comm, chunks=chunks, precision=precision)
        assert par.conv.chunks == chunks
        y = par.apply(x[s0:s1])
        ref = ser.apply(x)[s0:s1]
        assert np.abs(y - ref).max() <= tol * np.abs(ser.apply(x)).max()


def test_prolongation_and_davidson_on_two_ranks_equal_serial(comm):
    from hpcx.bse.matfree import prolong
    model = _three_band_model()

    def op(grid, c):
        _, E_v, E_c, C_v, C_c = window(model, grid, 1, 2)
        k0, k1 = block_range(grid[0] * grid[1], c.size, c.rank)
        return MatFreeBSE(grid, model.lattice, model.positions, E_v[k0:k1], E_c[k0:k1], C_v[k0:k1], C_c[k0:k1],
                          potential, comm=c)
    cs, fs, cp, fp = op((3, 4), SerialComm()), op((5, 7), SerialComm()), op((3, 4), comm), op((5, 7), comm)
    X = np.random.default_rng(3).normal(size=(cs.N, 3)) + 0j
    a0, a1 = cp.local_range
    b0, b1 = fp.local_range
    np.testing.assert_allclose(prolong(cp, fp, X[a0:a1]), prolong(cs, fs, X)[b0:b1], atol=1e-13)
    o = SolverOptions(backend="davidson", tol=1e-10, max_it=300)
    r1, r2 = solve(fs, 4, o), solve(fp, 4, o)
    np.testing.assert_allclose(r2.values, r1.values, atol=1e-10)
    np.testing.assert_allclose(np.abs(r2.gather().conj().T @ r1.vectors), np.eye(4), atol=1e-7)
