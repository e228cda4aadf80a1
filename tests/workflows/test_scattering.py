"""Scattering tensor: detailed balance, RTA limit, V -> 0 folding invariance, CSR tables, workflow."""

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcx.errors import CheckpointedStop, ConfigError
from hpcx.materials.phonons import phonon_params
from hpcx.physics import phonons as ph
from hpcx.physics import scattering as sc
from hpcx.physics import scattering_states as ss
from hpcx.units import HBAR2_2M0_MEV_NM2, HBAR_MEV_PS, KB_MEV_PER_K

from helpers import (
    GEO,
    MOIRE_SMALL,
    HpcxLog,
    free_states,
    params_of,
    run_config,
    run_with_context,
    stop_after,
)
from helpers import (
    SCATTERING_SMALL as SMALL,
)
from helpers import (
    gaussian_form_factor as F_gauss,
)

M = 0.86


def test_detailed_balance_on_shell_and_symmetrised():
    # two states separated by exactly one Einstein phonon: the raw golden-rule table obeys
    # W(i->f)/W(f->i) = (n+1)/n = exp(Omega/kT) = exp(-(E_f - E_i)/kT) up to the
    # off-shell absorption tail n L(2 Omega) ~ exp(-(2 Omega/sigma)^2) = 0 in double precision
    om, T = 10.0, 50.0
    E = np.array([om, 0.0])
    g2 = np.array([[0.0, 3.0], [3.0, 0.0]])
    terms = sc.Terms(0, 2, 2, dense=[(om, g2)])
    W = sc.rates(E, terms, T, np.zeros(2), 2.0, 0.3)
    assert W[0, 1] / W[1, 0] == pytest.approx(np.exp(om / (KB_MEV_PER_K * T)), rel=1e-13)
    # the symmetrised moiré table obeys it for every pair, on- or off-shell, to round-off
    Q, E2, vec, vel, s, _ = free_states(3, 2)
    rng = np.random.default_rng(1)
    mix = np.linalg.qr(rng.normal(size=(vec.shape[-1],) * 2) + 1j * rng.normal(size=(vec.shape[-1],) * 2))[0]
    vec = vec @ mix                                   # generic overlaps (not an eigenbasis: a table test)
    modes = sc.layer_modes(phonon_params("MoSe2"), "e") + sc.layer_modes(phonon_params("WSe2"), "h")
    n = E2.size
    t = sc.moire_terms(Q, E2, vec, s, GEO.reciprocal_basis, GEO.cell_area_nm2, modes, F_gauss, 0.5, 0.36, 0, n)
    Ef = E2.ravel()
    Wf, Wb = sc.rates(Ef, t, 70.0, np.full(n, 0.5), 2.0, 0.2, reverse=True)
    Wd = sc.detailed_balance(Wf, Wb, Ef, 0, 70.0)
    np.testing.assert_allclose(Wb, Wf.T, rtol=1e-12, atol=0)     # reverse rows = transpose
    ok = (Wd > 1e-250) & (Wd.T > 1e-250)
    assert ok.sum() > 10 * n
    expect = np.exp(-(Ef[None, :] - Ef[:, None]) / (KB_MEV_PER_K * 70.0))
    np.testing.assert_allclose(Wd[ok] / Wd.T[ok], expect[ok], rtol=1e-12)


def test_rta_parabola_constant_tau_is_kT_tau_over_M():
    # 2D equipartition <|v|^2> = 2 kT/M, so D = (1/2) <|v|^2> tau = kT tau / M; the zone-folded
    # free exciton on a Monkhorst-Pack grid samples the Gaussian exp(-E/kT) with spacing
    # |g|/12 = 0.1/nm << thermal k sqrt(M kT)/hbar = 0.24/nm at 30 K (Poisson summation: error
    # ~exp(-2 pi^2 (k_T/dk)^2) ~ 1e-50), and the 7 shells reach E >> 30 kT
    T, tau = 30.0, 0.7
    Q, E, vec, vel, s, _ = free_states(12, 7)
    D, v2, t = sc.rta_curve(E.ravel(), vel.reshape(-1, 2), np.full(E.size, tau), T)
    kT = KB_MEV_PER_K * T
    # kT/M in nm^2/ps^2: kT (2 H / hbar^2) / M with H = hbar^2/(2 m0) in meV nm^2
    kT_over_M = kT * 2.0 * HBAR2_2M0_MEV_NM2 / (HBAR_MEV_PS ** 2 * M)
    assert t == pytest.approx(tau, rel=1e-14)
    assert v2 == pytest.approx(2.0 * kT_over_M, rel=1e-10)
    assert D == pytest.approx(0.01 * kT_over_M * tau, rel=1e-10)


def test_zero_potential_reproduces_parabolic_rates():
    # V = 0: the moiré table (overlaps, umklapp sum, weights 1/(N_Q A_cell)) must equal the
    # phonons.py table of the unfolded plane waves k = Q + g with weight d^2k/(2 pi)^2 =
    # 1/(N_Q A_cell); only summation order differs, so agreement to round-off (1e-10)
    Q, E, vec, vel, s, k = free_states(4, 2)
    n = E.size
    par = phonon_params("MoSe2")
    modes = sc.layer_modes(par, "e")
    me, mh = 0.5, 0.36
    t = sc.moire_terms(Q, E, vec, s, GEO.reciprocal_basis, GEO.cell_area_nm2, modes, F_gauss, me, mh, 0, n,
                       coupling_cut=0.0)
    w = 1.0 / (len(Q) * GEO.cell_area_nm2)
    q = np.linalg.norm(k[None, :, :] - k[:, None, :], axis=-1)
    chans = []
    for mode in modes:
        om = mode.omega(q)
        chans.append(ph.Channel(mode.g2A(q, F_gauss, me, mh) * w, np.where(om > 0, om, 1.0), mode.name))
    Ef = E.ravel()
    for T in (10.0, 150.0):
        gam, _, _ = ph.self_consistent_dephasing(Ef, chans, T, 2.0, 0.2, tol=1e-12)
        W_ref = ph.transition_rates(Ef, chans, T, gam, 2.0, 0.2)
        W = sc.rates(Ef, t, T, gam, 2.0, 0.2)
        np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-12 * W_ref.max())
        gam2, _, _ = sc.self_consistent_gamma(Ef, t, T, 2.0, 0.2, tol=1e-12)
        np.testing.assert_allclose(gam2, gam, rtol=1e-9)
    # and the optical rate of the lowest state approaches the exact parabolic golden rule
    # (point-like coupling F = 1 would be exact; here F(beta q) <= 1 at q ~ sqrt(2 M Omega)/hbar
    # ~ 1/nm lowers it): check the bound and that it is within the form-factor suppression
    opt = chans[2]
    W0 = ph.transition_rates(Ef, [opt], 10.0, np.zeros(n), 2.0, 0.2)[np.argmin(Ef)].sum()
    exact = ph.einstein_rate_parabolic(0.0, M, opt.g2w.max() / w, par.E_opt, 10.0, hwhm=0.2)
    assert W0 <= exact


def test_sampling_table_reproduces_rows():
    rng = np.random.default_rng(3)
    W = rng.exponential(size=(5, 9)) * (rng.random((5, 9)) > 0.3)
    tab = sc.sampling_table(W, 0.0)
    ptr = np.concatenate([[0], np.cumsum(tab["counts"])])
    np.testing.assert_allclose(tab["total_rate"], W.sum(1), rtol=1e-15)
    for i in range(5):
        cum = tab["cumulative"][ptr[i]:ptr[i + 1]]
        assert cum[-1] == 1.0 and np.all(np.diff(cum) > 0)
        rebuilt = np.zeros(9)
        rebuilt[tab["indices"][ptr[i]:ptr[i + 1]]] = np.diff(np.concatenate([[0.0], cum])) * tab["total_rate"][i]
        np.testing.assert_allclose(rebuilt, W[i], rtol=1e-13, atol=1e-15)
    cut = sc.sampling_table(W, 0.1)
    small = np.where(W < 0.1 * W.sum(1)[:, None], W, 0).sum(1) / W.sum(1)
    np.testing.assert_allclose(cut["dropped"], small, rtol=1e-12, atol=1e-15)


def test_workflow_layout_and_physics(tmp_path):
    out = run_config(SMALL, tmp_path / "s.h5")
    with h5py.File(out) as f:
        r = f["results"]
        n = 25 * 2
        assert r["rates/total_rate"].shape == (n,) and r["rates/total_rate"].attrs["units"] == "1/ps"
        ptr, idx, cum = r["rates/indptr"][()], r["rates/indices"][()], r["rates/cumulative"][()]
        assert ptr.shape == (n + 1,) and ptr[-1] == len(idx) == len(cum)
        assert np.all(cum[ptr[1:] - 1] == 1.0)
        assert r["rta/temperature"].attrs["units"] == "K" and r["rta/diffusion"].attrs["units"] == "cm^2/s"
        D = r["rta/diffusion"][()]
        assert D.shape == (2,) and np.all(D > 0)
        assert np.all(r["rates/total_rate"][()] > 0) and np.all(r["rta/tau_eff"][()] > 0)
        # stored (symmetrised) table obeys detailed balance for every pair it keeps; rebuilding an
        # entry of probability p >= threshold = 1e-6 from differences of cumulative values ~1
        # costs eps/p <= 2.2e-10 relative, per entry of the ratio

        E, T = r["rates/energy"][()], r["rates/total_rate"].parent.attrs["temperature_K"]
        W = np.zeros((n, n))
        for i in range(n):
            c = cum[ptr[i]:ptr[i + 1]]
            W[i, idx[ptr[i]:ptr[i + 1]]] = np.diff(np.concatenate([[0.0], c])) * r["rates/total_rate"][i] * \
                (1.0 - r["rates/dropped"][i])
        ok = (W > 0) & (W.T > 0)
        expect = np.exp(-(E[None, :] - E[:, None]) / (KB_MEV_PER_K * T))
        np.testing.assert_allclose(W[ok] / W.T[ok], expect[ok], rtol=1e-9)
        units = []
        r.visititems(lambda name, obj: units.append((name, "units" in obj.attrs))
                     if isinstance(obj, h5py.Dataset) else None)
        assert all(has for _, has in units)


def test_stopped_rta_curve_resumes_with_the_missing_temperatures(tmp_path):
    # a stop request before the third of four RTA temperatures keeps the two finished ones in rta.h5;
    # the rerun computes the other two and its whole result equals an uninterrupted run's
    text = SMALL.replace("temperatures = [30.0, 150.0]", "temperatures = [30.0, 80.0, 150.0, 300.0]")
    counter = stop_after(10 ** 9)
    ref = run_with_context(text, tmp_path / "ref.h5", stop_flag=counter)
    polls_before_third = 2 + sum(it - 1 for it in ref.iterations[:2]) + 1
    with pytest.raises(CheckpointedStop) as info:
        run_with_context(text, tmp_path / "run.h5", stop_flag=stop_after(polls_before_third))
    assert info.value.exit_code == 75 and "2 of 4 temperatures done" in str(info.value)
    with h5py.File(tmp_path / "run.h5.checkpoint" / "rta.h5") as f:
        np.testing.assert_array_equal(f["rta/temperature"][()], [30.0, 80.0])
        assert "iterate" not in f
    with HpcxLog() as log:
        out = run_with_context(text, tmp_path / "run.h5")
    assert "2 of 4 temperatures done" in log.text
    assert log.text.count("D_RTA =") == 2
    _assert_same_result(out, ref)
    assert counter.polls == _rta_polls(ref) + 1 + ref.tables.attrs["iterations"] - 1     # + the table phase's


@pytest.mark.parametrize("where", ["rta", "table"])
def test_a_stop_inside_the_self_consistency_resumes_at_that_iteration(tmp_path, where):
    # a stop request after an iteration of the self-consistent dephasing (the second RTA temperature,
    # or the tables) saves that iterate; the rerun continues it bit for bit and runs the remaining
    # iterations only
    counter = stop_after(10 ** 9)
    ref = run_with_context(SMALL, tmp_path / "ref.h5", stop_flag=counter)
    poll = {"rta": 1 + (ref.iterations[0] - 1) + 1 + 4, "table": _rta_polls(ref) + 1 + 4}[where]
    with pytest.raises(CheckpointedStop, match=f"{where} at .* K after 4 self-consistent iterations"):
        run_with_context(SMALL, tmp_path / "run.h5", stop_flag=stop_after(poll))
    for _ in range(2):      # and a stop at the first safe point of the rerun keeps that iterate
        with h5py.File(tmp_path / "run.h5.checkpoint" / "rta.h5") as f:
            assert f["iterate/phase"][()] == where.encode() and f["iterate/iteration"][()] == 4
            assert f["rta/temperature"].shape == ((1,) if where == "rta" else (2,))
        with pytest.raises(CheckpointedStop):
            run_with_context(SMALL, tmp_path / "run.h5", stop_flag=stop_after(1))
    with HpcxLog() as log:
        out = run_with_context(SMALL, tmp_path / "run.h5")
    _assert_same_result(out, ref)
    assert log.text.count("D_RTA =") == (1 if where == "rta" else 0)


def test_a_damaged_or_foreign_checkpoint_is_moved_aside_and_the_run_starts_afresh(tmp_path):
    # a readable checkpoint whose iterate does not fit (damaged), or one made with another moire
    # bands file in place of `input` (its path unchanged), is set aside; the rerun equals a fresh run
    moire = MOIRE_SMALL.replace("twist_scan = [2.0, 4.0, 6.0]", "")
    bands = run_config(moire, tmp_path / "m.h5")
    text = SMALL.replace("shells = 4", "shells = 6").replace("n_bands = 2", "n_bands = 4").replace(
        "grid = 5", "grid = 6") + f'input = "{bands}"\n'
    checkpoint = tmp_path / "run.h5.checkpoint" / "rta.h5"

    def stop_in_the_second_temperature():
        shutil.rmtree(checkpoint.parent, ignore_errors=True)     # the workflow alone does not remove it
        with pytest.raises(CheckpointedStop, match="rta at 150 K"):
            run_with_context(text, tmp_path / "run.h5", stop_flag=stop_after(60))
        assert checkpoint.exists()

    stop_in_the_second_temperature()
    with h5py.File(checkpoint, "a") as f:
        gamma = f["iterate/gamma"][()]
        del f["iterate/gamma"]
        f["iterate/gamma"] = gamma[:-1]
    with HpcxLog() as log:
        out = run_with_context(text, tmp_path / "run.h5")
    assert "its content is damaged" in log.text and "starting afresh" in log.text
    _assert_same_result(out, run_with_context(text, tmp_path / "ref.h5"))

    stop_in_the_second_temperature()
    run_config(moire.replace("twist_deg = 3.0", "twist_deg = 3.5"), tmp_path / "m.h5", overwrite=True)
    with HpcxLog() as log:
        out = run_with_context(text, tmp_path / "run.h5")
    assert "belongs to other parameters or input files" in log.text
    _assert_same_result(out, run_with_context(text, tmp_path / "ref2.h5"))


def _rta_polls(result):
    """Stop polls of an uninterrupted RTA phase: before each temperature, after the last, and after
    every self-consistent iteration that does not end its loop."""
    return len(result.temperature) + 1 + sum(it - 1 for it in result.iterations)


def _assert_same_result(out, ref):
    for name in ("temperature", "diffusion", "v2_eff", "tau_eff", "iterations", "energy", "velocity"):
        np.testing.assert_array_equal(np.asarray(getattr(out, name)), np.asarray(getattr(ref, name)), err_msg=name)
    for name in ("total_rate", "cumulative", "indices", "gamma"):
        np.testing.assert_array_equal(getattr(out.tables, name), getattr(ref.tables, name), err_msg=name)
    assert out.tables.attrs["iterations"] == ref.tables.attrs["iterations"]


def test_multivalley_model_runs(tmp_path):
    text = SMALL.replace('twist_deg = 3.0', 'model = "multivalley"\nk_points = 6')
    out = run_config(text, tmp_path / "mv.h5")
    with h5py.File(out) as f:
        assert f["results/rates/total_rate"].shape == (3 * 36,)
        assert np.all(f["results/rta/diffusion"][()] > 0)


def test_multivalley_broadening_resolves_the_grid(tmp_path):
    # With a broadening far below the parabolic grid's energy spacing (~10 meV here) energy
    # conservation finds no partner for whole rings of states (out-rates ~1e-11 1/ps, D_RTA ~1e10
    # cm^2/s).  The floor of half the spacing at k_max/2 keeps every state coupled.
    text = SMALL.replace('twist_deg = 3.0', 'model = "multivalley"\nk_points = 14').replace(
        "temperatures = [30.0, 150.0]", "temperatures = [300.0]").replace(
        "table_temperature = 30.0", "table_temperature = 300.0")
    p = params_of(text)
    floor = ss.broadening_floor(p.model, p.width_min)
    assert floor == p.settings.width and floor > 10 * p.width_min
    out = run_config(text, tmp_path / "mv.h5")
    with h5py.File(out) as f:
        rate = f["results/rates/total_rate"][()]
        assert f["results/rates"].attrs["width_floor_meV"] == floor
        assert rate.min() > 1e-3 * np.median(rate)


@pytest.mark.parametrize("old, new, key", [
    ("twist_deg = 3.0", "system = 'nope'", "scattering.system"),
    ("n_bands = 2", "n_bands = 500", "scattering.n_bands"),
    ("twist_deg = 3.0", "model = 'multivalley'\nmaterial = 'XX'", "scattering.material"),
    ("twist_deg = 3.0", "environment = 'nope'", "scattering.environment"),
    ("twist_deg = 3.0", 'input = "missing.h5"', "scattering.input"),
    ("temperatures = [30.0, 150.0]", "temperatures = [1e-6, 30.0]", "scattering.temperatures"),
    ("table_temperature = 30.0", "table_temperature = 0.01", "scattering.table_temperature"),
    ("twist_deg = 3.0", "twist_deg = 3.0\nconduction_fraction = -0.1", "scattering.conduction_fraction"),
    ("twist_deg = 3.0", "twist_deg = 3.0\nconduction_fraction = 1.01", "scattering.conduction_fraction"),
    ("twist_deg = 3.0", "twist_deg = 3.0\npotential = 'point'", "scattering.potential"),
    ("twist_deg = 3.0", "twist_deg = 3.0\nacoustic_scale = 0.0", "scattering.acoustic_scale"),
])
def test_bad_configs_fail_before_computing(old, new, key):
    with pytest.raises(ConfigError) as info:
        params_of(SMALL.replace(old, new))
    assert key in str(info.value)


def test_lowest_temperature_is_where_upward_rates_underflow():
    # the tables need exp(-dE/k_B T) representable over the states' energy span dE: the bound of the
    # span (free-exciton bands + range of M(r), Weyl) holds for the solved bands, and the limit
    # is dE / (700 k_B)
    p = params_of(SMALL)
    states, _ = ss.build_states(p.model, p.twist_deg)
    bound = ss.energy_span_bound(p.model, p.twist_deg)
    assert np.ptp(states.energy) <= bound < 10 * np.ptp(states.energy)
    assert ss.lowest_valid_temperature(bound) == pytest.approx(bound / (700.0 * KB_MEV_PER_K))
    T_min = ss.lowest_valid_temperature(bound)
    params_of(SMALL.replace("temperatures = [30.0, 150.0]", f"temperatures = [{1.001 * T_min}]"))
    with pytest.raises(ConfigError, match=r"allowed: T >= "):
        params_of(SMALL.replace("temperatures = [30.0, 150.0]", f"temperatures = [{0.999 * T_min}]"))


def test_example_config_is_valid():
    text = (Path(__file__).resolve().parents[2] / "examples" / "scattering.toml").read_text()
    p = params_of(text, "examples/scattering.toml")
    assert p.twist_deg == 3.0 and p.temperatures == (10.0, 30.0, 70.0, 150.0, 300.0)


def test_bands_from_moire_run_file_equal_in_process(tmp_path):
    # the same bands read from a `moire` run file (input = ...) give the same tables
    moire_file = run_config(MOIRE_SMALL.replace("twist_scan = [2.0, 4.0, 6.0]", ""), tmp_path / "m.h5")
    own = SMALL.replace("shells = 4", "shells = 6").replace("n_bands = 2", "n_bands = 4").replace(
        "grid = 5", "grid = 6").replace("temperatures = [30.0, 150.0]", "temperatures = [30.0]\ntol = 1e-3")
    a = run_config(own, tmp_path / "a.h5")
    b = run_config(own + f'input = "{moire_file}"\n', tmp_path / "b.h5")
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for name in ("rates/energy", "rates/total_rate", "rates/cumulative", "rta/diffusion"):
            np.testing.assert_allclose(fb[f"results/{name}"][()], fa[f"results/{name}"][()], rtol=1e-12,
                                       err_msg=name)
        np.testing.assert_array_equal(fb["results/rates/indices"][()], fa["results/rates/indices"][()])


def test_plot_and_read_back(tmp_path):
    from hpcx import api
    from hpcx.plotting import plot_run
    out = run_config(SMALL.replace("temperatures = [30.0, 150.0]", "temperatures = [30.0]"), tmp_path / "p.h5")
    paths = plot_run(out)
    assert len(paths) == 2 and all(Path(p).exists() for p in paths)
    res = api.read(out)
    with h5py.File(out) as f:
        np.testing.assert_array_equal(res.tables.cumulative, f["results/rates/cumulative"][()])
        assert res.group_names == ("band0", "band1") and res.tables.attrs["nnz"] == len(res.tables.indices)


def test_terms_do_not_depend_on_the_row_split(monkeypatch):
    # Row blocks smaller than a rank's share, and splits that cut through blocks, must give
    # bit-identical terms (the 1-vs-2-rank table test relies on it).
    import functools

    p = params_of(SMALL)
    st, _ = ss.build_states(p.model, p.twist_deg)
    n = st.n
    monkeypatch.setattr(sc, "moire_terms", functools.partial(sc.moire_terms, chunk_pairs=7 * n))
    whole = st.terms(0, n)
    cuts = [0, 5, n // 2 + 3, n]
    parts = [st.terms(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    for name in ("col", "g2w", "omega"):
        assert np.array_equal(getattr(whole, name), np.concatenate([getattr(p, name) for p in parts])), name


def test_memory_estimate_refuses_oversized_configs_quickly():
    import time

    from hpcx import workflows
    start = time.perf_counter()
    big = SMALL.replace('twist_deg = 3.0', 'model = "multivalley"\nk_points = 80')
    assert workflows.load("scattering").estimate_memory(params_of(big), 1) > 50 * 2 ** 30
    assert time.perf_counter() - start < 5.0


def test_point_particle_potential_reproduces_the_old_bands_and_form_factors_weaken_it():
    # potential = "point_particle": the bands of MoirePotential.from_ab(A, B), bit for bit
    model_pp = params_of(SMALL.replace("[scattering]", '[scattering]\npotential = "point_particle"')).model
    states, bands = ss.build_states(model_pp, 3.0)
    old = ss.solve_moire_bands(model_pp.system, 3.0, model_pp.shells, model_pp.grid, model_pp.n_bands)
    np.testing.assert_array_equal(bands.energy, old.energy)
    np.testing.assert_array_equal(bands.vectors, old.vectors)
    # form factors (< 1 at 3 deg) weaken the potential: a wider ground band, a smaller gap
    model = params_of(SMALL).model
    _, weak = ss.build_states(model, 3.0)
    width = lambda e: np.ptp(e[:, 0])  # noqa: E731
    assert width(weak.energy) > 1.5 * width(old.energy)
    assert weak.energy[:, 1].min() - weak.energy[:, 0].max() < old.energy[:, 1].min() - old.energy[:, 0].max()
    # the exciton of the vertex is the one of the potential: one Wannier solution
    exciton = model.exciton()
    F_e, F_h = model.potential.form_factors(model.geometry(3.0), exciton.form_factor)
    pot = model.potential_at(3.0, exciton)
    s = model.potential.conduction_fraction
    assert pot.b_meV == pytest.approx(23.0 * (s * F_e + (1 - s) * F_h), rel=1e-12)


def test_potential_attrs_in_the_run_file(tmp_path):
    text = SMALL.replace("[scattering]", "[scattering]\nconduction_fraction = 0.25\nacoustic_scale = 0.9")
    out = run_config(text, tmp_path / "s.h5")
    with h5py.File(out) as f:
        a = f["results"].attrs
        assert a["potential"] == "form_factor" and a["conduction_fraction"] == 0.25 and a["acoustic_scale"] == 0.9
        assert 0 < a["form_factor_hole"] < a["form_factor_electron"] < 1
        assert a["B_eff_meV"] == pytest.approx(23.0 * (0.25 * a["form_factor_electron"]
                                                       + 0.75 * a["form_factor_hole"]), rel=1e-12)


def test_acoustic_scale_scales_only_the_acoustic_couplings():
    base, scaled = (params_of(SMALL.replace("[scattering]", f"[scattering]\nacoustic_scale = {x}")).model
                    for x in (1.0, 0.5))
    for a, b in zip(base.phonons, scaled.phonons):
        assert (b.D1_LA_e, b.D1_LA_h) == (0.5 * a.D1_LA_e, 0.5 * a.D1_LA_h)
        assert (b.D0_opt_e, b.E_opt, b.v_LA) == (a.D0_opt_e, a.E_opt, a.v_LA)


def test_calibration_applies_to_the_moire_path_only():
    # phonons.toml [calibration."MoSe2-WSe2/hBN"]: one CALIBRATED acoustic scale with its target; the
    # material tables (read by kinetics and valley) keep the tabulated couplings
    import tomllib
    from importlib import resources

    from hpcx.materials.phonons import calibration
    cal = calibration("MoSe2-WSe2/hBN")
    raw = tomllib.loads(resources.files("hpcx.materials").joinpath("phonons.toml").read_text())
    entry = raw["calibration"]["MoSe2-WSe2/hBN"]["acoustic_scale"]
    assert entry["confidence"] == "CALIBRATED" and "2.7" in cal.target and "3 deg, 10 K" in cal.target
    assert 0.8 < cal.acoustic_scale < 1.2
    model = params_of(SMALL).model
    assert model.acoustic_scale == cal.acoustic_scale
    for p in model.phonons:
        tab = phonon_params(p.name)
        assert p.D1_LA_e == pytest.approx(cal.acoustic_scale * tab.D1_LA_e, rel=1e-15)
        assert p.D0_opt_e == tab.D0_opt_e
    assert calibration("no such system").acoustic_scale == 1.0
