"""Reproduce docs/results/kinetics.md: seed 001 Figs. 3a, 3b, 4-6 analogues and the acceptance numbers.

    python docs/results/kinetics/reproduce.py [--smoke] [--workdir DIR]     (make figures TOPIC=kinetics)
"""

import tomllib

import numpy as np

from hpcx.reproduce import ROOT, Page, markdown_table

SEED = {"tau300": 2.61, "ratio415": 1.88, "ratio215": 0.26, "drop4_200": 0.2, "flat200_300": 0.05,
        "iax10ps": 0.01, "crossover77": 41.0, "tc": 200.0, "E_IeX": 1.39, "E_IaX": 1.65}


def config(name, **kinetics):
    data = tomllib.loads((ROOT / "examples" / f"{name}.toml").read_text())
    data["kinetics"].update(kinetics)
    return data


def main(page):
    small = page.pick({}, {"energy_step": 4.0, "energy_window": 40.0, "angles": 12, "n_times": 201,
                           "snapshots": 11, "t_end": 20.0})
    page.run("point77", config("kinetics", **small))
    page.plot_run("point77")
    sweep = config("kinetics_sweep", **small)
    if page.smoke:
        sweep["sweep"] = {"temperatures": [77.0], "delta_e": [315.0]}
    page.run("sweep", sweep)
    page.plot_run("sweep")
    point, sw = page.read("point77").point, page.read("sweep").sweep
    page.table("numbers", numbers(point, sw))


def _tau(sw, T, d):
    i = int(np.argmin(np.abs(sw.temperature - T)))
    j = int(np.argmin(np.abs(sw.delta_e - d)))
    return float(sw.formation_time[i, j]) if sw.temperature[i] == T and sw.delta_e[j] == d else float("nan")


def numbers(p, sw):
    t10 = int(np.argmin(np.abs(p.time - 10.5)))
    iax = p.density[0, t10] / p.density[0].max()
    t = {k: _tau(sw, *k) for k in ((300.0, 315.0), (300.0, 415.0), (300.0, 215.0), (4.0, 315.0),
                                   (200.0, 315.0))}
    rows = [
        ["E_IeX at Delta E = 315 meV (eV)", f"{p.energy[1]:.3f}", "1.39", ""],
        ["E_IaX (MoSe2) (eV)", f"{p.energy[0]:.3f}", "1.65", ""],
        ["tau(300 K, 315 meV) (ps)", f"{t[(300.0, 315.0)]:.2f}", "2.61 (+-30 %)", ""],
        ["tau(415)/tau(315) at 300 K", f"{t[(300.0, 415.0)] / t[(300.0, 315.0)]:.2f}", "1.88 (+-0.3)", ""],
        ["tau(215)/tau(315) at 300 K", f"{t[(300.0, 215.0)] / t[(300.0, 315.0)]:.2f}", "0.26 (+-0.08)", ""],
        ["tau(4 K) - tau(200 K) (ps)", f"{t[(4.0, 315.0)] - t[(200.0, 315.0)]:.3f}", "0.2 (+-0.1)", ""],
        ["|tau(300 K) - tau(200 K)| (ps)", f"{abs(t[(300.0, 315.0)] - t[(200.0, 315.0)]):.3f}", "< 0.05", ""],
        ["IaX density after 10 ps / max, 77 K", f"{iax:.2e}", "< 1e-2", ""],
        ["PL crossover at 77 K (ps)", f"{p.crossover_time:.1f}", "41 (+-30 %)", ""],
        ["equilibrium PL crossover temperature (K)", f"{p.crossover_temperature:.0f}", "200 (+-30)", ""],
        ["tau(77 K, 315 meV) (ps)", f"{p.formation_time:.2f}", "-", "main example"],
    ]
    return markdown_table(["quantity", "hpcx", "seed 001", "note"], rows)


if __name__ == "__main__":
    Page.main(__file__, main)
