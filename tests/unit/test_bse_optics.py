"""Optics of the Wannier BSE: Dirac-cone conductivity, velocity gauge invariance, sum rules, densities."""

import numpy as np

from hpcx.bse import bands as bb
from hpcx.bse import hamiltonian as hh
from hpcx.bse import interaction as it
from hpcx.bse import optics as op
from hpcx.bse.tbmodel import monkhorst_pack

from helpers import V_BARE, V_KELDYSH, two_band_model
from helpers import bse_setup as _setup
from helpers import graphene_like as _graphene_like


def test_massive_dirac_conductivity():
    """Independent-particle sheet conductivity of a gapped honeycomb model (2 valleys, 2 spins)
    in the Dirac regime: Re sigma = (e^2/4 hbar)(1 + (2 Delta/E)^2) for E > 2 Delta."""
    m = _graphene_like(t=-2.7, delta=0.1, a=2.46)
    k = monkhorst_pack(240, 240)
    E, C = bb.bands_on_grid(m, k)
    w = bb.band_window(E, C, k, 1, 1, 1)
    P = op.velocity_matrix(m, k, w.C_v, w.C_c)
    cell = abs(np.linalg.det(m.lattice[:2, :2]))
    energy = np.array([0.6, 0.8, 1.0])
    for a in (0, 1):                                     # isotropic: sigma_xx = sigma_yy
        sig = op.conductivity(energy, w.transition_energies(), np.abs(P[:, a, 0, 0]) ** 2, w.n_k, cell, 0.05, 2.0)
        np.testing.assert_allclose(sig, 0.25 * (1 + (0.2 / energy) ** 2), rtol=0.05)


def test_velocity_is_home_cell_independent():
    """|P_vc(k)| does not change when a Wannier function moves to another cell; without the
    centre term i (tau_j - tau_i) H it would."""
    model = two_band_model()
    k = np.random.default_rng(0).random((6, 3)) * [1, 1, 0]
    out = []
    for m in (model, model.rehome(1, (1, -1, 0))):
        E, C = bb.diagonalise(m, k)
        out.append(np.abs(op.velocity_matrix(m, k, C[:, :, :1], C[:, :, 1:])))
        bare = np.einsum("kiv,kaij,kjc->kavc", C[:, :, :1].conj(), m.dhk(k)[:, :2], C[:, :, 1:])
        out.append(np.abs(bare))
    np.testing.assert_allclose(out[2], out[0], atol=1e-12)
    assert np.abs(out[3] - out[1]).max() > 1e-3


def test_intraband_velocity_is_band_slope():
    model = two_band_model()
    k = np.array([[0.21, 0.37, 0.0]])
    E, C = bb.diagonalise(model, k)
    P = op.velocity_matrix(model, k, C, C)                 # all bands: diagonal = dE/dk
    h = 1e-6
    for a in range(2):
        dk = np.zeros(3)
        dk[a] = h
        dk = dk @ np.linalg.inv(model.reciprocal)
        slope = (bb.diagonalise(model, k + dk)[0] - bb.diagonalise(model, k - dk)[0]) / (2 * h)
        np.testing.assert_allclose(np.diag(P[0, a]).real, slope[0], atol=1e-6)


def test_bse_spectral_weight_sum_rule_and_ip_limit():
    """All eigenvectors: sum_S |P_S|^2 = sum_kvc |P_vc|^2 (unitarity).  Without interaction the
    BSE eigenpairs are the transitions, so sigma == sigma_ip."""
    model = two_band_model()
    grid = (6, 6)
    w, sites, inter = _setup(model, grid, 1, 1, 2, V_KELDYSH, V_BARE)
    k = monkhorst_pack(*grid)
    P = op.velocity_matrix(model, k, w.C_v, w.C_c)
    vals, vecs = np.linalg.eigh(hh.assemble_dense(w, inter))
    P_S = op.exciton_amplitudes(P, vecs)
    np.testing.assert_allclose(np.sum(np.abs(P_S) ** 2, axis=0), np.sum(np.abs(P) ** 2, axis=(0, 2, 3)), rtol=1e-12)
    free = it.Interaction(inter.sites, 0 * inter.W, None, inter.q_of)
    vals0, vecs0 = np.linalg.eigh(hh.assemble_dense(w, free))
    energy = np.linspace(1.0, 4.0, 50)
    cell = abs(np.linalg.det(model.lattice[:2, :2]))
    p2 = lambda Q: 0.5 * np.sum(np.abs(Q) ** 2, axis=1)   # noqa: E731
    s_bse = op.conductivity(energy, vals0, p2(op.exciton_amplitudes(P, vecs0)), w.n_k, cell, 0.1, 2.0)
    s_ip = op.conductivity(energy, w.transition_energies(), p2(P.transpose(0, 2, 3, 1).reshape(-1, 2)),
                           w.n_k, cell, 0.1, 2.0)
    np.testing.assert_allclose(s_bse, s_ip, rtol=1e-10, atol=1e-14)


def test_hole_fixed_density():
    model = two_band_model()
    grid = (6, 6)
    w, sites, inter = _setup(model, grid, 1, 1, 2, V_KELDYSH, V_BARE)
    vals, vecs = np.linalg.eigh(hh.assemble_dense(w, inter))
    dens, pos = op.hole_fixed_density(w, vecs[:, :3], sites, grid, 1, model.lattice)
    assert dens.shape == (3, 36, 2) and pos.shape == (36, 2, 3)
    np.testing.assert_allclose(dens.sum(axis=(1, 2)), 1.0)
    # minimum image: electrons within half a supercell of the hole
    r = np.linalg.norm(pos - sites.positions[1], axis=-1)
    assert r.max() < 6 * 3.3
    # hole on B (valence band), electron on A (conduction band, onsite +0.9 eV), and the bound
    # state sits closer to the hole than a uniform spread
    assert dens[0][:, 0].sum() > 0.99
    assert np.sum(dens[0] * r) < r.mean()


def test_hole_density_is_the_norm_of_the_hole_fixed_density():
    # two independent routes to the same number: the momentum-space sum of hole_density and the
    # real-space electron sum (FFT over k) of the unnormalised hole-fixed density, per hole site
    model = two_band_model()
    grid = (6, 6)
    w, sites, inter = _setup(model, grid, 1, 1, 2, V_KELDYSH, V_BARE)
    vals, vecs = np.linalg.eigh(hh.assemble_dense(w, inter))
    rho = op.hole_density(w, vecs[:, :3], sites)
    assert rho.shape == (3, 2)
    np.testing.assert_allclose(rho.sum(axis=1), 1.0, rtol=1e-12)
    for j in range(sites.n_site):
        raw, _ = op.hole_fixed_density(w, vecs[:, :3], sites, grid, j, model.lattice, normalise=False)
        np.testing.assert_allclose(raw.sum(axis=(1, 2)) * w.n_k, rho[:, j], rtol=1e-12, atol=1e-15)
    # the hole lives in the valence band, on B
    assert rho[0, 1] > 0.99


def test_peaks_refine_to_the_centres_of_separated_gaussians():
    e = np.linspace(1.0, 2.0, 1001)
    centres, heights = np.array([1.2034, 1.5571]), np.array([1.0, 0.3])
    sigma = sum(h * np.exp(-0.5 * ((e - c) / 0.01) ** 2) for c, h in zip(centres, heights))
    p, h = op.peaks(e, sigma, 0.02)
    np.testing.assert_allclose(p, centres, atol=2e-5)          # parabola through 3 points, step 1 meV
    np.testing.assert_allclose(h, heights, rtol=2e-3)
    assert len(op.peaks(e, sigma, 0.5)[0]) == 1                  # the small peak is below 50 % prominence
    assert len(op.peaks(e, np.zeros_like(e), 0.02)[0]) == 0


def test_multiplet_labels():
    np.testing.assert_array_equal(op.multiplet_labels(np.array([1.0, 1.0 + 1e-8, 1.1, 1.2, 1.2])), [0, 0, 1, 2, 2])
