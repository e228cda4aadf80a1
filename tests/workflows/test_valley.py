"""The ``valley`` workflow: the output contract, config errors, the intervalley switch-off."""

import numpy as np
import pytest

from hpcx import api
from hpcx.errors import ConfigError

from helpers import VALLEY_MC_SMALL, VALLEY_SMALL, params_of, run_config

#: stop polls of the moment phase of the small configs (two temperatures: before each round, after the last)
MOMENT_POLLS = 3


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return run_config(VALLEY_SMALL, tmp_path_factory.mktemp("valley") / "small.h5")


def test_output_contract(small):
    import h5py
    with h5py.File(small) as f:
        r = f["results"]
        nT, nt = len(r["temperature"]), len(r["time"])
        nv = len(r["valleys"])
        assert (nT, nv, nt) == (2, 3, 9)
        for name, unit in (("density", ""), ("width2", "nm^2"), ("diffusion", "cm^2/s"),
                           ("diffusion_scattering", "cm^2/s")):
            assert r[name].shape == (nT, nv, nt) and r[name].attrs["units"] == unit
        for name in ("total/width2", "total/diffusion", "pl/width2", "pl/diffusion"):
            assert r[name].shape == (nT, nt)
        assert r["pl/profile"].shape == (nT, len(r["pl/time"]), len(r["pl/r"]))
    res = api.read(small)
    assert res.valleys == ["KK", "KKp", "KL"]
    last = res.density[:, :, -1]
    assert np.all(last.sum(axis=1) <= 1.0) and np.all(last.sum(axis=1) > 0.9)   # minus radiative losses
    assert np.all(res.total_diffusion[:, -1] > 0)
    assert res.density[0, 2, -1] == np.max(res.density[0, :, -1])       # 300 K: KL most occupied
    assert res.density[1, 1, -1] == np.max(res.density[1, :, -1])       # 20 K: KK' most occupied


@pytest.mark.parametrize("change, key", [
    ({"valleys": ["KK", "XX"]}, "valley.valleys[1]"),
    ({"t_end": 4.05}, "valley.t_end"),
    ({"dt": 1e12}, "valley.t_end"),                 # longer than the window: no output step
    ({"pulse_fwhm": 1.0}, "valley.pulse_fwhm"),     # the pulse outlasts t_end = 4 ps
    ({"intervalley_off_after": 0.3}, "valley.intervalley_off_after"),
    ({"material": "MoTe2"}, "valley.material"),
    ({"profile_dt": 0.75}, "valley.profile_dt"),
])
def test_bad_config_is_refused_before_any_work(change, key):
    import tomllib

    from hpcx.config import dump_toml
    data = tomllib.loads(VALLEY_SMALL)
    data["valley"].update(change)
    with pytest.raises(ConfigError) as err:
        params_of(dump_toml(data))
    assert key in str(err.value)


def test_switching_intervalley_off_gives_the_intravalley_diffusion(tmp_path):
    """Seed 002 Fig. 4: after intervalley scattering is switched off at 300 K every valley relaxes
    to its own D_v = tau_v kT / M_v (the stationary intravalley value)."""
    text = VALLEY_SMALL.replace("temperatures = [300.0, 20.0]", "temperatures = [300.0]").replace(
        "t_end = 4.0", "t_end = 6.0\nintervalley_off_after = 2.0\nprofiles = false")
    res = api.read(run_config(text, tmp_path / "off.h5"))
    np.testing.assert_allclose(res.diffusion[0, :, -1], res.stationary_diffusion[0], rtol=0.02)
    assert np.ptp(res.stationary_diffusion[0]) > 0.2 * np.min(res.stationary_diffusion[0])


@pytest.fixture(scope="module")
def with_mc(tmp_path_factory):
    return run_config(VALLEY_MC_SMALL, tmp_path_factory.mktemp("valley_mc") / "mc.h5")


def test_monte_carlo_output_contract(with_mc):
    """/results/monte_carlo: [T, group, time] with the valleys, total and PL, on the moment solver's
    output times; without decay losses beyond the PL the total weight is at most one exciton."""
    import h5py
    with h5py.File(with_mc) as f:
        m = f["results/monte_carlo"]
        nT, nt = len(m["temperature"]), len(m["time"])
        assert (nT, nt) == (2, 4) and [g.decode() for g in m["groups"][()]] == ["KK", "KKp", "KL", "total", "pl"]
        for name, unit in (("density", ""), ("width2", "nm^2"), ("width2_error", "nm^2"), ("diffusion", "cm^2/s"),
                           ("diffusion_error", "cm^2/s"), ("particles", "")):
            assert m[name].shape == (nT, 5, nt) and m[name].attrs["units"] == unit
        assert m["profile"].shape == (nT, 5, nt, 15) and m.attrs["particles"] == 3000
    res = api.read(with_mc)
    mc = res.monte_carlo
    np.testing.assert_allclose(mc.time, res.time[::2])
    total = mc.values["density"][:, 3, -1]
    assert np.all(total <= 1.0) and np.all(total > 0.9)
    np.testing.assert_allclose(mc.values["density"][:, :3].sum(axis=1), mc.values["density"][:, 3], rtol=1e-12)
    r = mc.r
    n_from_profile = np.sum(mc.profile[:, 3, -1] * 2 * np.pi * r * (r[1] - r[0]), axis=-1)
    assert np.all(n_from_profile <= total + 1e-12) and np.all(n_from_profile > 0.5 * total)


@pytest.mark.parametrize("change, key", [
    ({"monte_carlo": {"dt": 0.75}}, "monte_carlo.dt"),
    ({"monte_carlo": {"temperatures": [20.0]}}, "monte_carlo.temperatures[0]"),
    ({"monte_carlo": {"particles": 4}}, "monte_carlo.particles"),
    ({"valley": {"intervalley_off_after": 2.0}}, "valley.intervalley_off_after"),
])
def test_bad_monte_carlo_config_is_refused(change, key):
    import tomllib

    from hpcx.config import dump_toml
    data = tomllib.loads(VALLEY_MC_SMALL)
    for section, values in change.items():
        data[section].update(values)
    with pytest.raises(ConfigError) as err:
        params_of(dump_toml(data))
    assert key in str(err.value)
    if key == "monte_carlo.particles":
        return
    with pytest.raises(ConfigError, match="monte_carlo.batches"):
        params_of(VALLEY_MC_SMALL, comm_size=8)


def test_a_stop_request_without_output_ends_the_run_at_that_sample():
    """No output path, so no checkpoint to keep: the agreed request stops the run at once (exit
    128 + signal), not after the remaining samples."""
    import signal

    from hpcx import workflows
    from hpcx.context import RunContext
    from hpcx.stopping import Interrupted

    from helpers import stop_after, validate_text
    flag = stop_after(MOMENT_POLLS + 3)
    flag.signum = signal.SIGUSR1
    cfg = validate_text(VALLEY_MC_SMALL)
    wf = workflows.load("valley")
    with pytest.raises(Interrupted) as stopped:
        wf.run(wf.params(cfg, 1), RunContext(output=None, workflow="valley", stop_flag=flag))
    assert flag.polls == MOMENT_POLLS + 3
    assert stopped.value.exit_code == 128 + signal.SIGUSR1


def test_a_stopped_monte_carlo_resumes_from_its_checkpoint_with_identical_numbers(tmp_path):
    """A request during the second temperature: the first is kept in the checkpoint (exit 75), the
    rerun takes it from there, computes the second, and every Monte Carlo number equals an
    uninterrupted run's."""
    from hpcx.errors import CheckpointedStop

    from helpers import HpcxLog, run_with_context, stop_after
    full = run_with_context(VALLEY_MC_SMALL, tmp_path / "full.h5").monte_carlo
    samples = len(full.time)
    flag = stop_after(MOMENT_POLLS + samples + 2)   # one poll per sample: sample 1 of the second temperature
    with pytest.raises(CheckpointedStop, match="1 of 2 temperatures kept"):
        run_with_context(VALLEY_MC_SMALL, tmp_path / "run.h5", stop_flag=flag)
    assert (tmp_path / "run.h5.checkpoint" / "valley_monte_carlo.h5").exists()
    with HpcxLog() as log:
        resumed = run_with_context(VALLEY_MC_SMALL, tmp_path / "run.h5").monte_carlo
    assert any("1 of 2 temperatures taken from the checkpoint" in m for m in log.messages)
    np.testing.assert_array_equal(resumed.temperature, full.temperature)
    np.testing.assert_array_equal(resumed.events, full.events)
    np.testing.assert_array_equal(resumed.profile, full.profile)
    for name, values in full.values.items():
        np.testing.assert_array_equal(resumed.values[name], values, err_msg=name)


@pytest.mark.parametrize("polls, stopped, checkpoint, taken", [
    # before the second of two temperatures: the first is kept
    (2, "valley moment stopped on request with 1 of 2", "valley_moments.h5",
     "1 of 2 temperatures taken from the checkpoint"),
    # before the third of six (temperature, wavenumber chunk) items: two are kept
    (MOMENT_POLLS + 3, "valley profiles stopped on request with 2 of 6", "valley_profiles.h5",
     "2 of 6 items taken from the checkpoint"),
], ids=["moments", "profiles"])
def test_stopped_moments_and_profiles_resume_from_their_checkpoint_with_identical_numbers(
        tmp_path, polls, stopped, checkpoint, taken):
    """A stop request in the moment or the profile phase keeps what is finished (exit 75); the rerun
    computes only the rest, and every result equals an uninterrupted run's."""
    from hpcx.errors import CheckpointedStop

    from helpers import HpcxLog, run_with_context, stop_after
    full = run_with_context(VALLEY_SMALL, tmp_path / "full.h5")
    with pytest.raises(CheckpointedStop, match=stopped):
        run_with_context(VALLEY_SMALL, tmp_path / "run.h5", stop_flag=stop_after(polls))
    assert (tmp_path / "run.h5.checkpoint" / checkpoint).exists()
    with HpcxLog() as log:
        resumed = run_with_context(VALLEY_SMALL, tmp_path / "run.h5")
    assert any(taken in m for m in log.messages)
    for name in ("density", "width2", "diffusion", "diffusion_scattering", "stationary_diffusion", "profile",
                 "eta", "pl_profile", "r"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name), err_msg=name)


def test_without_output_a_stop_during_the_profiles_ends_the_run_at_once():
    """Nothing to resume into: exit 128 + signal (not a 'rerun to continue' stop without a checkpoint)."""
    import signal

    from hpcx import workflows
    from hpcx.context import RunContext
    from hpcx.stopping import Interrupted

    from helpers import stop_after, validate_text
    flag = stop_after(MOMENT_POLLS + 2)
    flag.signum = signal.SIGTERM
    wf = workflows.load("valley")
    with pytest.raises(Interrupted) as stopped:
        wf.run(wf.params(validate_text(VALLEY_SMALL), 1), RunContext(output=None, workflow="valley", stop_flag=flag))
    assert stopped.value.exit_code == 128 + signal.SIGTERM
