"""Reproduce docs/results/moire.md: bands at 2-6 deg, the twist scan, the potential and the harmonic check.

    python docs/results/moire/reproduce.py [--smoke] [--workdir DIR]     (make figures TOPIC=moire)
"""

import tomllib

import numpy as np

from hpcx.materials.moire import moire_system
from hpcx.physics import moire as mp
from hpcx.plotting import pyplot, title
from hpcx.reproduce import ROOT, Page, markdown_table
from hpcx.workflows.moire.plot import draw_bands, potential_figure, twist_scan_figure

ANGLES = (2.0, 3.0, 4.0, 6.0)       # seed 000 Fig. S2b-d: 2, 4, 6 deg
SCAN_ANGLE = 3.0                     # the run that also holds the twist scan


def config(page, theta):
    """examples/moire.toml at ``theta`` (the twist scan only at SCAN_ANGLE); smaller sizes in a smoke run."""
    data = tomllib.loads((ROOT / "examples" / "moire.toml").read_text())
    m = data["moire"]
    m["twist_deg"] = theta
    if theta != SCAN_ANGLE:
        del m["twist_scan"]
    if page.smoke:
        m.update(shells=4, grid=6, path_points=31, scan_grid=6, map_points=31)
        if "twist_scan" in m:
            m["twist_scan"] = [2.0, 4.0, 6.0]
    return data


def bands_figure(results):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(2.9 * len(results), 3.6), sharey=True)
    for ax, res in zip(axes, results):
        draw_bands(ax, res, ylim=(-60, 80), legend_loc="lower center")
        ax.set_xlabel("")
        ax.set_title(title(res.system, res.geometry.theta_deg), fontsize=9)
    axes[0].set_ylabel("E (meV), 0 = free exciton at Q = 0")
    fig.supxlabel("momentum Q along γ–κ–m–γ of the mini Brillouin zone", fontsize=9)
    return fig


def bands_table(results):
    rows = [[f"{r.geometry.theta_deg:g}", f"{r.geometry.period:.2f}", f"{r.grid.bandwidth:.2f}",
             f"{r.grid.gap:.2f}", f"{r.grid.direct_gap:.2f}", f"{r.potential.harmonic_energy:.2f}",
             f"{r.path.energy[0, 0]:.2f}"] for r in results]
    return markdown_table(["θ (deg)", "a_M (nm)", "bandwidth (meV)", "gap min E1 − max E0 (meV)",
                           "direct gap (meV)", "ħω0 (meV)", "E_0(γ) (meV)"], rows)


def scan_table(scan):
    head = ["θ (deg)"] + [f"{t:g}" for t in scan.theta_deg]
    rows = [["bandwidth (meV)"] + [f"{v:.2f}" for v in scan.bandwidth],
            ["gap (meV)"] + [f"{v:.2f}" for v in scan.gap]]
    return markdown_table(head, rows)


def harmonic_table(page):
    """hbar omega0 (Eq. 22) and the first excitation at gamma at small angles, as seed 003 (no mismatch)."""
    system = moire_system("MoSe2-WSe2/hBN")
    potential = mp.MoirePotential.from_ab(system.A_meV, system.B_meV)
    rows = []
    for theta, shells in page.pick(((1.0, 14), (0.5, 24)), ((1.0, 8),)):
        geo = mp.MoireGeometry.for_layers(system.a_electron_nm, system.a_hole_nm, theta, include_mismatch=False)
        hw = mp.harmonic_frequency_meV(geo, potential, system.exciton_mass)
        e = mp.MoireHamiltonian(geo, potential, system.exciton_mass, shells).solve(np.zeros((1, 2)), 3).energy[0]
        rows.append([f"{theta:g}", str(shells), f"{hw:.2f}", f"{e[1] - e[0]:.2f}", f"{(e[1] - e[0]) / hw:.3f}"])
    return markdown_table(["θ (deg)", "shells", "ħω0, Eq. 22 (meV)", "E_1 − E_0 at γ (meV)",
                           "(E_1 − E_0)/ħω0"], rows)


def main(page):
    results = []
    for theta in ANGLES:
        name = f"moire_{theta:g}deg"
        page.run(name, config(page, theta))
        results.append(page.read(name))
    scan_run = results[ANGLES.index(SCAN_ANGLE)]
    page.table("bands", bands_table(results))
    page.table("twist_scan", scan_table(scan_run.scan))
    page.table("harmonic", harmonic_table(page))
    if page.root:
        page.figure(bands_figure(results), "moire_bands", dpi=90)
        page.figure(twist_scan_figure(scan_run), "moire_twist_scan", dpi=100)
        page.figure(potential_figure(scan_run, label_angle=False), "moire_potential", dpi=90)


if __name__ == "__main__":
    Page.main(__file__, main)
