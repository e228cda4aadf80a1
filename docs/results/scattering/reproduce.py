"""Reproduce docs/results/scattering.md: the calibration, grid convergence and phonon sensitivity of the
RTA diffusion of MoSe2-WSe2/hBN moiré excitons.

    python docs/results/scattering/reproduce.py [--smoke] [--workdir DIR]   (make figures TOPIC=scattering)

Runs the ``scattering`` workflow at 10 K (the sampling tables at 300 K, where they converge in a
few iterations) with 3 bands, 6 shells, Gaussian broadening with HWHM floor 0.2 meV,
self-consistent Gamma to 1e-5, detailed balance, the form-factor moiré potential (s = 0.5):

1. calibration: 3 deg with the tabulated couplings (``acoustic_scale = 1``) on n x n grids,
   n = 15, 21, 27; the CALIBRATED scale of phonons.toml from the finest grid and the measured
   exponent of D(lambda), checked by a run with the scale on the 21 x 21 grid;
2. grid convergence with the calibrated couplings: 3-6 deg on n = 15, 21, 27 (3 deg: 15, 21), and
   at 50 K on n = 21, 27 for 5 and 6 deg;
3. sensitivity at 3 deg on the 15 x 15 grid: acoustic D1 and optical D0 scaled by 0.5 and 2 on top
   of the calibrated values (library calls), at 10, 70 and 300 K.

D(T) with the Monte Carlo and the Boltzmann RTA side by side is on docs/results/transport.md.
About 1 h on 2 cores; finished runs are reused from build/results/scattering/.  The smoke version
(--smoke) runs 4 x 4 and 5 x 5 grids in a few seconds.
"""

import dataclasses

import numpy as np

from hpcx.materials.phonons import calibration
from hpcx.parallel import block_range
from hpcx.physics import scattering_states as ss
from hpcx.physics import scattering_tables as st
from hpcx.reproduce import Page, markdown_table

SYSTEM = "MoSe2-WSe2/hBN"
SCATTERING = {"model": "moire", "system": SYSTEM, "n_bands": 3, "beta": 2.0, "width_min": 0.2}
SENSITIVITY = ((1.0, 1.0), (0.5, 1.0), (2.0, 1.0), (1.0, 0.5), (1.0, 2.0))
SEED_3DEG_10K = 2.7          # seed 000 Fig. 3a and text: D for a Boltzmann distribution at 3 deg, 10 K (cm^2/s)


def sizes(page):
    """Angles, grids and temperatures of the full page or of the smoke run."""
    return page.pick(
        dict(T=10.0, table_T=300.0, calib_grids=(15, 21, 27), check_grid=21, angles=(3.0, 4.0, 5.0, 6.0),
             grids={3.0: (15, 21), 4.0: (15, 21, 27), 5.0: (15, 21, 27), 6.0: (15, 21, 27)}, sens_grid=15,
             sens_temps=(10.0, 70.0, 300.0), shells=6, warm={5.0: (21, 27), 6.0: (21, 27)}, warm_T=50.0),
        dict(T=30.0, table_T=300.0, calib_grids=(4, 5), check_grid=4, angles=(3.0, 5.0),
             grids={3.0: (4,), 5.0: (4, 5)}, sens_grid=4, sens_temps=(150.0,), shells=3, warm={5.0: (4, 5)},
             warm_T=150.0))


def config(z, theta, grid, scale=None):
    extra = {} if scale is None else {"acoustic_scale": scale}
    temps = [z["T"]] + ([z["warm_T"]] if grid in z["warm"].get(theta, ()) and scale is None else [])
    return {"run": {"workflow": "scattering"},
            "scattering": {**SCATTERING, "shells": z["shells"], "twist_deg": theta, "grid": grid,
                           "temperatures": temps, "table_temperature": z["table_T"], **extra}}


def rta(page, name, cfg, T=None):
    """(D cm^2/s, v2_eff nm^2/ps^2, tau_eff ps, iterations) at T (default: the first temperature) of one run."""
    page.run(name, cfg)
    res = page.read(name)
    k = 0 if T is None else list(res.temperature).index(T)
    return float(res.diffusion[k]), float(res.v2_eff[k]), float(res.tau_eff[k]), int(res.iterations[k])


def calibration_runs(page, z):
    """({grid: values} with the tabulated couplings, values of the check run with the calibrated scale)."""
    bare = {g: rta(page, f"calib_3deg_grid{g}", config(z, 3.0, g, 1.0)) for g in z["calib_grids"]}
    check = rta(page, f"calib_check_grid{z['check_grid']}", config(z, 3.0, z["check_grid"],
                                                                   calibration(SYSTEM).acoustic_scale))
    return bare, check


def convergence_runs(page, z):
    """{(theta, grid): values} with the calibrated couplings (the default)."""
    return {(th, g): rta(page, f"rta_{th:g}deg_grid{g}", config(z, th, g)) for th in z["angles"]
            for g in z["grids"][th]}


def warm_table(page, z):
    """The finer-grid check at warm_T for the slowest-converging angles: D_RTA (tau_eff) per grid."""
    rows = []
    for th, grids in z["warm"].items():
        cells = []
        for g in grids:
            v = rta(page, f"rta_{th:g}deg_grid{g}", config(z, th, g), z["warm_T"])
            cells.append(f"{v[0]:#.4g} ({v[2]:#.3g})")
        rows.append([f"{th:g}°, {z['warm_T']:g} K", *cells])
    n = max(len(g) for g in z["warm"].values())
    grids = next(g for g in z["warm"].values() if len(g) == n)
    return markdown_table(["θ, T"] + [f"n = {g}" for g in grids], rows)


def scaled_modes(model, d1, d0):
    """The model's phonon modes with acoustic (Debye) D x d1 and optical (Einstein) D x d0."""
    return [dataclasses.replace(m, D_e=m.D_e * (d1 if m.kind == "debye" else d0),
                                D_h=m.D_h * (d1 if m.kind == "debye" else d0)) for m in model.modes()]


def sensitivity(page, z):
    """{(d1, d0): [D(T) cm^2/s for sens_temps]} at 3 deg (library calls; rows over the page's ranks)."""
    model = ss.moire_model(SYSTEM, "hBN", z["shells"], SCATTERING["n_bands"], z["sens_grid"], 1e-3)
    settings = st.TableSettings(2.0, SCATTERING["width_min"], 1e-5, 300, 0.5, True, 1e-6)
    exciton = model.exciton()
    bands = ss.solve_moire_bands(model.system, 3.0, model.shells, model.grid, model.n_bands,
                                 model.potential_at(3.0, exciton))
    out = {}
    for d1, d0 in SENSITIVITY:
        states = ss.moire_states(bands, exciton, scaled_modes(model, d1, d0), model.coupling_cut)
        terms = states.terms(*block_range(states.n, page.comm.size, page.comm.rank))
        out[(d1, d0)] = [float(st.rta_of_rows(states.energy, states.velocity, states.weight,
                                              st.local_table(states.energy, terms, T, settings, page.comm).W,
                                              T, page.comm)[0]) for T in z["sens_temps"]]
    return out


def fit_scale(bare, check, z):
    """(lambda from the finest grid and the exponent measured between lambda = 1 and the check run)."""
    finest = max(bare)
    lam = calibration(SYSTEM).acoustic_scale
    exponent = np.log(check[0] / bare[z["check_grid"]][0]) / np.log(lam) if lam != 1.0 else -2.0
    return (bare[finest][0] / SEED_3DEG_10K) ** (-1.0 / exponent), exponent, finest


def calibration_table(bare, check, z):
    lam = calibration(SYSTEM).acoustic_scale
    rows = [[f"{g} × {g}", "1 (tabulated)", f"{v[0]:#.4g}", f"{v[1]:.0f}", f"{v[2]:#.3g}", f"{v[3]}"]
            for g, v in bare.items()]
    g = z["check_grid"]
    rows.append([f"{g} × {g}", f"{lam:.4g} (CALIBRATED)", f"{check[0]:#.4g}", f"{check[1]:.0f}", f"{check[2]:#.3g}",
                 f"{check[3]}"])
    fit, exponent, finest = fit_scale(bare, check, z)
    rows.append([f"{finest} × {finest} (from the {g} × {g} ratio)", f"{lam:.4g}",
                 f"{check[0] * bare[finest][0] / bare[g][0]:#.4g}", "", "", ""])
    table = markdown_table(["3°, 10 K grid", "acoustic scale λ", "D_RTA (cm²/s)", "v²_eff (nm²/ps²)",
                            "τ_eff (ps)", "SI Eq. 24 iterations"], rows)
    return table + (f"\n\nd ln D / d ln λ = {exponent:.3f} (between λ = 1 and λ = {lam:.4g}, {g} × {g}); "
                    f"λ = (D_{finest}(λ = 1) / {SEED_3DEG_10K}) ^ (1 / {-exponent:.3f}) = {fit:.4f}\n")


def convergence_table(data, z):
    grids = sorted({g for gs in z["grids"].values() for g in gs})
    rows = []
    for th in z["angles"]:
        cells = []
        for g in grids:
            v = data.get((th, g))
            cells.append(f"{v[0]:#.4g} ({v[2]:#.3g})" if v else "–")
        rows.append([f"{th:g}°", *cells])
    return markdown_table(["θ"] + [f"n = {g} ({g * g * 3} states)" for g in grids], rows)


def sensitivity_table(sens, z):
    names = {(1.0, 1.0): "as in phonons.toml (calibrated)", (0.5, 1.0): "acoustic D₁ × 0.5",
             (2.0, 1.0): "acoustic D₁ × 2", (1.0, 0.5): "optical D₀ × 0.5", (1.0, 2.0): "optical D₀ × 2"}
    rows = [[names[key]] + [f"{D:#.3g}" for D in values] for key, values in sens.items()]
    header = [f"D({T:g} K)" for T in z["sens_temps"]]
    return markdown_table(["change"] + header[:-1] + [header[-1] + " (cm²/s)"], rows)


def figure_convergence(page, bare, data, z):
    from hpcx.plotting import pyplot, title
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.9))
    for th in z["angles"]:
        pts = sorted((g, v[0]) for (t, g), v in data.items() if t == th)
        ax.plot([g for g, _ in pts], [d for _, d in pts], "o-", label=f"{th:g}°, calibrated couplings")
    pts = sorted((g, v[0]) for g, v in bare.items())
    ax.plot([g for g, _ in pts], [d for _, d in pts], "s--", mfc="none", label="3°, tabulated couplings (λ = 1)")
    ax.plot([max(bare)], [SEED_3DEG_10K], "k*", ms=10, label="seed 000, 3° Boltzmann D (calibration target)")
    ax.set(xlabel="grid n (n × n mini-BZ points, 3 bands)", ylabel=f"$D_{{RTA}}$({z['T']:g} K) (cm$^2$/s)",
           yscale="log")
    ax.legend(fontsize=7)
    ax.set_title(title("MoSe2–WSe2/hBN", temperature_K=z["T"], extra="grid convergence"), fontsize=9)
    page.figure(fig, "scattering_convergence", dpi=90)


def main(page):
    z = sizes(page)
    bare, check = calibration_runs(page, z)
    data = convergence_runs(page, z)
    sens = sensitivity(page, z)
    page.table("calibration", calibration_table(bare, check, z))
    page.table("convergence", convergence_table(data, z))
    page.table("warm", warm_table(page, z))
    page.table("sensitivity", sensitivity_table(sens, z))
    figure_convergence(page, bare, data, z)


if __name__ == "__main__":
    Page.main(__file__, main)
