"""RTA D(T) of MoSe2-WSe2/hBN moiré excitons for 3-6 deg: grid convergence, curves, sensitivity.

Everything is computed with the `scattering` workflow's own functions (states, terms,
self-consistent table, RTA) and the settings of examples/scattering.toml except the grid:

1. convergence: D, v2_eff, tau_eff at --conv-temperature (10 K) for every angle and grid n
   of --grids (n x n mini-BZ points, 3 bands), and at --fine-grid for --fine-angles;
2. curves: D(T) at --curve-grid for every angle (docs/figures/scattering_rta.png), and the
   low temperatures --fine-temps again at the next grid, --check-grid (same figure, open
   symbols), which shows where the curve is converged;
3. sensitivity: 3 deg, acoustic D1 and optical D0 scaled by 0.5 and 2 at --sens-grid.

Writes docs/figures/scattering_rta.png and docs/figures/scattering_convergence.png and
prints the tables of docs/results/scattering.md.  Runs on any number of ranks (rows of
the tables are split as in the workflow; the rate kernel also uses OpenMP threads):

    mpirun -n 2 .venv/bin/python scripts/scattering_figures.py --cache /tmp/scattering.json

(about 1.5 h on 2 cores with the defaults, most of it the 27 x 27 and 33 x 33 grids; --cache keeps
finished points so an interrupted run resumes and the figures can be redrawn with --plot-only).
"""

import argparse
import dataclasses
import json
import os
import time

import numpy as np

from hpcx import workflows
from hpcx.config import validate
from hpcx.log import get_logger
from hpcx.parallel import block_range, get_comm
from hpcx.physics import scattering as sc
from hpcx.workflows import scattering as ws

ANGLES = (3.0, 4.0, 5.0, 6.0)
TEMPS = (10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0)
BASE = """[run]
workflow = "scattering"
[scattering]
twist_deg = {theta}
shells = 6
n_bands = 3
grid = {grid}
"""


def scaled_modes(scale_d1, scale_d0):
    """sc.layer_modes with acoustic (Debye) D1 x scale_d1 and optical D0 x scale_d0."""
    orig = sc.layer_modes

    def modes(params, carrier, tag=""):
        out = []
        for m in orig(params, carrier, tag):
            f = scale_d1 if m.kind == "debye" else scale_d0
            out.append(dataclasses.replace(m, D_e=m.D_e * f, D_h=m.D_h * f))
        return out
    return modes


def points(theta, grid, temps, comm, scale_d1=1.0, scale_d0=1.0):
    """[(T, D cm^2/s, v2_eff nm^2/ps^2, tau_eff ps, iterations, Gamma max meV)] as the workflow computes them."""
    cfg = validate(BASE.format(theta=theta, grid=grid), "fig.toml", workflows.schemas())
    log = get_logger("fig")
    orig = sc.layer_modes
    sc.layer_modes = scaled_modes(scale_d1, scale_d0)
    try:
        st = ws.states(cfg, log)
    finally:
        sc.layer_modes = orig
    start, stop = block_range(len(st.E), comm.size, comm.rank)
    terms = st.terms(start, stop)
    out = []
    for T in temps:
        W, gamma, it, _ = ws.table(st.E, terms, T, cfg.scattering, comm, log)
        tau = 1.0 / np.concatenate(comm.allgather(W.sum(axis=1)))
        d, v2, t = sc.rta_curve(st.E, st.v, tau, T, st.weight)
        out.append((T, float(d), float(v2), float(t), int(it), float(gamma.max())))
    return out


class Cache:
    """Finished points keyed by 'theta/grid/d1/d0/T', kept in a JSON file (rank 0 writes)."""

    def __init__(self, path, comm):
        self.path, self.comm = path, comm
        self.data = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                self.data = json.load(fh)

    @staticmethod
    def key(theta, grid, d1, d0, T):
        return f"{theta:g}/{grid}/{d1:g}/{d0:g}/{T:g}"

    def get(self, theta, grid, temps, d1=1.0, d0=1.0, compute=True):
        missing = [T for T in temps if self.key(theta, grid, d1, d0, T) not in self.data]
        if missing and compute:
            t0 = time.perf_counter()
            for p in points(theta, grid, missing, self.comm, d1, d0):
                self.data[self.key(theta, grid, d1, d0, p[0])] = p
            if self.comm.rank == 0:
                print(f"  computed {theta:g} deg, grid {grid}, D1 x{d1:g}, D0 x{d0:g}, {len(missing)} T "
                      f"in {time.perf_counter() - t0:.0f} s", flush=True)
                if self.path:
                    with open(self.path, "w", encoding="utf-8") as fh:
                        json.dump(self.data, fh, indent=1)
        return [self.data.get(self.key(theta, grid, d1, d0, T)) for T in temps]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grids", type=int, nargs="+", default=[9, 15, 21, 27])
    ap.add_argument("--conv-temperature", type=float, default=10.0)
    ap.add_argument("--fine-grid", type=int, default=33)
    ap.add_argument("--fine-angles", type=float, nargs="*", default=[5.0, 6.0])
    ap.add_argument("--curve-grid", type=int, default=21)
    ap.add_argument("--check-grid", type=int, default=27)
    ap.add_argument("--fine-temps", type=float, nargs="*", default=[10.0, 20.0, 30.0, 50.0])
    ap.add_argument("--check-angles", type=float, nargs="*", default=[4.0, 5.0, 6.0])
    ap.add_argument("--sens-grid", type=int, default=15)
    ap.add_argument("--cache", default=None, help="JSON file of finished points (resume, --plot-only)")
    ap.add_argument("--plot-only", action="store_true", help="only redraw from --cache")
    args = ap.parse_args()
    comm = get_comm()
    cache = Cache(args.cache, comm)
    compute = not args.plot_only
    Tc = args.conv_temperature
    say = print if comm.rank == 0 else (lambda *a, **k: None)

    conv = {th: [cache.get(th, g, [Tc], compute=compute)[0] for g in args.grids] for th in ANGLES}
    curves = {th: cache.get(th, args.curve_grid, TEMPS, compute=compute) for th in ANGLES}
    sens = {}
    for d1, d0 in ((1.0, 1.0), (0.5, 1.0), (2.0, 1.0), (1.0, 0.5), (1.0, 2.0)):
        sens[(d1, d0)] = cache.get(3.0, args.sens_grid, [10.0, 70.0, 300.0], d1, d0, compute=compute)
    check = {th: cache.get(th, args.check_grid, args.fine_temps, compute=compute and th in args.check_angles)
             for th in ANGLES}
    for th in ANGLES:
        conv[th].append(cache.get(th, args.fine_grid, [Tc], compute=compute and th in args.fine_angles)[0])
    grids = list(args.grids) + [args.fine_grid]

    fmt = lambda p, k=1: f"{p[k]:.3g}" if p else "-"  # noqa: E731
    say(f"\nconvergence at {Tc:g} K: D (cm^2/s) / tau_eff (ps) / max Gamma (meV) vs grid n")
    say("| θ | " + " | ".join(f"n = {g} ({g * g * 3} states)" for g in grids) + " |")
    for th in ANGLES:
        say(f"| {th:g}° | " + " | ".join(f"{fmt(p)} / {fmt(p, 3)} / {fmt(p, 5)}" for p in conv[th]) + " |")
    say(f"\nD(T) (cm^2/s) at grid {args.curve_grid}")
    say("| θ | " + " | ".join(f"{T:g} K" for T in TEMPS) + " |")
    for th in ANGLES:
        say(f"| {th:g}° | " + " | ".join(fmt(p) for p in curves[th]) + " |")
    say(f"\nD (cm^2/s) at grid {args.check_grid}")
    for th in ANGLES:
        say(f"| {th:g}° | " + " | ".join(f"{T:g} K: {fmt(p)}" for T, p in zip(args.fine_temps, check[th])) + " |")
    for th in ANGLES:
        say(f"{th:g} deg: v2_eff " + ", ".join(fmt(p, 2) for p in curves[th]) + " nm^2/ps^2; tau_eff "
            + ", ".join(fmt(p, 3) for p in curves[th]) + " ps")
    say(f"\nsensitivity 3 deg, grid {args.sens_grid}: D at 10, 70, 300 K")
    for (d1, d0), ps in sens.items():
        say(f"| D1 x{d1:g}, D0 x{d0:g} | " + " | ".join(fmt(p) for p in ps) + " |")

    if comm.rank == 0:
        plot(args, grids, conv, curves, check, Tc)


def plot(args, grids, conv, curves, check, Tc):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    for th in ANGLES:
        ok = [p for p in curves[th] if p]
        if not ok:
            continue
        T = [p[0] for p in ok]
        for k, lab in enumerate(("D_RTA (cm$^2$/s)", "v$^2_{eff}$ (nm$^2$/ps$^2$)", "$\\tau_{eff}$ (ps)")):
            line, = ax[k].plot(T, [p[k + 1] for p in ok], "o-", label=f"{th:g}°")
            fine = [p for p in check[th] if p]
            if fine:
                ax[k].plot([p[0] for p in fine], [p[k + 1] for p in fine], "o", mfc="none", ms=9,
                           color=line.get_color())
            ax[k].set_xlabel("T (K)")
            ax[k].set_ylabel(lab)
    ax[0].set_yscale("log")
    ax[0].plot([10.0], [2.7], "k*", ms=10, label="seed 3° RTA, 10 K")
    ax[0].legend(fontsize=8)
    ax[1].set_yscale("log")
    ax[2].set_yscale("log")
    fig.suptitle(f"RTA, 3 bands, {args.curve_grid}×{args.curve_grid} mini-BZ grid (filled) and "
                 f"{args.check_grid}×{args.check_grid} (open)", fontsize=10)
    fig.tight_layout()
    fig.savefig("docs/figures/scattering_rta.png", dpi=90)
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    for th in ANGLES:
        gs = [(g, p[1]) for g, p in zip(grids, conv[th]) if p]
        if gs:
            ax.plot([g for g, _ in gs], [d for _, d in gs], "o-", label=f"{th:g}°")
    ax.set_xlabel("grid n (n × n mini-BZ points)")
    ax.set_ylabel(f"D_RTA({Tc:g} K) (cm$^2$/s)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig("docs/figures/scattering_convergence.png", dpi=90)


if __name__ == "__main__":
    main()
