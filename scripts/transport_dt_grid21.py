"""D(T) at 4°–6° on the 21 x 21 scattering grid (docs/results/transport.md, figure transport_dt_grid21.png).

The 9 x 9 tables of scripts/transport_figures.py overestimate D at 4°–6° below ~70 K by
factors up to 10^2 (docs/results/scattering.md: grid convergence).  This script runs the
`transport` workflow with `grid = 21` at 4°, 5°, 6° (two run files, low and high T; reused
when present in --outdir) and draws Monte Carlo D ± error with the exact equilibrium D and the
RTA of the same tables; it prints the table for the doc.

    mpirun -n 2 .venv/bin/python scripts/transport_dt_grid21.py --outdir /tmp/g21
(about 15 min on 2 cores.)
"""

import argparse
from pathlib import Path

import h5py
import numpy as np
from transport_figures import CONFIG, run  # same settings as the 9 x 9 figures, only the grid differs

from hpcx.log import setup_logging
from hpcx.parallel import get_comm

ROOT = Path(__file__).resolve().parents[1]
ANGLES = [4.0, 5.0, 6.0]
RUNS = {"low_t_g21": [10.0, 30.0], "high_t_g21": [50.0, 70.0, 100.0, 150.0, 200.0, 300.0]}


def ensure(name, temps, outdir, comm):
    """Run file of one temperature group (reused when present)."""
    text = CONFIG.format(angles=ANGLES, temps=list(temps), particles=40000, t_max=400.0, samples=200, grid=21)
    return run(name, text, outdir, comm)


def load(paths):
    cols = ("theta_deg", "temperature", "diffusion", "diffusion_error", "diffusion_exact", "diffusion_rta",
            "fit_events")
    data = {c: [] for c in cols}
    for p in paths:
        with h5py.File(p) as f:
            for c in cols:
                data[c].append(f[f"results/sweep/{c}"][()])
    return {c: np.concatenate(v) for c, v in data.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outdir", default="/tmp/g21")
    args = ap.parse_args()
    comm = get_comm()
    setup_logging(comm, "INFO")
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [ensure(name, temps, out, comm) for name, temps in RUNS.items()]
    if comm.rank != 0:
        return
    d = load(paths)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4))
    print("| T (K) | 4° | 5° | 6° |\n| --- | --- | --- | --- |")
    for T in np.unique(d["temperature"]):
        cells = []
        for th in (4.0, 5.0, 6.0):
            i = np.flatnonzero((d["temperature"] == T) & (d["theta_deg"] == th))[0]
            mark = "" if d["fit_events"][i] >= 20 else "†"
            cells.append(f"{d['diffusion'][i]:.3g} ± {d['diffusion_error'][i]:.2g}{mark} "
                         f"({d['diffusion_exact'][i]:.3g}, {d['diffusion_rta'][i]:.3g})")
        print(f"| {T:g} | " + " | ".join(cells) + " |")
    for th, color in zip((4.0, 5.0, 6.0), ("C1", "C2", "C3")):
        m = d["theta_deg"] == th
        o = np.argsort(d["temperature"][m])
        T = d["temperature"][m][o]
        ax.errorbar(T, d["diffusion"][m][o], d["diffusion_error"][m][o], fmt="o", color=color,
                    label=f"{th:g}° Monte Carlo")
        ax.plot(T, d["diffusion_exact"][m][o], "-", color=color, lw=1, label=f"{th:g}° exact")
        ax.plot(T, d["diffusion_rta"][m][o], "--", color=color, lw=1, label=f"{th:g}° RTA")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("D (cm²/s)")
    ax.set_title("MoSe2–WSe2/hBN, 21 × 21 scattering grid")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "figures" / "transport_dt_grid21.png", dpi=100)


if __name__ == "__main__":
    main()
