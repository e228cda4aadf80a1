"""Reproduce docs/results/transport.md: seed 000 (moiré exciton transport in MoSe2-WSe2/hBN) reproduced.

    python docs/results/transport/reproduce.py [--smoke] [--workdir DIR]   (make figures TOPIC=transport)

Every run is a ``transport`` run with in-process tables and the default physics: the
form-factor moiré potential (seed 000 SI Eq. 8, split s = 0.5 ASSUMED), the phonon table of
hpcx/materials/phonons.toml with its one CALIBRATED acoustic scale, 6 plane-wave shells,
Gaussian broadening with HWHM floor 0.2 meV, self-consistent dephasing, detailed balance; hot
excitons uniform up to 60 meV above the lowest state, Gaussian spot of 1 um per axis, 32
batches, seed 1, stationary D from the displacement variance over the second half of the run:

1. ``main``: 3 deg at 10 K and 70 K, 15 x 15 grid, 5 bands, 4e4 particles for 400 ps (the
   acceptance numbers; Figs. 2, 3b,c analogues);
2. ``dt3`` .. ``dt6``: D(T) at 10-300 K, 2e4 particles for 400 ps; 3 deg 15 x 15 x 5,
   4 deg 21 x 21 x 4, 5 and 6 deg 21 x 21 x 3 (Fig. 4 analogue);
3. ``window``: 10 K at 2-4 deg, 15 x 15 x 5, 2e4 particles for 400 ps (Fig. S2 analogue), with
   the band indicators of a ``moire`` twist scan (``bands_scan``, 2-6 deg);
4. sensitivity at 3 deg, 10 K and 70 K, as ``main`` with 2e4 particles: split s = 0 and 1,
   Wu et al.'s gap modulation (A = 4.30, B = 23.20 meV), broadening floor 0.1 and 0.4 meV, all
   particles injected into the one state nearest 60 meV, the bands of 3.25 deg;
5. the phonon resonances that connect the bands at 3 deg, 10 and 70 K, and the trapped fraction
   of any injection by a first-step analysis (library calls, :mod:`hpcx.physics.relaxation`, on
   the ``main`` grid).

About 40 min on 2 cores (load 5); finished runs are reused from build/results/transport/.  The
smoke
version (--smoke) runs 4 x 4 grids of 3 bands with 1000 particles for a few ps.
"""

import numpy as np

from hpcx.materials.phonons import phonon_params
from hpcx.parallel import allgather_concat, block_range
from hpcx.physics import relaxation as rx
from hpcx.physics import scattering_states as ss
from hpcx.physics import scattering_tables as st
from hpcx.physics import transport as tr
from hpcx.physics.mc_table import boltzmann
from hpcx.plotting import colorbar, decoration, pyplot, title
from hpcx.reproduce import Page, markdown_table

SYSTEM = "MoSe2–WSe2/hBN"
TEMPS = (10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0)
DT_GRIDS = {3.0: (15, 5), 4.0: (21, 4), 5.0: (21, 3), 6.0: (21, 3)}
WINDOW = (2.0, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0)
SENSITIVITY = {"s0": ({"conduction_fraction": 0.0}, {}, "split s = 0 (only the valence band moves)"),
               "s1": ({"conduction_fraction": 1.0}, {}, "split s = 1 (only the conduction band moves)"),
               "wu": ({"A": 4.30, "B": 23.20}, {}, "Wu et al. 2018 gap modulation A = 4.30, B = 23.20 meV"),
               "floor01": ({"width_min": 0.1}, {}, "broadening floor 0.1 meV"),
               "floor04": ({"width_min": 0.4}, {}, "broadening floor 0.4 meV"),
               "inject": ({}, {"initial": "state"}, "all excitons injected into the state nearest 60 meV"),
               "theta325": ({}, {"twist_deg": [3.25]}, "the bands of 3.25° (B_eff = 12.5 meV, 8 % weaker potential)")}
SEED = {"D10": "5.6 (Fig. 3a), ≈ 6 (Fig. 2)", "DB10": "2.7", "D70": "1.4", "ratio10": "≈ 2 (5.6/2.7)",
        "ratio70": "≈ 1"}
DIFFUSIVE = 20            # scattering events per particle in the fit window of a stationary D
SHOW_TIMES = (2.0, 10.0, 50.0, 100.0, 200.0, 400.0)
FIT_WINDOWS = ((20.0, 100.0), (50.0, 200.0))      # other extraction windows of the same Monte Carlo record (ps)


def sizes(page):
    """Grids, ensembles and lists of the full page or of the smoke run."""
    return page.pick(
        dict(grid=15, bands=5, particles=40000, sens_particles=20000, t_max=400.0, samples=200, shells=6,
             temps=TEMPS, dt_grids=DT_GRIDS, window=WINDOW, sensitivity=tuple(SENSITIVITY), batches=32),
        dict(grid=4, bands=3, particles=1000, sens_particles=1000, t_max=4.0, samples=8, shells=3,
             temps=(70.0, 300.0), dt_grids={3.0: (4, 3)}, window=(3.0, 4.0), sensitivity=("s0", "inject"),
             batches=4))


def config(z, angles, temps, grid, bands, particles, scattering=None, transport=None):
    """A transport config of the page."""
    return {"run": {"workflow": "transport"},
            "transport": {"twist_deg": list(angles), "temperatures": list(temps), "particles": particles,
                          "batches": z["batches"], "seed": 1, "t_max": z["t_max"], "samples": z["samples"],
                          "fit_from": 0.5, "initial": "uniform", "e0": 60.0, "spot_sigma": 1000.0,
                          "checkpoint_every": 0, **(transport or {})},
            "scattering": {"shells": z["shells"], "n_bands": bands, "grid": grid, "beta": 2.0, "width_min": 0.2,
                           **(scattering or {})}}


def injection_state(z, theta=3.0, e0=60.0):
    """Index of the state nearest ``e0`` meV above the lowest state (the tables' order iQ * n_bands + band)."""
    model = ss.moire_model("MoSe2-WSe2/hBN", "hBN", z["shells"], z["bands"], z["grid"], 1e-3)
    bands = ss.solve_moire_bands(model.system, theta, model.shells, model.grid, model.n_bands,
                                 model.potential_at(theta))
    E = bands.energy.reshape(-1)
    return int(np.argmin(np.abs(E - E.min() - e0)))


def runs(page, z):
    """{name: Result} of every run of the page."""
    out = {}
    page.run("main", config(z, [3.0], [10.0, 70.0], z["grid"], z["bands"], z["particles"]))
    for th, (grid, bands) in z["dt_grids"].items():
        page.run(f"dt{th:g}", config(z, [th], z["temps"], grid, bands, z["sens_particles"]))
    page.run("window", config(z, z["window"], [10.0], z["grid"], z["bands"], z["sens_particles"]))
    for name in z["sensitivity"]:
        scat, trans, _ = SENSITIVITY[name]
        if trans.get("initial") == "state":
            trans = {**trans, "initial_state": injection_state(z)}
        trans = dict(trans)
        angles = trans.pop("twist_deg", [3.0])
        page.run(f"sens_{name}", config(z, angles, [10.0, 70.0], z["grid"], z["bands"], z["sens_particles"],
                                        scat, trans))
    page.run("bands_scan", {"run": {"workflow": "moire"},
                            "moire": {"twist_deg": 3.0, "shells": 8, "n_bands": 4, "grid": 12, "scan_grid": 30,
                                      "twist_scan": list(np.round(np.arange(2.0, 6.01, 0.25), 2)),
                                      "write_vectors": False}})
    for name in ["main", "window", "bands_scan"] + [f"dt{th:g}" for th in z["dt_grids"]] + \
            [f"sens_{n}" for n in z["sensitivity"]]:
        out[name] = page.read(name)
    return out


# ----------------------------------------------------------------------------------- numbers

def _late(res, p):
    """(D_MC, error, D_exact, D_RTA, fit events) of point p."""
    ob = res.observables
    return (ob["stationary"][p], ob["stationary_error"][p], res.diffusion_exact[p], res.diffusion_rta[p],
            ob["fit_events"][p])


def _d(res, p):
    D, err, *_, ev = _late(res, p)
    return f"{D:#.3g} ± {err:.2g}" + ("†" if ev < DIFFUSIVE else "")


def _point(res, T, theta=None):
    for p, (th, t) in enumerate(zip(res.theta_deg, res.temperature)):
        if t == T and (theta is None or th == theta):
            return p
    raise KeyError((theta, T))


def acceptance_rows(r):
    main, dt3 = r["main"], r["dt3"]
    p10, p70 = _point(main, 10.0), _point(main, 70.0)
    D10, e10, X10, B10, _ = _late(main, p10)
    D70, e70, X70, B70, _ = _late(main, p70)
    rows = [["D_Boltzmann(3°, 10 K), RTA (SI Eq. 23)", f"{B10:#.3g}", SEED["DB10"], "CALIBRATED target"],
            ["D(3°, 10 K), Monte Carlo", f"{D10:#.3g} ± {e10:.1g}", SEED["D10"], _pct(D10, 5.6)],
            ["D(3°, 70 K), Monte Carlo", f"{D70:#.3g} ± {e70:.1g}", SEED["D70"], _pct(D70, 1.4)],
            ["MC / Boltzmann RTA, 3°, 10 K", f"{D10 / B10:#.3g} (MC / exact {D10 / X10:#.3g})", SEED["ratio10"],
             ""],
            ["MC / Boltzmann RTA, 3°, 70 K", f"{D70 / B70:#.3g} (MC / exact {D70 / X70:#.3g})", SEED["ratio70"],
             ""]]
    for t0, t1 in FIT_WINDOWS:
        w10, w70 = window_fit(main, p10, t0, t1), window_fit(main, p70, t0, t1)
        rows.append([f"D(3°) Monte Carlo fitted over {t0:g}–{t1:g} ps: 10 K; 70 K", f"{w10:#.3g}; {w70:#.3g}",
                     "5.6; 1.4", f"{_pct(w10, 5.6)}; {_pct(w70, 1.4)}"])
    ratios = [dt3.observables["stationary"][p] / dt3.diffusion_rta[p] for p, T in enumerate(dt3.temperature)
              if T > 60.0]
    if ratios:
        rows.append(["MC / Boltzmann RTA, 3°, T > 60 K (D(T) run)", f"{min(ratios):.2f} … {max(ratios):.2f}",
                     "≈ 1", ""])
    return markdown_table(["quantity", "hpcx (cm²/s)", "seed 000", "hpcx vs seed"], rows)


def window_fit(res, p, t0, t1):
    """D (cm^2/s) = slope/4 of the displacement variance of point p fitted over [t0, t1] ps."""
    t = res.time
    m = (t >= t0) & (t <= t1)
    if m.sum() < 2:
        return float("nan")
    slope, _ = tr.linear_fit(t[m], res.observables["msd"][p, m, -1])
    return 0.25 * float(slope) * 0.01


def _signed(x):
    return f"{x:+.1f}".replace("-", "−")


def _pct(value, ref):
    return f"{100 * (value / ref - 1):+.0f} %".replace("-", "−")


def bottleneck_table(res):
    """Band populations vs time at each temperature, Monte Carlo and Boltzmann."""
    names, t = res.group_names, res.time
    rows = []
    for p, T in enumerate(res.temperature):
        s = {k: v[p] for k, v in res.states.items()}
        boltz = tr.group_populations(boltzmann(s["energy"], s["weight"], T), s["group"], len(names))
        for tt in SHOW_TIMES:
            k = min(int(np.searchsorted(t, tt)), len(t) - 1)
            pop = res.observables["population"][p, k, :-1]
            rows.append([f"{T:g} K", f"{t[k]:g} ps"] + [f"{100 * x:.1f}" for x in pop])
        rows.append([f"{T:g} K", "Boltzmann"] + [f"{100 * x:.1f}" for x in boltz])
    return markdown_table(["T", "t"] + [f"band {b} (%)" for b in range(len(names))], rows)


def decomposition_table(res):
    """Seed Eq. 1 split by band: the Monte Carlo occupation at t_max against the Boltzmann one."""
    rows = []
    for p, T in enumerate(res.temperature):
        s = {k: v[p] for k, v in res.states.items()}
        n_b = len(res.group_names)
        for label, N in (("Monte Carlo, t_max", res.occupation[p, -1]),
                         ("Boltzmann", boltzmann(s["energy"], s["weight"], T))):
            dec = tr.band_decomposition(s["velocity"], s["total_rate"], s["group"], N, n_b)
            for b in range(n_b):
                if dec.population[b] < 1e-3:
                    continue
                rows.append([f"{T:g} K", label, f"{b}", f"{100 * dec.population[b]:.1f}", f"{dec.v2[b]:.0f}",
                             f"{dec.tau[b]:.3g}", f"{dec.v2tau[b]:.3g}", f"{dec.diffusion[b]:.3g}"])
            v2, tau, Docc = tr.occupation_averages(s["velocity"], s["total_rate"], N)
            rows.append([f"{T:g} K", label, "all", "100", f"{v2:.0f}", f"{tau:.3g}", "", f"{Docc:.3g}"])
    return markdown_table(["T", "distribution", "band", "population (%)", "⟨v²⟩ (nm²/ps²)", "⟨τ⟩ (ps)",
                           "½⟨v²τ⟩ (cm²/s)", "½ΣNv²τ (cm²/s)"], rows)


def resonances(page, z, temps=(10.0, 70.0)):
    """Library calls at 3 deg on the ``main`` grid (rows over the page's ranks): (ResonanceTable of the
    band-1 states at the first temperature, {T: {mode: Boltzmann-averaged out-rate 1/ps}}, trap analysis
    at the first temperature (:func:`trap_analysis`))."""
    model = ss.moire_model("MoSe2-WSe2/hBN", "hBN", z["shells"], z["bands"], z["grid"], 1e-3)
    settings = st.TableSettings(2.0, 0.2, 1e-5, 300, 0.5, True, 1e-6)
    exciton = model.exciton()
    states, bands = ss.build_states(model, 3.0, exciton=exciton)
    start, stop = block_range(states.n, page.comm.size, page.comm.rank)
    terms = states.terms(start, stop)
    table, averaged, trap = None, {}, None
    for T in temps:
        tab = st.local_table(states.energy, terms, T, settings, page.comm)
        rates = rx.mode_rates(bands, exciton, model.modes(), T, tab.gamma, settings.beta, settings.width,
                              model.coupling_cut, start, stop)
        rates = {name: allgather_concat(W, page.comm) for name, W in rates.items()}
        N = boltzmann(states.energy, states.weight, T)
        averaged[T] = {name: float(N @ W.sum(axis=1)) for name, W in rates.items()}
        if table is None:
            table = rx.resonance_table(states.energy, states.group, rates, 1, 2.0)
            trap = trap_analysis(states, allgather_concat(tab.W, page.comm), z)
    return table, averaged, trap


TRAP_EXIT = 1e-3          # 1/ps: band-1 states with a smaller rate into band 0 form the trap (t_max = 400 ps)


def trap_analysis(states, W, z, e0=60.0, bin_width=5.0):
    """Probability h_i that an exciton injected into state i ends in the band-1 trap (band-1 states whose
    rate into band 0 is below TRAP_EXIT) before it reaches band 0, from the full table W [n, n] at
    10 K; and the trapped fraction of several readings of the seed's injection."""
    E = states.energy - states.energy.min()
    g = states.group
    into0 = W[:, g == 0].sum(axis=1)
    trap = (g == 1) & (into0 < TRAP_EXIT)
    h = rx.hitting_probability(W, trap, g == 0)
    inside = E <= e0
    bins = np.minimum((E // bin_width).astype(int), int(e0 // bin_width) - 1)
    per_bin = np.array([h[inside & (bins == b)].mean() if (inside & (bins == b)).any() else np.nan
                        for b in range(int(e0 // bin_width))])
    readings = {"uniform over the states with E − E_min ≤ 60 meV (the runs)": float(h[inside].mean()),
                "uniform in energy, 0–60 meV (each 5 meV bin equal)": float(np.nanmean(per_bin)),
                "all in the state nearest 60 meV": float(h[int(np.argmin(np.abs(E - e0)))]),
                "uniform over the states with 55 meV < E − E_min ≤ 65 meV":
                    float(h[(E > 55) & (E <= 65)].mean()) if ((E > 55) & (E <= 65)).any() else float("nan")}
    return {"trap_states": int(trap.sum()), "trap_range": (float(E[trap].min() - E[g == 1].min()),
                                                           float(E[trap].max() - E[g == 1].min())),
            "per_bin": per_bin, "bin_width": bin_width, "readings": readings}


def trap_rows(trap, r):
    main, inject = r["main"], r.get("sens_inject")
    # the page's runs read back: the trapped fraction the Monte Carlo finds (band 0 holds the rest)
    mc = {"uniform over the states with E − E_min ≤ 60 meV (the runs)": 1 - main.observables["population"][0, -1, 0]}
    if inject is not None:
        mc["all in the state nearest 60 meV"] = 1 - inject.observables["population"][0, -1, 0]
    rows = [[reading, f"{100 * f:.1f}", f"{100 * mc[reading]:.1f}" if reading in mc else "–"]
            for reading, f in trap["readings"].items()]
    w = trap["bin_width"]
    rows += [[f"injected at {w * b:g}–{w * (b + 1):g} meV", f"{100 * f:.1f}" if np.isfinite(f) else "no states (gap)",
              "–"] for b, f in enumerate(trap["per_bin"])]
    return markdown_table(["3°, 10 K injection", "ends in the band-1 trap (%), first-step analysis",
                           "above band 0 at 400 ps (%), Monte Carlo"], rows)


def mode_rate_rows(averaged):
    names = [m for m in next(iter(averaged.values())) if not m.endswith(":TA")]
    rows = []
    for T, rates in averaged.items():
        total = sum(rates.values())
        rows.append([f"{T:g} K"] + [f"{rates[m]:.3g} ({100 * rates[m] / total:.0f} %)" for m in names]
                    + [f"{total:.3g}"])
    return markdown_table(["3°, Boltzmann average ⟨Σ_f W_if⟩"] + names + ["all modes (1/ps)"], rows)


def resonance_rows(table):
    names = [m for m in table.rate if not m.endswith(":TA")]
    rows = []
    for b in range(len(table.count)):
        if not table.count[b]:
            continue
        cells = [f"{table.edges[b]:g}–{table.edges[b + 1]:g}", f"{table.count[b]}"]
        cells += [_rate(table.rate[m][b, 0]) for m in names]
        cells.append(_rate(sum(table.rate[m][b, 1] for m in table.rate)))
        rows.append(cells)
    return markdown_table(["band-1 state above the band-1 minimum (meV)", "states"]
                          + [f"→ band 0: {m}" for m in names] + ["within band 1, all modes (1/ps)"], rows)


def _rate(x):
    return "–" if not np.isfinite(x) else ("0" if x < 1e-300 else f"{x:.1e}")


def dt_table(r, z):
    rows = []
    for T in z["temps"]:
        cells = [f"{T:g}"]
        for th in z["dt_grids"]:
            res = r[f"dt{th:g}"]
            p = _point(res, T)
            cells.append(f"{_d(res, p)} ({res.diffusion_exact[p]:#.3g}, {res.diffusion_rta[p]:#.3g})")
        rows.append(cells)
    return markdown_table(["T (K)"] + [f"{th:g}° ({g} × {g} × {b})" for th, (g, b) in z["dt_grids"].items()], rows)


def dt_effective_table(r, z):
    """v2_eff and tau_eff (seed Fig. 4b,c) of the Monte Carlo occupation at t_max, Boltzmann in brackets."""
    rows = []
    for T in z["temps"]:
        cells = [f"{T:g}"]
        for th in z["dt_grids"]:
            res = r[f"dt{th:g}"]
            p = _point(res, T)
            ob = res.observables
            s = {k: v[p] for k, v in res.states.items()}
            _, tau_b, _ = tr.occupation_averages(s["velocity"], s["total_rate"],
                                                 boltzmann(s["energy"], s["weight"], T))
            cells.append(f"{ob['v2_eff'][p, -1]:.0f} ({ob['v2_eff_boltzmann'][p]:.0f}); "
                         f"{ob['tau_eff'][p, -1]:.3g} ({tau_b:.3g})")
        rows.append(cells)
    return markdown_table(["T (K)"] + [f"{th:g}°: v²_eff (nm²/ps²); τ_eff (ps)" for th in z["dt_grids"]], rows)


def window_rows(r, z):
    res, scan = r["window"], r["bands_scan"].scan
    e_opt = {name: phonon_params(name).E_opt for name in ("MoSe2", "WSe2")}
    rows = []
    for p, th in enumerate(res.theta_deg):
        D, err, X, B, ev = _late(res, p)
        k = int(np.argmin(np.abs(scan.theta_deg - th)))
        w0, gap = scan.bandwidth[k], scan.gap[k]
        land = {n: gap + w0 - e for n, e in e_opt.items()}
        s = {key: v[p] for key, v in res.states.items()}
        boltz = tr.group_populations(boltzmann(s["energy"], s["weight"], 10.0), s["group"], len(res.group_names))
        excited = 100 * (1 - res.observables["population"][p, -1, 0])
        rows.append([f"{th:g}°", f"{scan.B_eff[k]:.1f}", f"{w0:.1f}", _signed(gap), _signed(land["WSe2"]),
                     _signed(land["MoSe2"]), f"{excited:.1f} ({100 * (1 - boltz[0]):.1g})",
                     f"{D:#.3g} ± {err:.1g}" + ("†" if ev < DIFFUSIVE else ""), f"{X:#.3g}", f"{B:#.3g}",
                     f"{D / B:.2f}", f"{D / X:.2f}"])
    return markdown_table(["θ", "B_eff (meV)", "W0", "gap 0→1", "band-1 min − E_opt(WSe2) − band-0 min",
                           "same, E_opt(MoSe2)", "excitons above band 0 at t_max (Boltzmann) (%)",
                           "D_MC (cm²/s)", "D_exact", "D_RTA", "MC/RTA", "MC/exact"], rows)


def sensitivity_rows(r, z):
    rows = []
    for name in ["main"] + [f"sens_{n}" for n in z["sensitivity"]]:
        res = r[name]
        label = "as the acceptance run (s = 0.5, seed 003 A = 0, B = 23, floor 0.2, uniform ≤ 60 meV)" \
            if name == "main" else SENSITIVITY[name[5:]][2]
        p10, p70 = _point(res, 10.0), _point(res, 70.0)
        D10, e10, X10, B10, _ = _late(res, p10)
        D70, e70, X70, B70, _ = _late(res, p70)
        pot = res.potential.get("B_eff_meV", [np.nan])
        rows.append([label, f"{pot[0]:.1f}", f"{B10:#.3g}", f"{X10:#.3g}", f"{D10:#.3g} ± {e10:.1g}",
                     f"{D10 / B10:.2f}", f"{D70:#.3g} ± {e70:.1g}", f"{X70:#.3g}", f"{B70:#.3g}"])
    return markdown_table(["3°, change", "B_eff (meV)", "D_RTA 10 K", "D_exact 10 K", "D_MC 10 K", "MC/RTA 10 K",
                           "D_MC 70 K", "D_exact 70 K", "D_RTA 70 K (cm²/s)"], rows)


# ----------------------------------------------------------------------------------- figures

def figure_3deg(page, res):
    plt = pyplot()
    ob, t, x = res.observables, res.time, res.profile_edges
    x = 0.5 * (x[1:] + x[:-1])
    fig, axes = plt.subplots(1, len(res.temperature), figsize=(4.8 * len(res.temperature), 3.9), squeeze=False)
    for p, ax in enumerate(axes[0]):
        for k in np.unique(np.minimum(np.searchsorted(t, [0.0, 20.0, 100.0, 200.0, t[-1]]), len(t) - 1)):
            y = ob["profiles"][p, k, -1]
            ax.plot(1e-3 * x, y / y.max(), lw=1.2, label=f"t = {t[k]:.0f} ps")
        ax.set(xlabel="x (µm)", ylabel="N(x, t) / max_x N", xlim=(-4, 4))
        ax.set_title(title(SYSTEM, 3.0, res.temperature[p], f"D = {_d(res, p)} cm²/s"), fontsize=8)
        ax.legend(fontsize=6, loc="upper left")
        ins = ax.inset_axes([0.64, 0.55, 0.33, 0.4])
        ins.plot(t, 1e-6 * (ob["variance"][p, :, -1] - ob["variance"][p, 0, -1]), ".", ms=1.5, label="Monte Carlo")
        late = t >= res.fit_from_ps
        ins.plot(t[late], 1e-6 * (ob["fit_intercept"][p] + 400.0 * ob["stationary"][p] * t[late]), "-", lw=1,
                 label=f"fit 4Dt, t ≥ {res.fit_from_ps:g} ps")
        ins.set_xlabel("t (ps)", fontsize=6)
        ins.set_ylabel("σ² − σ₀² (µm²)", fontsize=6)
        ins.tick_params(labelsize=6)
        ins.legend(fontsize=5)
    page.figure(fig, "transport_3deg", dpi=110)


def figure_occupation(page, res, scan_bands=None):
    """Occupation of every state against |Q| and E at t_max and Boltzmann; band populations vs t."""
    plt = pyplot()
    t, occ, s = res.time, res.occupation, res.states
    n_p = len(res.temperature)
    fig, axes = plt.subplots(n_p, 3, figsize=(13, 3.4 * n_p), squeeze=False)
    for p in range(n_p):
        T, q = res.temperature[p], np.linalg.norm(s["k"][p], axis=1)
        boltz = boltzmann(s["energy"][p], s["weight"][p], T)
        floor = 0.3 / occ[p, -1].sum()
        e = s["energy"][p] - s["energy"][p].min()
        for col, (label, N) in enumerate(((f"MC, t = {t[-1]:.0f} ps", occ[p, -1] / occ[p, -1].sum()),
                                          ("Boltzmann", boltz))):
            ax = axes[p, col]
            sc = ax.scatter(q, e, c=np.log10(np.maximum(N, floor)), s=10, cmap="viridis", vmin=np.log10(floor),
                            vmax=0)
            decoration(ax.axhline(60.0, color="C1", ls="--", lw=0.8))
            ax.set(xlabel="|Q| (1/nm)", ylabel="E − E_min (meV)")
            ax.set_title(title(SYSTEM, 3.0, T, label), fontsize=8)
            colorbar(fig, sc, ax, "log10 fraction of excitons in the state")
        ax = axes[p, 2]
        bp = tr.group_populations(boltz, s["group"][p], len(res.group_names))
        for b in range(len(res.group_names)):
            ax.plot(t, res.observables["population"][p, :, b], color=f"C{b}", label=f"band {b}")
            ax.axhline(bp[b], color=f"C{b}", ls=":", lw=1, label=f"band {b}, Boltzmann")
        ax.set_xscale("symlog", linthresh=t[1])
        ax.set(xlim=(0, t[-1]), xlabel="t (ps)", ylabel="band population (fraction)")
        ax.set_title(title(SYSTEM, 3.0, T), fontsize=8)
        ax.legend(fontsize=6, ncol=2)
    page.figure(fig, "transport_occupation", dpi=100)


def figure_energy(page, res):
    """Energy distribution at t_max against the Boltzmann one, and v2_eff, tau_eff, D_occ vs t."""
    plt = pyplot()
    n_p, e = len(res.temperature), 0.5 * (res.energy_edges[1:] + res.energy_edges[:-1])
    ob, t = res.observables, res.time
    fig, axes = plt.subplots(n_p, 2, figsize=(10, 3.3 * n_p), squeeze=False)
    for p, T in enumerate(res.temperature):
        ax = axes[p, 0]
        ax.step(e, ob["energy_histogram"][p, -1], where="mid", label=f"Monte Carlo, t = {t[-1]:.0f} ps")
        ax.step(e, ob["energy_histogram_boltzmann"][p], where="mid", ls="--", label="Boltzmann")
        ax.set(yscale="log", ylim=(1e-5, 1.5), xlabel="E − E_min (meV)", ylabel="fraction of excitons per bin")
        ax.set_title(title(SYSTEM, 3.0, T, "energy distribution"), fontsize=8)
        ax.legend(fontsize=7)
        ax = axes[p, 1]
        ax.plot(t, ob["transient"][p], label="D(t) = ¼ dσ²/dt (cm²/s)")
        ax.plot(t, ob["diffusion_occupation"][p], label="½ Σ N_i(t) v_i² τ_i (cm²/s), seed Eq. 1")
        ax.plot(t, 1e-2 * ob["v2_eff"][p], label="v²_eff(t) / 100 (nm²/ps²)")
        ax.plot(t, ob["tau_eff"][p], label="τ_eff(t) (ps)")
        ax.set(xscale="symlog", yscale="log", xlabel="t (ps)", ylabel="value (units in the legend)")
        ax.set_xlim(0, t[-1])
        ax.set_title(title(SYSTEM, 3.0, T, "seed 000 Eq. 1 with the Monte Carlo occupation"), fontsize=8)
        ax.legend(fontsize=6)
    page.figure(fig, "transport_energy", dpi=100)


def figure_dt(page, r, z):
    """D(T) per angle, Monte Carlo and Boltzmann RTA (Fig. 4a), v2_eff and tau_eff (Fig. 4b,c)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    for i, th in enumerate(z["dt_grids"]):
        res, c = r[f"dt{th:g}"], f"C{i}"
        T, ob = res.temperature, res.observables
        ok = ob["fit_events"] >= DIFFUSIVE
        axes[0].plot(T[ok], ob["stationary"][ok], "o-", color=c, ms=4, label=f"{th:g}° Monte Carlo")
        if (~ok).any():
            axes[0].plot(T[~ok], ob["stationary"][~ok], "x", color=c, ms=7,
                         label=f"{th:g}°, < {DIFFUSIVE} events per particle in the fit window")
        axes[0].plot(T, res.diffusion_rta, "--", color=c, lw=1, label=f"{th:g}° Boltzmann (RTA, SI Eq. 23)")
        axes[1].plot(T, ob["v2_eff"][:, -1], "o-", color=c, ms=4, label=f"{th:g}° Monte Carlo, t_max")
        axes[1].plot(T, ob["v2_eff_boltzmann"], "--", color=c, lw=1, label=f"{th:g}° Boltzmann")
        axes[2].plot(T, ob["tau_eff"][:, -1], "o-", color=c, ms=4, label=f"{th:g}° Monte Carlo, t_max")
    axes[0].plot([10.0, 70.0], [5.6, 1.4], "k*", ms=10, label="seed 000, 3° Monte Carlo (10 K, 70 K)")
    axes[0].plot([10.0], [2.7], "k^", mfc="none", ms=8, label="seed 000, 3° Boltzmann at 10 K (calibration)")
    for ax, lab in zip(axes, ("D (cm²/s)", "v²_eff = Σ N_i v_i² (nm²/ps²)", "τ_eff = Σ N_i τ_i (ps)")):
        ax.set(xlabel="T (K)", ylabel=lab, yscale="log")
        ax.legend(fontsize=6)
    fig.suptitle(title(SYSTEM, extra="D(T), seed 000 Fig. 4 analogue"), fontsize=9)
    page.figure(fig, "transport_dt", dpi=100)


def figure_window(page, r):
    """Seed Fig. S2 analogue: band indicators vs theta, and the Monte Carlo enhancement at 10 K."""
    plt = pyplot()
    scan, res = r["bands_scan"].scan, r["window"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    ax = axes[0]
    ax.plot(scan.theta_deg, scan.bandwidth, "-", label="ground-band width W0")
    ax.plot(scan.theta_deg, scan.gap, "o-", ms=3, label="gap: min E1 − max E0")
    ax.plot(scan.theta_deg, scan.gap + scan.bandwidth, "s-", ms=3, label="band-1 minimum above band-0 minimum")
    for name, c in (("WSe2", "C3"), ("MoSe2", "C4")):
        ax.axhline(phonon_params(name).E_opt, color=c, ls="--", lw=1, label=f"E_opt({name})")
    ax.set(xlabel="twist angle θ (deg)", ylabel="energy (meV)")
    ax.legend(fontsize=7)
    ax.set_title(title(SYSTEM, extra="bands (30 × 30 grid + path)"), fontsize=8)
    ax = axes[1]
    th = res.theta_deg
    ob = res.observables
    ax.plot(th, ob["stationary"] / res.diffusion_rta, "o-", label="D_MC / D_Boltzmann (RTA)")
    ax.plot(th, ob["stationary"] / res.diffusion_exact, "s--", label="D_MC / D_exact (equilibrium, same tables)")
    ax.plot(th, 1 - ob["population"][:, -1, 0], "^:", label="fraction above band 0 at t_max")
    decoration(ax.axhline(1.0, color="0.6", lw=0.8))
    ax.set(xlabel="twist angle θ (deg)", ylabel="ratio / fraction", yscale="log")
    ax.legend(fontsize=7)
    ax.set_title(title(SYSTEM, temperature_K=10.0, extra="anomalous window"), fontsize=8)
    page.figure(fig, "transport_window", dpi=100)


def main(page):
    z = sizes(page)
    r = runs(page, z)
    table, averaged, trap = resonances(page, z)
    page.table("acceptance", acceptance_rows(r))
    page.table("bottleneck", bottleneck_table(r["main"]))
    page.table("decomposition", decomposition_table(r["main"]))
    page.table("resonances", resonance_rows(table))
    page.table("mode_rates", mode_rate_rows(averaged))
    page.table("trap", trap_rows(trap, r))
    page.table("dt", dt_table(r, z))
    page.table("dt_effective", dt_effective_table(r, z))
    page.table("window", window_rows(r, z))
    page.table("sensitivity", sensitivity_rows(r, z))
    figure_3deg(page, r["main"])
    figure_occupation(page, r["main"])
    figure_energy(page, r["main"])
    figure_dt(page, r, z)
    figure_window(page, r)


if __name__ == "__main__":
    Page.main(__file__, main)
