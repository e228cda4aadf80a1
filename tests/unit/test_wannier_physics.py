"""Wannier equation: 2D hydrogen closed forms, monotonicity, basis convergence, kernel."""

import functools

import numpy as np
import pytest

import hpcx.materials as materials
from hpcx.physics import wannier as W
from hpcx.physics.screening import Environment, LayeredDielectric, SheetLayer, SlabLayer
from hpcx.physics.wannier import GaussianBasis, solve_wannier
from hpcx.units import COULOMB_MEV_NM, HBAR2_2M0_MEV_NM2

from helpers import require_kernel

MU, EPS = 0.2, 5.0
RY = MU * COULOMB_MEV_NM**2 / (4 * HBAR2_2M0_MEV_NM2 * EPS**2)  # mu e^4/(2 (4 pi eps0 eps)^2 hbar^2)
A_B = 2 * HBAR2_2M0_MEV_NM2 * EPS / (MU * COULOMB_MEV_NM)      # hbar^2 eps 4 pi eps0/(mu e^2)


def _const(eps):
    return lambda q: np.full_like(q, eps)


@pytest.fixture(scope="module")
def hydrogen():
    return solve_wannier(MU, _const(EPS), ["1s", "2s", "3s", "2p", "3d"])


def test_2d_hydrogen_series(hydrogen):
    n_eff = np.array([1, 2, 3, 2, 3]) - 0.5  # E_n = -Ry/(n - 1/2)^2, independent of m
    np.testing.assert_allclose(hydrogen.binding_energy_meV, RY / n_eff**2, rtol=1e-4)


def test_2d_hydrogen_1s_radius_and_form_factor(hydrogen):
    # phi_1s ~ exp(-2r/a_B): <r^2> = 3 a_B^2 / 8 ; F(q) = (1 + (q a_B/4)^2)^(-3/2)
    # wavefunction observables converge slower than energies (variational): 1e-3 is the basis limit
    assert hydrogen.rms_radius_nm[0] == pytest.approx(A_B * np.sqrt(3 / 8), rel=1e-3)
    q = np.array([0.0, 0.3, 1.0, 2.0, 5.0])
    np.testing.assert_allclose(hydrogen.form_factor("1s", q), (1 + (q * A_B / 4) ** 2) ** -1.5, atol=2e-5)
    assert hydrogen.form_factor("2s", np.array([0.0]))[0] == pytest.approx(1.0, abs=1e-12)


def _radial_grid(rmax):
    s = np.linspace(0.0, np.sqrt(rmax), 400001)  # r = s^2 resolves the narrowest Gaussians
    return s**2, 2 * s


@pytest.mark.parametrize("state", ["1s", "2s", "2p"])
def test_normalisation_in_r_and_k(hydrogen, state):
    r, jac = _radial_grid(2000.0)
    nr = np.trapz(2 * np.pi * r * hydrogen.phi_r(state, r) ** 2 * jac)
    k, jk = _radial_grid(2000.0)
    nk = np.trapz(k * hydrogen.phi_k(state, k) ** 2 / (2 * np.pi) * jk)  # d^2k/(2pi)^2 = k dk/2pi
    s = np.linspace(0.0, np.sqrt(2000.0), 400001)
    assert nr * (s[1] - s[0]) == pytest.approx(1.0, abs=1e-8)
    assert nk * (s[1] - s[0]) == pytest.approx(1.0, abs=1e-8)


def test_phi_k_is_fourier_transform_of_phi_r(hydrogen):
    # phi(k) = 2 pi int r dr J0(k r) phi(r) for the same basis expansion (checks the closed-form FT)
    from scipy.special import j0
    s = np.linspace(0.0, np.sqrt(2000.0), 400001)
    r, h = s**2, s[1] - s[0]
    pr = hydrogen.phi_r("1s", r)
    for k in [0.0, 0.5, 2.0, 8.0]:
        ref = 2 * np.pi * np.trapz(r * j0(k * r) * pr * 2 * s) * h
        assert hydrogen.phi_k("1s", np.array([k]))[0] == pytest.approx(ref, rel=1e-7, abs=1e-9)
    # and against the exact 2D-hydrogen value phi(k=0) = sqrt(2 pi) a_B (basis-limited, 1 %)
    assert hydrogen.phi_k("1s", np.array([0.0]))[0] == pytest.approx(np.sqrt(2 * np.pi) * A_B, rel=1e-2)


def test_binding_decreases_with_eps_and_r0():
    eb_eps = [solve_wannier(MU, _const(e), ["1s"]).binding_energy_meV[0] for e in (1.0, 2.45, 4.5, 10.0)]
    assert np.all(np.diff(eb_eps) < 0)
    eb_r0 = [solve_wannier(MU, lambda q, r0=r0: 2.45 + r0 * q, ["1s", "2s"]).binding_energy_meV
             for r0 in (0.0, 1.0, 3.0, 5.0)]
    assert np.all(np.diff(np.array(eb_r0), axis=0) < 0)


def _stacks(model):
    mo, w = materials.tmd("MoSe2"), materials.tmd("WSe2")
    d = materials.heterostructure("MoSe2-WSe2").interlayer_distance_nm
    lay = {"sheet": lambda t: SheetLayer(t.chi2d_nm),
           "slab": lambda t: SlabLayer(t.slab_thickness_nm, t.eps_par, t.eps_perp)}[model]
    sio2, vac = Environment(3.9, 3.9), Environment(1.0, 1.0)
    hs = LayeredDielectric(sio2, [lay(mo), lay(w)], vac, d)
    mu_x = mo.m_e * w.m_h / (mo.m_e + w.m_h)
    yield mo.reduced_mass, LayeredDielectric(vac, [lay(mo)], vac), 0, 0
    yield w.reduced_mass, LayeredDielectric(vac, [lay(w)], vac), 0, 0
    yield mo.reduced_mass, hs, 0, 0
    yield mu_x, hs, 0, 1


@pytest.mark.parametrize("model", ["sheet", "slab"])
def test_default_basis_converged_below_1meV(model):
    states = ["1s", "2s", "3s", "2p"]
    for mu, stack, i, j in _stacks(model):
        eps = functools.partial(stack.epsilon, electron_layer=i, hole_layer=j)
        e0 = solve_wannier(mu, eps, states).binding_energy_meV
        e_dense = solve_wannier(mu, eps, states, W.DEFAULT_BASIS.densified()).binding_energy_meV
        e_wide = solve_wannier(mu, eps, states, GaussianBasis(1e-5, 1e5, 80)).binding_energy_meV
        assert np.abs(e_dense - e0).max() < 1e-2
        assert np.abs(e_wide - e0).max() < 1e-2


def test_quadrature_step_converged(monkeypatch):
    mu, stack, i, j = list(_stacks("slab"))[3]
    eps = functools.partial(stack.epsilon, electron_layer=i, hole_layer=j)
    e0 = solve_wannier(mu, eps, ["1s", "2p"]).binding_energy_meV
    monkeypatch.setattr(W, "_QUAD_STEP", W._QUAD_STEP / 2)
    e1 = solve_wannier(mu, eps, ["1s", "2p"]).binding_energy_meV
    np.testing.assert_allclose(e1, e0, rtol=1e-6)


def test_interlayer_weaker_than_intralayer():
    for model in ("sheet", "slab"):
        _, _, (mu_a, hs, _, _), (mu_x, _, _, _) = list(_stacks(model))
        intra = solve_wannier(mu_x, functools.partial(hs.epsilon, electron_layer=0, hole_layer=0), ["1s"])
        inter = solve_wannier(mu_x, functools.partial(hs.epsilon, electron_layer=0, hole_layer=1), ["1s"])
        assert inter.binding_energy_meV[0] < intra.binding_energy_meV[0]
        assert inter.rms_radius_nm[0] > intra.rms_radius_nm[0]


@pytest.mark.parametrize("m", [0, 1, 2, 5])
def test_kernel_matches_numpy_reference(m):
    from hpcx._kernels import twin
    kernel = require_kernel("keldysh")
    a = W.DEFAULT_BASIS.exponents()
    q, w = W.quadrature_grid(a, m)
    w = w / (2.45 + 4.5 * q)
    ref = np.empty((a.size, a.size))
    twin("keldysh").potential_integrals(a, m, q, w, ref)
    out = np.empty_like(ref)
    kernel.potential_integrals(a, m, q, w, out)
    assert np.abs(out - ref).max() <= 1e-12 * np.abs(ref).max()
