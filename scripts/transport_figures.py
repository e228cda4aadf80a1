"""Monte Carlo transport of MoSe2-WSe2/hBN moiré excitons: seed 000 Figs. 2, 3, 4a analogues.

Runs the `transport` workflow (tables in-process, settings of examples/transport.toml:
9 x 9 grid, 3 bands, hot excitons uniform up to 60 meV, 1 um spot) and draws

1. docs/figures/transport_3deg.png: x-profiles and sigma^2(t) at 3 deg, 10 K and 70 K (Fig. 2);
2. docs/figures/transport_occupation.png: occupation of the states over the three bands at
   10 K and 70 K at t_max next to the Boltzmann distribution, and the band populations
   vs time (Fig. 3b,c);
3. docs/figures/transport_dt.png: stationary D(T) for 3-6 deg with the RTA (Boltzmann)
   curves of the same tables (Figs. 3a, 4a);

and prints the numbers of docs/results/transport.md.  Run files go to --outdir and are
reused when present (delete them to recompute):

    mpirun -n 2 .venv/bin/python scripts/transport_figures.py --outdir /tmp/transport

(about 15 min on 2 cores with the defaults.)
"""

import argparse
import os
from pathlib import Path

import h5py
import numpy as np

from hpcx import workflows
from hpcx.config import validate
from hpcx.io import RunWriter
from hpcx.log import PhaseTimer, setup_logging
from hpcx.parallel import get_comm

ROOT = Path(__file__).resolve().parents[1]
FIG = ROOT / "docs" / "figures"
ANGLES = (3.0, 4.0, 5.0, 6.0)
TEMPS = (10.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0)

CONFIG = """[run]
workflow = "transport"
[transport]
twist_deg = {angles}
temperatures = {temps}
particles = {particles}
batches = 32
seed = 1
t_max = {t_max}
samples = {samples}
fit_from = 0.5
initial = "uniform"
e0 = 60.0
spot_sigma = 1000.0
checkpoint_every = 0
[scattering]
shells = 6
n_bands = 3
grid = {grid}
"""


def run(name, text, outdir, comm):
    path = Path(outdir) / f"{name}.h5"
    if path.exists():
        return path
    cfg = validate(text, f"{name}.toml", workflows.schemas())
    module = workflows.load("transport")
    module.check(cfg)
    timer = PhaseTimer()
    with RunWriter(path, comm, workflow="transport", config_text=text, config_source=f"{name}.toml") as w:
        module.run(cfg, w, comm, timer)
        w.finish(timer.seconds)
    return path


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def fig_profiles(path, out):
    plt = _pyplot()
    with h5py.File(path) as f:
        r = f["results"]
        t, x, prof, var = r["time"][()], r["profile_x"][()], r["profiles"][()], r["variance"][()]
        T, D, err = r["sweep/temperature"][()], r["sweep/diffusion"][()], r["sweep/diffusion_error"][()]
        icpt = r["diffusion/fit_intercept"][()]
        t_fit = r["diffusion"].attrs["fit_from_ps"]
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for p, ax in enumerate(axes):
        for k in np.unique(np.searchsorted(t, [0.0, 20.0, 100.0, 250.0, 500.0, t[-1]])):
            y = prof[p, k, -1]
            ax.plot(1e-3 * x, y / y.max(), lw=1.2, label=f"{t[k]:.0f} ps")
        ax.set_xlabel("x (µm)"), ax.set_ylabel("N(x, t) / max"), ax.set_xlim(-4, 4)
        ax.set_title(f"3°, {T[p]:.0f} K: D = {D[p]:.2f} ± {err[p]:.2f} cm²/s")
        ax.legend(fontsize=7, loc="upper left")
        ins = ax.inset_axes([0.64, 0.55, 0.33, 0.4])
        ins.plot(t, var[p, :, -1] * 1e-6 - var[p, 0, -1] * 1e-6, ".", ms=1.5)
        late = t >= t_fit
        ins.plot(t[late], 1e-6 * (icpt[p] + 400.0 * D[p] * t[late]), "-", lw=1)
        ins.set_xlabel("t (ps)", fontsize=6), ins.set_ylabel("σ² − σ₀² (µm²)", fontsize=6)
        ins.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def fig_occupation(path, out):
    plt = _pyplot()
    from hpcx.physics.mc_table import boltzmann
    with h5py.File(path) as f:
        r = f["results"]
        T, occ, t = r["sweep/temperature"][()], r["occupation"][()], r["time"][()]
        E, g, k, w = (r[f"states/{n}"][()] for n in ("energy", "group", "k", "weight"))
        pop = r["population"][()]
    fig, axes = plt.subplots(2, 4, figsize=(14.5, 6.4))
    k5 = int(np.searchsorted(t, 5.0))
    for p in range(2):
        q = np.linalg.norm(k[p], axis=1)
        late = occ[p, -1] / occ[p, -1].sum()
        early = occ[p, k5] / occ[p, k5].sum()
        boltz = boltzmann(E[p], w[p], T[p])
        floor = 0.3 / occ[p, -1].sum()
        for col, (label, N) in enumerate((("Monte Carlo, t = %.0f ps" % t[k5], early),
                                          ("Monte Carlo, t = %.0f ps" % t[-1], late), ("Boltzmann", boltz))):
            ax = axes[p, col]
            sc = ax.scatter(q, E[p], c=np.log10(np.maximum(N, floor)), s=14, cmap="viridis",
                            vmin=np.log10(floor), vmax=0)
            ax.set_xlabel("|Q| (1/nm)"), ax.set_ylabel("E (meV)"), ax.set_title(f"{T[p]:.0f} K: {label}", fontsize=9)
            fig.colorbar(sc, ax=ax, label="log10 occupation")
        ax = axes[p, 3]
        for b in range(pop.shape[2] - 1):
            ax.plot(t, pop[p, :, b], label=f"band {b}")
            ax.axhline(boltz[g[p] == b].sum(), color=f"C{b}", ls=":", lw=1)
        ax.set_xscale("symlog", linthresh=t[1]), ax.set_xlim(0, t[-1]), ax.set_xlabel("t (ps)")
        ax.set_ylabel("population")
        ax.set_title(f"{T[p]:.0f} K (dotted: Boltzmann)", fontsize=9), ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def fig_dt(paths, out):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.0))
    for i, path in enumerate(paths):
        with h5py.File(path) as f:
            s = f["results/sweep"]
            T, th, D, err, rta, ex, ev = (s[n][()] for n in ("temperature", "theta_deg", "diffusion", "diffusion_error",
                                                             "diffusion_rta", "diffusion_exact", "fit_events"))
        ok = ev >= 20
        c = f"C{i}"
        ax.errorbar(T[ok], D[ok], yerr=err[ok], fmt="o-", ms=3, color=c, capsize=2, label=f"{th[0]:g}° Monte Carlo")
        if (~ok).any():
            ax.plot(T[~ok], D[~ok], "x", color=c, ms=6)
        ax.plot(T, rta, "--", color=c, lw=1, label=f"{th[0]:g}° RTA (Boltzmann)")
        ax.plot(T, ex, ":", color=c, lw=1.2)
    ax.set_yscale("log"), ax.set_xlabel("T (K)"), ax.set_ylabel("D (cm²/s)")
    ax.set_title("dotted: exact equilibrium D of the tables; x: < 20 events per particle in the fit window",
                 fontsize=7)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def table(paths):
    for path in paths:
        with h5py.File(path) as f:
            s = f["results/sweep"]
            a = f["results/analysis"]
            for p in range(len(s["temperature"])):
                print(f"{s['theta_deg'][p]:4.1f} deg {s['temperature'][p]:6.1f} K: D = {s['diffusion'][p]:8.4g} "
                      f"+- {s['diffusion_error'][p]:.2g}  exact {s['diffusion_exact'][p]:8.4g}  "
                      f"RTA {s['diffusion_rta'][p]:8.4g}  "
                      f"events/particle in fit {s['fit_events'][p]:9.3g}  v2_eff(t_max) {a['v2_eff'][p, -1]:7.1f} "
                      f"(Boltzmann {a['v2_eff_boltzmann'][p]:7.1f})  tau_eff {a['tau_eff'][p, -1]:8.3g} ps")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--outdir", default="/tmp/transport")
    ap.add_argument("--grid", type=int, default=9)
    ap.add_argument("--particles", type=int, default=100000)
    ap.add_argument("--sweep-particles", type=int, default=40000)
    ap.add_argument("--t-max", type=float, default=200.0, help="ps simulated per sweep point")
    ap.add_argument("--profile-t-max", type=float, default=1000.0, help="ps simulated for the 3 deg figures")
    args = ap.parse_args()
    comm = get_comm()
    setup_logging(comm, "INFO")
    os.makedirs(args.outdir, exist_ok=True)
    fmt = lambda v: "[" + ", ".join(f"{x:g}" for x in v) + "]"  # noqa: E731
    three = run(f"t3_g{args.grid}", CONFIG.format(angles="[3.0]", temps="[10.0, 70.0]", particles=args.particles,
                                                  t_max=args.profile_t_max, samples=200, grid=args.grid),
                args.outdir, comm)
    sweeps = [run(f"sweep{th:g}_g{args.grid}", CONFIG.format(angles=fmt([th]), temps=fmt(TEMPS),
                                                           particles=args.sweep_particles, t_max=args.t_max,
                                                           samples=100, grid=args.grid), args.outdir, comm)
              for th in ANGLES]
    if comm.rank == 0:
        FIG.mkdir(parents=True, exist_ok=True)
        fig_profiles(three, FIG / "transport_3deg.png")
        fig_occupation(three, FIG / "transport_occupation.png")
        fig_dt(sweeps, FIG / "transport_dt.png")
        table([three] + sweeps)


if __name__ == "__main__":
    main()
