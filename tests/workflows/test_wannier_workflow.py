"""The wannier workflow end to end: config -> run file layout (serial)."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcx import workflows
from hpcx.config import validate
from hpcx.errors import ConfigError

from helpers import QUICKSTART, run_config

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_layout(tmp_path):
    out = run_config(QUICKSTART, tmp_path / "q.h5")
    with h5py.File(out) as f:
        assert sorted(f["results/excitons"]) == ["MoSe2", "MoSe2-WSe2", "WSe2"]
        for name in f["results/excitons"]:
            g = f[f"results/excitons/{name}"]
            states = [s.decode() for s in g["states"][()]]
            assert states == ["1s", "2s", "3s", "2p"]
            eb = g["binding_energy"][()]
            assert g["binding_energy"].attrs["units"] == "meV"
            # hydrogen-like ordering of a screened 2D exciton: 1s > 2p > 2s > 3s
            assert eb[0] > eb[3] > eb[1] > eb[2] > 0
            np.testing.assert_allclose(g["energy"][()], g["band_gap"][()] - 1e-3 * eb)
            assert g["form_factor"][0] == pytest.approx(1.0, abs=1e-9)
            assert g["q"].attrs["units"] == "1/nm" and g["rms_radius"].attrs["units"] == "nm"
        inter = f["results/excitons/MoSe2-WSe2"]
        assert inter.attrs["electron_material"] == "MoSe2" and inter.attrs["hole_material"] == "WSe2"
        # spatial separation weakens binding and enlarges the exciton
        assert inter["binding_energy"][0] < f["results/excitons/MoSe2/binding_energy"][0]
        assert inter["rms_radius"][0] > f["results/excitons/MoSe2/rms_radius"][0]


BASE = """
[run]
workflow = "wannier"
[structure]
layers = ["MoSe2", "WSe2"]
substrate = "SiO2"
screening = "sheet"
[wannier]
states = ["1s"]
"""
SPECIES = "\n[[wannier.species]]\nname = 'X'\nelectron_layer = 0\nhole_layer = {h}\n{extra}\n"


@pytest.mark.parametrize("text, key, fragment", [
    (BASE.replace('"MoSe2", "WSe2"', '"MoSe3", "WSe2"'), "structure.layers[0]", "unknown TMD 'MoSe3'"),
    (BASE.replace('"SiO2"', '"SiO3"'), "structure.substrate", "unknown environment"),
    (BASE.replace('"sheet"', '"sheat"'), "structure.screening", "did you mean 'sheet'"),
    (BASE.replace('["1s"]', '["1x"]'), "wannier.states[0]", "not of the form"),
    (BASE.replace('["1s"]', '["1s", "2p", "1S"]'), "wannier.states[2]", "'1s' is listed twice"),
    (BASE + "basis_size = 'many'\n", "wannier.basis_size", "expected integer"),
    (BASE + "basis_sise = 10\n", "wannier.basis_sise", "did you mean 'basis_size'"),
    (BASE + SPECIES.format(h=2, extra=""), "wannier.species[0].hole_layer", "not a layer index"),
    (BASE + SPECIES.format(h=1, extra="electron_mass = -0.5"), "wannier.species[0].electron_mass",
     "allowed: number > 0"),
    (BASE + "basis_min_exponent = 10.0\nbasis_max_exponent = 1.0\n", "wannier.basis_max_exponent",
     "the interval [wannier.basis_min_exponent, wannier.basis_max_exponent] is empty or inverted"),
])
def test_bad_configs_fail_before_computing(text, key, fragment):
    with pytest.raises(ConfigError) as info:
        cfg = validate(text, "test.toml", workflows.schemas())
        workflows.load(cfg.workflow).params(cfg, 1)
    assert info.value.key == key and fragment in str(info.value)


def test_explicit_species_and_mass_override(tmp_path):
    text = BASE + SPECIES.format(h=0, extra="electron_mass = 1.2\nhole_mass = 1.2")
    out = run_config(text, tmp_path / "s.h5")
    with h5py.File(out) as f:
        assert list(f["results/excitons"]) == ["X"]
        assert f["results/excitons/X"].attrs["reduced_mass_m0"] == pytest.approx(0.6)
