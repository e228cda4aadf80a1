"""TBModel: Bloch sums, gauges and derivatives of a small hexagonal model."""

import numpy as np

from hpcx.bse.tbmodel import TBModel, monkhorst_pack

from helpers import graphene_like as _graphene_like


def test_hermitian_and_gauge_independent_eigenvalues():
    m = _graphene_like()
    assert m.hermiticity_error() == 0.0
    k = monkhorst_pack(6, 6)
    e_lat, _ = m.bands(k, "lattice")
    e_atm, _ = m.bands(k, "atomic")
    np.testing.assert_allclose(e_lat, e_atm, atol=1e-12)


def test_gapped_dirac_point():
    """At K (fractional (1/3, -1/3) for 60-degree lattice vectors) E = +-delta exactly; at Gamma
    E = +-sqrt(delta^2 + 9 t^2)."""
    m = _graphene_like(t=-2.7, delta=0.4)
    e, _ = m.bands([[1 / 3, -1 / 3, 0], [0, 0, 0]])
    np.testing.assert_allclose(e[0], [-0.4, 0.4], atol=1e-12)
    np.testing.assert_allclose(e[1], [-np.hypot(0.4, 8.1), np.hypot(0.4, 8.1)], atol=1e-12)


def test_derivative_matches_finite_difference():
    m = _graphene_like()
    k = np.array([[0.13, 0.27, 0.0]])
    h = 1e-6
    for gauge in ("lattice", "atomic"):
        d = m.dhk(k, gauge)[0]
        for alpha in range(2):
            dk = np.zeros(3)
            dk[alpha] = h
            dk_frac = dk @ np.linalg.inv(m.reciprocal)
            fd = (m.hk(k + dk_frac, gauge)[0] - m.hk(k - dk_frac, gauge)[0]) / (2 * h)
            np.testing.assert_allclose(d[alpha], fd, atol=1e-7)


def test_rehome_keeps_bands_and_shifts_coefficient_phase():
    """Assigning orbital B to the neighbouring cell: same bands; the lattice-gauge
    coefficient of B picks up exp(i k.a1) (atomic-gauge coefficients are unchanged)."""
    m = _graphene_like()
    m2 = m.rehome(1, (1, 0, 0))
    np.testing.assert_allclose(m2.positions[1] - m.positions[1], m.lattice[0])
    k = np.array([[0.13, 0.27, 0.0], [0.4, -0.1, 0.0]])
    e1, u1 = m.bands(k)
    e2, u2 = m2.bands(k)
    np.testing.assert_allclose(e1, e2, atol=1e-12)
    phase = np.exp(1j * m.cartesian(k) @ m.lattice[0])
    for n in range(len(k)):
        for b in range(2):
            ratio = u2[n, :, b] / u1[n, :, b]
            np.testing.assert_allclose(ratio[1] / ratio[0], phase[n], atol=1e-10)
    np.testing.assert_allclose(m2.rehome(1, (-1, 0, 0)).hk(k), m.hk(k), atol=1e-12)


def test_blocks_of_a_decoupled_model():
    m = _graphene_like()
    assert [list(b) for b in m.blocks()] == [[0, 1]]
    H = np.zeros((len(m.R), 4, 4), complex)
    H[:, :2, :2] = m.H_Rij
    H[:, 2:, 2:] = m.H_Rij
    two = TBModel(m.lattice, np.vstack([m.positions, m.positions]), m.R, H)
    assert [list(b) for b in two.blocks()] == [[0, 1], [2, 3]]
