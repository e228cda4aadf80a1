"""Cython rate kernel (hpcx._kernels.scattering_rates) against its NumPy twin on the same inputs."""

import numpy as np
import pytest

from hpcx._kernels import twin
from hpcx.materials.phonons import phonon_params
from hpcx.physics import phonons as ph
from hpcx.physics import scattering as sc

from helpers import GEO, free_states, require_kernel
from helpers import gaussian_form_factor as F_gauss

REF = twin("scattering_rates")


@pytest.fixture(scope="module")
def table():
    """Moiré terms (dense optical + sparse acoustic, umklapp) on generic (mixed) overlaps."""
    Q, E, vec, _, s, _ = free_states(2, 2)
    rng = np.random.default_rng(7)
    n_g = vec.shape[-1]
    mix = np.linalg.qr(rng.normal(size=(n_g, n_g)) + 1j * rng.normal(size=(n_g, n_g)))[0]
    modes = sc.layer_modes(phonon_params("MoSe2"), "e") + sc.layer_modes(phonon_params("WSe2"), "h")
    n = E.size
    E = E.ravel() + rng.normal(scale=0.5, size=n)          # break degeneracies: generic energy differences
    gamma = rng.uniform(0.05, 1.5, size=n)
    blocks = []
    for start, stop in ((0, n), (5, n - 9)):              # whole table and an interior block of rows
        blocks.append(sc.moire_terms(Q, E.reshape(len(Q), -1), vec @ mix, s, GEO.reciprocal_basis,
                                     GEO.cell_area_nm2, modes, F_gauss, 0.5, 0.36, start, stop))
    return E, gamma, blocks


@pytest.mark.parametrize("beta", [2.0, 1.3])
@pytest.mark.parametrize("T", [4.0, 150.0])
def test_kernel_equals_numpy_reference(table, beta, T):
    ker = require_kernel("scattering_rates")
    E, gamma, blocks = table
    for t in blocks:
        assert len(t.row) > 50 * (t.stop - t.start) and len(t.dense) == 2
        Wf, Wb = sc.rates(E, t, T, gamma, beta, 0.2, reverse=True, kernel=REF)
        Kf, Kb = sc.rates(E, t, T, gamma, beta, 0.2, reverse=True, kernel=ker)
        assert Wf.max() > 0 and Wb.max() > 0
        # different summation order only: round-off (1e-12 of the largest entry of the table)
        np.testing.assert_allclose(Kf, Wf, rtol=1e-12, atol=1e-12 * Wf.max())
        np.testing.assert_allclose(Kb, Wb, rtol=1e-12, atol=1e-12 * Wb.max())
        out = sc.out_rates(E, t, T, gamma, beta, 0.2, kernel=ker)
        np.testing.assert_allclose(out, Wf.sum(axis=1), rtol=1e-12)
        nb = ph.bose(t.omega, T)
        np.testing.assert_allclose(sc.out_rates(E, t, T, gamma, beta, 0.2, kernel=ker, nb=nb), out,
                                   rtol=1e-14)


def test_kernel_unsorted_terms_and_channels():
    # hand-made terms in arbitrary order (csr() sorts them) and dense multi-valley channels
    # converted to CSR terms give the NumPy rates; the self-consistent Gamma agrees too
    ker = require_kernel("scattering_rates")
    rng = np.random.default_rng(11)
    n, m = 30, 400
    E = rng.uniform(0.0, 20.0, n)
    row, col = rng.integers(0, n, m).astype(np.int32), rng.integers(0, n, m).astype(np.int32)
    t = sc.Terms(0, n, n, dense=[(12.0, rng.exponential(size=(n, n)) * (rng.random((n, n)) > 0.5))],
                 row=row, col=col, g2w=rng.exponential(size=m), omega=rng.uniform(0.5, 8.0, m))
    gamma = rng.uniform(0.0, 1.0, n)
    np.testing.assert_allclose(sc.rates(E, t, 40.0, gamma, 2.0, 0.3, kernel=ker),
                               sc.rates(E, t, 40.0, gamma, 2.0, 0.3, kernel=REF), rtol=1e-12, atol=1e-300)
    g_k, it_k, _ = sc.self_consistent_gamma(E, t, 40.0, 2.0, 0.3, tol=1e-12, kernel=ker)
    g_n, it_n, _ = sc.self_consistent_gamma(E, t, 40.0, 2.0, 0.3, tol=1e-12, kernel=REF)
    np.testing.assert_allclose(g_k, g_n, rtol=1e-11)
    k, w = ph.k_grid(1.0, 5)
    q = np.linalg.norm(k[None] - k[:, None], axis=-1)
    chans = [ph.Channel(w * 50.0 * q, np.where(q > 0, 2.0 * q, 1.0), "ac"),
             ph.Channel(np.full((25, 25), w * 30.0), np.full((25, 25), 15.0), "opt")]
    Ek = 5.0 * np.sum(k ** 2, axis=1)
    ref = ph.transition_rates(Ek, chans, 77.0, np.full(25, 0.4), 2.0, 0.1)
    ct = sc.channel_terms(chans, 3, 20)
    for use in (REF, ker):
        np.testing.assert_allclose(sc.rates(Ek, ct, 77.0, np.full(25, 0.4), 2.0, 0.1, kernel=use),
                                   ref[3:20], rtol=1e-12, atol=1e-14 * ref.max())
