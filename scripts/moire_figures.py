#!/usr/bin/env python3
"""Figures and numbers of docs/results/moire.md (seed 000 Fig. S2 analogue).

Runs the `moire` workflow on examples/moire.toml at 2, 3, 4 and 6 deg (serial)
and writes docs/figures/moire_bands.png, docs/figures/moire_twist_scan.png and
docs/figures/moire_potential.png; prints the table of the results page.
Usage: .venv/bin/python scripts/moire_figures.py
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hpcx import workflows  # noqa: E402
from hpcx.config import validate  # noqa: E402
from hpcx.io import RunFile, RunWriter  # noqa: E402
from hpcx.log import PhaseTimer  # noqa: E402
from hpcx.parallel import SerialComm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIG = ROOT / "docs" / "figures"


def run(text, path):
    cfg = validate(text, "examples/moire.toml", workflows.schemas())
    module = workflows.load("moire")
    module.check(cfg)
    timer = PhaseTimer()
    with RunWriter(path, SerialComm(), workflow="moire", config_text=text, config_source="moire.toml",
                   overwrite=True) as w:
        module.run(cfg, w, SerialComm(), timer)
        return w.finish(timer.seconds)


def main():
    base = (ROOT / "examples" / "moire.toml").read_text()
    angles = (2.0, 3.0, 4.0, 6.0)
    names = {"gamma": r"$\gamma$", "kappa": r"$\kappa$", "m": "m"}
    fig, axes = plt.subplots(1, 4, figsize=(11, 3.4), sharey=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for ax, theta in zip(axes, angles):
            text = base.replace("twist_deg = 3.0", f"twist_deg = {theta}")
            if theta != 3.0:
                text = "\n".join(line for line in text.splitlines() if not line.startswith("twist_scan"))
            with RunFile(run(text, Path(tmp) / f"m{theta}.h5")) as f:
                x, _ = f.read("results/bands/path_x")
                e, _ = f.read("results/bands/path_energy")
                ticks, _ = f.read("results/bands/path_ticks")
                labels, _ = f.read("results/bands/path_labels")
                rows.append((theta, f.read("results/geometry/period")[0], f.read("results/bands/bandwidth")[0],
                             f.read("results/bands/gap")[0], f.read("results/bands/direct_gap")[0],
                             f.read("results/potential/harmonic_energy")[0], e[0, 0]))
                if theta == 3.0:
                    scan = {k: f.read(f"results/twist_scan/{k}")[0] for k in ("theta_deg", "bandwidth", "gap")}
                    px, _ = f.read("results/potential/x")
                    vmap, _ = f.read("results/potential/map")
                    period = f.read("results/geometry/period")[0]
            ax.plot(x, e, color="C0", lw=1.1)
            for t in ticks:
                ax.axvline(t, color="0.75", lw=0.6)
            ax.set_xticks(ticks, [names[lab] for lab in labels])
            ax.set(xlim=(x[0], x[-1]), ylim=(-60, 80), title=f"{theta:g}°")
        axes[0].set_ylabel("E (meV)")
        fig.tight_layout()
        fig.savefig(FIG / "moire_bands.png", dpi=90)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    ax.plot(scan["theta_deg"], scan["bandwidth"], "-", color="C0", label="ground-band width")
    ax.plot(scan["theta_deg"], scan["gap"], "o-", ms=3, color="C4", label="gap ground - 1st excited")
    ax.set(xlabel="twist angle (deg)", ylabel="energy (meV)", ylim=(0, None))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIG / "moire_twist_scan.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.0, 3.4))
    im = ax.pcolormesh(px / period, px / period, vmap, cmap="RdBu_r", shading="auto")
    fig.colorbar(im, ax=ax, label="M(r) (meV)")
    ax.set(xlabel="x / $a_M$", ylabel="y / $a_M$", aspect="equal", title="M(r), any twist angle")
    fig.tight_layout()
    fig.savefig(FIG / "moire_potential.png", dpi=90)
    plt.close(fig)

    print("| θ (deg) | a_M (nm) | bandwidth (meV) | gap min E1 − max E0 (meV) | direct gap (meV) | ħω0 (meV) "
          "| E_0(γ) (meV) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(f"{v:.2f}" if i else f"{v:g}" for i, v in enumerate(r)) + " |")
    print()
    print("| θ (deg) | " + " | ".join(f"{t:g}" for t in scan["theta_deg"]) + " |")
    print("| --- |" + " --- |" * len(scan["theta_deg"]))
    print("| bandwidth (meV) | " + " | ".join(f"{v:.2f}" for v in scan["bandwidth"]) + " |")
    print("| gap (meV) | " + " | ".join(f"{v:.2f}" for v in scan["gap"]) + " |")


if __name__ == "__main__":
    sys.exit(main())
