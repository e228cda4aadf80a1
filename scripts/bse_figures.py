#!/usr/bin/env python3
"""Figures and numbers of docs/results/bse.md (monolayer WSe2, Wannier90 fixture, seed 004).

    OMP_NUM_THREADS=2 .venv/bin/python scripts/bse_figures.py [--grid 24] [--out docs/figures]

Runs the ``bse`` workflow in-process (all eigenpairs, dense solver) on the fixture at
the example's settings (2 v + 2 c, 9 x 9) and at a denser grid, writes
bse_spectrum.png, bse_wavefunction.png, bse_convergence.png and prints the tables.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_wannier_workflow import run_config  # noqa: E402

from hpcx.bse import bands as bb  # noqa: E402
from hpcx.bse import hamiltonian as hh  # noqa: E402
from hpcx.bse import interaction as it  # noqa: E402
from hpcx.bse.liu import liu_model  # noqa: E402
from hpcx.bse.tbmodel import monkhorst_pack  # noqa: E402
from hpcx.bse.wannier90 import load_wannier90  # noqa: E402
from hpcx.plotting import _pyplot  # noqa: E402

FIXTURE = ROOT / "examples" / "data" / "wse2-wannier90"

CONFIG = """
[run]
workflow = "bse"
[bse]
source = "wannier90"
wannier90_dir = "{d}"
seedname = "WSe2"
n_occupied = 7
k_grid = {n}
valence_bands = 2
conduction_bands = 2
exchange = {x}
n_eig = 0
broadening = 0.03
energy_min = 0.8
energy_max = 2.6
wavefunctions = 5
"""


def run(n, exchange, tmp):
    out = run_config(CONFIG.format(d=FIXTURE, n=n, x="true" if exchange else "false"), Path(tmp) / f"b{n}{exchange}.h5")
    f = h5py.File(out)
    return {k: f[f"results/{k}"][()] for k in ("eigenvalues", "oscillator_strength", "qp_gap", "binding_energy",
                                                "spectrum/energy", "spectrum/sigma", "spectrum/sigma_ip",
                                                "wavefunction/density", "wavefunction/positions")} | {
        "hole": f["results/wavefunction"].attrs["hole_position_angstrom"]}


def convergence(grids):
    """E_b (eV) of the lowest exciton, direct term only, 1 v + 1 c: fixture and three-band model."""
    out = {"fixture": [], "liu": []}
    w90, _ = load_wannier90(FIXTURE, "WSe2")
    liu = liu_model("WSe2", "TNN", soc=True)
    for n in grids:
        for name, model, n_occ, nc, a in (("fixture", w90, 7, 1, 3.32), ("liu", liu, 2, 2, 3.325)):
            k = monkhorst_pack(n, n)
            E, C = bb.bands_on_grid(model, k)
            w = bb.band_window(E, C, k, n_occ, 1, nc)
            inter = it.build_interaction(model.lattice, (n, n), it.group_sites(model.positions),
                                         it.keldysh(45.09, 1.0, a))
            e = np.linalg.eigvalsh(hh.assemble_dense(w, inter, 0.0))
            out[name].append(w.qp_gap - e[0])
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", type=int, default=24)
    p.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    args = p.parse_args()
    plt = _pyplot()
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        coarse = run(9, True, tmp)
        fine = run(args.grid, True, tmp)
        fine_nx = run(args.grid, False, tmp)
    for name, r in (("9x9 (example)", coarse), (f"{args.grid}x{args.grid}", fine),
                    (f"{args.grid}x{args.grid}, no exchange", fine_nx)):
        print(f"\n{name}: qp gap {r['qp_gap']:.4f} eV, E_b {r['binding_energy']:.4f} eV")
        print("  S   E (eV)    E - gap (eV)   f")
        for s in range(8):
            print(f"  {s}  {r['eigenvalues'][s]:.4f}   {r['eigenvalues'][s] - r['qp_gap']:+.4f}      "
                  f"{r['oscillator_strength'][s]:.3e}")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=False)
    for ax, r, title in ((axes[0], coarse, "9 x 9 (examples/bse_wse2.toml)"),
                         (axes[1], fine, f"{args.grid} x {args.grid}")):
        e = r["spectrum/energy"]
        ax.plot(e, r["spectrum/sigma"], label="BSE (with e-h interaction)")
        ax.plot(e, r["spectrum/sigma_ip"], "--", label="independent particles")
        ax.axvline(r["qp_gap"], color="0.6", lw=0.8)
        ax.set_title(f"monolayer WSe2, {title}", fontsize=10)
        ax.set_xlabel("photon energy (eV)")
    axes[0].set_ylabel(r"Re $\sigma_{xx}$ ($e^2/\hbar$)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "bse_spectrum.png", dpi=90)
    plt.close(fig)

    dens, pos, hole = fine["wavefunction/density"], fine["wavefunction/positions"], fine["hole"]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4))
    for ax, s in zip(axes, (0, 2, 4)):        # 1s (bright), dark p-like, 2s (bright)
        d, p2 = dens[s].ravel(), pos.reshape(-1, 3)
        keep = d > 1e-4 * d.max()
        sc = ax.scatter(p2[keep, 0], p2[keep, 1], c=d[keep] / d.max(), s=6, cmap="magma_r")
        ax.plot(hole[0], hole[1], "c+", ms=10, mew=2)
        ax.set_aspect("equal")
        ax.set_title(f"S{s}: {fine['eigenvalues'][s]:.3f} eV", fontsize=10)
        ax.set_xlabel("x (Å)")
        ax.set_xlim(-30, 30)
        ax.set_ylim(-30, 30)
    axes[0].set_ylabel("y (Å)")
    fig.colorbar(sc, ax=axes, shrink=0.8, label="electron density (hole at +)")
    fig.savefig(out / "bse_wavefunction.png", dpi=90)
    plt.close(fig)

    grids = [9, 12, 15, 18, 21, 24, 27, 30, 33]
    conv = convergence(grids)
    print("\nE_b convergence (direct term, 1v+1c fixture / 1v+2c three-band TNN+SOC):")
    for n, a, b in zip(grids, conv["fixture"], conv["liu"]):
        print(f"  {n:3d}  {a:.4f}  {b:.4f}")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(grids, conv["fixture"], "o-", label="Wannier90 fixture (LDA, no SOC)")
    ax.plot(grids, conv["liu"], "s-", label="three-band TNN + SOC")
    ax.axhline(0.45, color="0.5", ls=":", label="Berkelbach 2013 (0.45 eV)")
    ax.set_xlabel("k-grid n (n x n)")
    ax.set_ylabel("binding energy (eV)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "bse_convergence.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
