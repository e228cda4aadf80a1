"""Three-band model of Liu et al. (2013): closed-form H(k), K-point gap and SOC splitting, BSE convergence."""

import numpy as np
import pytest

from hpcx.bse import bands as bb
from hpcx.bse import hamiltonian as hh
from hpcx.bse import interaction as it
from hpcx.bse.liu import MODELS, liu_hk, liu_materials, liu_model, liu_parameters, soc_matrix
from hpcx.bse.tbmodel import monkhorst_pack
from hpcx.materials import UnknownMaterialError

# Kormanyos et al., 2D Mater. 2, 022001 (2015), DFT (with SOC): K-point gap and 2 Delta_vb (eV);
# SECONDARY transcription, ../shared/docs/physics-parameters.md section 2.2
KORMANYOS = {"MoS2": (1.67, 0.148), "MoSe2": (1.40, 0.186), "WS2": (1.60, 0.429), "WSe2": (1.30, 0.466)}


def _K(model):
    a = model.lattice[0, 0]
    return np.array([[4 * np.pi / (3 * a), 0.0, 0.0]]) @ np.linalg.inv(model.reciprocal)


@pytest.mark.parametrize("material", ["MoS2", "MoSe2", "WS2", "WSe2"])
@pytest.mark.parametrize("model", MODELS)
def test_real_space_model_equals_closed_form(material, model):
    m = liu_model(material, model, soc=True)
    p = liu_parameters(material, model)
    k = np.random.default_rng(3).normal(size=(25, 2))
    k_frac = np.column_stack([k, np.zeros(len(k))]) @ np.linalg.inv(m.reciprocal)
    hk = m.hk(k_frac)
    ref = liu_hk(p, k[:, 0], k[:, 1])
    np.testing.assert_allclose(hk[:, :3, :3], ref + soc_matrix(p["lambda"], 1), atol=1e-12)
    np.testing.assert_allclose(hk[:, 3:, 3:], ref + soc_matrix(p["lambda"], -1), atol=1e-12)
    assert np.abs(hk[:, :3, 3:]).max() == 0.0
    assert len(m.R) == (7 if model == "NN" else 19)


@pytest.mark.parametrize("material", ["MoS2", "MoSe2", "WS2", "WSe2"])
def test_gap_and_spin_splitting_at_K(material):
    """At K the valence band is an L_z = +-2 state, so the SOC splitting is exactly 2 lambda;
    2 lambda agrees with the DFT splitting of Kormanyos 2015 to 12 meV.  The NN and TNN fits
    (both to Liu's GGA bands) give the same K gap to 10 meV; with SOC it is within 0.1 eV of
    Kormanyos' DFT gap (different code and lattice constant: Liu's a is 1% larger for MoS2)."""
    gaps = []
    for model in MODELS:
        m = liu_model(material, model, soc=True)
        e, _ = m.bands(_K(m))
        lam = liu_parameters(material, model)["lambda"]
        assert e[0, 1] - e[0, 0] == pytest.approx(2 * lam, abs=1e-12)
        assert abs(2 * lam - KORMANYOS[material][1]) < 0.012
        e0, _ = liu_model(material, model, soc=False).bands(_K(m))
        gaps.append(e0[0, 1] - e0[0, 0])
        assert abs((e[0, 2] - e[0, 1]) - KORMANYOS[material][0]) < 0.1
        assert e[0, 2] - e[0, 1] == pytest.approx(e0[0, 1] - e0[0, 0] - lam, abs=1e-12)
    assert abs(gaps[0] - gaps[1]) < 0.010


def test_unknown_material():
    with pytest.raises(UnknownMaterialError, match="known: MoS2, MoSe2, WS2, WSe2"):
        liu_parameters("WSe3")
    assert liu_materials() == ["MoS2", "MoSe2", "WS2", "WSe2"]


def test_bse_converges_with_k_grid():
    """Lowest exciton of WSe2 (TNN + SOC, spin-explicit basis, exchange factor 1, seed 004
    Keldysh parameters): the binding energy changes by 65 and 20 meV from 12x12 to 24x24
    (0.534, 0.470, 0.450 eV), then 4 meV to 30x30 (0.446 eV) and 0.6 meV to 36x36 (0.4455 eV,
    computed once; too slow for the suite)."""
    m = liu_model("WSe2", "TNN", soc=True)
    sites = it.group_sites(m.positions)
    eb = []
    for n in (12, 18, 24):
        k = monkhorst_pack(n, n)
        E, C = bb.bands_on_grid(m, k)
        w = bb.band_window(E, C, k, 2, 1, 2)
        inter = it.build_interaction(m.lattice, (n, n), sites, it.keldysh(45.09, 1.0, 3.325), it.coulomb(1.0, 3.325))
        e = np.linalg.eigvalsh(hh.assemble_dense(w, inter, exchange_factor=1.0))
        eb.append(w.qp_gap - e[0])
    d = np.abs(np.diff(eb))
    assert np.all(np.diff(eb) < 0)                      # monotone from above
    assert d[1] < d[0] / 2
    assert abs(eb[-1] - 0.4455) < 0.006                 # within 6 meV of the 36 x 36 value
