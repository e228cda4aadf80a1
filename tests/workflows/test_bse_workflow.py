"""The bse workflow end to end: output contract, IP limit, config errors, example config."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcx import workflows
from hpcx.errors import ConfigError

from helpers import BSE_WSE2 as WSE2
from helpers import params_of, run_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "examples" / "data" / "wse2-wannier90"  # copy of ../shared/data/wse2-wannier90


LIU = """
[run]
workflow = "bse"
[bse]
source = "liu"
material = "WSe2"
k_grid = 6
valence_bands = 2
conduction_bands = 2
n_eig = 0
wavefunctions = 1
"""

CONTRACT = {"eigenvalues": "eV", "eigenvectors": "", "transitions": "", "qp_gap": "eV",
            "spectrum/energy": "eV", "spectrum/sigma": "e^2/hbar", "spectrum/sigma_ip": "e^2/hbar",
            "oscillator_strength": ""}


def test_output_contract(tmp_path):
    out = run_config(WSE2, tmp_path / "b.h5")
    with h5py.File(out) as f:
        r = f["results"]
        for name, units in CONTRACT.items():
            assert r[name].attrs["units"] == units, name
        ev = r["eigenvalues"][()]
        n = 6 * 6 * 2 * 2
        assert np.all(np.diff(ev) >= 0) and ev.shape == (12,)
        assert r["eigenvectors"].shape == (12, n)
        np.testing.assert_allclose(np.linalg.norm(r["eigenvectors"][()], axis=1), 1.0, atol=1e-10)
        tr = r["transitions"][()]
        assert tr.shape == (n, 3) and set(tr[:, 1]) == {5, 6} and set(tr[:, 2]) == {7, 8}
        assert r["qp_gap"][()] == pytest.approx(r["transition_energy"][()].min())
        assert ev[0] < r["qp_gap"][()]                                 # a bound exciton
        assert r["residuals"][()].max() < 1e-6
        assert r["oscillator_strength"].shape == (12,)
        assert r["spectrum/sigma"].shape == r["spectrum/energy"].shape == r["spectrum/sigma_ip"].shape
        assert r.attrs["spin_factor"] == 2.0
    # hpcx plot makes the spectrum and wavefunction figures
    from hpcx.plotting import plot_run
    paths = plot_run(out)
    assert sorted(p.name for p in paths) == ["b_spectrum.png", "b_wavefunction.png"]


def test_three_band_model_without_interaction_is_ip(tmp_path):
    """direct = exchange = false: eigenvalues are the transition energies and sigma == sigma_ip."""
    text = LIU + "direct = false\nexchange = false\n"
    out = run_config(text, tmp_path / "free.h5")
    with h5py.File(out) as f:
        r = f["results"]
        np.testing.assert_allclose(r["eigenvalues"][()], np.sort(r["transition_energy"][()]), atol=1e-12)
        np.testing.assert_allclose(r["spectrum/sigma"][()], r["spectrum/sigma_ip"][()], rtol=1e-9, atol=1e-12)
        assert r.attrs["spin_factor"] == 1.0
    out = run_config(LIU, tmp_path / "int.h5")
    with h5py.File(out) as f:
        r = f["results"]
        assert r["binding_energy"][()] > 0.2
        # interaction moves weight below the gap; total weight (all pairs, f-sum like) is conserved
        e = r["spectrum/energy"][()]
        below = e < r["qp_gap"][()] - 0.1
        assert r["spectrum/sigma"][()][below].sum() > 10 * r["spectrum/sigma_ip"][()][below].sum()


def _check(text):
    return params_of(text, str(ROOT / "examples" / "x.toml"))


@pytest.mark.parametrize("edit, key, fragment", [
    (lambda t: t.replace(f'"{FIXTURE}"', '"no/such/dir"'), "bse.wannier90_dir", "no such directory"),
    (lambda t: t.replace('seedname = "WSe2"', 'seedname = "MoS2"'), "bse.seedname", "has no MoS2_hr.dat"),
    (lambda t: t.replace("n_occupied = 7", "n_occupied = 0"), "bse.n_occupied", "must be 1..10"),
    (lambda t: t.replace("valence_bands = 2", "valence_bands = 9"), "bse.valence_bands", "at most the 7"),
    (lambda t: t.replace("n_eig = 12", "n_eig = 500"), "bse.n_eig", "at most the BSE dimension 144"),
    (lambda t: t + "wavefunctions = 13\n", "bse.wavefunctions", "at most the 12 computed excitons"),
    (lambda t: t + "slepc_options = ['eps_ncv']\n", "bse.slepc_options[0]", "name=value"),
    (lambda t: t + "slepc_options = ['eps_max_it=abc']\n", "bse.slepc_options", "abc has no integer value"),
    (lambda t: t + "slepc_options = ['eps_type=nosuch']\n", "bse.slepc_options", "Unknown EPS type"),
    (lambda t: t.replace('source = "wannier90"', 'source = "liu"\nmaterial = "WSe3"'), "bse.material",
     "unknown three-band TB material"),
    (lambda t: t + "energy_min = 2.0\nenergy_max = 1.5\n", "bse.energy_max", "must exceed energy_min = 2.0 eV"),
    (lambda t: t + "hole_site = 3\n", "bse.hole_site", "the model has 3 sites"),
])
def test_bad_configs_fail_in_check(edit, key, fragment):
    with pytest.raises(ConfigError) as info:
        _check(edit(WSE2))
    assert info.value.key == key and fragment in str(info.value)


def test_example_config_resolves_relative_path():
    path = ROOT / "examples" / "bse_wse2.toml"
    p = params_of(path.read_text(), str(path))
    assert p.model_label == str(FIXTURE.resolve()) and p.grid == (9, 9) and p.size == 324


def test_memory_estimate_refuses_a_huge_grid_before_any_work():
    """k_grid = 400 (N = 640000): the estimate (TiB of dense rows) comes from the config in well
    under a second, before any band or row is computed."""
    import time
    start = time.perf_counter()
    p = _check(WSE2.replace("k_grid = 6", "k_grid = 400"))
    need = workflows.load("bse").estimate_memory(p, 2)
    assert time.perf_counter() - start < 5.0
    N = 400 * 400 * 4
    assert need > 16 * N * N / 2                           # at least the row slab of each rank
    small = workflows.load("bse").estimate_memory(_check(WSE2), 1)
    assert 2 ** 20 < small < 100 * 2 ** 20                 # a few MiB beyond the running process


def test_progress_lines_of_the_long_phases(tmp_path):
    import logging

    from hpcx import context
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    handler = Collect(level=logging.INFO)
    logger = logging.getLogger("hpcx")
    logger.addHandler(handler)
    real = context.RunContext.progress
    context.RunContext.progress = lambda self, total, label, unit="it", interval=10.0: real(
        self, total, label, unit, interval=0.0)
    try:
        run_config(WSE2, tmp_path / "p.h5", log_level="INFO")
    finally:
        context.RunContext.progress = real
        logger.removeHandler(handler)
    text = "\n".join(lines)
    assert "BSE assembly (rank 0's rows):" in text and "rows/s" in text and "ETA" in text
    assert "eigensolver iterations (ETA to max_it):" in text
