"""Reproduce docs/results/kinetics.md: seed 001 Figs. 3a, 3b, 4-6 analogues, the acceptance numbers and
the sensitivity of every missed number to the uncertain inputs (each row of that table is a computed run).

    python docs/results/kinetics/reproduce.py [--smoke] [--workdir DIR]     (make figures TOPIC=kinetics)
"""

import math
import tomllib

import numpy as np

from hpcx import api
from hpcx.materials.kinetics import kinetics_data
from hpcx.reproduce import ROOT, Page, markdown_table

SEED = {"E_IeX": 1.39, "E_IaX": 1.65, "distance": 260.0, "tau300": 2.61, "ratio415": 1.88, "ratio215": 0.26,
        "drop4_200": 0.2, "flat200_300": 0.05, "iax10": 0.01, "crossover77": 41.0, "tc": 200.0}



def seed_distance_offset():
    """Delta E (meV) at which E_IaX - E_IeX equals the seed's 260 meV: 315 meV plus the excess of our
    binding-energy difference over the seed's 205 - 150 meV."""
    _, p = api.validate(ROOT / "examples" / "kinetics.toml")
    return round(315.0 + (p.species[0].binding - p.species[1].binding) - (205.0 - 150.0))


def variants():
    """(name, label, kinetics overrides, Delta E of the row): one run each, main point 77 K (PL), sweep
    over T = 4, 200, 300 K and Delta E +- 100 meV around the row's offset."""
    d, kd = seed_distance_offset(), kinetics_data()
    g = [kd.radiative("MoSe2"), kd.radiative("MoSe2-WSe2")]
    return [
        ("base", "as computed (sourced inputs)", {}, 315.0),
        ("distance", f"IaX-IeX distance as the seed's (Delta E = {d:g} meV)", {}, d),
        ("u05", "cell overlap 0.5e-2 (tunnelling rate / 4)", {"cell_overlap": 0.005}, 315.0),
        ("u05_distance", "cell overlap 0.5e-2 and the seed's distance", {"cell_overlap": 0.005}, d),
        ("u2", "cell overlap 2e-2 (tunnelling rate x 4)", {"cell_overlap": 0.02}, 315.0),
        ("lc05", "L_C = 0.5 nm", {"correlation_length": 0.5}, 315.0),
        ("lc2", "L_C = 2 nm", {"correlation_length": 2.0}, 315.0),
        ("gr", "MoSe2 gamma_r = 2.5/ps (radiative lifetime 0.2 ps)", {"radiative_rates": [2.5, g[1]]}, 315.0),
        ("bw05", "broadening 0.5 meV (shells 0.5 meV)", {"broadening": 0.5, "energy_step": 0.5}, 315.0),
        ("bw2", "broadening 2 meV", {"broadening": 2.0}, 315.0),
        ("combined", "the seed's distance, cell overlap 0.5e-2 and MoSe2 gamma_r = 2.5/ps together",
         {"cell_overlap": 0.005, "radiative_rates": [2.5, g[1]]}, d),
    ]


def pl_variants():
    """PL-only variants (main point at 77 K): line widths and the CALIBRATED interlayer radiative rate."""
    kd = kinetics_data()
    g = [kd.radiative("MoSe2"), kd.radiative("MoSe2-WSe2")]
    return [
        ("w_iex40", "IeX line width 40 meV (IaX 10)", {"linewidths": [10.0, 40.0]}, 315.0),
        ("w_iax5", "IaX line width 5 meV (IeX 20)", {"linewidths": [5.0, 20.0]}, 315.0),
        ("g_iex3", "IeX gamma_r x 3 (lifetime target 100 us)", {"radiative_rates": [g[0], 3 * g[1]]}, 315.0),
        ("g_iex03", "IeX gamma_r / 3 (lifetime target 1 ms)", {"radiative_rates": [g[0], g[1] / 3]}, 315.0),
    ]


def example(name):
    return tomllib.loads((ROOT / "examples" / f"{name}.toml").read_text())


def variant_config(page, overrides, delta_e, sweep=True):
    data = example("kinetics_sweep")
    data["kinetics"].update({"temperature": 77.0, "delta_e": delta_e, "t_end": 100.0, "n_times": 1001,
                             **page.pick({}, SMOKE), **overrides})
    data["sweep"] = ({"temperatures": page.pick([4.0, 200.0, 300.0], [300.0]),
                      "delta_e": page.pick([delta_e - 100.0, delta_e, delta_e + 100.0], [delta_e])}
                     if sweep else {})
    return data


SMOKE = {"energy_step": 4.0, "energy_window": 40.0, "angles": 8, "n_times": 201, "t_end": 20.0, "snapshots": 11,
         "pl_points": 50}


def main(page):
    small = page.pick({}, SMOKE)
    point = example("kinetics")
    point["kinetics"].update(small)
    page.run("point77", point)
    page.plot_run("point77")
    sweep = example("kinetics_sweep")
    sweep["kinetics"].update(small)
    if page.smoke:
        sweep["sweep"] = {"temperatures": [300.0], "delta_e": [315.0], "substrates": ["SiO2", "hBN"]}
    page.run("sweep", sweep)
    runs = {}
    for name, label, over, d in page.pick(variants(), variants()[:2]):
        page.run(name, variant_config(page, over, d))
        runs[name] = (label, d, page.read(name))
    pl_runs = {}
    for name, label, over, d in page.pick(pl_variants(), pl_variants()[:1]):
        page.run(name, variant_config(page, over, d, sweep=False))
        pl_runs[name] = (label, page.read(name).point)
    p77, sw = page.read("point77").point, page.read("sweep").sweep
    page.table("numbers", numbers(p77, sw))
    page.table("substrates", substrates(sw))
    page.table("sensitivity", sensitivity(runs))
    page.table("pl", pl_sensitivity(runs["base"][2].point, pl_runs))
    if page.root:
        page.figure(tau_figure(sw), "tau")


def _tau(sw, sub, T, d):
    try:
        return sw.tau(sub, T, d)
    except (KeyError, ValueError):
        return math.nan


def iax_after(p, t=10.0):
    """IaX density t ps after the pump maximum, relative to its maximum."""
    k = int(np.argmin(np.abs(p.time - (t + 0.5))))
    return p.density[0, k] / p.density[0].max()


def _mark(value, lo, hi):
    return "met" if lo <= value <= hi else "MISSED"


def numbers(p, sw):
    t = {(T, d): _tau(sw, "SiO2", T, d) for T in (4.0, 77.0, 200.0, 300.0) for d in (215.0, 315.0, 415.0)}
    E = p.energy
    r415, r215 = t[(300.0, 415.0)] / t[(300.0, 315.0)], t[(300.0, 215.0)] / t[(300.0, 315.0)]
    drop, flat = t[(4.0, 315.0)] - t[(200.0, 315.0)], abs(t[(300.0, 315.0)] - t[(200.0, 315.0)])
    rows = [
        ["E_IeX at Delta E = 315 meV, SiO2 (eV)", f"{E[1]:.3f}", "1.39", _mark(E[1], 1.375, 1.405)],
        ["E_IaX MoSe2 (eV)", f"{E[0]:.3f}", "1.65", _mark(E[0], 1.635, 1.665) + " (effect on tau: row 2 below)"],
        ["E_IaX - E_IeX (meV)", f"{1e3 * (E[0] - E[1]):.0f}", "260", ""],
        ["tau(300 K, 315 meV) (ps)", f"{t[(300.0, 315.0)]:.2f}", "2.61 (+-30 %)",
         _mark(t[(300.0, 315.0)], 0.7 * 2.61, 1.3 * 2.61)],
        ["tau(415)/tau(315), 300 K", f"{r415:.2f}", "1.88 (+-0.3)", _mark(r415, 1.58, 2.18)],
        ["tau(215)/tau(315), 300 K", f"{r215:.2f}", "0.26 (+-0.08)", _mark(r215, 0.18, 0.34)],
        ["tau(4 K) - tau(200 K), 315 meV (ps)", f"{drop:.2f}", "0.2 (+-0.1)", _mark(drop, 0.1, 0.3)],
        ["abs(tau(300 K) - tau(200 K)) (ps)", f"{flat:.3f}", "< 0.05", _mark(flat, 0.0, 0.05)],
        ["IaX density 10 ps after the pump / max, 77 K", f"{iax_after(p):.1e}", "< 1e-2", _mark(iax_after(p), 0, 0.01)],
        ["PL crossover at 77 K (ps after the pump)", f"{p.crossover_time:.1f}", "41 (+-30 %)",
         _mark(p.crossover_time, 0.7 * 41, 1.3 * 41)],
        ["equilibrium PL crossover temperature (K)", f"{p.crossover_temperature:.0f}", "200 (+-30)",
         _mark(p.crossover_temperature, 170, 230)],
        ["tau(77 K, 315 meV) (ps), main example", f"{p.formation_time:.2f}", "(about 2.7, inferred)", ""],
    ]
    return markdown_table(["quantity", "hpcx", "seed 001", ""], rows)


def substrates(sw):
    rows = []
    for k, sub in enumerate(sw.substrate):
        j = int(np.argmin(np.abs(sw.delta_e - 315.0)))
        E = sw.energy[k, j]
        rows.append([sub, f"{sw.binding_energy[k, 0]:.0f}", f"{sw.binding_energy[k, 1]:.0f}",
                     f"{1e3 * (E[0] - E[1]):.0f}", f"{_tau(sw, sub, 300.0, 315.0):.2f}",
                     f"{_tau(sw, sub, 300.0, 215.0) / _tau(sw, sub, 300.0, 315.0):.2f}",
                     f"{_tau(sw, sub, 300.0, 415.0) / _tau(sw, sub, 300.0, 315.0):.2f}",
                     f"{_tau(sw, sub, 4.0, 315.0) - _tau(sw, sub, 200.0, 315.0):.2f}"])
    return markdown_table(["substrate", "E_b IaX (meV)", "E_b IeX (meV)", "E_IaX - E_IeX at 315 (meV)",
                           "tau(300 K) (ps)", "tau(215)/tau(315)", "tau(415)/tau(315)", "tau(4 K) - tau(200 K) (ps)"],
                          rows)


def sensitivity(runs):
    rows = []
    for label, d, res in runs.values():
        sw, p = res.sweep, res.point
        t = {(T, e): _tau(sw, "SiO2", T, e) for T in (4.0, 200.0, 300.0) for e in (d - 100.0, d, d + 100.0)}
        rows.append([label, f"{d:.0f}", f"{1e3 * (p.energy[0] - p.energy[1]):.0f}", f"{t[(300.0, d)]:.2f}",
                     f"{t[(300.0, d + 100.0)] / t[(300.0, d)]:.2f}", f"{t[(300.0, d - 100.0)] / t[(300.0, d)]:.2f}",
                     f"{t[(4.0, d)] - t[(200.0, d)]:.2f}", f"{abs(t[(300.0, d)] - t[(200.0, d)]):.3f}",
                     f"{p.formation_time:.2f}", f"{iax_after(p):.1e}", f"{p.crossover_time:.1f}",
                     f"{p.crossover_temperature:.0f}"])
    rows.append(["seed 001", "315", "260", "2.61", "1.88", "0.26", "0.2", "< 0.05", "(about 2.7)", "< 1e-2", "41",
                 "200"])
    return markdown_table(["variant", "Delta E (meV)", "E_IaX - E_IeX (meV)", "tau(300 K) (ps)",
                           "tau(+100)/tau", "tau(-100)/tau", "tau(4 K) - tau(200 K) (ps)", "abs(tau(300) - tau(200))",
                           "tau(77 K) (ps)", "IaX(10 ps)/max", "PL crossover 77 K (ps)", "T_c (K)"], rows)


def pl_sensitivity(base, pl_runs):
    rows = [["as computed", f"{base.formation_time:.2f}", f"{base.crossover_time:.1f}",
             f"{base.crossover_temperature:.0f}"]]
    for label, p in pl_runs.values():
        rows.append([label, f"{p.formation_time:.2f}", f"{p.crossover_time:.1f}", f"{p.crossover_temperature:.0f}"])
    rows.append(["seed 001", "(about 2.7)", "41", "200"])
    return markdown_table(["variant (77 K)", "tau (ps)", "PL crossover (ps)", "T_c (K)"], rows)


def tau_figure(sw):
    from hpcx.plotting import pyplot, title
    plt = pyplot()
    fig, (ax_d, ax_t) = plt.subplots(1, 2, figsize=(10, 3.8))
    k = sw.substrate.index("SiO2") if "SiO2" in sw.substrate else 0
    for i, T in enumerate(sw.temperature):
        ax_d.plot(sw.delta_e, sw.formation_time[k, i], "o-", label=f"hpcx, T = {T:g} K, {sw.substrate[k]}")
    ax_d.plot([215.0, 315.0, 415.0], [0.69, 2.61, 4.91], "k*", ms=9, label="seed 001, 300 K")
    ax_d.set(xlabel=r"band offset $\Delta E$ (meV)", ylabel=r"formation time $\tau$ (ps)")
    ax_d.legend(fontsize=7)
    j = int(np.argmin(np.abs(sw.delta_e - 315.0)))
    for s, name in enumerate(sw.substrate):
        ax_t.plot(sw.temperature, sw.formation_time[s, :, j], "o-", label=f"hpcx on {name}")
    ax_t.set(xlabel="temperature T (K)", ylabel=r"formation time $\tau$ (ps)")
    ax_t.legend(fontsize=7)
    ax_t.set_title(rf"$\Delta E$ = {sw.delta_e[j]:g} meV", fontsize=9)
    fig.suptitle(title("MoSe2-WSe2", extra="interlayer exciton formation time (seed 001 Fig. 3b)"), fontsize=9)
    return fig


if __name__ == "__main__":
    Page.main(__file__, main)
