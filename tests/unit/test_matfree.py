"""Matrix-free BSE operator: product == dense H x (independent slow reference and the dense
assembly of hpcx.bse.hamiltonian), eigenpairs with SLEPc, zone folding."""

import re

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
    require_kernel,
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


def _ops_on_grid(grid, comm=None, **kw):
    from hpcx.parallel import SerialComm, block_range
    comm = comm or SerialComm()
    model = _three_band_model()
    _, E_v, E_c, C_v, C_c = window(model, grid, 1, 2)
    k0, k1 = block_range(grid[0] * grid[1], comm.size, comm.rank)
    op = MatFreeBSE(grid, model.lattice, model.positions, E_v[k0:k1], E_c[k0:k1], C_v[k0:k1], C_c[k0:k1],
                    potential, comm=comm, **kw)
    return op, model, (E_v, E_c, C_v, C_c)


# (n_k, n_orb, n_v, n_c): a small model, and supercell sizes whose work arrays (n_c n_orb or
# n_v n_orb numbers) exceed any fixed buffer of 4096
PAIR_SHAPES = [(5, 4, 2, 3), (2, 70, 3, 60), (2, 70, 60, 3)]


@pytest.mark.parametrize("shape", PAIR_SHAPES)
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("path", ["kernel", "blas"])
def test_pair_densities_and_contraction_equal_the_numpy_twin(dtype, shape, path):
    from hpcx._kernels import twin
    from hpcx.bse import matfree
    impl = require_kernel("bse_pairs") if path == "kernel" else matfree._BlasPairs
    ref = twin("bse_pairs")
    n_k, n_orb, n_v, n_c = shape
    rng = np.random.default_rng(7)
    c = lambda *s: rng.normal(size=s) + 1j * rng.normal(size=s)       # noqa: E731
    C_v, C_c, X, Q = c(n_k, n_orb, n_v), c(n_k, n_orb, n_c), c(n_k, n_v, n_c), c(n_k, n_orb ** 2).astype(dtype)
    a, b = np.empty((n_k, n_orb ** 2), dtype), np.empty((n_k, n_orb ** 2), dtype)
    impl.pair_density(C_v, C_c, X, a)
    ref.pair_density(C_v, C_c, X, b)
    tol = 1e-6 if dtype == np.complex64 else 1e-12
    scale = np.abs(b).max()
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale)
    # P = conj(C_v) X C_c^T per k, by matrix products
    np.testing.assert_allclose(b.reshape(n_k, n_orb, n_orb), np.conj(C_v) @ X @ C_c.transpose(0, 2, 1),
                               rtol=tol, atol=tol * scale)
    y1, y2 = np.empty((n_k, n_v, n_c), complex), np.empty((n_k, n_v, n_c), complex)
    impl.pair_contract(C_v, C_c, Q, -0.5, y1)
    ref.pair_contract(C_v, C_c, Q, -0.5, y2)
    scale = np.abs(y2).max()
    np.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-12 * scale)
    direct = -0.5 * C_v.transpose(0, 2, 1) @ Q.astype(complex).reshape(n_k, n_orb, n_orb) @ np.conj(C_c)
    np.testing.assert_allclose(y2, direct, rtol=1e-12, atol=1e-12 * scale)


def test_blas_path_products_equal_the_kernel_path(monkeypatch):
    from hpcx.bse import matfree
    op_k, *_ = _ops_on_grid((5, 4))
    monkeypatch.setattr(matfree, "BLAS_PAIRS_FROM_ORBITALS", 1)
    monkeypatch.setattr(matfree, "BLAS_PAIRS_BLOCK_BYTES", 16 * 9 * 3)     # blocks of 3 k-points
    op_b, *_ = _ops_on_grid((5, 4))
    assert op_b._kernel is matfree._BlasPairs and op_k._kernel is not matfree._BlasPairs
    x = np.random.default_rng(3).normal(size=(op_k.N, 2)) + 1j * np.random.default_rng(4).normal(size=(op_k.N, 2))
    np.testing.assert_allclose(op_b.apply(x), op_k.apply(x), rtol=1e-12, atol=1e-12 * np.abs(op_k.apply(x)).max())


def test_single_precision_product_and_switching_back():
    """complex64 transforms: the product to ~1e-6 of the dense reference; 'double' restores 1e-10."""
    grid = (5, 4)
    op, model, (E_v, E_c, C_v, C_c) = _ops_on_grid(grid, precision="single")
    H = dense_reference(model, grid, E_v, E_c, C_v, C_c, potential)
    x = np.random.default_rng(4).normal(size=op.N) + 1j * np.random.default_rng(5).normal(size=op.N)
    err = np.linalg.norm(op.apply(x) - H @ x) / np.linalg.norm(H @ x)
    assert 1e-10 < err < 1e-5                      # single precision really used, and accurate to it
    op.precision = "double"
    assert np.linalg.norm(op.apply(x) - H @ x) / np.linalg.norm(H @ x) < 1e-10
    with pytest.raises(ValueError, match="precision"):
        op.precision = "half"


def _prolong_reference(model, cgrid, fgrid, Xc):
    """The prolongation by its definition: p = ifft2(conj(C_v) X C_c^T) on the coarse grid, R in the
    minimum-image range placed on the fine cell, P = fft2(p), X = C_v^T P conj(C_c) (NumPy, whole grids)."""
    _, _, _, Cvc, Ccc = window(model, cgrid, 1, 2)
    _, _, _, Cvf, Ccf = window(model, fgrid, 1, 2)
    n = model.n_orb
    P = np.einsum("kiv,kvc,kjc->kij", Cvc.conj(), Xc.reshape(-1, 1, 2), Ccc).reshape(*cgrid, n, n)
    p = np.fft.ifft2(P, axes=(0, 1))
    q = np.zeros(tuple(fgrid) + (n, n), complex)
    for a in range(cgrid[0]):
        for b in range(cgrid[1]):
            Ra, Rb = a - cgrid[0] // 2, b - cgrid[1] // 2
            q[Ra % fgrid[0], Rb % fgrid[1]] = p[Ra % cgrid[0], Rb % cgrid[1]]
    Pf = np.fft.fft2(q, axes=(0, 1)).reshape(-1, n, n)
    return np.einsum("kiv,kij,kjc->kvc", Cvf, Pf, Ccf.conj()).reshape(-1)


def test_prolongation_is_the_real_space_embedding():
    from hpcx.bse.matfree import prolong
    coarse, model, _ = _ops_on_grid((4, 3))
    fine, _, _ = _ops_on_grid((7, 6))
    X = np.random.default_rng(8).normal(size=(coarse.N, 2)) + 1j * np.random.default_rng(9).normal(size=(coarse.N, 2))
    Y = prolong(coarse, fine, X)
    for m in range(2):
        np.testing.assert_allclose(Y[:, m], _prolong_reference(model, (4, 3), (7, 6), X[:, m]), atol=1e-12)
    # onto the same grid: the identity (X -> P -> X is exact when the window holds every band)
    np.testing.assert_allclose(prolong(coarse, coarse, X), X, atol=1e-12)
    with pytest.raises(ValueError, match="coarser"):
        prolong(fine, coarse, Y)


def test_davidson_equals_dense_eigh_from_any_start():
    """Block Davidson (no SLEPc): the lowest pairs of the dense reference, from its own start and from
    start vectors; residuals recomputed with the operator."""
    grid = (5, 5)
    op, model, (E_v, E_c, C_v, C_c) = _ops_on_grid(grid)
    H = dense_reference(model, grid, E_v, E_c, C_v, C_c, potential)
    ref = np.linalg.eigh(H)
    res = solve(op, 6, SolverOptions(backend="davidson", tol=1e-10, max_it=300))
    assert res.method == "matfree-davidson"
    np.testing.assert_allclose(res.values, ref[0][:6], atol=1e-9)
    assert res.residuals.max() < 1e-9
    np.testing.assert_allclose(residual_norms(op, res.values, res.vectors), res.residuals)
    start = ref[1][:, :8] + 1e-3 * np.random.default_rng(1).normal(size=(op.N, 8))     # near the answer
    near = solve(op, 6, SolverOptions(backend="davidson", tol=1e-10, max_it=300), start=start)
    np.testing.assert_allclose(near.values, ref[0][:6], atol=1e-9)
    assert near.products < res.products


def test_coarse_start_gives_the_fine_grid_answer():
    """solve_from_coarse: the finest grid's lowest pairs equal dense eigh on that grid, whatever the
    coarse grid (the start only changes the work); every level is reported."""
    from hpcx.bse.coarse_start import solve_from_coarse
    fine_grid = (8, 8)
    _, model, (E_v, E_c, C_v, C_c) = _ops_on_grid(fine_grid)
    ref = np.linalg.eigvalsh(dense_reference(model, fine_grid, E_v, E_c, C_v, C_c, potential))
    require_module("slepc4py")
    res, levels = solve_from_coarse(lambda n: _ops_on_grid((n, n))[0], [4, 8], 4,
                                    fine=SolverOptions(backend="davidson", tol=1e-10, max_it=300),
                                    coarse=SolverOptions(backend="slepc", tol=1e-10))
    np.testing.assert_allclose(res.values, ref[:4], atol=1e-9)
    assert [lv.n for lv in levels] == [4, 8] and [lv.N for lv in levels] == [32, 128]
    assert levels[1].products == res.products and levels[1].max_residual < 1e-9
    assert len(levels[0].values) == 6                        # nev + 2 guard pairs carried


# -- an error inside a product that SLEPc called ----------------------------------------------

#: a script's start: the matrix-free operator of the three-band model on the ranks it runs on, its
#: product kept as ``apply`` (the script replaces ``op.apply`` to fail or signal inside SLEPc)
OPERATOR_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from helpers import band_edges, smooth_potential, three_band_model
from hpcx.bse.matfree import MatFreeBSE
from hpcx.bse.solver import SolverOptions, solve
from hpcx.parallel import block_range, get_comm
from hpcx.stopping import Interrupted, StopFlag, handle_signals

comm = get_comm()
model = three_band_model()
_, E_v, E_c, C_v, C_c = band_edges(model, (6, 6), 1, 2)
k0, k1 = block_range(36, comm.size, comm.rank)
op = MatFreeBSE((6, 6), model.lattice, model.positions, E_v[k0:k1], E_c[k0:k1], C_v[k0:k1], C_c[k0:k1],
                smooth_potential, comm=comm)
apply = op.apply
"""

FAILING_PRODUCT = """

def failing(x):
    if op.n_products > 5 and comm.rank == comm.size - 1:
        raise ValueError("no memory for the product")
    return apply(x)


op.apply = failing
try:
    solve(op, 4, SolverOptions(backend="slepc", tol=1e-10))
except ValueError as exc:
    print("raised:", exc, flush=True)
op.apply = apply
print("lowest:", solve(op, 4, SolverOptions(backend="slepc", tol=1e-10)).values[0], flush=True)
"""

SIGNALLED_SOLVE = """

def signalled(x):
    if op.n_products == 5 and comm.rank == comm.size - 1:
        os.kill(os.getpid(), signal.SIGTERM)         # inside SLEPc's MatMult callback, one rank only
    return apply(x)


op.apply = signalled
try:
    with handle_signals(StopFlag(comm)):
        solve(op, 4, SolverOptions(backend="slepc", tol=1e-10))
except Interrupted as exc:
    print(f"interrupted: {exc}, exit {exc.exit_code}, after {op.n_products} products", flush=True)
op.apply = apply
print("lowest:", solve(op, 4, SolverOptions(backend="slepc", tol=1e-10)).values[0], flush=True)
"""


def _run_operator_script(tmp_path, body, ranks):
    """The finished process of OPERATOR_SCRIPT + ``body`` run on ``ranks`` ranks (skips without
    slepc4py or, for several ranks, mpirun); fails on a segmentation fault."""
    import os
    import subprocess
    import sys

    from helpers import ROOT, mpirun_command
    require_module("slepc4py")
    script = tmp_path / "operator_script.py"
    script.write_text(OPERATOR_SCRIPT.format(tests=str(ROOT / "tests")) + body)
    prefix = [sys.executable] if ranks == 1 else mpirun_command(ranks)
    if prefix is None:
        pytest.skip("mpirun not found")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(prefix + [str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "SEGV" not in proc.stderr and "Segmentation" not in proc.stderr, proc.stderr[-2000:]
    return proc


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_signal_during_a_slepc_solve_stops_every_rank_cleanly(tmp_path, ranks):
    """SIGTERM while SLEPc runs the Python product (the eigenpairs phase has no safe point): the
    handler's Interrupted must not unwind through SLEPc (that crashed the process with 'Need to call
    MatDenseRestoreSubMatrix() first' when the solver was destroyed).  Held back, it ends the solve
    at the same iteration on every rank, also those that got no signal, and is then raised (exit
    128 + 15); the solver works again afterwards."""
    proc = _run_operator_script(tmp_path, SIGNALLED_SOLVE, ranks)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the ranks' lines may interleave on the shared stdout: found by pattern, not by line
    products = re.findall(r"interrupted: stopped by SIGTERM, exit 143, after (\d+) products", proc.stdout)
    assert len(products) == ranks and len(set(products)) == 1, proc.stdout
    assert proc.stdout.count("lowest:") == ranks


@pytest.mark.parametrize("ranks", [1, 2])
def test_failed_product_inside_slepc_is_named_without_a_crash(tmp_path, ranks):
    """One rank: the solve raises the product's error, the solver still works and the process ends
    cleanly (SLEPc is not left mid-iteration, which crashed it at exit).  Two ranks: one line
    names the error and every rank stops (exit 1), nobody waits."""
    proc = _run_operator_script(tmp_path, FAILING_PRODUCT, ranks)
    if ranks == 1:
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "raised: no memory for the product" in proc.stdout
        assert "lowest:" in proc.stdout
    else:
        assert proc.returncode == 1, proc.stderr[-2000:]
        # one line, whose end mpirun's abort notice may interleave with: found as text, not by line
        line = (f"hpcx: internal error: [rank {ranks - 1}] ValueError: no memory for the product "
                "(in a product of the matrix-free BSE operator; every rank is stopped)")
        assert proc.stderr.count("hpcx: ") == 1 and line in proc.stderr, proc.stderr
