"""Continuous-Q exciton-phonon rates on |Q| cells (hpcx.physics.valley_rates): exact kinematics,
the quasi-elastic limit, Einstein rates of parabolic bands, detailed balance, formation."""

import numpy as np
import pytest

from hpcx.physics import phonons as ph
from hpcx.physics.valley_cells import cell_thermal, make_cells
from hpcx.physics.valley_model import (
    DebyeBranch,
    EinsteinChannel,
    ValleyModel,
    ValleySpec,
    hydrogenic_form_factor,
    model_from_couplings,
)
from hpcx.physics.valley_rates import formation_rates, rate_tables
from hpcx.units import HBAR2_2M0_MEV_NM2 as H
from hpcx.units import KB_MEV_PER_K as KB

RHO = 4.78e-7 / (9.1093837e-28 * 1e14)      # WS2 surface density, g/cm^2 -> m0/nm^2


def point_like(p):
    return np.ones_like(np.asarray(p, dtype=float))


def centre(cells, j):
    return 0.5 * (cells.q0[j] + cells.q1[j])


@pytest.mark.parametrize("T", [300.0, 20.0])
def test_acoustic_out_rate_equals_exact_kinematics(T):
    """Cell-integrated LA out-rate == the golden rule with exact kinematics and Bose factors
    (physics.phonons.acoustic_rate_exact, an independent angle-by-angle solution), averaged over
    the cell with the Boltzmann measure the cell represents."""
    v = ValleySpec("X", 0.0, 0.3, 0.35)
    model = ValleyModel((v,), (DebyeBranch(0, "LA", 4.3, 3200.0, -1700.0),), (), RHO, point_like)
    cells = make_cells(model.valleys, 1.2, 0.004)
    out = rate_tables(model, cells, T).out_rate()
    x, w = np.polynomial.legendre.leggauss(6)
    for j in (10, 60, 200):
        q = centre(cells, j) + 0.5 * (cells.q1[j] - cells.q0[j]) * x
        rates = [ph.acoustic_rate_exact(qq, v.mass, 4.3, RHO, T, lambda p: (4900.0 * p) ** 2, n_phi=20000)
                 for qq in q]
        weight = w * q * np.exp(-H * q ** 2 / (v.mass * KB * T))     # the cell's Boltzmann measure
        assert out[j] == pytest.approx(np.sum(weight * rates) / np.sum(weight), rel=2e-6)


def test_quasi_elastic_limit_is_equipartition():
    """For hbar c q << kT the acoustic rate is M D^2 kT / (hbar^3 rho c^2) at every energy."""
    v = ValleySpec("X", 0.0, 0.3, 0.35)
    c = 0.05                                 # nm/ps: phonon energies ~1e-3 of kT
    model = ValleyModel((v,), (DebyeBranch(0, "LA", c, 100.0, 0.0),), (), RHO, point_like)
    cells = make_cells(model.valleys, 1.5, 0.01)
    out = rate_tables(model, cells, 300.0).out_rate()
    ref = ph.acoustic_rate_equipartition(v.mass, 100.0, RHO, c, 300.0)
    np.testing.assert_allclose(out[:-2], ref, rtol=2e-3)     # the last cells miss final states above the grid


def test_einstein_rates_equal_parabolic_band_formula():
    """Intervalley (with degeneracy and mass change) and intravalley optical rates of point-like
    excitons == the closed-form 2D golden rule (physics.phonons.einstein_rate_parabolic)."""
    a, b = ValleySpec("A", 0.0, 0.3, 0.35, 1), ValleySpec("B", -40.0, 0.6, 0.35, 3)
    model = ValleyModel((a, b), (), (EinsteinChannel(0, 1, "iv", 20.0, 15000.0),
                                     EinsteinChannel(0, 0, "opt", 45.0, 30000.0, -20000.0)), RHO, point_like)
    cells = make_cells(model.valleys, 2.0, 0.01)
    T = 100.0
    out = rate_tables(model, cells, T).out_rate()
    g_iv, g_op = ph.coupling_g2A(15000.0, RHO, 20.0), ph.coupling_g2A(50000.0, RHO, 45.0)
    for j in (3, 50, 120):
        E = H * centre(cells, j) ** 2 / a.mass
        ref = (3 * ph.einstein_rate_parabolic(E, a.mass, g_iv, 20.0, T, final_offset=-40.0, M_final=b.mass)
               + ph.einstein_rate_parabolic(E, a.mass, g_op, 45.0, T))
        assert out[j] == pytest.approx(ref, rel=1e-12)
    j = cells.starts[1] + 100
    E = H * centre(cells, j) ** 2 / b.mass
    assert out[j] == pytest.approx(ph.einstein_rate_parabolic(E, b.mass, g_iv, 20.0, T, final_offset=40.0,
                                                              M_final=a.mass), rel=1e-12)


def test_isotropic_coupling_relaxes_no_momentum_in():
    """A q-independent Einstein vertex scatters isotropically: the m = 1 in-scattering vanishes."""
    a = ValleySpec("A", 0.0, 0.3, 0.35)
    model = ValleyModel((a,), (), (EinsteinChannel(0, 0, "opt", 30.0, 30000.0),), RHO, point_like)
    cells = make_cells(model.valleys, 1.5, 0.02)
    t = rate_tables(model, cells, 300.0)
    assert abs(t.intra[1]).max() < 1e-12 * abs(t.intra[0]).max()


def ws2_model(radius=1.5):
    from hpcx.materials.phonons import phonon_params, valley_couplings
    return model_from_couplings(valley_couplings("WS2"), phonon_params("WS2"), hydrogenic_form_factor(radius))


@pytest.mark.parametrize("T", [300.0, 20.0])
def test_detailed_balance_is_exact(T):
    """W_ij Z_j = W_ji Z_i for every pair and harmonic, and the Boltzmann distribution is
    stationary, for the full WS2 model with form factors (20 K: Z spans ~30 orders)."""
    model = ws2_model()
    cells = make_cells(model.valleys, [1.4, 1.5, 1.7], 0.02)
    t = rate_tables(model, cells, T, harmonics=3)
    z = t.thermal.log_z
    for m in range(3):
        W = t.W(m).toarray()
        flux = W * np.exp(z - z.max())[None, :]
        assert np.max(np.abs(flux - flux.T)) <= 1e-13 * np.max(np.abs(flux))
    p = t.thermal.boltzmann()
    rate = t.collision(0) @ p
    assert np.max(np.abs(rate)) <= 1e-12 * np.max(t.out_rate() * p)


def test_formation_from_the_bright_exciton():
    """Formation from Q = 0 == Einstein emission/absorption rate of a state at the band bottom,
    delivered into the cell of the energy-conserving |Q|."""
    a, b = ValleySpec("KK", 0.0, 0.26, 0.35, 1), ValleySpec("KKp", -51.5, 0.35, 0.35, 1)
    model = ValleyModel((a, b), (), (EinsteinChannel(0, 1, "iv", 21.0, 14000.0),), RHO, point_like)
    cells = make_cells(model.valleys, 1.5, 0.01)
    T = 77.0
    g = formation_rates(model, cells, T)
    g2 = ph.coupling_g2A(14000.0, RHO, 21.0)
    em = ph.einstein_rate_parabolic(0.0, a.mass, g2, 21.0, T, final_offset=-51.5, M_final=b.mass)
    assert g.sum() == pytest.approx(em, rel=1e-12)
    q_emit = np.sqrt((51.5 - 21.0) * b.mass / H)
    j = np.nonzero(g)[0]
    assert cells.valley[j].tolist() == [1, 1]
    assert cells.q0[j[0]] <= q_emit < cells.q1[j[0]]


def test_light_cone_fraction():
    """Radiative weight: the Boltzmann fraction of a cell inside Q_lc, only in the bright valley."""
    a, b = ValleySpec("KK", 0.0, 0.26, 0.35), ValleySpec("KKp", -51.5, 0.35, 0.35)
    cells = make_cells((a, b), 0.1, 0.02)
    th = cell_thermal(cells, 20.0, bright=0, light_cone=0.01)
    kT = KB * 20.0
    e_lc, e_cell = H * 0.01 ** 2 / a.mass, H * 0.02 ** 2 / a.mass
    assert th.light_cone[0] == pytest.approx(-np.expm1(-e_lc / kT) / -np.expm1(-e_cell / kT), rel=1e-4)
    assert np.all(th.light_cone[1:] == 0.0)


def test_acoustic_quadrature_in_pair_blocks_changes_nothing(monkeypatch):
    """The acoustic fluxes are evaluated per block of cell pairs (bounded memory): blocks of 7 pairs
    give the same rates as one block, to rounding."""
    from hpcx.physics import valley_rates as vr
    model = ws2_model()
    cells = make_cells(model.valleys, [1.4, 1.5, 1.7], 0.02)
    one = [vr.debye_flux(model, br, cells, 77.0, 3) for br in model.debye]
    monkeypatch.setattr(vr, "_PAIR_BLOCK", 7)
    small = [vr.debye_flux(model, br, cells, 77.0, 3) for br in model.debye]
    for a, b in zip(one, small):
        assert len(a.i) > 7 * 10
        np.testing.assert_array_equal(a.i, b.i)
        np.testing.assert_allclose(b.value, a.value, rtol=1e-13, atol=1e-13 * np.abs(a.value).max())
