"""Kinetics physics (seed 001): overlaps, tunnelling, conservation, detailed balance, convergence."""

import math

import numpy as np
import pytest
from scipy.sparse.linalg import expm  # dense too; see physics/kinetics/propagation.py

from hpcx.physics.kinetics import dynamics, luminescence, overlaps, propagation, tunnelling
from hpcx.physics.kinetics.states import Exciton
from hpcx.units import HBAR_MEV_PS, KB_MEV_PER_K
from hpcx.workflows.kinetics.run import model_at, solve_point

from helpers import kinetics_config, params_of, require_kernel


@pytest.fixture(scope="module")
def small():
    p = params_of(kinetics_config())
    return p, model_at(p, p.delta_e)


def test_hankel_form_factor_of_2d_hydrogen():
    a = 1.3   # 2D hydrogen 1s: phi = sqrt(8/(pi a^2)) exp(-2r/a), F(q) = (1 + (qa/4)^2)^(-3/2)
    r = np.linspace(0.0, 40.0, 20001)
    phi = math.sqrt(8.0 / (math.pi * a * a)) * np.exp(-2.0 * r / a)
    q = np.array([0.0, 0.5, 1.0, 3.0])
    assert np.allclose(overlaps.hankel_overlap(r, phi, phi, q), (1 + (q * a / 4) ** 2) ** -1.5, rtol=1e-5)


def test_tunnelling_rate_scales_with_vz_squared_and_overlap_squared(small):
    _, model = small
    a, b = model.species[:2]
    ov = model.overlaps[(0, 1)]
    q, E = model.shells.q, model.shells.energies(b)
    base = tunnelling.tunnelling_pair_rates(0.0, a.energy, q, E, a, b, ov, 5000.0, 1e-2, 1.0, 1.0)
    assert base.max() > 0
    assert np.allclose(tunnelling.tunnelling_pair_rates(0.0, a.energy, q, E, a, b, ov, 10000.0, 1e-2, 1.0, 1.0),
                       4.0 * base, rtol=1e-13)
    assert np.allclose(tunnelling.tunnelling_pair_rates(0.0, a.energy, q, E, a, b, ov, 5000.0, 3e-2, 1.0, 1.0),
                       9.0 * base, rtol=1e-13)


def test_tunnelling_from_q0_matches_closed_form(small):
    """At Q = 0 there is no angle dependence: r_j = 2 pi/hbar A|T(Q_j)|^2 O(alpha_b Q_j)^2 L(E_j - E_0)."""
    _, model = small
    a, b = model.species[:2]
    ov = model.overlaps[(0, 1)]
    q, E = model.shells.q, model.shells.energies(b)
    got = tunnelling.tunnelling_pair_rates(0.0, a.energy, q, E, a, b, ov, 5000.0, 1e-2, 1.0, 1.0)
    lc = 1.0
    T2A = 2500.0 * math.pi * lc ** 2 / (1 + 0.5 * (q * lc) ** 2) ** 1.5
    sigma = 1.0 / math.sqrt(math.log(2.0))
    L = np.exp(-((E - a.energy) / sigma) ** 2) / (sigma * math.sqrt(math.pi))
    want = 2 * math.pi / HBAR_MEV_PS * T2A * ov(b.alpha * q) ** 2 * L
    assert np.allclose(got, want, rtol=1e-12, atol=1e-14 * want.max())


def test_total_density_conserved_without_radiative_decay(small):
    p, model = small
    G = dynamics.generator(model, dynamics.pair_rate_rows(model, 77.0, range(model.n_states)), 77.0,
                           radiative=False)
    n0 = np.zeros(model.n_states)
    n0[5:15] = 1e-3            # hot intralayer excitons
    t = np.linspace(0.0, 20.0, 41)
    n = propagation.evolve(G, n0, t)
    total = n.sum(axis=0)
    assert np.max(np.abs(total / total[0] - 1.0)) < 1e-10
    assert n[model.shells.n:].sum(axis=0)[-1] > 0.5 * total[0]        # most of it tunnelled


def test_exponential_integrator_matches_adaptive_bdf(small):
    """The exact propagation with the pump (cubic source on substeps, exact tail) against scipy's
    BDF at tight tolerance, for every shell and the formation time."""
    p, model = small
    G = dynamics.generator(model, dynamics.pair_rate_rows(model, 77.0, range(model.n_states)), 77.0)
    gamma_P = dynamics.polarization_rates(model, 77.0)
    traj = dynamics.simulate(model, G, gamma_P, p.pulse, 10.0, 201, pump_step=0.01)
    source = lambda t: gamma_P * dynamics.coherent_amplitude(t, p.pulse, traj.kappa) ** 2  # noqa: E731
    ref, _ = dynamics.solve_occupations(G, np.zeros(model.n_states), traj.time, source,
                                        breaks=(p.pulse.center + 8 * p.pulse.sigma,),
                                        max_step_first=0.5 * p.pulse.sigma, rtol=1e-10, atol=1e-18)
    got = traj.density.reshape(model.n_states, -1)
    assert np.max(np.abs(got - ref)) < 1e-7 * ref.max()
    rhs = G @ ref + np.stack([source(t) for t in traj.time], axis=1)       # dn/dt of the reference
    want = rhs.reshape(traj.density.shape).sum(axis=1)
    assert np.max(np.abs(traj.rate - want)) < 1e-6 * np.abs(want).max()


def test_long_output_spacing_cuts_the_pump_interval(small):
    """Output spacings much longer than the pump (t_end in microseconds and beyond): the last pump
    interval is cut after the pump, the rest propagated exactly, so the result equals a fine grid at
    the shared times; a 1e9 ps spacing (1e11 pump substeps without the cut) reaches the equilibrium
    with the number of excitons the pump made."""
    p, model = small
    G = dynamics.generator(model, dynamics.pair_rate_rows(model, 77.0, range(model.n_states)), 77.0,
                           radiative=False)
    gamma_P = dynamics.polarization_rates(model, 77.0)
    fine = dynamics.simulate(model, G, gamma_P, p.pulse, 60.0, 2401, pump_step=0.01)
    coarse = dynamics.simulate(model, G, gamma_P, p.pulse, 60.0, 3, pump_step=0.01)
    want = fine.density[..., [0, 1200, 2400]]
    assert np.max(np.abs(coarse.density - want)) < 1e-9 * want.max()
    long = dynamics.simulate(model, G, gamma_P, p.pulse, 2e9, 3, pump_step=0.01)
    n_end = long.density[..., -1].reshape(-1)
    assert np.isclose(n_end.sum(), fine.density[..., -1].sum(), rtol=1e-9)
    assert np.max(np.abs(G @ n_end)) < 1e-9 * np.max(np.abs(G).sum(axis=0) * n_end)
    assert math.isnan(dynamics.formation_time(long, 1, p.pulse.center))    # not resolved: NaN


def test_propagators_of_large_systems_are_exact_and_reproducible():
    """Order >= 400 with a norm that selects the degree-9 Pade approximant (where scipy.linalg.expm
    before 1.13 reads uninitialised memory): repeated propagators agree and match a Taylor series."""
    rng = np.random.default_rng(3)
    N, h = 420, 0.015          # this matrix makes scipy 1.10's linalg.expm differ between calls
    W = rng.uniform(0.0, 0.2, (N, N))
    G = W.T - np.diag(W.sum(axis=1))
    g = rng.uniform(0.0, 0.8, N)
    first, again = (propagation._polynomial_propagator(G, g, h)[0] for _ in range(2))
    A = np.zeros((N + 4, N + 4))
    A[:N, :N], A[:N, N] = G * h, g * h
    A[N, N + 1] = A[N + 1, N + 2] = A[N + 2, N + 3] = 1.0
    taylor, term = np.eye(N + 4), np.eye(N + 4)
    for k in range(1, 40):
        term = term @ A / k
        taylor += term
    assert np.array_equal(first, again)
    assert np.max(np.abs(first - taylor[:N, :N])) < 1e-12


def test_rate_kernel_matches_its_numpy_twin(small):
    """kinetics_rates compiled against hpcx/_kernels/reference/kinetics_rates.py on the model's shells."""
    from hpcx import _kernels
    from hpcx.physics.kinetics.detailed_balance import angle_nodes, broadening_cutoff
    from hpcx.physics.kinetics.phonon_rates import mode_arrays
    kernel, twin = require_kernel("kinetics_rates"), _kernels.twin("kinetics_rates")
    _, model = small
    a, b = model.species[:2]
    q, Ea, Eb = model.shells.q, model.shells.energies(a), model.shells.energies(b)
    rows = slice(0, 12)
    for T in (4.0, 300.0):
        args = (q[rows], Ea[rows], q, Ea, angle_nodes(12), model.form_factors[0].values, model.form_factors[0].p_max,
                *mode_arrays(model.modes[0]), a.m_e, a.m_h, T, 1.0, 2.0, broadening_cutoff(1.0, 2.0))
        want = twin.phonon_rates(*args)
        assert want.max() > 0 and np.allclose(kernel.phonon_rates(*args), want, rtol=1e-12, atol=1e-14 * want.max())
    ov = model.overlaps[(0, 1)]
    args = (q[rows], Ea[rows], q, Eb, angle_nodes(12), ov.values, ov.p_max, a.alpha, b.alpha, 2500.0, 1.0, 1.5, 1.3,
            broadening_cutoff(1.5, 1.3))
    want = twin.tunnelling_rates(*args)
    assert want.max() > 0 and np.allclose(kernel.tunnelling_rates(*args), want, rtol=1e-12, atol=1e-14 * want.max())


def test_phonon_rates_use_the_shared_vertex_and_couplings(small):
    """One row of the kernel equals the golden rule built from physics.phonons (the vertex of seed 000
    SI Eq. 2, A|g|^2 of SI Eq. 3, Bose factors, gennorm broadening): one source of truth."""
    from hpcx.physics import phonons
    from hpcx.physics.kinetics.detailed_balance import angle_nodes, transfer
    from hpcx.physics.kinetics.phonon_rates import phonon_pair_rates
    _, model = small
    a, F = model.species[0], model.form_factors[0]
    q, E = model.shells.q, model.shells.energies(a)
    i, T, cos = 7, 150.0, angle_nodes(16)
    want = np.zeros(q.size)
    for mode in model.modes[0]:
        k = np.maximum(transfer(q[i], q[:, None], cos[None, :]), 1e-9)
        kvec = np.stack([k, np.zeros_like(k)], axis=-1)
        if mode.kind == "debye":
            omega = phonons.debye_energy(k, mode.value)
            vertex = phonons.exciton_vertex(kvec, mode.D_e * k, mode.D_h * k, F, a.m_e, a.m_h)
        else:
            omega = phonons.einstein_energy(k, mode.value)
            vertex = phonons.exciton_vertex(kvec, mode.D_e, mode.D_h, F, a.m_e, a.m_h)
        n, dE = phonons.bose(omega, T), (E - E[i])[:, None]
        want += np.mean(phonons.coupling_g2A(vertex, mode.rho, omega) * (
            (n + 1) * phonons.gennorm_pdf(dE + omega, 1.0) + n * phonons.gennorm_pdf(dE - omega, 1.0)), axis=1)
    want *= 2 * np.pi / HBAR_MEV_PS
    got = phonon_pair_rates(q[i], E[i], q, E, a, F, model.modes[0], T, 1.0, 2.0, 16)
    big = want > 1e-9 * want.max()
    assert np.allclose(got[big], want[big], rtol=1e-10)


def test_every_rate_obeys_detailed_balance(small):
    p, model = small
    T = 300.0
    r = dynamics.pair_rate_rows(model, T, range(model.n_states))
    from hpcx.physics.kinetics.detailed_balance import detailed_balance
    rp = detailed_balance(r, model.energies(), T)
    E = model.energies()
    lhs = rp * np.exp(-(E[:, None] - E.min()) / (KB_MEV_PER_K * T))      # flux i -> j in equilibrium
    rhs = lhs.T                                                           # flux j -> i
    big = lhs > 1e-12 * lhs.max()
    assert np.max(np.abs(lhs[big] / rhs[big] - 1.0)) < 1e-6


def test_late_occupations_approach_one_boltzmann_distribution(small):
    p, model = small
    T = 300.0
    G = dynamics.generator(model, dynamics.pair_rate_rows(model, T, range(model.n_states)), T, radiative=False)
    n0 = np.zeros(model.n_states)
    n0[0] = 1.0
    n = expm(G * 5000.0) @ n0
    N = n / model.shells.weight
    boltz = np.exp(-(model.energies() - model.energies().min()) / (KB_MEV_PER_K * T))
    boltz *= n.sum() / (boltz * model.shells.weight).sum()
    assert np.max(np.abs(N / boltz - 1.0)) < 1e-6


def test_formation_time_converged_in_q_grid_and_time_step():
    ref = params_of(kinetics_config(energy_step=1.0, energy_window=40.0))
    coarse = params_of(kinetics_config(energy_step=2.0, energy_window=40.0))
    loose = params_of(kinetics_config(energy_step=2.0, energy_window=40.0, pump_step=0.04, n_times=101))
    from hpcx.parallel import SerialComm
    taus = [solve_point(x, 77.0, 315.0, SerialComm())[2] for x in (ref, coarse, loose)]
    assert abs(taus[1] / taus[0] - 1) < 0.02
    assert abs(taus[2] / taus[1] - 1) < 0.02


def test_coherent_amplitude_solves_its_equation():
    pulse = dynamics.Pulse(0.5, 0.1, 1e-3)
    kappa = 3.0
    t = np.linspace(0.0, 5.0, 5001)
    p = dynamics.coherent_amplitude(t, pulse, kappa)
    dp = np.gradient(p, t)
    assert np.max(np.abs(dp - (pulse.omega(t) - kappa * p))) < 1e-3 * np.max(pulse.omega(t))
    free = dynamics.coherent_amplitude(np.array([3.0]), pulse, 0.0)[0] ** 2     # no decay: the full density
    assert free == pytest.approx(pulse.density, rel=1e-9)


def test_calibrated_interlayer_rate_gives_its_target_lifetime():
    """kinetics.toml's CALIBRATED gamma_r reproduces its stated target (300 us at 77 K)."""
    p = params_of(kinetics_config())
    E = p.energies(315.0)
    ex = [Exciton(s.name, e, s.m_e, s.m_h, s.electron_layer, s.hole_layer) for s, e in zip(p.species, E)]
    from hpcx.physics.kinetics.states import light_cone
    tau = luminescence.equilibrium_radiative_lifetime(77.0, E, [x.mass for x in ex], p.radiative,
                                                      [light_cone(x) for x in ex])
    assert tau / 1e6 == pytest.approx(300.0, rel=0.01)
