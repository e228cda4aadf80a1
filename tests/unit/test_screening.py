"""Layered-dielectric electrostatics against closed forms (hpcx.physics.screening)."""

import numpy as np
import pytest
from scipy import integrate

from hpcx.physics.screening import (
    Environment,
    LayeredDielectric,
    SheetLayer,
    SlabLayer,
    keldysh_real_space,
)
from hpcx.units import COULOMB_MEV_NM

Q = np.logspace(-4, 2.5, 60)  # 1/nm


def test_uniform_medium_is_exact():
    for eps_par, eps_perp in [(1.0, 1.0), (3.9, 3.9), (6.93, 3.76)]:
        env = Environment(eps_par, eps_perp)
        stack = LayeredDielectric(env, [], env)
        # anisotropic bulk: the in-plane Coulomb interaction is screened by sqrt(eps_par eps_perp)
        np.testing.assert_allclose(stack.epsilon(Q), np.sqrt(eps_par * eps_perp), rtol=1e-13)


def test_interface_of_two_half_spaces_is_the_average():
    stack = LayeredDielectric(Environment(3.9, 3.9), [], Environment(1.0, 1.0))
    np.testing.assert_allclose(stack.epsilon(Q), 2.45, rtol=1e-13)


def test_single_sheet_is_keldysh():
    chi = 0.823
    stack = LayeredDielectric(Environment(3.9, 3.9), [SheetLayer(chi)], Environment(1.0, 1.0))
    np.testing.assert_allclose(stack.epsilon(Q), 2.45 + 2 * np.pi * chi * Q, rtol=1e-12)
    v = stack.potential(Q)
    np.testing.assert_allclose(v, 2 * np.pi * COULOMB_MEV_NM / (Q * 2.45 * (1 + 2 * np.pi * chi * Q / 2.45)),
                               rtol=1e-12)


def _slab_closed_form(q, t, ep, en, e1, e2):
    """Image series for a charge at the centre of a slab between half-spaces e1 (below), e2 (above)."""
    eb, kap = np.sqrt(ep * en), np.sqrt(ep / en)
    p1, p2 = (eb - e1) / (eb + e1), (eb - e2) / (eb + e2)
    x = np.exp(-kap * q * t)
    return eb * (1 - p1 * p2 * x**2) / ((1 + p1 * x) * (1 + p2 * x))


@pytest.mark.parametrize("e1,e2", [(1.0, 1.0), (3.9, 1.0), (np.sqrt(6.93 * 3.76),) * 2])
def test_single_slab_matches_image_series(e1, e2):
    t, ep, en = 0.6464, 17.2, 8.1
    stack = LayeredDielectric(Environment(e1, e1), [SlabLayer(t, ep, en)], Environment(e2, e2))
    np.testing.assert_allclose(stack.epsilon(Q), _slab_closed_form(Q, t, ep, en, e1, e2), rtol=1e-12)
    # limits: (e1 + e2)/2 at q -> 0, the bulk sqrt(ep en) at q -> inf
    assert stack.epsilon(np.array([1e-7]))[0] == pytest.approx((e1 + e2) / 2, rel=1e-5)
    assert stack.epsilon(np.array([1e3]))[0] == pytest.approx(np.sqrt(ep * en), rel=1e-9)


def test_anisotropic_environment_acts_through_geometric_mean():
    chi = 0.7
    hbn = Environment(6.93, 3.76)
    stack = LayeredDielectric(hbn, [SheetLayer(chi)], hbn)
    np.testing.assert_allclose(stack.epsilon(Q), np.sqrt(6.93 * 3.76) + 2 * np.pi * chi * Q, rtol=1e-12)


def test_two_sheets_in_vacuum_exact_and_limits():
    chi1, chi2, d = 0.823, 0.718, 0.647
    r1, r2 = 2 * np.pi * chi1, 2 * np.pi * chi2
    vac = Environment(1.0, 1.0)
    stack = LayeredDielectric(vac, [SheetLayer(chi1), SheetLayer(chi2)], vac, d)
    a, b, x = 1 + r1 * Q, 1 + r2 * Q, np.exp(-Q * d)
    den = a * b - x**2 * r1 * r2 * Q**2  # closed form of the two coupled sheet equations
    np.testing.assert_allclose(stack.epsilon(Q, 0, 0), den / (b - x**2 * r2 * Q), rtol=1e-10)
    np.testing.assert_allclose(stack.epsilon(Q, 0, 1), den / x, rtol=1e-10)
    np.testing.assert_allclose(stack.epsilon(Q, 1, 0), stack.epsilon(Q, 0, 1), rtol=1e-10)
    # small-q slopes (seed 004 SI XIII.5): intra r1 + r2, inter r1 + r2 + d
    q = np.array([1e-6, 2e-6])
    s_intra = np.diff(stack.epsilon(q, 0, 0)) / np.diff(q)
    s_inter = np.diff(stack.epsilon(q, 0, 1)) / np.diff(q)
    assert s_intra[0] == pytest.approx(r1 + r2, rel=1e-4)
    assert s_inter[0] == pytest.approx(r1 + r2 + d, rel=1e-4)
    # large q: interlayer potential ~ exp(-q d) / (q (1 + r1 q)(1 + r2 q))
    ql = np.array([20.0, 40.0])
    ratio = stack.potential(ql, 0, 1) * ql * (1 + r1 * ql) * (1 + r2 * ql) * np.exp(ql * d)
    np.testing.assert_allclose(ratio, 2 * np.pi * COULOMB_MEV_NM, rtol=1e-8)


def test_two_slabs_are_reciprocal_and_between_limits():
    sio2, vac = Environment(3.9, 3.9), Environment(1.0, 1.0)
    stack = LayeredDielectric(sio2, [SlabLayer(0.6464, 17.2, 8.1), SlabLayer(0.648, 15.6, 7.7)], vac)
    np.testing.assert_allclose(stack.epsilon(Q, 1, 0), stack.epsilon(Q, 0, 1), rtol=1e-10)
    assert stack.epsilon(np.array([1e-7]), 0, 1)[0] == pytest.approx(2.45, rel=1e-5)
    assert np.all(stack.epsilon(Q, 0, 1) > stack.epsilon(Q, 0, 0))


@pytest.mark.parametrize("eps_env,d", [(1.0, 0.0), (2.45, 0.0), (4.5, 0.0), (1.0, 0.647)])
def test_keldysh_real_space_is_hankel_transform(eps_env, d):
    """V(r) = int q dq/2pi J0(qr) V(q); with 1/(eps + r0' eps q) = int dt exp(-t eps (1 + r0' q))
    the Hankel transform becomes int_0^inf dt exp(-t eps) / sqrt(r^2 + (t eps r0')^2) (no Struve)."""
    r0 = 2 * np.pi * 0.718
    rp = r0 / eps_env + d
    for r in [0.05, 0.3, 1.0, 3.0, 10.0, 40.0]:
        def f(t):
            return np.exp(-t * eps_env) / np.hypot(r, t * eps_env * rp)
        ref = COULOMB_MEV_NM * integrate.quad(f, 0, np.inf, epsabs=0, epsrel=1e-12, limit=400)[0]
        assert keldysh_real_space(r, r0, eps_env, interlayer_distance_nm=d) == pytest.approx(ref, rel=1e-6)


def test_keldysh_real_space_limits_and_onsite():
    r0, a = 2 * np.pi * 0.603, 0.318
    # long range: bare Coulomb e^2/(eps r)
    assert keldysh_real_space(2000.0, r0, 2.0) == pytest.approx(COULOMB_MEV_NM / (2.0 * 2000.0), rel=1e-5)
    v = keldysh_real_space(np.array([0.0, a, 1.0]), r0, 1.0, onsite_length_nm=a)
    assert v[0] == v[1]  # seed 004: V(0) := U V(a), U = 1
    with pytest.raises(ValueError):
        keldysh_real_space(0.0, r0, 1.0)
