"""The valley moment solver and the profile solver: exact limits, conservation, an analytic
two-species model with negative diffusion, and the agreement of profiles with moments."""

import numpy as np
import pytest
import scipy.sparse as sp

from hpcx.physics import valley_dynamics as vd
from hpcx.physics import valley_moments as vm
from hpcx.physics import valley_profiles as vp
from hpcx.physics.valley_cells import cell_thermal, make_cells
from hpcx.physics.valley_model import ValleySpec, hydrogenic_form_factor, model_from_couplings
from hpcx.physics.valley_source import Pulse, polarization_intensity
from hpcx.units import HBAR2_2M0_MEV_NM2 as H
from hpcx.units import HBAR_MEV_PS as HBAR
from hpcx.units import KB_MEV_PER_K as KB


def test_constant_relaxation_time_gives_tau_kT_over_M():
    """One valley, constant tau: the stationary D of the moment solver is tau kT/M (cells to 40 kT,
    so the truncated Boltzmann tail is below 1e-15)."""
    v, T, tau = ValleySpec("X", 0.0, 0.3, 0.35), 77.0, 0.1
    kT = KB * T
    cells = make_cells((v,), np.sqrt(40 * kT * v.mass / H), np.sqrt(40 * kT * v.mass / H) / 120)
    th = cell_thermal(cells, T)
    kin = vm.rta_kinetics(th, tau)
    pulse = Pulse(0.2, 0.1, 500.0)
    f = polarization_intensity(pulse, 50.0)
    tr = vm.solve_moments([(0.0, kin)], f, pulse.width2, np.linspace(0.0, 4.0, 41), np.ones((1, cells.n)),
                          source_end=pulse.end(50.0), log_z=th.log_z)
    exact = tau * kT / v.mass * 2.0 * H / HBAR ** 2           # tau kT / M in nm^2/ps
    assert tr.diffusion()[0, -1] == pytest.approx(exact, rel=1e-9)
    assert tr.n[0, -1] == pytest.approx(1.0 / 50.0, rel=1e-9)    # int R f dt = 1, formation rate 1


def ws2(radius=1.5):
    from hpcx.materials.phonons import phonon_params, valley_couplings
    return model_from_couplings(valley_couplings("WS2"), phonon_params("WS2"), hydrogenic_form_factor(radius))


@pytest.mark.parametrize("T", [300.0, 20.0])
def test_particle_number_conserved_without_decay(T):
    """Without radiative decay every exciton formed stays: sum n = (formation rate)/(decay rate of
    |p0|^2) = 1 after the pulse, constant in time, while the valleys exchange population."""
    model = ws2()
    s = vd.Settings(t_end=20.0, dt=0.5, dq=0.04, radiative_decay=False)
    tr, st = vd.solve_moments_at(model, T, s)
    total = tr.n[len(model.valleys)]
    after = s.times() > st.source_end
    np.testing.assert_allclose(total[after], 1.0, rtol=1e-9)
    shares = tr.n[:3, 1:] / tr.n[:3, 1:].sum(axis=0)
    assert np.ptp(shares, axis=1).max() > 1e-3                    # the valleys do exchange excitons


def test_boltzmann_limit_of_the_valley_populations():
    """Long after the pulse the valley populations approach g M exp(-offset/kT) (no decay)."""
    model = ws2()
    s = vd.Settings(t_end=40.0, dt=1.0, dq=0.03, radiative_decay=False)
    tr, _ = vd.solve_moments_at(model, 300.0, s)
    w = np.array([v.degeneracy * v.mass * np.exp(-v.offset / (KB * 300.0)) for v in model.valleys])
    np.testing.assert_allclose(tr.n[:3, -1] / tr.n[:3, -1].sum(), w / w.sum(), rtol=2e-3)


def two_species_exact(t, DA, DB, k, kp, S0):
    """Closed form of two Fickian species with exchange A -> B (k) and B -> A (kp), all in A at
    t = 0 with <r^2> = S0 (docs/theory/valley.md): (n_A, s_A, n_B, s_B)."""
    kap = k + kp
    a, b = kp / kap, k / kap
    e = np.exp(-kap * t)
    nA, nB = a + b * e, b * (1 - e)
    Dbar = a * DA + b * DB
    c = 4 * b * (DA - DB) / kap
    S = S0 + 4 * Dbar * t + c * (1 - e)
    P, Q, R = 4 * DA * a + kp * (S0 + c), 4 * kp * Dbar, 4 * DA * b - kp * c
    sA = S0 * e + P / kap * (1 - e) + Q * (t / kap - (1 - e) / kap ** 2) + R * t * e
    return nA, sA, nB, S - sA


def test_two_species_negative_diffusion_matches_closed_form():
    """A fast species that converts into a slow one and back (Kurilovich et al.'s fast/slow
    excitons): the moment solver with relaxation time tau -> 0 (Fick limit) reproduces the closed
    form, including the negative D of the fast species, while the total D stays positive.
    The tolerance is the telegraph correction k tau and the finite pulse."""
    DA, DB, k, kp, tau = 3000.0, 10.0, 0.5, 0.02, 1e-3
    vA, vB = np.sqrt(2 * DA / tau), np.sqrt(2 * DB / tau)
    C0 = sp.csr_matrix([[-k, kp], [k, -kp]])
    C1 = sp.csr_matrix(np.diag([-1 / tau - k, -1 / tau - kp]))
    kin = vm.Kinetics((C0, C1), np.zeros(2), np.array([vA, vB]), np.array([1.0, 0.0]))
    pulse = Pulse(0.2, 2e-3, 500.0)
    rate = 2e3
    f = polarization_intensity(pulse, rate)
    times = np.linspace(0.0, 30.0, 121)
    groups = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    tr = vm.solve_moments([(0.0, kin)], f, pulse.width2, times, groups, source_end=pulse.end(rate),
                          fine_dt=5e-5)
    t = times[times > 1.0]
    nA, sA, nB, sB = two_species_exact(t - pulse.t0, DA, DB, k, kp, pulse.width2)
    sel = times > 1.0
    np.testing.assert_allclose(tr.s[0, sel] / tr.n[0, sel], sA / nA, rtol=2e-3)     # O(k tau, pulse)
    np.testing.assert_allclose(tr.s[1, sel] / tr.n[1, sel], sB / nB, rtol=2e-3)
    dA_exact = np.gradient(sA / nA, t) / 4
    D = tr.diffusion()
    assert np.min(D[0, sel]) < -0.1 * DA and np.min(dA_exact) < -0.1 * DA      # negative diffusion
    np.testing.assert_allclose(D[0, sel][5:-5], dA_exact[5:-5], atol=5e-3 * DA)
    assert np.all(D[2, sel] > 0)


def test_profiles_reproduce_the_moments():
    """The profile solver's Hankel-reconstructed N_v(r) has the moment solver's n and w^2 (within
    the quadrature accuracy), valley by valley, once the spot has spread."""
    model = ws2()
    s = vd.Settings(t_end=8.0, dt=0.5, dq=0.06, profile_dt=2.0, profile_dq=0.06, profile_harmonics=5)
    tr, _ = vd.solve_moments_at(model, 77.0, vd.Settings(t_end=8.0, dt=2.0, dq=0.06))
    k, w = vp.k_quadrature(8.6 / np.sqrt(s.pulse.width2), 12, 4)
    pt = vd.solve_profiles_at(model, 77.0, s, k, w)
    r = np.linspace(0.0, 0.8 * 2 * np.pi / np.max(np.diff(k[1:])), 1601)
    N = vp.hankel(k, w, pt.P, r)
    from scipy.integrate import trapezoid
    n = trapezoid(2 * np.pi * r * N, r, axis=-1)
    s2 = trapezoid(2 * np.pi * r ** 3 * N, r, axis=-1)
    np.testing.assert_allclose(n[:3, -3:], tr.n[:3, -3:], rtol=2e-3)
    np.testing.assert_allclose(s2[:3, -3:] / n[:3, -3:], tr.width2()[:3, -3:], rtol=2e-2)


@pytest.mark.parametrize("block", [5, 64, 10 ** 6])
def test_source_propagation_in_blocks_matches_the_closed_form(block):
    """y' = -kappa y + exp(-(t - t0)^2 / 2 sigma^2): the propagator, walking the source's fine grid
    in blocks of ``block`` points (each from the last point of the one before), gives the closed
    form of valley_source._amplitude to the Simpson error ((dt/sigma)^4 ~ 5e-6), with any block."""
    from hpcx.physics.valley_propagate import propagate
    from hpcx.physics.valley_source import _amplitude
    pulse, kappa = Pulse(0.4, 0.1, 500.0), 3.0       # f(0) / f(t0) = e^-44: nothing before t = 0
    times = np.linspace(0.0, 3.0, 31)
    J = sp.csr_matrix(np.array([[-kappa]]))
    f = lambda t: np.exp(-(np.asarray(t) - pulse.t0) ** 2 / (2 * pulse.sigma_t ** 2))     # noqa: E731
    Y, _ = propagate([(0.0, J)], np.ones(1), f, times, source_end=1.7, block=block)
    exact = _amplitude(times, pulse, kappa)
    np.testing.assert_allclose(Y[0], exact, rtol=2e-5, atol=1e-9 * exact.max())


def test_source_blocks_change_nothing_but_rounding():
    """A stiff coupled system (two valleys' moments at 300 K): blocks of 7 fine points against one
    block give the same trace to 1e-12 relative."""
    from hpcx.physics.valley_propagate import propagate
    model = ws2()
    s = vd.Settings(t_end=3.0, dt=0.1, dq=0.05)
    st = vd.setup(model, 300.0, s, s.dq, 2)
    J = vm._system(st.segments[0][1])
    b = np.concatenate([st.tables.formation, np.zeros(2 * st.cells.n)])
    one, _ = propagate([(0.0, J)], b, st.f, s.times(), st.source_end, block=10 ** 6)
    many, _ = propagate([(0.0, J)], b, st.f, s.times(), st.source_end, block=7)
    np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12 * np.abs(one).max())


def test_results_do_not_depend_on_numpy_global_random_state():
    """SciPy's expm_multiply picks its steps from randomised 1-norm estimates (NumPy's global
    state); at 300 K on 0.01 1/nm cells two global seeds gave traces 2e-15 apart before the
    propagator seeded the estimates.  Now identical, and the caller's random state is untouched."""
    model = ws2()
    s = vd.Settings(t_end=30.0, dt=0.1, dq=0.01)
    traces = []
    for seed in (1, 2):
        np.random.seed(seed)
        tr, _ = vd.solve_moments_at(model, 300.0, s)
        traces.append(tr)
        after = np.random.random()
        np.random.seed(seed)
        assert after == np.random.random()          # the global stream continues where it was
    np.testing.assert_array_equal(traces[0].n, traces[1].n)
    np.testing.assert_array_equal(traces[0].s, traces[1].s)
