"""Relaxation-bottleneck analysis: per-mode rates add up to the full table, the resonance table
bins them, band indicators read the bands, and seed 000 Eq. 1 split by band adds up."""

import numpy as np
import pytest

from hpcx.physics import relaxation as rx
from hpcx.physics import scattering as sc
from hpcx.physics import scattering_states as ss
from hpcx.physics import transport as tr
from hpcx.physics.mc_table import boltzmann


@pytest.fixture(scope="module")
def small_moire():
    model = ss.moire_model("MoSe2-WSe2/hBN", "hBN", 3, 3, 4, 1e-3)
    exciton = model.exciton()
    states, bands = ss.build_states(model, 3.0, exciton=exciton)
    return model, exciton, states, bands


def test_mode_rates_add_up_to_the_table_of_all_modes(small_moire):
    model, exciton, states, bands = small_moire
    T = 70.0
    terms = states.terms(0, states.n)
    gamma, _, _ = sc.self_consistent_gamma(states.energy, terms, T, 2.0, 0.2, 1e-8, 200, 0.5, None)
    full = sc.rates(states.energy, terms, T, gamma, 2.0, 0.2)
    per_mode = rx.mode_rates(bands, exciton, model.modes(), T, gamma, 2.0, 0.2, model.coupling_cut)
    assert set(per_mode) == set(states.modes)
    np.testing.assert_allclose(sum(per_mode.values()), full, rtol=1e-12, atol=1e-14 * full.max())
    # TA couplings are folded into LA (phonons.toml): those modes scatter nothing
    assert all(not per_mode[m].any() for m in per_mode if m.endswith(":TA"))
    table = rx.resonance_table(states.energy, states.group, per_mode, 1, 2.0)
    n1 = int((states.group == 1).sum())
    assert table.count.sum() == n1 and table.edges[0] == 0.0
    # per bin of 2 meV above the band-1 minimum: the median rate into band 0 through the WSe2 optical mode
    one = states.group == 1
    into = per_mode["WSe2:opt"][one][:, states.group == 0].sum(axis=1)
    excess = states.energy[one] - states.energy[one].min()
    for b in range(len(table.count)):
        inside = (excess >= 2.0 * b) & (excess < 2.0 * (b + 1))
        assert table.count[b] == inside.sum()
        if inside.any():
            assert table.rate["WSe2:opt"][b, 0] == np.median(into[inside])


def test_band_indicators_of_two_flat_bands():
    E = np.array([[0.0, 20.0], [2.0, 25.0], [1.0, 30.0]])
    ind = rx.band_indicators(E, [30.7, 15.0])
    assert (ind.width0, ind.gap, ind.band1_min) == (2.0, 18.0, 20.0)
    assert ind.landing[30.7] == pytest.approx(-10.7) and ind.landing[15.0] == pytest.approx(5.0)


def test_band_decomposition_adds_up_to_seed_eq_1(small_moire):
    _, _, states, _ = small_moire
    rng = np.random.default_rng(3)
    rate = rng.uniform(0.5, 5.0, states.n)
    for N in (boltzmann(states.energy, states.weight, 30.0), rng.integers(0, 50, states.n)):
        dec = tr.band_decomposition(states.velocity, rate, states.group, N)
        v2, tau, D = tr.occupation_averages(states.velocity, rate, N)
        assert dec.population.sum() == pytest.approx(1.0)
        assert dec.diffusion.sum() == pytest.approx(D, rel=1e-12)
        assert np.nansum(dec.population * dec.v2) == pytest.approx(v2, rel=1e-12)
        assert np.nansum(dec.population * dec.tau) == pytest.approx(tau, rel=1e-12)
        np.testing.assert_allclose(tr.group_populations(N, states.group, 3), dec.population, rtol=1e-12)


def test_hitting_probability_is_the_gamblers_ruin():
    # birth-death chain 0..N, up rate a, down rate b: P(reach N before 0 | i) = (1 - r^i) / (1 - r^N), r = b/a
    N, a, b = 12, 2.0, 3.0
    W = np.zeros((N + 1, N + 1))
    for i in range(1, N):
        W[i, i + 1], W[i, i - 1] = a, b
    W[0, 1] = W[N, N - 1] = 1.0                     # the boundaries' own rates do not matter
    target, avoid = np.arange(N + 1) == N, np.arange(N + 1) == 0
    h = rx.hitting_probability(W, target, avoid)
    r = b / a
    np.testing.assert_allclose(h, (1 - r ** np.arange(N + 1)) / (1 - r ** N), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError):
        rx.hitting_probability(W, target, target)
