"""The `kinetics` workflow: output contract, bad configs failing before work, wannier run-file input, the sweep
(substrates, stop and resume), the WSe2 intralayer species."""

import importlib
import logging

import h5py
import numpy as np
import pytest

from hpcx import api
from hpcx.errors import ConfigError

from helpers import QUICKSTART, kinetics_config, params_of, run_config, stop_after


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
        assert r["sweep/formation_time"].shape == (1, 2, 2)
    res = api.read(path)
    assert 0.0 < res.point.formation_time < 20.0
    assert res.sweep.tau("SiO2", 77.0, 315.0) == pytest.approx(res.point.formation_time, rel=1e-12)


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

    with h5py.File(wannier, "r+") as f:      # the same file, as a run that did not finish
        f.attrs["finished"] = ""
    with pytest.raises(ConfigError, match=r"kinetics.wannier_file: .*did not finish"):
        params_of(kinetics_config(wannier_file=str(wannier)))


def test_sweep_points_are_single_runs():
    text = kinetics_config(sweep=True)
    (tmp := __import__("pathlib").Path(__import__("tempfile").mkdtemp()) / "s.toml").write_text(text)
    assert api.sweep_points(tmp) == 4
    point = api.point_config(tmp, 3)
    p = params_of(point)
    assert (p.substrate, p.temperature, p.delta_e) == ("SiO2", 300.0, 315.0) and p.points == ()


def test_stopped_sweep_keeps_its_points_and_a_rerun_computes_only_the_rest(tmp_path, monkeypatch):
    from hpcx.context import RunContext
    from hpcx.errors import CheckpointedStop
    from hpcx.io.checkpoint import Checkpoint
    from hpcx.parallel import SerialComm
    from hpcx.workflows import kinetics
    run_module = importlib.import_module("hpcx.workflows.kinetics.run")

    text = kinetics_config(sweep=True)
    p = params_of(text)
    out = tmp_path / "k.h5"
    with pytest.raises(CheckpointedStop, match="1 of 4 points"):
        kinetics.run(p, RunContext(SerialComm(), output=out, workflow="kinetics", stop_flag=stop_after(2)))
    state = Checkpoint(out.with_name("k.h5.checkpoint"), "kinetics_sweep", run_module.sweep_fingerprint(p),
                       SerialComm(), logging.getLogger("hpcx.test")).load()
    assert state["points"]["index"].tolist() == [0]

    calls = []
    solve = run_module.solve_point
    monkeypatch.setattr(run_module, "solve_point", lambda *a, **k: calls.append(a[1:3]) or solve(*a, **k))
    resumed = kinetics.run(p, RunContext(SerialComm(), output=out, workflow="kinetics"))
    assert calls == [(77.0, 315.0), (77.0, 315.0), (300.0, 265.0), (300.0, 315.0)]   # main point + 3 missing
    monkeypatch.setattr(run_module, "solve_point", solve)
    straight = api.read(run_config(text, tmp_path / "straight.h5"))
    assert resumed.sweep.formation_time.tolist() == straight.sweep.formation_time.tolist()


def test_substrate_axis_of_the_sweep(tmp_path):
    """Each substrate solves its own Wannier states: hBN screens more than SiO2 (smaller binding energies),
    and the SiO2 slice equals a SiO2-only sweep."""
    both = api.read(run_config(kinetics_config(sweep=True, substrates=["SiO2", "hBN"]), tmp_path / "b.h5")).sweep
    only = api.read(run_config(kinetics_config(sweep=True), tmp_path / "s.h5")).sweep
    assert both.substrate == ["SiO2", "hBN"] and both.formation_time.shape == (2, 2, 2)
    assert np.all(both.binding_energy[1] < both.binding_energy[0])
    assert both.formation_time[0].tolist() == only.formation_time[0].tolist()
    assert np.all(np.isfinite(both.formation_time)) and not np.allclose(both.formation_time[0], both.formation_time[1])
    assert api.sweep_points(_write(tmp_path, kinetics_config(sweep=True, substrates=["SiO2", "hBN"]))) == 8


def _write(tmp_path, text):
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return path


def test_wse2_intralayer_species(tmp_path):
    """With second_intralayer the WSe2 exciton joins by electron tunnelling (hole spectator, fractions
    m_h/M) from the interlayer exciton; one Boltzmann distribution over three species is stationary."""
    from scipy.sparse.linalg import expm  # dense too; see physics/kinetics/propagation.py

    from hpcx.physics.kinetics import dynamics, tunnelling
    from hpcx.units import KB_MEV_PER_K
    from hpcx.workflows.kinetics.run import model_at

    p = params_of(kinetics_config(second_intralayer=True))
    assert [s.name for s in p.species] == ["MoSe2", "MoSe2-WSe2", "WSe2"]
    model = model_at(p, p.delta_e)
    assert sorted(model.overlaps) == [(0, 1), (1, 2)]
    inter, wse2 = model.species[1:]
    assert tunnelling.spectator_fractions(inter, wse2) == ("electron", inter.beta, wse2.beta)
    E = model.energies()
    assert E[2 * model.shells.n] - E[0] == pytest.approx(107.8, abs=15.0)     # WSe2 above MoSe2 (seed: 100 meV)
    T = 300.0
    G = dynamics.generator(model, dynamics.pair_rate_rows(model, T, range(model.n_states)), T, radiative=False)
    n = expm(G * 5000.0) @ np.eye(model.n_states)[2 * model.shells.n]     # start in the WSe2 exciton
    boltz = np.exp(-(E - E.min()) / (KB_MEV_PER_K * T))
    assert np.allclose(n / model.shells.weight, boltz * n.sum() / (boltz * model.shells.weight).sum(), rtol=1e-6)
    res = api.read(run_config(kinetics_config(second_intralayer=True), tmp_path / "w.h5"))
    assert res.point.species == ["MoSe2", "MoSe2-WSe2", "WSe2"] and 0.0 < res.point.formation_time < 20.0


def test_without_output_a_stopped_sweep_ends_at_once():
    """Nothing to resume into: exit 128 + signal, not a 'rerun to continue' stop."""
    import signal

    from hpcx.context import RunContext
    from hpcx.parallel import SerialComm
    from hpcx.stopping import Interrupted
    from hpcx.workflows import kinetics
    flag = stop_after(2)
    flag.signum = signal.SIGINT
    with pytest.raises(Interrupted) as stopped:
        kinetics.run(params_of(kinetics_config(sweep=True)),
                     RunContext(SerialComm(), output=None, workflow="kinetics", stop_flag=flag))
    assert stopped.value.exit_code == 128 + signal.SIGINT
