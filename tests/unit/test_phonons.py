"""Exciton-phonon building blocks: Bose factor, broadening, golden-rule rates against
closed forms, detailed balance, self-consistent dephasing, RTA diffusion, parameters."""

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import quad

from hpcx.materials.phonons import multivalley_model, names, phonon_params
from hpcx.physics import phonons as P
from hpcx.units import HBAR2_2M0_MEV_NM2 as H
from hpcx.units import HBAR_MEV_PS as HBAR
from hpcx.units import KB_MEV_PER_K as KB

M = 1.2          # exciton mass, m0 (MoSe2-WSe2 interlayer order of magnitude)
OMEGA = 30.0     # Einstein phonon, meV
G2A = 50.0       # q-independent A |g|^2, meV^2 nm^2


def test_bose_limits():
    om = np.array([0.1, 1.0, 30.0])
    assert np.all(P.bose(om, 0.0) == 0.0)
    assert np.all(P.bose(om, 1e-3) == 0.0)          # exp overflow -> 0, no warning or nan
    hot = P.bose(om, 1e5)
    x = om / (KB * 1e5)
    np.testing.assert_allclose(hot, 1 / x - 0.5 + x / 12, rtol=1e-9)   # Laurent series, next term O(x^3)
    n = P.bose(om, 77.0)
    np.testing.assert_allclose((n + 1) / n, np.exp(om / (KB * 77.0)), rtol=1e-13)


def test_gennorm_normalised_and_gaussian():
    for beta in (1.0, 2.0, 4.0):
        assert quad(lambda x: P.gennorm_pdf(x, 0.7, beta), -np.inf, np.inf)[0] == pytest.approx(1, abs=1e-9)
        sigma = P.hwhm_to_scale(0.7, beta)
        x = np.linspace(-3, 3, 13)
        np.testing.assert_allclose(P.gennorm_pdf(x, 0.7, beta), stats.gennorm.pdf(x, beta, scale=sigma), rtol=1e-12)
        np.testing.assert_allclose(P.gennorm_cdf(x, 0.7, beta), stats.gennorm.cdf(x, beta, scale=sigma),
                                   rtol=1e-9, atol=1e-15)
        assert P.gennorm_pdf(0.7, 0.7, beta) == pytest.approx(0.5 * P.gennorm_pdf(0.0, 0.7, beta), rel=1e-12)
    s = P.hwhm_to_scale(0.7, 2.0)
    x = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(P.gennorm_pdf(x, 0.7, 2.0), stats.norm.pdf(x, scale=s / np.sqrt(2)), rtol=1e-12)


def test_einstein_rate_converges_to_golden_rule():
    """Discrete out-scattering rate -> analytic parabolic-band rate as the grid is refined.

    The discrete sum approximates int d^2k' L(E' - E + Omega); with the same gennorm
    broadening the analytic rate (gennorm CDF instead of the step) is exact, so the
    remaining error is pure quadrature error, which must fall with refinement.
    """
    T, hw, kmax = 150.0, 1.5, 3.0
    errs = []
    for n in (40, 80, 160):
        k, w = P.k_grid(kmax, n)
        E = H * np.sum(k**2, axis=1) / M
        sel = np.argsort(np.abs(np.linalg.norm(k, axis=1) - 1.2))[:4]    # |k| ~ 1.2/nm, E ~ 50 meV
        g2w = np.full((len(sel), len(k)), G2A * w)      # the rows `sel` of the channel (n^2 = 6.6e8 at n = 160)
        dE = E[None, :] - E[sel, None]
        n_b = P.bose(OMEGA, T)
        W = 2 * np.pi / HBAR * g2w * ((n_b + 1) * P.gennorm_pdf(dE + OMEGA, hw)
                                              + n_b * P.gennorm_pdf(dE - OMEGA, hw))
        ref = P.einstein_rate_parabolic(E[sel], M, G2A, OMEGA, T, hwhm=hw)
        errs.append(np.max(np.abs(W.sum(1) / ref - 1)))
    assert errs[-1] < 2e-3
    assert errs[2] < errs[1] < errs[0]
    # broadened analytic -> sharp golden rule far from the threshold
    sharp = P.einstein_rate_parabolic(50.0, M, G2A, OMEGA, T)
    assert P.einstein_rate_parabolic(50.0, M, G2A, OMEGA, T, hwhm=0.05) == pytest.approx(sharp, rel=1e-12)
    n_b = P.bose(OMEGA, T)
    assert sharp == pytest.approx(G2A * M / (2 * H * HBAR) * (2 * n_b + 1), rel=1e-14)
    assert P.einstein_rate_parabolic(10.0, M, G2A, OMEGA, T) == pytest.approx(G2A * M / (2 * H * HBAR) * n_b, rel=1e-14)


def test_acoustic_equipartition_limit():
    """Exact kinematics + Bose factors -> M D^2 kT/(hbar^3 rho v^2) when kT >> hbar v q."""
    ph = phonon_params("MoSe2")
    D1 = 3000.0   # meV, exciton D1_e - D1_h for a point-like exciton
    T = 300.0
    k = 0.3       # 1/nm: hbar v (2k) = 2.2 meV << kT = 25.9 meV
    exact = P.acoustic_rate_exact(k, M, ph.v_LA, ph.rho, T, lambda q: (D1 * q) ** 2, n_phi=20000)
    closed = P.acoustic_rate_equipartition(M, D1, ph.rho, ph.v_LA, T)
    assert exact == pytest.approx(closed, rel=0.01)
    # and it is not equipartition at 4 K (spontaneous emission dominates, absorption frozen)
    cold = P.acoustic_rate_exact(k, M, ph.v_LA, ph.rho, 4.0, lambda q: (D1 * q) ** 2, n_phi=20000)
    assert abs(cold / P.acoustic_rate_equipartition(M, D1, ph.rho, ph.v_LA, 4.0) - 1) > 0.3


def _small_table(beta=2.0):
    k, w = P.k_grid(2.0, 16)
    E = H * np.sum(k**2, axis=1) / M
    q = np.linalg.norm(k[None] - k[:, None], axis=-1)
    ph = phonon_params("WSe2")
    F = lambda p: (1 + (0.5 * p) ** 2) ** -1.5   # 2D hydrogen 1s form factor, Bohr radius 1 nm
    vert = P.exciton_vertex(k[None] - k[:, None], ph.D1_LA_e * q, 0.0, F, 0.5, 0.7)
    om_ac = np.where(q > 0, P.debye_energy(q, ph.v_LA), 1.0)
    ac = P.Channel(np.where(q > 0, P.coupling_g2A(vert, ph.rho, om_ac), 0.0) * w, om_ac, "LA")
    vert0 = P.exciton_vertex(k[None] - k[:, None], ph.D0_opt_e, 0.0, F, 0.5, 0.7)
    op = P.Channel(P.coupling_g2A(vert0, ph.rho, ph.E_opt) * w, np.full(q.shape, ph.E_opt), "opt")
    return E, [ac, op]


def test_detailed_balance_discrete():
    E, chans = _small_table()
    T = 50.0
    gamma = np.linspace(0.2, 1.0, len(E))
    em, ab = P.transition_rates(E, chans[1:], T, gamma, beta=3.0, split=True)
    mask = ab.T > 1e-200
    ratio = em[mask] / ab.T[mask]
    np.testing.assert_allclose(ratio, np.exp(chans[1].omega[0, 0] / (KB * T)), rtol=1e-12)
    W = P.transition_rates(E, chans, T, gamma, beta=3.0)
    Wb = P.enforce_detailed_balance(W, E, T)
    dE = E[None, :] - E[:, None]
    m = Wb.T > 1e-200
    np.testing.assert_allclose(Wb[m] / Wb.T[m], np.exp(-dE / (KB * T))[m], rtol=1e-10)
    # a Boltzmann distribution is stationary under the balanced master equation
    p = np.exp(-E / (KB * T))
    flux = p @ Wb - p * Wb.sum(1)
    assert np.max(np.abs(flux)) < 1e-10 * np.max(p * Wb.sum(1))


def test_self_consistent_dephasing_fixed_point():
    E, chans = _small_table()
    g, it, res = P.self_consistent_dephasing(E, chans, 77.0, beta=2.0, width_min=0.3, tol=1e-10)
    assert res < 1e-10 and it < 500 and np.all(g > 0)
    again = P.dephasing(E, chans, 77.0, g, 2.0, width_min=0.3)
    np.testing.assert_allclose(again, g, rtol=1e-8)
    with pytest.raises(ValueError):
        P.self_consistent_dephasing(E, chans, 77.0)


def test_rta_constant_tau_gives_kT_tau_over_M():
    """<|v|^2>/2 = kT/M for a 2D Boltzmann gas: D = kT tau/M (grid to 12 thermal momenta)."""
    T, tau = 40.0, 0.37
    kth = np.sqrt(M * KB * T / H)
    k, w = P.k_grid(12 * kth, 400)
    E = H * np.sum(k**2, axis=1) / M
    v = 2 * H / (HBAR * M) * k
    D, v2, teff = P.rta_diffusion(E, v, np.full(len(E), tau), T)
    exact = KB * T * tau / M * (2 * H / HBAR**2)     # kT/M in nm^2/ps^2 via m0 = hbar^2/(2H)
    assert D == pytest.approx(exact, rel=1e-4)
    assert v2 == pytest.approx(2 * exact / tau, rel=1e-4)
    assert teff == pytest.approx(tau, rel=1e-14)


def test_parameters_loaded_with_sources():
    assert names() == ["MoS2", "MoSe2", "WS2", "WSe2"]
    for name in names():
        p = phonon_params(name)
        assert 3e-7 < p.rho_g_per_cm2 < 6.2e-7
        assert set(p.confidence.values()) <= {"VERIFIED", "SECONDARY", "INFERRED", "ASSUMED"}
        assert all(p.sources[k] for k in p.sources)
    assert phonon_params("MoS2").rho_g_per_cm2 == pytest.approx(3.07e-7, rel=2e-3)
    assert phonon_params("MoS2").v_LA == pytest.approx(6.6)          # Jin 2014: 6.6e3 m/s in nm/ps
    v = multivalley_model("WS2")
    assert v["KKp"].offset == -51.5 and v["KL"].offset == -30.5


def test_multivalley_channels_and_interlayer_vertex():
    v = multivalley_model("WS2")
    grid = P.multivalley_grid(v, 1.5, 8)
    ph = phonon_params("WS2")
    F = lambda p: (1 + (0.5 * p) ** 2) ** -1.5
    chans = P.multivalley_channels(grid, ph, F, {("KK", "KKp"): [(ph.E_KKp_ac, ph.D0_KKp_ac_e)],
                                                  ("KK", "KL"): [(ph.E_KQ_op, ph.D0_KQ_op_e)]})
    assert [c.name for c in chans] == ["LA", "TA", "opt", "KK-KKp", "KK-KL"]
    iv = chans[3].g2w
    inter = (grid.valley[:, None] != grid.valley[None, :])
    assert np.all(iv[~inter] == 0) and np.all(iv[(grid.valley[:, None] == 0) & (grid.valley[None, :] == 1)] > 0)
    assert np.all(chans[0].g2w[inter] == 0)
    # interlayer: separate modes, |vertex|^2 adds; same mode with D_e = D_h nearly cancels
    q = np.array([[0.5, 0.0]])
    e_only = P.exciton_vertex(q, 1.0, 0.0, F, 0.5, 0.7)
    h_only = P.exciton_vertex(q, 0.0, 1.0, F, 0.5, 0.7)
    same = P.exciton_vertex(q, 1.0, 1.0, F, 0.5, 0.7)
    assert same == pytest.approx(e_only + h_only, rel=1e-14)
    assert abs(same) < 0.1 * abs(e_only)


def test_fixed_point_iteration_converges_or_raises_user_error():
    from hpcx.errors import ConvergenceError
    # x = cos(x): the Dottie number 0.7390851332151607
    x, iterations, residual = P.damped_fixed_point(np.cos, np.zeros(1), 1e-12, 200, 0.5, "dottie")
    assert x[0] == pytest.approx(0.7390851332151607, abs=1e-10) and residual < 1e-12
    # undamped x <- 1 - x oscillates between 0 and 1 and never converges
    with pytest.raises(ConvergenceError, match="no convergence in 50 iterations"):
        P.damped_fixed_point(lambda v: 1.0 - v, np.zeros(1), 1e-12, 50, 1.0, "oscillator")
