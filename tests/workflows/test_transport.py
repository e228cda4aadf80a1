"""Monte Carlo transport: analytic limits, relaxation to equilibrium, RTA limit, workflow, restart."""

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import stats

from hpcx.errors import CheckpointedStop, ConfigError, InputError
from hpcx.materials.phonons import phonon_params
from hpcx.parallel import SerialComm
from hpcx.physics import mc_engine as me
from hpcx.physics import mc_table as mt
from hpcx.physics import phonons as ph
from hpcx.physics import scattering as sc
from hpcx.physics import transport as tr
from hpcx.units import HBAR2_2M0_MEV_NM2, HBAR_MEV_PS, KB_MEV_PER_K

from helpers import SCATTERING_SMALL as SCAT
from helpers import TRANSPORT_SMALL as SMALL
from helpers import HpcxLog, params_of, require_kernel, run_config, run_with_context, stop_after

ROOT = Path(__file__).resolve().parents[2]
M = 0.86


@pytest.fixture(autouse=True)
def kernel():
    require_kernel("mc_push")


def kT_over_M(T):
    """k_B T / M in nm^2/ps^2 (M = 0.86 m0)."""
    return KB_MEV_PER_K * T * 2.0 * HBAR2_2M0_MEV_NM2 / (HBAR_MEV_PS ** 2 * M)


def constant_tau(T=30.0, tau=0.5, particles=40000, times=None, sigma=0.0, seed=7):
    kT = KB_MEV_PER_K * T
    table = mt.parabolic_elastic_table(M, tau, 20.0 * kT, 200, 16)
    params = me.McParams(particles, 20, seed, sigma)
    times = np.linspace(0.0, 25.0 * tau, 51) if times is None else times
    rec = me.simulate(table, params, times, mt.initial_cdf(table, "thermal", T=T), SerialComm())
    return table, times, rec


def test_constant_tau_parabola_gives_kT_tau_over_M():
    # (a) isotropic elastic scattering with constant tau on a parabola: velocity memory is lost
    # at every event, D = <|v|^2> tau / 2 = k_B T tau / M (2D equipartition); the polar grid's
    # <E> differs from k_B T by (dE/kT)^2/24 = 2e-4, far below the statistical error
    T, tau = 30.0, 0.5
    table, times, rec = constant_tau(T, tau)
    _, msd = tr.variances(rec.moments)
    D, err, _, _ = tr.stationary_diffusion(times, msd[:, -1], tr.batch_variances(rec.moments), 10.0 * tau)
    exact = 0.01 * kT_over_M(T) * tau
    assert 0 < err < 0.03 * exact
    assert abs(D - exact) < 3.0 * err
    # the whole curve follows the Ornstein-Uhlenbeck form msd = 2 <|v|^2> tau^2 (t/tau - 1 + e^{-t/tau})
    v2 = 2.0 * kT_over_M(T)
    ou = 2.0 * v2 * tau ** 2 * (times / tau - 1.0 + np.exp(-times / tau))
    np.testing.assert_allclose(msd[1:, -1], ou[1:], rtol=0.04)


def test_ballistic_limit_sigma2_grows_as_t_squared():
    # (b) no scattering: r = r0 + v t exactly, so the displacement variance is var(v) t^2 with
    # the sample variance of the initial velocities (from the occupations), and sigma^2 equals it
    # for a point-like spot
    T = 30.0
    table = mt.parabolic_elastic_table(M, 1.0, 20.0 * KB_MEV_PER_K * T, 100, 12)
    frozen = mt.McTable(table.energy, table.velocity, np.zeros(table.n), table.indptr, table.indices,
                        table.cumulative, table.group, table.group_names)
    times = np.linspace(0.0, 5.0, 11)
    rec = me.simulate(frozen, me.McParams(5000, 10, 3, 0.0), times, mt.initial_cdf(table, "thermal", T=T),
                      SerialComm())
    occ = rec.occupation[0].astype(float)
    v = table.velocity
    mean = occ @ v / occ.sum()
    var_v = np.sum(occ @ (v ** 2) / occ.sum() - mean ** 2)
    sigma2, msd = tr.variances(rec.moments)
    np.testing.assert_allclose(msd[:, -1], var_v * times ** 2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sigma2[:, -1], msd[:, -1], rtol=1e-10, atol=1e-12)
    assert rec.events[-1] == 0
    # with scattering (tau = 0.5 ps): t^2 for t << tau (log-log slope 2), t for t >> tau (slope 1)
    _, early, rec = constant_tau(T, 0.5, 20000, np.geomspace(1e-3, 5e-3, 5))
    slope = np.polyfit(np.log(early), np.log(tr.variances(rec.moments)[1][:, -1]), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.03)
    _, late, rec = constant_tau(T, 0.5, 20000, np.geomspace(20.0, 80.0, 5))
    slope = np.polyfit(np.log(late), np.log(tr.variances(rec.moments)[1][:, -1]), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05)


def phonon_parabola(T=150.0, n=16, width=2.5):
    """Interlayer exciton on a parabola (no moiré potential) with MoSe2 (electron) and WSe2 (hole)
    LA/TA/optical phonons: golden-rule table with self-consistent broadening, symmetrised."""
    kT = KB_MEV_PER_K * T
    k, w = ph.k_grid(np.sqrt(7.0 * kT * M / HBAR2_2M0_MEV_NM2), n)
    E = HBAR2_2M0_MEV_NM2 * np.sum(k ** 2, axis=1) / M
    v = 2.0 * HBAR2_2M0_MEV_NM2 / (HBAR_MEV_PS * M) * k
    F = lambda p: np.exp(-(np.asarray(p) * 1.5) ** 2 / 4.0)  # noqa: E731  Gaussian 1s, radius 1.5 nm
    modes = sc.layer_modes(phonon_params("MoSe2"), "e") + sc.layer_modes(phonon_params("WSe2"), "h")
    q = np.linalg.norm(k[None] - k[:, None], axis=-1)
    chans = [ph.Channel(m.g2A(q, F, 0.5, 0.36) * w, np.where(m.omega(q) > 0, m.omega(q), 1.0), m.name)
             for m in modes]
    gam, _, _ = ph.self_consistent_dephasing(E, chans, T, 2.0, width, tol=1e-8)
    W = ph.enforce_detailed_balance(ph.transition_rates(E, chans, T, gam, 2.0, width), E, T)
    total, indptr, idx, cum = mt.csr_from_rates(W)
    return mt.McTable(E, v, total, indptr, idx, cum, np.zeros(len(E), np.int64), ("band",), np.ones(len(E)), k), W


def test_phonon_tables_relax_to_boltzmann():
    # (c) hot excitons (uniform up to 4 kT) relax to exp(-E/kT): chi^2 of the energy histogram
    # against the Boltzmann distribution over the same states fails early and passes late
    T = 150.0
    table, _ = phonon_parabola(T)
    kT = KB_MEV_PER_K * T
    N = 20000
    times = np.array([0.0, 0.5, 20.0, 40.0])
    rec = me.simulate(table, me.McParams(N, 10, 3, 0.0), times, mt.initial_cdf(table, "uniform", e0=4.0 * kT),
                      SerialComm())
    edges = np.linspace(0.0, table.energy.max() + 1e-9, 10)
    expect = N * tr.energy_histogram(table.energy, mt.boltzmann(table.energy, table.weight, T), edges)
    ok = expect > 5.0
    pvalues = []
    for occ in rec.occupation:
        h = N * tr.energy_histogram(table.energy, occ, edges)
        pvalues.append(stats.chisquare(h[ok], expect[ok] * h[ok].sum() / expect[ok].sum()).pvalue)
    assert pvalues[0] < 1e-12 and pvalues[1] < 1e-6
    assert min(pvalues[2:]) > 1e-3
    mean = rec.occupation[-1] @ table.energy / N
    boltz_mean = mt.boltzmann(table.energy, table.weight, T) @ table.energy
    spread = np.sqrt(mt.boltzmann(table.energy, table.weight, T) @ (table.energy - boltz_mean) ** 2 / N)
    assert abs(mean - boltz_mean) < 4.0 * spread


def test_monte_carlo_equals_rta_at_high_temperature(tmp_path):
    # (e) >= 100 K: the moiré tables thermalise quickly and scattering randomises the velocity, so
    # the Monte Carlo D equals the RTA value of the same tables within 3 errors + 10 %; and it
    # equals the exact (Green-Kubo) long-time D of the same tables within 3 errors
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [150.0, 300.0]").replace(
        "particles = 4000", "particles = 16000")
    out = run_config(text, tmp_path / "rta.h5")
    with h5py.File(out) as f:
        D = f["results/sweep/diffusion"][()]
        err = f["results/sweep/diffusion_error"][()]
        rta = f["results/sweep/diffusion_rta"][()]
        exact = f["results/sweep/diffusion_exact"][()]
        np.testing.assert_array_equal(f["results/sweep/temperature"][()], [150.0, 300.0])
    assert np.all(err > 0) and np.all(err < 0.1 * D)
    assert np.all(np.abs(D - rta) <= 3.0 * err + 0.1 * rta), (D, err, rta)
    assert np.all(np.abs(D - exact) <= 3.0 * err), (D, err, exact)


def test_green_kubo_equals_rta_when_scattering_randomises():
    # final states drawn from one distribution q_f whatever the initial state, states in pairs
    # (v, Gamma, q), (-v, Gamma, q): the mean velocity after an event is 0, velocity memory is lost,
    # so the exact D is the RTA expression with
    # the stationary distribution pi_i ~ q_i / Gamma_i, to round-off
    rng = np.random.default_rng(8)
    n = 40
    v = rng.normal(size=(n // 2, 2)) * 30.0
    v = np.concatenate([v, -v])
    q = np.tile(rng.random(n // 2) + 0.1, 2)
    q /= q.sum()
    G = np.tile(rng.uniform(0.5, 3.0, n // 2), 2)
    W = G[:, None] * q[None, :]
    total, indptr, idx, cum = mt.csr_from_rates(W)
    D, pi = tr.green_kubo_diffusion(total, indptr, idx, cum, v)
    expect_pi = (q / G) / np.sum(q / G)
    np.testing.assert_allclose(pi, expect_pi, rtol=1e-10)
    assert D == pytest.approx(0.01 * 0.5 * np.sum(expect_pi * np.sum(v ** 2, axis=1) / G), rel=1e-10)
    # decoupled shells (the constant-tau parabola) have no unique stationary state
    table = mt.parabolic_elastic_table(M, 0.5, 10.0, 5, 4)
    assert np.isnan(tr.green_kubo_diffusion(table.total_rate, table.indptr, table.indices, table.cumulative,
                                            table.velocity)[0])


CONTRACT = {"time": "ps", "variance": "nm^2", "diffusion/transient": "cm^2/s",
            "diffusion/stationary": "cm^2/s", "diffusion/stationary_error": "cm^2/s", "profiles": "1/nm",
            "sweep/temperature": "K", "sweep/theta_deg": "deg", "sweep/diffusion": "cm^2/s",
            "sweep/diffusion_error": "cm^2/s", "sweep/diffusion_rta": "cm^2/s"}


def test_workflow_output_contract(tmp_path):
    out = run_config(SMALL, tmp_path / "t.h5")
    with h5py.File(out) as f:
        r = f["results"]
        for name, unit in CONTRACT.items():
            assert r[name].attrs["units"] == unit, name
        n_t, n_s = 21, 50
        assert r["time"].shape == (n_t,) and r["variance"].shape == (1, n_t, 3)
        assert r["profiles"].shape == (1, n_t, 3, 41) and r["occupation"].shape == (1, n_t, n_s)
        assert r["sweep/theta_deg"][0] == 3.0 and r["sweep/temperature"][0] == 150.0
        # events per particle in the fit window = (events(t_max) - events(t_fit)) / N
        k = int(np.searchsorted(r["time"][()], 10.0))
        assert r["sweep/fit_events"][0] == (r["events"][0, -1] - r["events"][0, k]) / 4000 > 20
        # particle number is conserved without decay; groups add up to the total
        pop = r["population"][0]
        np.testing.assert_allclose(pop[:, :-1].sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(r["occupation"][0].sum(axis=1) == 4000)
        # the profiles integrate to the fraction inside the window; initial spot sigma = 200 nm per axis
        dx = np.diff(r["profile_edges"][()])
        inside = r["profiles"][0, 0, -1] @ dx
        assert 0.99 < inside <= 1.0
        assert r["variance"][0, 0, -1] == pytest.approx(2 * 200.0 ** 2, rel=0.05)
        assert r["msd"][0, 0, -1] == 0.0
        # the moiré potential of the point: form factors at 3 deg, B_eff = B (s F_e + (1 - s) F_h)
        pot = r["potential"]
        assert pot.attrs["potential"] == "form_factor" and pot["B_eff_meV"].shape == (1,)
        s, F_e, F_h = pot.attrs["conduction_fraction"], pot["form_factor_electron"][0], pot["form_factor_hole"][0]
        assert 0 < F_h < F_e < 1
        assert pot["B_eff_meV"][0] == pytest.approx(pot.attrs["B_point_particle_meV"] * (s * F_e + (1 - s) * F_h))
        units = []
        r.visititems(lambda n, o: units.append(n) if isinstance(o, h5py.Dataset) and "units" not in o.attrs
                     else None)
        assert units == []


def test_input_file_equals_in_process(tmp_path):
    # the same tables from a `scattering` run file (table_temperature 150 K) give the same run
    scat = run_config(SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0"), tmp_path / "s.h5")
    a = run_config(SMALL, tmp_path / "a.h5")
    b = run_config(SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{scat}"'),
                   tmp_path / "b.h5")
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for name in ("states/total_rate", "variance", "occupation", "sweep/diffusion", "sweep/diffusion_rta"):
            np.testing.assert_allclose(fb[f"results/{name}"][()], fa[f"results/{name}"][()], rtol=1e-9,
                                       err_msg=name)
        assert fb["results/sweep/theta_deg"][0] == 3.0


def _assert_same(a, b):
    for name, value in a.observables.items():
        np.testing.assert_array_equal(b.observables[name], value, err_msg=name)
    for name in ("occupation", "events", "decays", "diffusion_rta", "diffusion_exact"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)


def test_stop_request_and_rerun_equal_uninterrupted(tmp_path):
    # (f) a stop request in the second sweep point (20 polls per point: samples 0..19 of 21) writes a
    # checkpoint at sample 12 and raises CheckpointedStop; point 0, finished, is checkpointed too
    # (checkpoint_every = 0: only on the stop).  The rerun resumes at sample 13 without recomputing
    # point 0 and equals an uninterrupted run bit for bit
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 150.0]")
    ref = run_with_context(text, tmp_path / "ref.h5")
    assert not (tmp_path / "ref.h5.checkpoint").exists()
    with pytest.raises(CheckpointedStop) as info:
        run_with_context(text, tmp_path / "run.h5", stop_flag=stop_after(20 + 13))
    assert info.value.exit_code == 75
    ck = tmp_path / "run.h5.checkpoint"
    with h5py.File(ck / "point_0000.h5") as f:
        assert f.attrs["done"]
    with h5py.File(ck / "point_0001.h5") as f:
        assert not f.attrs["done"] and f.attrs["next_sample"] == 13
    with HpcxLog() as log:
        out = run_with_context(text, tmp_path / "run.h5")
    assert "point 0: finished in" in log.text and "at sample 13" in log.text   # (hpcx.api.run removes ck)
    _assert_same(ref, out)


def test_stop_between_pieces_of_a_long_interval_resumes_bit_identical(tmp_path, monkeypatch):
    # intervals expected to take more than EVENTS_PER_PIECE events are pushed in pieces with a safe
    # point between them: a stop there checkpoints the partly pushed particles and the event counts
    # so far (next_sample is the interval's end), and the rerun equals the uninterrupted run, which
    # pushed whole intervals
    ref = run_with_context(SMALL, tmp_path / "ref.h5")
    monkeypatch.setattr(me, "EVENTS_PER_PIECE", 2000)
    with HpcxLog() as log, pytest.raises(CheckpointedStop):
        run_with_context(SMALL, tmp_path / "run.h5", stop_flag=stop_after(30))
    with h5py.File(tmp_path / "run.h5.checkpoint" / "point_0000.h5") as f:
        k, events = int(f.attrs["next_sample"]), int(f.attrs["events"])
        t = f["particles/t"][()][f["particles/state"][()] >= 0]
    assert 1 < k < 20 and f"between {k - 1:.4g} and {k:.4g} ps" in log.text
    assert ref.events[0, k - 1] < events < ref.events[0, k]
    assert np.any(t == k) and np.any(t == k - 1)        # t_max 20 ps in 20 samples: times[k] = k ps
    with HpcxLog() as log:
        out = run_with_context(SMALL, tmp_path / "run.h5")
    assert f"at sample {k}" in log.text and "inside the interval before it" in log.text
    _assert_same(ref, out)


def test_crash_resumes_from_periodic_checkpoint(tmp_path):
    # a run killed in the second point (an exception at a sample) after periodic checkpoints
    # (every 5 samples) resumes from sample 10 and equals the uninterrupted run through api.run
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 150.0]").replace(
        "checkpoint_every = 0", "checkpoint_every = 5")
    ref = run_config(text, tmp_path / "ref.h5")

    class Killed(Exception):
        pass

    def crash(comm=None):
        crash.polls += 1
        if crash.polls == 20 + 13:
            raise Killed
        return False
    crash.polls = 0
    with pytest.raises(Killed):
        run_with_context(text, tmp_path / "run.h5", stop_flag=crash)
    with h5py.File(tmp_path / "run.h5.checkpoint" / "point_0001.h5") as f:
        assert not f.attrs["done"] and f.attrs["next_sample"] == 10
    with HpcxLog() as log:
        out = run_config(text, tmp_path / "run.h5")
    assert "at sample 10" in log.text
    names = []
    with h5py.File(ref) as a, h5py.File(out) as b:
        a["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for name in names:
            np.testing.assert_array_equal(b[f"results/{name}"][()], a[f"results/{name}"][()], err_msg=name)


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_bad_checkpoint_is_moved_aside_and_named(tmp_path, damage):
    # a truncated checkpoint (cut in half) or one of other parameters (another seed) is reported by
    # name, moved aside (beside the checkpoint directory) to *.corrupt-<time> / *.foreign-<time>, and the
    # run starts afresh
    text = SMALL.replace("checkpoint_every = 0", "checkpoint_every = 5")
    ref = run_with_context(text, tmp_path / "ref.h5")
    other = text.replace("t_max = 20.0", "t_max = 20.0\nseed = 9") if damage == "foreign" else text
    with pytest.raises(CheckpointedStop):
        run_with_context(other, tmp_path / "run.h5", stop_flag=stop_after(12))
    path = tmp_path / "run.h5.checkpoint" / "point_0000.h5"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    with HpcxLog() as log, pytest.raises(CheckpointedStop):     # stop again: the directory stays
        run_with_context(text, tmp_path / "run.h5", stop_flag=stop_after(3))
    kind = "corrupt" if damage == "truncated" else "foreign"
    aside = list(tmp_path.glob(f"run.h5.checkpoint-point_0000.h5.{kind}-*"))
    assert len(aside) == 1 and str(path) in log.text and aside[0].name in log.text
    assert "starting afresh" in log.text and "resuming" not in log.text
    _assert_same(ref, run_with_context(text, tmp_path / "run.h5"))


TWO_POINTS = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 150.0]")


@pytest.fixture(scope="module")
def two_points_reference(tmp_path_factory):
    """The uninterrupted Result of TWO_POINTS."""
    return run_with_context(TWO_POINTS, tmp_path_factory.mktemp("reference") / "ref.h5")


def _damage(name, path, value=None):
    """Returns f -> None, a change of checkpoint field ``path`` in an open h5py file: deleted (value
    None) or its element ``value[0]`` set to ``value[1]``; ``name`` is the test id."""
    def change(f):
        if value is None:
            del f[path]
        else:
            f[path][value[0]] = value[1]
    return pytest.param(path.split("/")[0] == "result", change, id=name)


@pytest.mark.parametrize("done, change", [
    _damage("particle field missing", "particles/ctr"),
    _damage("state outside the table", "particles/state", (5, 10 ** 9)),
    _damage("next event NaN", "particles/tn", (7, np.nan)),
    _damage("time after the interval", "particles/t", (9, 1e3)),
    _damage("counts decreasing", "record/events", (4, -1)),
    _damage("occupation not adding up", "record/occupation", ((3, 0), 10 ** 6)),
    _damage("finished point without states", "result/states/energy"),
    _damage("finished point with a wrong count", "result/record/decays", (20, 1)),
])
def test_a_damaged_checkpoint_is_moved_aside_and_the_point_starts_afresh(tmp_path, two_points_reference, done,
                                                                         change):
    # a readable checkpoint whose content does not fit the run (a field missing, a state index
    # beyond the table, times or counters that do not add up) is refused before it is used: named,
    # moved aside as corrupt, and its point computed afresh; the other point still resumes, and the
    # result equals an uninterrupted run.  (Before, these crashed every rerun: a KeyError, or a
    # segfault in the push on a state index beyond the table.)  Stop at sample 12 of point 1, point
    # 0 checkpointed as finished
    with pytest.raises(CheckpointedStop):
        run_with_context(TWO_POINTS, tmp_path / "run.h5", stop_flag=stop_after(20 + 13))
    name = "point_0000" if done else "point_0001"
    with h5py.File(tmp_path / "run.h5.checkpoint" / f"{name}.h5", "r+") as f:
        assert bool(f.attrs["done"]) == done
        change(f)
    with HpcxLog() as log:
        out = run_with_context(TWO_POINTS, tmp_path / "run.h5")
    aside = list(tmp_path.glob(f"run.h5.checkpoint-{name}.h5.corrupt-*"))
    assert len(aside) == 1 and aside[0].name in log.text and "its content is damaged" in log.text
    assert "starting afresh" in log.text
    assert ("point 0: finished in" in log.text) != done and ("at sample 13" in log.text) == done
    _assert_same(two_points_reference, out)


@pytest.fixture(scope="module")
def scattering_runs(tmp_path_factory):
    """Two `scattering` run files of tables of the same states and temperature (150 K) but other
    rates (broadening shape beta 2 and 3)."""
    base = tmp_path_factory.mktemp("inputs")
    text = SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0")
    first = run_config(text, base / "beta2.h5")
    other = run_config(text.replace("grid = 5", "grid = 5\nbeta = 3.0"), base / "beta3.h5")
    with h5py.File(first) as a, h5py.File(other) as b:
        assert a["results/rates/energy"].shape == b["results/rates/energy"].shape
        assert not np.array_equal(a["results/rates/total_rate"][()], b["results/rates/total_rate"][()])
    return first, other


def _replace(target, source):
    """Put a copy of run file ``source`` at ``target`` (a new file: new inode and modification time)."""
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)


@pytest.mark.parametrize("replacement", ["another run", "a copy of the same run"])
def test_a_checkpoint_of_another_input_file_is_foreign(tmp_path, scattering_runs, replacement):
    # the parameters hold only the path of transport.input; the checkpoints' fingerprint holds the
    # identity of its content too.  A stopped run whose input is then replaced by another scattering
    # run with tables of the same states (which used to resume the old particles on the new tables:
    # a result of neither run, or a crash for another size) has foreign checkpoints: moved aside,
    # and the rerun equals an uninterrupted run on the new file; a fresh copy of the same file (as
    # when inputs are staged) keeps them, and the rerun resumes
    first, other = scattering_runs
    new = other if replacement == "another run" else first
    text = SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{tmp_path / "in.h5"}"')
    _replace(tmp_path / "in.h5", new)
    ref = run_with_context(text, tmp_path / "ref.h5")
    _replace(tmp_path / "in.h5", first)
    with pytest.raises(CheckpointedStop):
        run_with_context(text, tmp_path / "run.h5", stop_flag=stop_after(12))
    _replace(tmp_path / "in.h5", new)
    with HpcxLog() as log:
        out = run_with_context(text, tmp_path / "run.h5")
    aside = list(tmp_path.glob("run.h5.checkpoint-point_0000.h5.foreign-*"))
    if new is other:
        assert len(aside) == 1 and "other parameters or input files" in log.text and "resuming" not in log.text
    else:
        assert not aside and "at sample 12" in log.text
    _assert_same(ref, out)


@pytest.mark.parametrize("name, index, value, why", [
    ("indices", 7, 10 ** 6, "final-state index out of range"),
    ("indptr", 3, -4, "indptr must rise from 0 to nnz"),
    ("cumulative", 11, 7.5, "cumulative probabilities outside [0, 1]"),
    ("total_rate", 2, np.nan, "total_rate is not finite"),
])
def test_damaged_input_tables_are_an_input_error_naming_the_file_and_key(tmp_path, scattering_runs, name, index,
                                                                          value, why):
    # values damaged inside a scattering run file that still passes the input checks (a disk or
    # copy error): one InputError naming the file and transport.input (exit 2), not an internal
    # error of the table's own check nor a Monte Carlo on nonsense
    bad = tmp_path / "bad.h5"
    shutil.copyfile(scattering_runs[0], bad)
    with h5py.File(bad, "r+") as f:
        f[f"results/rates/{name}"][index] = value
    text = SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{bad}"')
    with pytest.raises(InputError) as info:
        run_config(text, tmp_path / "t.h5")
    message = str(info.value)
    assert message.startswith(f"{bad}: transport.input: the scattering tables cannot be used: ") and why in message
    assert "\n" not in message and not (tmp_path / "t.h5").exists()


def test_radiative_decay_removes_light_cone_particles(tmp_path):
    out = run_config(SMALL.replace("checkpoint_every = 0", "checkpoint_every = 0\nradiative_rate = 0.5\n"
                                   "light_cone = 0.01"), tmp_path / "d.h5")
    with h5py.File(out) as f:
        dec = f["results/decays"][0]
        occ = f["results/occupation"][0]
        pop = f["results/population"][0, :, -1]
        assert dec[0] == 0 and dec[-1] > 0 and np.all(np.diff(dec) >= 0)
        assert np.all(occ.sum(axis=1) == 4000 - dec)
        np.testing.assert_allclose(pop, (4000 - dec) / 4000)


@pytest.mark.parametrize("edit, key", [
    (("temperatures = [150.0]", "temperatures = []"), "transport.temperatures"),
    (("temperatures = [150.0]", "temperatures = [1e-6]"), "transport.temperatures"),
    (("batches = 8", "batches = 2"), "transport.batches"),
    (('initial = "thermal"', 'initial = "state"\ninitial_state = 50'), "transport.initial_state"),
    (("twist_deg = [3.0]", "twist_deg = []"), "transport.twist_deg"),
    (("temperatures = [150.0]", 'input = "nope.h5"'), "transport.twist_deg"),
    (("twist_deg = [3.0]\ntemperatures = [150.0]", 'input = "nope.h5"'), "transport.input"),
    (("particles = 4000", "particles = 4"), "transport.particles"),
    (("shells = 4", "shells = 4\nmodel = 'multivalley'"), "transport.twist_deg"),
    (("grid = 5", "grid = 5\nsystem = 'nope'"), "scattering.system"),
    (("samples = 20", "samples = 20\nsampler = 'walker'"), "transport.sampler"),
])
def test_bad_configs_fail_before_computing(edit, key):
    with pytest.raises(ConfigError) as info:
        params_of(SMALL.replace(*edit), comm_size=3)
    assert key in str(info.value)


def test_low_temperature_message_names_the_limit():
    with pytest.raises(ConfigError, match=r"1e-06 K is below the validity of the scattering tables.*allowed: T >= "):
        params_of(SMALL.replace("temperatures = [150.0]", "temperatures = [1e-6]"))


def test_point_configs_of_a_job_array_equal_the_sweep(tmp_path):
    # `hpcx sweep point CONFIG i` runs point i of a sweep config as its own run (jobscripts/): the
    # same seed and tables, so the numbers equal the sweep's entry i exactly; points in the order of
    # /results/sweep (twist outer, temperature inner, temperatures sorted)
    from hpcx import api
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [300.0, 100.0]")
    (tmp_path / "sweep.toml").write_text(text)
    assert api.sweep_points(tmp_path / "sweep.toml") == 2
    one = api.point_config(tmp_path / "sweep.toml", 1)
    assert "temperatures = [300.0]" in one and "twist_deg = [3.0]" in one
    assert "temperatures = [100.0]" in api.point_config(tmp_path / "sweep.toml", 0)
    sweep = run_config(text, tmp_path / "sweep.h5")
    point = run_config(one, tmp_path / "p1.h5")
    with h5py.File(sweep) as a, h5py.File(point) as b:
        assert b["results/sweep/temperature"][()].tolist() == [300.0]
        for name in ("variance", "msd", "occupation", "profiles", "sweep/diffusion", "sweep/diffusion_exact"):
            np.testing.assert_array_equal(b[f"results/{name}"][0], a[f"results/{name}"][1], err_msg=name)
    with pytest.raises(ConfigError, match="sweep point 2"):
        api.point_config(tmp_path / "sweep.toml", 2)


def test_sweep_overrides_cover_angles_and_temperatures():
    from hpcx.workflows import transport as wf
    p = params_of(SMALL.replace("twist_deg = [3.0]", "twist_deg = [4.0, 3.0]").replace(
        "temperatures = [150.0]", "temperatures = [300.0, 100.0, 300.0]"))
    assert wf.sweep_overrides(p) == [{"transport": {"temperatures": [T], "twist_deg": [th]}}
                                     for th in (4.0, 3.0) for T in (100.0, 300.0)]
    mv = params_of(SMALL.replace("twist_deg = [3.0]\n", "").replace("shells = 4", "shells = 4\nmodel = 'multivalley'"
                                                                       "\nk_points = 4"))
    assert wf.sweep_overrides(mv) == [{"transport": {"temperatures": [150.0]}}]


def test_example_config_is_valid():
    p = params_of((ROOT / "examples" / "transport.toml").read_text(), "examples/transport.toml")
    assert p.points == ((3.0, 10.0),) and p.mc.particles == 100000
    # the seed-000 example: form-factor potential, 15 x 15 grid of 5 bands holding the 60 meV injection
    name = "examples/seed000_transport_3deg.toml"
    q = params_of((ROOT / name).read_text(), name)
    assert q.points == ((3.0, 10.0),) and (q.model.grid, q.model.n_bands) == (15, 5)
    assert q.model.potential.kind == "form_factor" and q.mc.e0 == 60.0


def test_plot_and_read_back(tmp_path):
    from hpcx import api
    from hpcx.plotting import plot_run
    out = run_config(SMALL.replace("temperatures = [150.0]", "temperatures = [150.0, 300.0]"), tmp_path / "p.h5")
    paths = plot_run(out)
    assert len(paths) == 4 and all(Path(p).exists() for p in paths)
    res = api.read(out)
    with h5py.File(out) as f:
        np.testing.assert_array_equal(res.observables["stationary"], f["results/sweep/diffusion"][()])
        assert res.group_names == ("band0", "band1") and res.fit_from_ps == 10.0


def test_bench_transport_runs_on_a_tiny_table():
    # `hpcx bench transport` (docs/performance.md) end to end on a 3 x 3 grid refined to 6 x 6
    import argparse

    from hpcx.bench import transport as bench
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--grid", "3", "--refine", "2", "--particles", "2000", "--numpy-particles", "500",
                              "--t-push", "5", "--numpy-time", "1", "--samples", "4", "--repeat", "1"])
    res = bench.run(args, SerialComm())
    assert res["states"] == 6 * 6 * 3 and res["nnz"] > res["states"]
    assert all(r["cython_events_per_s"] > 0 and r["numpy_events_per_s"] > 0 for r in res["push"])
    assert res["loop"]["events"] > 0 and res["loop"]["t_1"] > 0  # timings are reported, never asserted
    # one rank: the table is a private copy; the bytes reported are those of its arrays and alias tables
    assert res["memory"]["ranks"][0]["allocated"] * 2 ** 20 >= 48 * res["nnz"]


def test_memory_estimate_counts_the_tables_once_per_node(tmp_path, monkeypatch):
    # the tables of a scattering run file are held once per node: two ranks on one node each carry
    # half of them, two ranks on two nodes (SLURM_NTASKS_PER_NODE=1) each the whole; the difference
    # lies between half and 1.5x the bytes the table and its alias tables really take
    from hpcx import workflows
    from hpcx.io.tables import read_scattering_tables, scattering_tables_layout
    from hpcx.parallel import shared_arrays
    scat = run_config(SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0"), tmp_path / "s.h5")
    p = params_of(SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{scat}"'))
    with shared_arrays(SerialComm()) as arena:
        layout, names = scattering_tables_layout(scat)
        arrays = arena.arrays(layout, lambda out: read_scattering_tables(scat, out))
        table = mt.McTable(group_names=names, **arrays).share_alias(arena)
        held = arena.nbytes
        assert held >= 48 * table.nnz
    estimate = workflows.load("transport").estimate_memory
    monkeypatch.delenv("SLURM_NTASKS_PER_NODE", raising=False)
    one_node = estimate(p, 2)
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "1")
    two_nodes = estimate(p, 2)
    assert held / 2 <= two_nodes - one_node <= 1.5 * held, (two_nodes - one_node, held)


def test_memory_estimate_refuses_oversized_configs_quickly():
    import time

    from hpcx import workflows
    start = time.perf_counter()
    big = SMALL.replace("particles = 4000", "particles = 20000000000")
    assert workflows.load("transport").estimate_memory(params_of(big), 1) > 1000 * 2 ** 30
    assert time.perf_counter() - start < 5.0


def test_a_stop_request_after_the_last_sample_checkpoints_every_point(tmp_path):
    # the poll after the last point (poll 41: 20 per point) is a safe point too: every point is
    # checkpointed as finished, and the rerun recomputes nothing and equals the uninterrupted run
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 150.0]")
    ref = run_with_context(text, tmp_path / "ref.h5")
    with pytest.raises(CheckpointedStop):
        run_with_context(text, tmp_path / "run.h5", stop_flag=stop_after(2 * 20 + 1))
    for i in (0, 1):
        with h5py.File(tmp_path / "run.h5.checkpoint" / f"point_{i:04d}.h5") as f:
            assert f.attrs["done"]
    with HpcxLog() as log:
        out = run_with_context(text, tmp_path / "run.h5")
    assert "point 0: finished in" in log.text and "point 1: finished in" in log.text
    _assert_same(ref, out)
