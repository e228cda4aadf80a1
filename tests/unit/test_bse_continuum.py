"""Continuum (effective-mass) limit of the modulated moiré BSE: masses, Keldysh 1s form factor,
centre-of-mass potential and the folded Q = 0 spectrum (hpcx/bse/continuum.py)."""

import numpy as np
import pytest

from hpcx.bse import continuum as ct
from hpcx.bse import modulation as md
from hpcx.bse.interaction import keldysh
from hpcx.bse.liu import liu_model
from hpcx.units import HBAR2_2M0_MEV_NM2

MODEL = liu_model("WSe2", "TNN", soc=False)
DATA = md.modulation_data("WSe2/WS2")
CELL = md.twisted_cell(MODEL.lattice[:2, :2], (13, 6), (13, 7), DATA.a_other)   # seed 004's 2.2 deg cell
R0 = 82.96


@pytest.fixture(scope="module")
def masses():
    return ct.effective_masses(MODEL)


@pytest.fixture(scope="module")
def exciton(masses):
    return ct.keldysh_exciton(*masses, R0, 1.0)


def test_masses_equal_a_parabola_fit(masses):
    # independent: least-squares fit of E(K + k) = E0 + c k^2 + trigonal (k^3 cos 3t, k^3 sin 3t)
    # + k^4 on a disc of radius 0.02 1/Angstrom, 48 directions (the finite difference uses 2e-3)
    B = MODEL.reciprocal[:2, :2]
    r, t = np.meshgrid(np.linspace(0.0025, 0.02, 8), np.linspace(0, 2 * np.pi, 48, endpoint=False))
    k = np.column_stack([(r * np.cos(t)).ravel(), (r * np.sin(t)).ravel()])
    E, _ = MODEL.bands(np.array(ct.K_FRAC) + k @ np.linalg.inv(B))
    E0, _ = MODEL.bands(np.array([ct.K_FRAC]))
    rr, tt = r.ravel(), t.ravel()
    A = np.column_stack([rr**2, rr**3 * np.cos(3 * tt), rr**3 * np.sin(3 * tt), rr**4])
    c_e = np.linalg.lstsq(A, E[:, 1] - E0[0, 1], rcond=None)[0][0]
    c_h = np.linalg.lstsq(A, E[:, 0] - E0[0, 0], rcond=None)[0][0]
    m_e, m_h = masses
    assert m_e == pytest.approx(ct.HBAR2_2M0_EV_A2 / c_e, rel=2e-3)
    assert m_h == pytest.approx(-ct.HBAR2_2M0_EV_A2 / c_h, rel=2e-3)
    assert (round(m_e, 2), round(m_h, 2)) == (0.31, 0.40)        # the values quoted in the docs


def test_keldysh_convention_matches_the_bse_interaction(masses, exciton):
    # <T> - <V> with the 1s state of the Wannier solver and the BSE's real-space Keldysh
    # potential (hpcx.bse.interaction.keldysh, eV and Angstrom) must give -E_b
    m_e, m_h = masses
    mu = m_e * m_h / (m_e + m_h)
    k = np.geomspace(1e-4, 2e2, 40000)                                             # 1/nm
    phik = exciton.phi_k("1s", k)
    kin = np.trapz(k * (HBAR2_2M0_MEV_NM2 / mu) * k**2 * phik**2, k) / (2 * np.pi)      # meV
    r = np.geomspace(1e-4, 60.0, 40000)                                            # nm
    V = 1e3 * keldysh(R0, 1.0)(10.0 * r)                                           # meV
    pot = np.trapz(2 * np.pi * r * exciton.phi_r("1s", r) ** 2 * V, r)
    assert kin - pot == pytest.approx(-exciton.energy("1s"), rel=2e-3)
    assert exciton.energy("1s") > 250.0


def test_two_dimensional_hydrogen_form_factor(masses):
    # r0 -> 0: 2D hydrogen, |phi|^2 ~ exp(-4 r/a), F(q) = (1 + (q a/4)^2)^(-3/2), a = a_B eps/mu
    eps = 5.0
    m_e, m_h = masses
    mu = m_e * m_h / (m_e + m_h)
    ex = ct.keldysh_exciton(m_e, m_h, 1e-9, eps)
    a = 0.0529177210903 * eps / mu                                                 # nm
    assert ex.energy("1s") == pytest.approx(4 * 13605.693122994 * mu / eps**2, rel=1e-4)
    g = np.array([0.1, 0.5, 2.0])                                                  # 1/Angstrom
    for gi in g:
        F_e, F_h = ct.form_factors(ex, m_e, m_h, gi)
        for beta, F in ((m_e / (m_e + m_h), F_e), (m_h / (m_e + m_h), F_h)):
            assert F == pytest.approx((1 + (10 * beta * gi * a / 4) ** 2) ** -1.5, rel=1e-3)


def test_form_factor_limit_and_potential(masses, exciton):
    h = DATA.harmonics(1.0)
    (Vc, pc), (Vv, pv) = h["conduction"], h["valence"]
    F_e, F_h = ct.form_factors(exciton, *masses, 1e-7)
    assert (F_e, F_h) == pytest.approx((1.0, 1.0), abs=1e-9)
    assert ct.com_potential(h, F_e, F_h) == pytest.approx(Vc * np.exp(1j * pc) - Vv * np.exp(1j * pv), abs=1e-12)
    # the electron is probed at beta_h g, the hole at beta_e g: with m_h > m_e the electron's factor is smaller
    F_e, F_h = ct.form_factors(exciton, *masses, float(np.linalg.norm(CELL.moire_vectors[0])))
    assert 0.0 < F_h < F_e < 1.0
    assert ct.com_potential(h, F_e, F_h) == pytest.approx(Vc * np.exp(1j * pc) * F_h - Vv * np.exp(1j * pv) * F_e)


def test_no_modulation_gives_one_bright_state_at_zero(masses):
    M = sum(masses)
    sp = ct.folded_spectrum(CELL.moire_vectors, 0.0, M)
    assert sp.energies[0] == pytest.approx(0.0, abs=1e-14)
    assert sp.weights[0] == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(sp.weights[1:], 0.0, atol=1e-14)
    # the next level is the 6-fold first shell at hbar^2 g^2/2M
    g = np.linalg.norm(CELL.moire_vectors[0])
    assert sp.kinetic == pytest.approx(3.80998212 * g**2 / M, rel=1e-6)
    np.testing.assert_allclose(sp.energies[1:7], sp.kinetic, rtol=1e-12)
    e, w = sp.peaks()
    assert list(e) == [0.0] and list(w) == [1.0]


def test_weak_modulation_is_second_order_perturbation(masses):
    M = sum(masses)
    U = 2e-4 * np.exp(0.7j)                                   # eV, |U| / (hbar^2 g^2/2M) ~ 2e-3
    sp = ct.folded_spectrum(CELL.moire_vectors, U, M)
    shift = -sum(2 * abs(U) ** 2 / sp.kinetic for _ in range(3))
    assert sp.energies[0] == pytest.approx(shift, rel=1e-2)
    assert 1.0 - sp.weights[0] == pytest.approx(6 * abs(U) ** 2 / sp.kinetic**2, rel=2e-2)


def test_sum_rules_and_convergence(masses, exciton):
    # sum_eta w = 1, sum w E = <0|H|0> = 0, sum w E^2 = <0|H^2|0> = 6 |U|^2 (any U)
    sp, _ = ct.continuum_spectrum(CELL, DATA.harmonics(4.0), *masses, exciton)
    assert sp.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert sp.weights @ sp.energies == pytest.approx(0.0, abs=1e-12)
    assert sp.weights @ sp.energies**2 == pytest.approx(6 * abs(sp.U) ** 2, rel=1e-9)
    # the bright peaks within 0.25 eV do not depend on the plane-wave cutoff
    big = ct.folded_spectrum(CELL.moire_vectors, sp.U, sum(masses), cutoff=8.0)
    assert big.n_g > sp.n_g
    for a, b in zip(sp.peaks(), big.peaks()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_pair_dispersion_is_parabolic_at_small_q_and_softer_at_g(masses):
    m_e, m_h = masses
    disp = ct.pair_dispersion(MODEL, m_e, m_h)
    t = np.linspace(0, 2 * np.pi, 7)[:-1]
    for q in (2e-3, 5e-3):
        Q = q * np.column_stack([np.cos(t), np.sin(t)])
        np.testing.assert_allclose(disp(Q), ct.kinetic_energy(q, m_e + m_h), rtol=2e-3)
    # the diagonal replaced by the same parabola gives the same spectrum; the model's bands
    # (heavier away from K) lower the folded states
    U = 0.02 * np.exp(2.0j)
    sp = ct.folded_spectrum(CELL.moire_vectors, U, m_e + m_h)
    para = ct.folded_spectrum(CELL.moire_vectors, U, m_e + m_h,
                              dispersion=lambda Q: ct.kinetic_energy(np.linalg.norm(Q, axis=1), m_e + m_h))
    np.testing.assert_allclose(para.energies, sp.energies, atol=1e-12)
    soft = ct.folded_spectrum(CELL.moire_vectors, U, m_e + m_h, dispersion=disp)
    assert soft.energies[1] < sp.energies[1]
    assert np.all(disp(CELL.moire_vectors[:3]) < sp.kinetic)


def test_intervalley_sector_at_the_moire_corner(masses):
    # Q = moire corner, |Q| = |g|/sqrt(3): without modulation the three corners are degenerate at
    # (1/3) hbar^2 g^2/2M (next: the three at 4/3); a weak U splits them to first order like a
    # three-site ring, kin/3 + 2|U| cos(arg U + 2 pi n/3), n = 0, 1, 2 (convention-free as a set)
    M = sum(masses)
    Km = ct.moire_corner(CELL.moire_vectors)
    assert np.linalg.norm(Km) == pytest.approx(np.linalg.norm(CELL.moire_vectors[0]) / np.sqrt(3), rel=1e-12)
    free = ct.folded_spectrum(CELL.moire_vectors, 0.0, M, Q=Km)
    np.testing.assert_allclose(free.energies[:3], free.kinetic / 3, rtol=1e-12)
    np.testing.assert_allclose(free.energies[3:6], 4 * free.kinetic / 3, rtol=1e-12)
    U = 2e-4 * np.exp(0.7j)                                   # eV; second order ~ |U|^2/kin ~ 1e-6 eV
    weak = ct.folded_spectrum(CELL.moire_vectors, U, M, Q=Km)
    ring = free.kinetic / 3 + 2 * abs(U) * np.cos(np.angle(U) + 2 * np.pi * np.arange(3) / 3)
    np.testing.assert_allclose(weak.energies[:3], np.sort(ring), atol=5e-6)
    assert np.ptp(weak.energies[:3]) > 100 * 5e-6
