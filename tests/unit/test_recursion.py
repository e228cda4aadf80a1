"""Lanczos-Haydock spectra equal the eigenpair spectra (matrix-free operator, small system)."""

import numpy as np
import pytest

from hpcx.bse.matfree import MatFreeBSE
from hpcx.bse.recursion import eigenpair_spectrum, lanczos
from hpcx.parallel import SerialComm

from helpers import (
    band_edges as window,
)
from helpers import (
    dense_bse_reference as dense_reference,
)
from helpers import (
    smooth_potential as potential,
)
from helpers import (
    three_band_model as _three_band_model,
)


def _system(grid=(5, 5)):
    model = _three_band_model()
    _, E_v, E_c, C_v, C_c = window(model, grid, 1, 2)
    op = MatFreeBSE(grid, model.lattice, model.positions, E_v, E_c, C_v, C_c, potential, comm=SerialComm())
    H = dense_reference(model, grid, E_v, E_c, C_v, C_c, potential)
    rng = np.random.default_rng(11)
    d = rng.normal(size=op.N) + 1j * rng.normal(size=op.N)       # generic transition amplitudes
    return op, H, d


def test_complete_recursion_equals_eigenpair_spectrum():
    op, H, d = _system()
    vals, vecs = np.linalg.eigh(H)
    amp = vecs.conj().T @ d
    rec = lanczos(op, d, op.N, reorthogonalize=True)
    e = np.linspace(vals.min() - 0.3, vals.max() + 0.3, 400)
    ref = eigenpair_spectrum(vals, amp, e, 0.02, prefactor=lambda x: 1.0 / x)
    got = rec.gaussian(e, 0.02, prefactor=lambda x: 1.0 / x)
    assert np.abs(got - ref).max() < 1e-10 * ref.max()
    # Lorentzian (Haydock continued fraction) == the resolvent from the eigenpairs
    eta = 0.01
    ref_l = (np.abs(amp) ** 2 * eta / np.pi / ((e[:, None] - vals) ** 2 + eta ** 2)).sum(axis=1)
    assert np.abs(rec.lorentzian(e, eta) - ref_l).max() < 1e-9 * ref_l.max()
    # the sum rule: total weight = ||d||^2
    assert rec.nodes()[1].sum() == pytest.approx(np.vdot(d, d).real, rel=1e-12)


def test_short_recursion_converges_at_finite_broadening():
    """Without reorthogonalization and with m << N steps the broadened spectrum is converged."""
    op, H, d = _system((8, 8))                   # N = 128
    vals, vecs = np.linalg.eigh(H)
    amp = vecs.conj().T @ d
    e = np.linspace(vals.min() - 0.2, vals.max() + 0.2, 300)
    ref = eigenpair_spectrum(vals, amp, e, 0.25)             # spectrum ~10 eV wide: width/sigma ~ 40
    rec = lanczos(op, d, 60)
    assert rec.steps == 60
    assert np.abs(rec.gaussian(e, 0.25) - ref).max() < 1e-3 * ref.max()
