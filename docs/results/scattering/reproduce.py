"""Reproduce docs/results/scattering.md: RTA D(T) of MoSe2-WSe2/hBN moiré excitons for 3-6 deg.

    python docs/results/scattering/reproduce.py [--smoke] [--workdir DIR]   (make figures TOPIC=scattering)

Runs the ``scattering`` workflow with the settings of examples/scattering.toml except the
grid (3 bands, 6 shells, Gaussian broadening with HWHM floor 0.2 meV, self-consistent
Gamma to 1e-5, detailed balance):

1. grid convergence: D, tau_eff at 10 K for every angle on n x n grids, n = 9, 15, 21, 27,
   and 33 for 5 deg and 6 deg;
2. D(T) on the 21 x 21 grid at 10-300 K for every angle (figure scattering_rta.png), and the
   27 x 27 check at 10-50 K for 4-6 deg (open symbols);
3. sensitivity at 3 deg on the 15 x 15 grid: acoustic D1 and optical D0 scaled by 0.5 and 2
   (library calls: the scaled phonon modes are not a config key).

The full version takes about 2 h on 2 cores (most of it the 27 x 27 and 33 x 33 grids);
finished runs are reused from build/results/scattering/.  The smoke version (--smoke) runs
one angle on 4 x 4 and 5 x 5 grids in a few seconds.
"""

import dataclasses

from hpcx.parallel import block_range
from hpcx.physics import scattering_states as ss
from hpcx.physics import scattering_tables as st
from hpcx.reproduce import Page, markdown_table

TEMPS = (10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0)
SCATTERING = {"model": "moire", "system": "MoSe2-WSe2/hBN", "shells": 6, "n_bands": 3, "beta": 2.0,
              "width_min": 0.2}
SENSITIVITY = ((1.0, 1.0), (0.5, 1.0), (2.0, 1.0), (1.0, 0.5), (1.0, 2.0))
SEED_3DEG_10K = 2.7          # seed 000 Fig. 3a, RTA with a Boltzmann distribution, cm^2/s


def sizes(page):
    """Angles, grids and temperatures of the full page or of the smoke run."""
    return page.pick(
        dict(conv_T=10.0, angles=(3.0, 4.0, 5.0, 6.0), grids=(9, 15, 21, 27), fine_grid=33, fine_angles=(5.0, 6.0),
             curve_grid=21, temps=TEMPS, check_grid=27, check_angles=(4.0, 5.0, 6.0),
             check_temps=(10.0, 20.0, 30.0, 50.0), sens_grid=15, sens_temps=(10.0, 70.0, 300.0), shells=6),
        dict(conv_T=30.0, angles=(3.0,), grids=(4,), fine_grid=5, fine_angles=(3.0,), curve_grid=4, temps=(30.0, 150.0),
             check_grid=5, check_angles=(3.0,), check_temps=(30.0,), sens_grid=4, sens_temps=(150.0,), shells=3))


def config(theta, grid, temps, shells):
    return {"run": {"workflow": "scattering"},
            "scattering": {**SCATTERING, "shells": shells, "twist_deg": theta, "grid": grid,
                           "temperatures": list(temps), "table_temperature": temps[0]}}


def rta(page, theta, grid, temps, shells):
    """{T: (D cm^2/s, v2_eff nm^2/ps^2, tau_eff ps)} of one scattering run (computed unless cached)."""
    name = f"rta_{theta:g}deg_grid{grid}"
    page.run(name, config(theta, grid, temps, shells))
    res = page.read(name)
    return {float(T): (d, v, t) for T, d, v, t in zip(res.temperature, res.diffusion, res.v2_eff, res.tau_eff)}


def runs(page, z):
    """The RTA values of every run of the page: {(theta, grid): {T: (D, v2, tau)}}."""
    out = {}
    for th in z["angles"]:
        want = {g: {z["conv_T"]} for g in z["grids"]}
        want.setdefault(z["curve_grid"], set()).update(z["temps"])
        if th in z["check_angles"]:
            want.setdefault(z["check_grid"], set()).update(z["check_temps"])
        if th in z["fine_angles"]:
            want.setdefault(z["fine_grid"], set()).add(z["conv_T"])
        for g, temps in want.items():
            out[(th, g)] = rta(page, th, g, sorted(temps), z["shells"])
    return out


def scaled_modes(model, d1, d0):
    """The model's phonon modes with acoustic (Debye) D x d1 and optical (Einstein) D x d0."""
    return [dataclasses.replace(m, D_e=m.D_e * (d1 if m.kind == "debye" else d0),
                                D_h=m.D_h * (d1 if m.kind == "debye" else d0)) for m in model.modes()]


def sensitivity(page, z):
    """{(d1, d0): [D(T) cm^2/s for sens_temps]} at 3 deg (library calls; rows over the page's ranks)."""
    th = 3.0 if 3.0 in z["angles"] else z["angles"][0]
    model = ss.moire_model(SCATTERING["system"], "hBN", z["shells"], SCATTERING["n_bands"], z["sens_grid"], 1e-3)
    settings = st.TableSettings(2.0, SCATTERING["width_min"], 1e-5, 300, 0.5, True, 1e-6)
    bands = ss.solve_moire_bands(model.system, th, model.shells, model.grid, model.n_bands)
    exciton = model.exciton()
    out = {}
    for d1, d0 in SENSITIVITY:
        states = ss.moire_states(bands, exciton, scaled_modes(model, d1, d0), model.coupling_cut)
        terms = states.terms(*block_range(states.n, page.comm.size, page.comm.rank))
        out[(d1, d0)] = [float(st.rta_of_rows(states.energy, states.velocity, states.weight,
                                              st.local_table(states.energy, terms, T, settings, page.comm).W,
                                              T, page.comm)[0]) for T in z["sens_temps"]]
    return out


def convergence_table(data, z):
    grids, T = list(z["grids"]) + [z["fine_grid"]], z["conv_T"]
    rows = []
    for th in z["angles"]:
        cells = []
        for g in grids:
            p = data.get((th, g), {}).get(T)
            cells.append(f"{p[0]:#.4g} ({p[2]:#.3g})" if p else "–")
        rows.append([f"{th:g}°", *cells])
    return markdown_table(["θ"] + [f"n = {g} ({g * g * 3} states)" for g in grids], rows)


def curve_table(data, z):
    rows = [[f"{th:g}°"] + [f"{data[(th, z['curve_grid'])][T][0]:#.3g}" for T in z["temps"]] for th in z["angles"]]
    return markdown_table(["θ"] + [f"{T:g} K" for T in z["temps"][:-1]] + [f"{z['temps'][-1]:g} K (cm²/s)"], rows)


def check_table(data, z):
    rows = []
    for th in z["check_angles"]:
        cells = []
        for T in z["check_temps"]:
            fine, coarse = data[(th, z["check_grid"])][T][0], data[(th, z["curve_grid"])][T][0]
            cells.append(f"{fine:#.3g} ({100 * (fine / coarse - 1):+.1f} %)".replace("-", "−"))
        rows.append([f"{th:g}°", *cells])
    return markdown_table(["θ"] + [f"{T:g} K" for T in z["check_temps"]], rows)


def sensitivity_table(sens, z):
    names = {(1.0, 1.0): "as in phonons.toml", (0.5, 1.0): "acoustic D₁ × 0.5", (2.0, 1.0): "acoustic D₁ × 2",
             (1.0, 0.5): "optical D₀ × 0.5", (1.0, 2.0): "optical D₀ × 2"}
    rows = [[names[key]] + [f"{D:#.3g}" for D in values] for key, values in sens.items()]
    header = [f"D({T:g} K)" for T in z["sens_temps"]]
    return markdown_table(["change"] + header[:-1] + [header[-1] + " (cm²/s)"], rows)


def figure_rta(page, data, z):
    from hpcx.plotting import pyplot, title
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    labels = (r"$D_{RTA}$ (cm$^2$/s)", r"$v^2_{eff} = \sum_i N_i |v_i|^2$ (nm$^2$/ps$^2$)",
              r"$\tau_{eff} = \sum_i N_i \tau_i$ (ps)")
    for th in z["angles"]:
        curve = data[(th, z["curve_grid"])]
        T = sorted(curve)
        for k, ax in enumerate(axes):
            line, = ax.plot(T, [curve[t][k] for t in T], "o-", ms=3,
                            label=f"{th:g}°, {z['curve_grid']}×{z['curve_grid']} grid")
            if th in z["check_angles"]:
                check = data[(th, z["check_grid"])]
                ax.plot(sorted(check), [check[t][k] for t in sorted(check)], "o", mfc="none", ms=8,
                        color=line.get_color(), label=f"{th:g}°, {z['check_grid']}×{z['check_grid']} grid")
    axes[0].plot([10.0], [SEED_3DEG_10K], "k*", ms=10, label="seed 000, 3°, RTA at 10 K")
    for ax, label in zip(axes, labels):
        ax.set(xlabel="T (K)", ylabel=label, yscale="log")
        ax.legend(fontsize=6)
    fig.suptitle(title("MoSe2–WSe2/hBN interlayer excitons", extra="relaxation-time approximation (SI Eq. 23): "
                       "Boltzmann occupation N_i, τ_i = 1/Σ_f W_if, 3 bands"), fontsize=9)
    page.figure(fig, "scattering_rta", dpi=90)


def figure_convergence(page, data, z):
    from hpcx.plotting import pyplot, title
    plt = pyplot()
    grids, T = list(z["grids"]) + [z["fine_grid"]], z["conv_T"]
    fig, ax = plt.subplots(figsize=(5.0, 3.8))
    for th in z["angles"]:
        pts = [(g, data[(th, g)][T][0]) for g in grids if T in data.get((th, g), {})]
        ax.plot([g for g, _ in pts], [d for _, d in pts], "o-", label=f"{th:g}°")
    ax.set(xlabel="grid n (n × n mini-BZ points, 3 bands)", ylabel=f"$D_{{RTA}}$({T:g} K) (cm$^2$/s)", yscale="log")
    ax.legend(fontsize=8)
    ax.set_title(title("MoSe2–WSe2/hBN", temperature_K=T, extra="grid convergence"), fontsize=9)
    page.figure(fig, "scattering_convergence", dpi=90)


def main(page):
    z = sizes(page)
    data = runs(page, z)
    sens = sensitivity(page, z)
    page.table("convergence", convergence_table(data, z))
    page.table("rta", curve_table(data, z))
    page.table("check", check_table(data, z))
    page.table("sensitivity", sensitivity_table(sens, z))
    figure_rta(page, data, z)
    figure_convergence(page, data, z)


if __name__ == "__main__":
    Page.main(__file__, main)
