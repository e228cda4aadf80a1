"""Form-factor moiré potential of the interlayer exciton (seed 000 SI Eqs. 5-8).

Checks: the small-angle (F -> 1) limit equals seed 003's point-particle potential; the
deviation grows as theta^2 (F = 1 - q^2 <r^2>/4 + ...); the Wannier form factor of 2D
hydrogen equals its closed form; layer amplitudes reproduce the stacking-resolved band edges
and, in real space, the gap at the three stackings; the data file is consistent with
moire.toml.
"""

import numpy as np
import pytest

from hpcx import materials
from hpcx.materials.moire import moire_system
from hpcx.materials.moire_layer_potentials import layer_potential_data, layer_potential_names
from hpcx.physics import moire as mp
from hpcx.physics import moire_potential as mpot
from hpcx.physics import wannier as wp
from hpcx.physics.screening import stack_from_materials
from hpcx.units import COULOMB_MEV_NM, HBAR2_2M0_MEV_NM2

SYSTEM = "MoSe2-WSe2/hBN"


@pytest.fixture(scope="module")
def hbn_exciton():
    """(F, m_e, m_h, system) of the interlayer 1s exciton of hBN/MoSe2/WSe2/hBN (slab model)."""
    system = moire_system(SYSTEM)
    e, h = materials.tmd(system.electron_layer), materials.tmd(system.hole_layer)
    env = materials.environment("hBN")
    hetero = materials.find_heterostructure(e.name, h.name)
    stack = stack_from_materials([e, h], env, env, "slab", hetero.interlayer_distance_nm)
    F, eb = mpot.interlayer_1s(stack, e.m_e, h.m_h)
    assert 20.0 < eb < 300.0
    return F, e.m_e, h.m_h, system


def _geometry(system, theta):
    return mp.MoireGeometry.from_degrees(system.a_electron_nm, system.a_hole_nm, theta)


@pytest.mark.parametrize("split", [0.0, 0.5, 1.0])
def test_small_angle_limit_is_point_particle(hbn_exciton, split):
    F, m_e, m_h, system = hbn_exciton
    point = mp.MoirePotential.from_ab(system.A_meV, system.B_meV)          # seed 003: A = 0, B = 23 meV
    layers = mpot.LayerPotentials.from_split(point, split)
    dev, g2 = {}, {}
    for theta in (0.05, 0.1):
        geo = _geometry(system, theta)
        pot = mpot.exciton_potential(layers, geo, F, m_e, m_h)
        dev[theta], g2[theta] = abs(pot.v1 - point.v1) / abs(point.v1), geo.g_abs ** 2
    assert dev[0.05] < 1e-3
    assert np.isclose(pot.a_meV, 0.0, atol=1e-12) and pot.b_meV < system.B_meV
    # leading correction 1 - F ~ q^2 <r^2>/4 ~ |g|^2 (|g|^2 ~ theta^2 + mismatch^2)
    assert dev[0.1] / dev[0.05] == pytest.approx(g2[0.1] / g2[0.05], rel=0.01)


def test_form_factors_fall_with_angle_and_hole_weight_is_smaller(hbn_exciton):
    F, m_e, m_h, system = hbn_exciton
    point = mp.MoirePotential.from_ab(system.A_meV, system.B_meV)
    amp = {s: [abs(mpot.exciton_potential(mpot.LayerPotentials.from_split(point, s), _geometry(system, t),
                                          F, m_e, m_h).v1) for t in (2.0, 3.0, 4.0, 6.0)] for s in (0.0, 1.0)}
    for s in amp:
        assert np.all(np.diff(amp[s]) < 0.0)
    # m_h < m_e: the electron's argument m_h/M g is the smaller one, so its share is screened less
    assert np.all(np.array(amp[1.0]) > np.array(amp[0.0]))


def test_wannier_form_factor_of_2d_hydrogen_matches_closed_form():
    eps, mu = 4.0, 0.2
    a_B = 2.0 * HBAR2_2M0_MEV_NM2 * eps / (mu * COULOMB_MEV_NM)       # 3D Bohr radius (nm)
    res = wp.solve_wannier(mu, lambda q: np.full_like(q, eps), ("1s",))
    assert res.energy("1s") == pytest.approx(2.0 * COULOMB_MEV_NM / (eps * a_B), rel=1e-4)   # 4 Ry*
    q = np.linspace(0.0, 20.0 / a_B, 81)
    F = res.form_factor("1s", q)
    assert np.max(np.abs(F - mpot.hydrogen_1s_form_factor(q, a_B))) < 2e-4
    assert F[0] == pytest.approx(1.0, abs=1e-12)


def test_band_edges_round_trip_and_alpha_parameters():
    rng = np.random.default_rng(3)
    edges = rng.normal(size=3) * 40.0
    c = mpot.layer_amplitude(edges)
    assert np.allclose(mpot.stacking_shifts(c), edges - edges.mean(), atol=1e-12)
    for stacking in ("R", "H"):
        a1, a2 = mpot.alphas_from_amplitude(c, stacking)
        assert mpot.amplitude_from_alphas(a1, a2, stacking) == pytest.approx(c, abs=1e-12)


def test_gap_at_the_stackings_in_real_space():
    """M(r) of the point-particle potential at the three C3 points equals the band-edge difference."""
    layers = mpot.LayerPotentials.from_band_edges([5.0, 20.0, -12.0], [1.0, -9.0, 30.0])
    geo = mp.MoireGeometry.from_degrees(0.3288, 0.3282, 3.0)
    pot = layers.point_particle()
    for phi, gap in zip(mpot.STACKING_PHASES, mpot.stacking_shifts(layers.conduction)
                        - mpot.stacking_shifts(layers.valence)):
        r = np.linalg.solve(geo.g[:2], np.array([phi, phi]))            # g_0.r = g_1.r = phi
        assert pot.real_space(geo, r) == pytest.approx(gap, abs=1e-10)


def test_split_weights_each_band_with_its_form_factor():
    point = mp.MoirePotential.from_ab(0.0, 23.0)
    F_e, F_h = 0.7, 0.4
    for s in (0.0, 0.3, 1.0):
        layers = mpot.LayerPotentials.from_split(point, s)
        assert layers.conduction_fraction == pytest.approx(s)
        assert layers.point_particle().v1 == pytest.approx(point.v1)
        assert layers.exciton(F_e, F_h).v1 == pytest.approx(point.v1 * (s * F_e + (1.0 - s) * F_h))


def test_data_file_matches_the_point_particle_potential():
    assert SYSTEM in layer_potential_names()
    data = layer_potential_data(SYSTEM)
    system = moire_system(SYSTEM)
    layers = mpot.LayerPotentials.from_band_edges(data.conduction_edges_meV, data.valence_edges_meV)
    expected = mp.MoirePotential.from_ab(system.A_meV, system.B_meV).v1
    assert layers.point_particle().v1 == pytest.approx(expected, rel=1e-5)
    assert layers.conduction_fraction == pytest.approx(data.conduction_fraction, rel=1e-5)
    assert np.allclose(mpot.stacking_shifts(expected), data.gap_modulation_meV, atol=1e-3)
    assert set(data.sources) >= {"conduction_edges", "valence_edges", "conduction_fraction"}


def test_potential_model_rules_and_range_bound(hbn_exciton):
    F, m_e, m_h, system = hbn_exciton
    point = mp.MoirePotential.from_ab(system.A_meV, system.B_meV)
    pp = mpot.ExcitonPotentialModel("point_particle", point, 0.5, m_e, m_h)
    geo = _geometry(system, 4.0)
    assert pp.at(geo, F) is point and pp.form_factors(geo, F) == (1.0, 1.0)
    for s in (0.0, 0.3, 1.0):
        ff = mpot.ExcitonPotentialModel("form_factor", point, s, m_e, m_h)
        assert ff.at(geo, F).v1 == mpot.exciton_potential(ff.layers, geo, F, m_e, m_h).v1
        # the bound holds at every angle and, for a split in phase, is the point-particle range
        assert ff.range_bound() == pytest.approx(mpot.modulation_range(point.v1), rel=1e-12)
        for theta in (0.5, 2.0, 6.0, 15.0):
            assert mpot.modulation_range(ff.at(_geometry(system, theta), F).v1) <= ff.range_bound()
    # the range of 6 Re[v1 e^{i phi}] over the stackings: 3 sqrt3 B for A = 0
    assert mpot.modulation_range(point.v1) == pytest.approx(3 * np.sqrt(3) * system.B_meV, rel=1e-12)
    with pytest.raises(ValueError):
        mpot.ExcitonPotentialModel("form_factor", point, 1.2, m_e, m_h)
    with pytest.raises(ValueError):
        mpot.ExcitonPotentialModel("pointlike", point, 0.5, m_e, m_h)
    with pytest.raises(ValueError):
        mpot.ExcitonPotentialModel("form_factor", point, 0.5, m_e, m_h).at(geo)
