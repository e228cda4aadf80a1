"""Matrix-free BSE operator: product == dense H x (independent slow reference and the dense
assembly of hpcx.bse.hamiltonian), eigenpairs with SLEPc, zone folding."""

import numpy as np
import pytest

from hpcx.bse.matfree import MatFreeBSE
from hpcx.bse.solver import SolverOptions, residual_norms, solve

from helpers import (
    band_edges as window,
)
from helpers import (
    dense_bse_reference as dense_reference,
)
from helpers import (
    graphene_like as _graphene_like,
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


@pytest.mark.parametrize("grid,n_v,n_c,with_x", [((3, 4), 1, 1, False), ((4, 4), 1, 2, True)])
def test_product_equals_dense_reference(grid, n_v, n_c, with_x, comm):
    from hpcx.parallel import SerialComm
    model = _three_band_model()
    _, E_v, E_c, C_v, C_c = window(model, grid, n_v, n_c)
    site = np.array([0, 0, 1])
    V_x = np.array([[1.0, 0.4], [0.4, 0.9]]) if with_x else None
    H = dense_reference(model, grid, E_v, E_c, C_v, C_c, potential, V_x, site)
    assert np.abs(H - H.conj().T).max() < 1e-12
    op = MatFreeBSE(grid, model.lattice, model.positions, E_v, E_c, C_v, C_c, potential, V_x=V_x,
                    site_of_orbital=site, comm=SerialComm())
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.normal(size=op.N) + 1j * rng.normal(size=op.N)
        y = op.apply(x)
        ref = H @ x
        assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 1e-10


def test_product_equals_hamiltonian_module():
    """Same operator as the dense assembly (hpcx.bse.hamiltonian)."""
    ham = pytest.importorskip("hpcx.bse.hamiltonian")
    inter = pytest.importorskip("hpcx.bse.interaction")
    bands = pytest.importorskip("hpcx.bse.bands")
    from hpcx.parallel import SerialComm
    model = _graphene_like()
    grid = (4, 3)
    k, E_v, E_c, C_v, C_c = window(model, grid, 1, 1)
    win = bands.BandWindow(k, E_v, E_c, C_v, C_c, np.array([0]), np.array([1]), 0.0)
    sites = inter.group_sites(model.positions)
    V_x_fun = lambda r: 0.5 / (r + 1.0)                       # noqa: E731
    I = inter.build_interaction(model.lattice, grid, sites, potential, V_x_fun)
    H = ham.assemble_dense(win, I, exchange_factor=2.0)
    op = MatFreeBSE(grid, model.lattice, model.positions, E_v, E_c, C_v, C_c, potential, V_x=I.V_x,
                    site_of_orbital=sites.site_of_orbital, exchange_factor=2.0, comm=SerialComm())
    x = np.random.default_rng(1).normal(size=op.N) + 0j
    assert np.linalg.norm(op.apply(x) - H @ x) / np.linalg.norm(H @ x) < 1e-10


@pytest.mark.parametrize("method", ["krylovschur", "gd"])
def test_slepc_on_matfree_equals_dense_eigh(method):
    require_module("slepc4py")
    from hpcx.parallel import get_comm
    comm = get_comm()
    if comm.size != 1:
        pytest.skip("serial test")
    model = _three_band_model()
    grid = (5, 5)
    _, E_v, E_c, C_v, C_c = window(model, grid, 1, 2)
    H = dense_reference(model, grid, E_v, E_c, C_v, C_c, potential)
    op = MatFreeBSE(grid, model.lattice, model.positions, E_v, E_c, C_v, C_c, potential, comm=comm)
    res = solve(op, 6, SolverOptions(method=method, tol=1e-11))
    np.testing.assert_allclose(res.values, np.linalg.eigvalsh(H)[:6], atol=1e-8)
    assert np.all(res.residuals < 1e-7)
    np.testing.assert_allclose(residual_norms(op, res.values, res.vectors), res.residuals)


def _all_pairs_exchange(model, grid, V):
    """V^x[i, j] = sum_R V(|R + tau_j - tau_i|_BvK) with every orbital its own site."""
    from hpcx.bse.matfree import pair_potential
    n = model.n_orb
    pairs = np.column_stack(np.divmod(np.arange(n * n), n))
    W = pair_potential(model.lattice, grid, model.positions, np.zeros(n, int), pairs, V)
    return W.sum(axis=(0, 1)).reshape(n, n)


@pytest.mark.parametrize("n", [2, 3])
def test_supercell_at_gamma_reproduces_unit_cell_bse_on_n_by_n_grid(n):
    """Zone folding: in the n x n supercell at Gamma (1 x 1 grid), with the unit-cell Bloch states
    on the n x n grid folded onto it as the band basis, the block of transitions with v and c
    from the same unit-cell k (exciton momentum 0) IS the unit-cell BSE Hamiltonian on the n x n
    grid (same Born-von Karman torus); the supercell geometry, minimum image and coefficients
    are all exercised."""
    from hpcx.bse.supercell import fold, supercell_sites
    from hpcx.parallel import SerialComm
    V_x_fun = lambda r: 0.3 / (r + 1.0)                        # noqa: E731
    unit = _graphene_like()
    grid = (n, n)
    k, E_v, E_c, C_v, C_c = window(unit, grid, 1, 1)
    op_u = MatFreeBSE(grid, unit.lattice, unit.positions, E_v, E_c, C_v, C_c, potential,
                      V_x=_all_pairs_exchange(unit, grid, V_x_fun), site_of_orbital=np.arange(2), comm=SerialComm())
    M = n * np.eye(2, dtype=int)
    sc = fold(unit, M)[0]
    sites = supercell_sites(M)
    phase = np.exp(2j * np.pi * sites @ k[:, :2].T) / n                    # [site, k]
    fold_states = lambda C: (phase[:, None, :] * C[:, :, 0].T[None, :, :]).reshape(sc.n_orb, n * n)  # noqa: E731
    Cv, Cc = fold_states(C_v), fold_states(C_c)
    h = sc.hk((0.0, 0.0)).toarray()
    np.testing.assert_allclose(h @ Cv, Cv * E_v[:, 0], atol=1e-12)       # folded states are eigenstates
    np.testing.assert_allclose(h @ Cc, Cc * E_c[:, 0], atol=1e-12)
    op_s = MatFreeBSE((1, 1), sc.lattice, sc.positions, E_v[:, 0][None], E_c[:, 0][None], Cv[None], Cc[None],
                      potential, V_x=_all_pairs_exchange(sc, (1, 1), V_x_fun), site_of_orbital=np.arange(sc.n_orb),
                      comm=SerialComm())
    H_u = np.array([op_u.apply(e) for e in np.eye(op_u.N, dtype=complex)]).T
    H_s = np.array([op_s.apply(e) for e in np.eye(op_s.N, dtype=complex)]).T
    q0 = np.arange(n * n) * (n * n) + np.arange(n * n)                     # (v = k, c = k)
    np.testing.assert_allclose(H_s[np.ix_(q0, q0)], H_u, atol=1e-12)
    # the momentum-0 block is invariant (H commutes with unit-cell translations)
    other = np.setdiff1d(np.arange(op_s.N), q0)
    assert np.abs(H_s[np.ix_(other, q0)]).max() < 1e-12
