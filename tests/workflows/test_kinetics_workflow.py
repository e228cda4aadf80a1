"""The `kinetics` workflow: output contract, bad configs failing before work, wannier run-file input."""

import h5py
import pytest

from hpcx import api
from hpcx.errors import ConfigError

from helpers import QUICKSTART, kinetics_config, params_of, run_config


def test_output_contract(tmp_path):
    path = run_config(kinetics_config(sweep=True), tmp_path / "k.h5")
    with h5py.File(path) as f:
        r = f["results"]
        for name in ("time", "species", "density", "polarization", "occupation", "q", "formation_time",
                     "pl/energy", "pl/time", "pl/intensity", "pl/crossover_time",
                     "sweep/temperature", "sweep/delta_e", "sweep/formation_time"):
            assert name in r, name
        nS, nt = r["density"].shape
        assert nS == 2 and nt == r["time"].shape[0]
        assert r["occupation"].shape[:2] == (2, r["q"].shape[0])
        assert r["sweep/formation_time"].shape == (2, 2)
    res = api.read(path)
    assert 0.0 < res.point.formation_time < 20.0
    assert res.sweep.formation_time[0, 1] == pytest.approx(res.point.formation_time, rel=1e-12)


@pytest.mark.parametrize("change, key", [
    ({"temperature": -4.0}, "kinetics.temperature"),
    ({"delta_e": 50.0}, "kinetics.delta_e"),
    ({"wannier_file": "missing.h5"}, "kinetics.wannier_file"),
])
def test_bad_configs_fail_before_work_with_one_line(change, key):
    with pytest.raises(ConfigError) as err:
        params_of(kinetics_config(**change))
    assert key in str(err.value) and "\n" not in str(err.value)


def test_wannier_run_file_gives_the_in_process_energies(tmp_path):
    wannier = run_config(QUICKSTART, tmp_path / "w.h5")
    from_file = params_of(kinetics_config(wannier_file=str(wannier)))
    in_process = params_of(kinetics_config())
    assert from_file.energies(315.0) == pytest.approx(in_process.energies(315.0), abs=0.05)


def test_sweep_points_are_single_runs():
    text = kinetics_config(sweep=True)
    (tmp := __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "s.toml").write_text(text)
    assert api.sweep_points(tmp) == 4
    point = api.point_config(tmp, 3)
    p = params_of(point)
    assert (p.temperature, p.delta_e) == (300.0, 315.0) and p.points == ()
