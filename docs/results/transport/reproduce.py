"""Reproduce docs/results/transport.md: Monte Carlo transport of MoSe2-WSe2/hBN moiré excitons.

    python docs/results/transport/reproduce.py [--smoke] [--workdir DIR]   (make figures TOPIC=transport)

Runs the ``transport`` workflow (tables in-process with the settings of
examples/scattering.toml: 3 bands, 6 shells; hot excitons uniform up to 60 meV, 1 um spot,
32 batches, seed 1):

1. 3 deg at 10 K and 70 K on the 9 x 9 grid, 1e5 particles for 1 ns (seed 000 Fig. 2, 3b,c
   analogues: figures transport_3deg.png and transport_occupation.png);
2. D(T) sweeps for 3-6 deg on the 9 x 9 grid, 4e4 particles for 200 ps (Figs. 3a, 4a:
   transport_dt.png);
3. 4-6 deg on the 21 x 21 grid, 4e4 particles for 400 ps, two runs (10-30 K, 50-300 K):
   transport_dt_grid21.png.

The full version takes about 40 min on 2 cores (the 21 x 21 tables most of it); finished
runs are reused from build/results/transport/.  The smoke version (--smoke) runs 4 x 4
grids of 2 bands with 2000 particles for a few ps, in seconds.
"""

import numpy as np

from hpcx.plotting import colorbar, decoration, pyplot, title
from hpcx.reproduce import Page, markdown_table

SYSTEM = "MoSe2–WSe2/hBN"
ANGLES = (3.0, 4.0, 5.0, 6.0)
TEMPS = (10.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0)
GRID21 = {"low_t_g21": (10.0, 30.0), "high_t_g21": (50.0, 70.0, 100.0, 150.0, 200.0, 300.0)}
SEED_3DEG = {10.0: "≈ 6 (Fig. 2), 5.6 (Fig. 3a; Boltzmann 2.7)", 70.0: "1.4"}      # seed 000, cm^2/s
DIFFUSIVE = 20            # scattering events per particle in the fit window of a stationary D


def config(angles, temps, particles, t_max, samples, grid, smoke):
    """The transport config of the page (smoke: small grids and ensembles)."""
    if smoke:
        particles, t_max, samples, grid = 2000, 5.0, 10, min(grid, 5) if grid > 9 else 4
    return {"run": {"workflow": "transport"},
            "transport": {"twist_deg": list(angles), "temperatures": list(temps), "particles": particles,
                          "batches": 32 if not smoke else 4, "seed": 1, "t_max": t_max, "samples": samples,
                          "fit_from": 0.5, "initial": "uniform", "e0": 60.0, "spot_sigma": 1000.0,
                          "checkpoint_every": 0},
            "scattering": {"shells": 6 if not smoke else 3, "n_bands": 3 if not smoke else 2, "grid": grid}}


def runs(page):
    """(3 deg run, [sweep run per angle], [21 x 21 runs]) as Results."""
    angles = page.pick(ANGLES, (3.0,))
    temps = page.pick(TEMPS, (70.0, 300.0))
    page.run("t3_g9", config([3.0], [10.0, 70.0], 100000, 1000.0, 200, 9, page.smoke))
    for th in angles:
        page.run(f"sweep{th:g}_g9", config([th], temps, 40000, 200.0, 100, 9, page.smoke))
    g21 = page.pick(GRID21, {"low_t_g21": (30.0,), "high_t_g21": (150.0,)})
    for name, t in g21.items():
        page.run(name, config(page.pick([4.0, 5.0, 6.0], [4.0]), t, 40000, 400.0, 200, 21, page.smoke))
    return (page.read("t3_g9"), [page.read(f"sweep{th:g}_g9") for th in angles],
            [page.read(name) for name in g21])


def _d(res, p, mark=True):
    """'D ± error' (cm^2/s) of point p, with † if not diffusive in the fit window."""
    ob = res.observables
    dagger = "†" if mark and ob["fit_events"][p] < DIFFUSIVE else ""
    return f"{ob['stationary'][p]:#.3g} ± {ob['stationary_error'][p]:.2g}{dagger}"


def three_deg_table(res):
    rows = [[f"{T:g} K", _d(res, p) + " cm²/s", f"{res.diffusion_exact[p]:#.4g}", f"{res.diffusion_rta[p]:#.4g}",
             SEED_3DEG.get(float(T), "–")] for p, T in enumerate(res.temperature)]
    return markdown_table(["3°", "Monte Carlo D", "exact (equilibrium)", "RTA (Boltzmann)", "seed 000"], rows)


def _point(results, theta, T):
    for res in results:
        for p in range(len(res.temperature)):
            if res.theta_deg[p] == theta and res.temperature[p] == T:
                return res, p
    return None, None


def sweep_table(results, angles):
    temps = sorted({float(T) for res in results for T in res.temperature})
    rows = []
    for T in temps:
        cells = []
        for th in angles:
            res, p = _point(results, th, T)
            cells.append(f"{_d(res, p)} ({res.diffusion_exact[p]:#.3g}, {res.diffusion_rta[p]:#.3g})"
                         if res is not None else "–")
        rows.append([f"{T:g}", *cells])
    return markdown_table(["T (K)"] + [f"{th:g}°" for th in angles], rows)


def grid21_low_table(low, sweeps):
    rows = []
    for p, (th, T) in enumerate(zip(low.theta_deg, low.temperature)):
        coarse, q = _point(sweeps, th, T)
        ob = low.observables
        rows.append([f"{th:g}°, {T:g} K", _d(low, p), f"{low.diffusion_exact[p]:#.3g}",
                     f"{low.diffusion_rta[p]:#.3g}", f"{ob['fit_events'][p]:.0f}", f"{ob['tau_eff'][p, -1]:#.3g}",
                     _d(coarse, q).split(" ±")[0] + ("†" if coarse.observables["fit_events"][q] < DIFFUSIVE else "")
                     if coarse is not None else "–"])
    return markdown_table(["θ, T", "Monte Carlo D (cm²/s)", "exact (equilibrium)", "RTA (Boltzmann)",
                           "events/particle in fit", "τ_eff at t_max (ps)", "9 × 9 Monte Carlo"], rows)


def grid21_table(results):
    angles = sorted({float(th) for res in results for th in res.theta_deg})
    return sweep_table(results, angles)


def figure_3deg(page, res):
    plt = pyplot()
    ob, t, x = res.observables, res.time, res.profile_edges
    x = 0.5 * (x[1:] + x[:-1])
    fig, axes = plt.subplots(1, len(res.temperature), figsize=(4.8 * len(res.temperature), 3.9), squeeze=False)
    for p, ax in enumerate(axes[0]):
        for k in np.unique(np.minimum(np.searchsorted(t, [0.0, 20.0, 100.0, 250.0, 500.0, t[-1]]), len(t) - 1)):
            y = ob["profiles"][p, k, -1]
            ax.plot(1e-3 * x, y / y.max(), lw=1.2, label=f"t = {t[k]:.0f} ps")
        ax.set(xlabel="x (µm)", ylabel="N(x, t) / max_x N", xlim=(-4, 4))
        ax.set_title(title(SYSTEM, 3.0, res.temperature[p], f"D = {_d(res, p, False)} cm²/s"), fontsize=8)
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


def figure_occupation(page, res):
    from hpcx.physics.mc_table import boltzmann
    plt = pyplot()
    t, occ, s = res.time, res.occupation, res.states
    n_p = len(res.temperature)
    fig, axes = plt.subplots(n_p, 4, figsize=(15, 3.3 * n_p), squeeze=False)
    k5 = int(np.searchsorted(t, 5.0))
    for p in range(n_p):
        T, q = res.temperature[p], np.linalg.norm(s["k"][p], axis=1)
        boltz = boltzmann(s["energy"][p], s["weight"][p], T)
        floor = 0.3 / occ[p, -1].sum()
        panels = ((f"Monte Carlo, t = {t[k5]:.0f} ps", occ[p, k5] / occ[p, k5].sum()),
                  (f"Monte Carlo, t = {t[-1]:.0f} ps", occ[p, -1] / occ[p, -1].sum()), ("Boltzmann", boltz))
        for col, (label, N) in enumerate(panels):
            ax = axes[p, col]
            sc = ax.scatter(q, s["energy"][p], c=np.log10(np.maximum(N, floor)), s=14, cmap="viridis",
                            vmin=np.log10(floor), vmax=0)
            ax.set(xlabel="|Q| (1/nm)", ylabel="E (meV)")
            ax.set_title(title(SYSTEM, 3.0, T, label), fontsize=8)
            colorbar(fig, sc, ax, "log10 fraction of excitons in the state")
        ax = axes[p, 3]
        for b in range(len(res.group_names)):
            ax.plot(t, res.observables["population"][p, :, b], color=f"C{b}", label=f"band {b}")
            ax.axhline(boltz[s["group"][p] == b].sum(), color=f"C{b}", ls=":", lw=1, label=f"band {b}, Boltzmann")
        ax.set_xscale("symlog", linthresh=t[1])
        ax.set(xlim=(0, t[-1]), xlabel="t (ps)", ylabel="band population (fraction)")
        ax.set_title(title(SYSTEM, 3.0, T), fontsize=8)
        ax.legend(fontsize=6)
    page.figure(fig, "transport_occupation", dpi=100)


def _dt_panel(ax, results):
    for i, res in enumerate(results):
        for th in np.unique(res.theta_deg):
            m = res.theta_deg == th
            T, ob, c = res.temperature[m], res.observables, f"C{(i + int(th)) % 10}"
            D, err, ok = ob["stationary"][m], ob["stationary_error"][m], ob["fit_events"][m] >= DIFFUSIVE
            ax.plot(T[ok], D[ok], "o-", ms=3, color=c, label=f"{th:g}° Monte Carlo ± batch error")
            decoration(*ax.errorbar(T[ok], D[ok], yerr=err[ok], fmt="none", ecolor=c, capsize=2).lines[1:])
            if (~ok).any():
                ax.plot(T[~ok], D[~ok], "x", color=c, ms=6, label=f"{th:g}°, < {DIFFUSIVE} events per particle "
                        "in the fit window (not diffusive)")
            ax.plot(T, res.diffusion_exact[m], ":", color=c, lw=1.2, label=f"{th:g}° exact equilibrium D")
            ax.plot(T, res.diffusion_rta[m], "--", color=c, lw=1, label=f"{th:g}° RTA (Boltzmann)")
    ax.set(yscale="log", xlabel="T (K)", ylabel="stationary D (cm²/s)")
    ax.legend(fontsize=5, ncol=2)


def figure_dt(page, results, name, grid):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    _dt_panel(ax, results)
    ax.set_title(title(SYSTEM, extra=f"{grid} × {grid} scattering grid, 3 bands"), fontsize=8)
    page.figure(fig, name, dpi=110)


def main(page):
    three, sweeps, g21 = runs(page)
    angles = [float(res.theta_deg[0]) for res in sweeps]
    page.table("three_deg", three_deg_table(three))
    page.table("sweep", sweep_table(sweeps, angles))
    page.table("g21_low", grid21_low_table(g21[0], sweeps))
    page.table("g21", grid21_table(g21))
    figure_3deg(page, three)
    figure_occupation(page, three)
    figure_dt(page, sweeps, "transport_dt", page.pick(9, 4))
    figure_dt(page, g21, "transport_dt_grid21", page.pick(21, 5))


if __name__ == "__main__":
    Page.main(__file__, main)
