"""Supercells (zone folding), sparse shift-invert bands, commensurate twisted cells, moiré modulation."""

import numpy as np
import pytest

from hpcx.bse.modulation import closest_cell, first_harmonic, modulation, modulation_data, onsite_shifts, twisted_cell
from hpcx.bse.supercell import (
    bands_near_gap,
    fold,
    from_tbmodel,
    hexagonal_supercell_matrix,
    supercell_sites,
    unfolded_kpoints,
)
from hpcx.bse.tbmodel import TBModel, monkhorst_pack

from helpers import graphene_like as _graphene_like
from helpers import require_module
from helpers import three_orbital_toy as _three_orbital_toy


@pytest.mark.parametrize("M", [np.eye(2, dtype=int) * 3, hexagonal_supercell_matrix(2, 1),
                               hexagonal_supercell_matrix(3, 2), np.array([[2, 1], [0, 3]])])
@pytest.mark.parametrize("gauge", ["lattice", "atomic"])
def test_supercell_bands_are_folded_unit_cell_bands(M, gauge):
    for unit in (_graphene_like(), _three_orbital_toy()):
        sc, sites = fold(unit, M)
        assert len(sites) == abs(round(np.linalg.det(M)))
        assert sc.hermiticity_error() < 1e-13
        for K in [(0.0, 0.0), (0.1, 0.27), (0.5, 1 / 3)]:
            e_sc = np.linalg.eigvalsh(sc.hk(K, gauge).toarray())
            e_unit = np.sort(unit.bands(unfolded_kpoints(M, K))[0].ravel())
            np.testing.assert_allclose(e_sc, e_unit, atol=1e-12)


def test_n_by_n_supercell_on_grid_equals_unit_cell_on_unfolded_grid():
    """3x3 supercell on a 2x2 grid == unit cell on the 6x6 grid (same set of energies)."""
    unit = _three_orbital_toy()
    sc, _ = fold(unit, 3 * np.eye(2, dtype=int))
    e_sc = np.sort(np.concatenate([np.linalg.eigvalsh(sc.hk(K).toarray()) for K in monkhorst_pack(2, 2)]))
    e_unit = np.sort(unit.bands(monkhorst_pack(6, 6))[0].ravel())
    np.testing.assert_allclose(e_sc, e_unit, atol=1e-12)


def test_sparse_round_trip_and_dense_supercell():
    unit = _three_orbital_toy()
    sp = from_tbmodel(unit)
    k = [0.21, 0.37]
    np.testing.assert_allclose(sp.hk(k).toarray(), unit.hk([k])[0], atol=1e-14)
    sc, _ = fold(unit, hexagonal_supercell_matrix(2, 1))
    dense = sc.to_tbmodel()
    for gauge in ("lattice", "atomic"):
        np.testing.assert_allclose(dense.hk([k], gauge)[0], sc.hk(k, gauge).toarray(), atol=1e-13)


def test_supercell_sites_count_and_uniqueness():
    for M in [hexagonal_supercell_matrix(13, 3), np.array([[5, -2], [3, 4]])]:
        s = supercell_sites(M)
        assert len(s) == abs(round(np.linalg.det(M)))
        frac = s @ np.linalg.inv(M)
        assert np.all(frac > -1e-12) and np.all(frac < 1 - 1e-12)
        assert len({tuple(x) for x in s}) == len(s)


@pytest.mark.parametrize("solver", ["scipy", "slepc"])
def test_shift_invert_equals_dense(solver):
    if solver == "slepc":
        require_module("slepc4py")
    sc, _ = fold(_graphene_like(), hexagonal_supercell_matrix(7, 3))    # 79 sites, 158 orbitals
    onsite = 0.05 * np.sin(np.arange(sc.n_orb))                            # break degeneracies
    sc = sc.with_onsite(onsite)
    k = [(0.13, 0.29), (0.0, 0.0)]
    e_ref, c_ref = bands_near_gap(sc, k, 4, 5, 0.0, solver="dense")
    e, c = bands_near_gap(sc, k, 4, 5, 0.0, solver=solver)
    np.testing.assert_allclose(e, e_ref, atol=1e-10)
    for i, kk in enumerate(k):
        h = sc.hk(kk).toarray()
        np.testing.assert_allclose(h @ c[i], c[i] * e[i], atol=1e-9)       # residuals
        overlap = np.abs(c_ref[i].conj().T @ c[i])                       # same subspace
        np.testing.assert_allclose(np.linalg.svd(overlap, compute_uv=False), 1.0, atol=1e-8)
    assert np.all(e[:, :4] < 0) and np.all(e[:, 4:] >= 0)


def test_seed_004_table_A_cells():
    """The commensurate WSe2 cells of seed 004 SI Table A (WSe2 / WS2 metal sites)."""
    a = 3.32
    a2d = np.array([[a, 0], [a / 2, a * np.sqrt(3) / 2]])
    seed = {16.1: (12, 13), 5.68: (84, 91), 4.7: (111, 121), 2.8: (217, 237), 2.2: (283, 309),
            1.3: (397, 433), 0.4: (496, 541)}
    for theta, (n_layer, n_other) in seed.items():
        cell = closest_cell(a2d, 3.18, theta, 1500)
        assert (cell.n_sites, cell.n_sites_other) == (n_layer, n_other), theta
        assert abs(abs(cell.theta_deg) - theta) < 0.05
        assert abs(cell.strain) < 0.005
        assert cell.primitive
        # moiré length of Table A: sqrt(n_layer) a
        assert cell.period == pytest.approx(np.sqrt(n_layer) * a, rel=1e-12)


def test_first_harmonic_round_trip_and_periodicity():
    a = 3.325
    a2d = np.array([[a, 0], [a / 2, a * np.sqrt(3) / 2]])
    cell = twisted_cell(a2d, (8, 2), (9, 1), 3.191)
    L = cell.other_lattice
    stackings = np.array([[0, 0], (L[0] + L[1]) / 3, 2 * (L[0] + L[1]) / 3])
    for shifts in [(0.04, -0.02, -0.02), (0.01, 0.03, -0.01)]:
        V, phi = first_harmonic(shifts)
        np.testing.assert_allclose(modulation(cell, stackings, V, phi), np.array(shifts) - np.mean(shifts),
                                   atol=1e-15)
    # periodic in the commensurate cell: same value at r and r + A_i at the metal sites
    M = cell.M
    A = M @ a2d
    sites = supercell_sites(M) @ a2d
    V, phi = 0.01, 0.7
    v0 = modulation(cell, sites, V, phi)
    for Ai in A:
        np.testing.assert_allclose(modulation(cell, sites + Ai, V, phi), v0, atol=1e-12)
    assert abs(v0.mean()) < 1e-12        # zero mean over a primitive moiré cell


def test_modulated_supercell_shifts_band_edges_locally():
    """On-site shifts of one orbital class enter H(k) exactly on the diagonal of that class."""
    data = modulation_data("WSe2/WS2")
    assert set(data.harmonics()) == {"valence", "conduction"}
    unit = _three_orbital_toy(a=data.a_layer)
    cell = twisted_cell(unit.lattice[:2, :2], (2, 2), (3, 1), data.a_other)
    sc, _ = fold(unit, cell.M)
    classes = np.tile(["conduction", "valence", "valence"], cell.n_sites)
    delta = onsite_shifts(cell, sc.positions, classes, data.harmonics())
    h0, h1 = sc.hk((0.2, 0.1)).toarray(), sc.with_onsite(delta).hk((0.2, 0.1)).toarray()
    np.testing.assert_allclose(h1 - h0, np.diag(delta), atol=1e-15)


def test_sparse_velocity_equals_dense_optics_velocity():
    """SparseTBModel.velocity gives the band matrix elements of hpcx.bse.optics.velocity_matrix
    (dH/dk plus the centre term) for a supercell with off-site orbital centres."""
    from hpcx.bse.optics import velocity_matrix
    unit = _three_orbital_toy()
    pos = unit.positions.copy()
    pos[2] = (unit.lattice[0] + unit.lattice[1]) / 3
    unit = TBModel(unit.lattice, pos, unit.R, unit.H_Rij)
    sc, _ = fold(unit, hexagonal_supercell_matrix(2, 1))
    dense = sc.to_tbmodel()
    k = np.array([[0.17, -0.31, 0.0], [0.0, 0.0, 0.0]])
    E, C = dense.bands(k)
    ref = velocity_matrix(dense, k, C[:, :, :4], C[:, :, 4:])
    for n, kk in enumerate(k):
        got = np.array([C[n, :, :4].conj().T @ (M @ C[n, :, 4:]) for M in sc.velocity(kk)])
        np.testing.assert_allclose(got, ref[n], atol=1e-12)
    # Hermitian operators (velocity is an observable)
    for M in sc.velocity(k[0]):
        assert abs(M - M.conj().T).max() < 1e-12
