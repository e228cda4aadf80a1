"""Reproduce docs/results/biexciton.md: seed 003 Figs. 2, 3b, 4 analogues and the tables of the page.

    python docs/results/biexciton/reproduce.py [--smoke] [--workdir DIR]     (make figures TOPIC=biexciton)
"""

import tomllib

import numpy as np

from hpcx.materials import environment, heterostructure, tmd
from hpcx.materials.moire import moire_system
from hpcx.physics import biexciton as bx
from hpcx.physics import moire as mp
from hpcx.reproduce import ROOT, Page, markdown_table

SYSTEM = "MoSe2-WSe2/hBN"
EPS_HBN_SEED = 4.5                   # seed 003 App. III (hpcx/materials/biexciton.toml)
PL_FILLINGS = (0.5, 1.0, 1.5, 1.9)   # rows of the PL table


def config(page):
    """examples/biexciton.toml; a smaller basis, window and grids in a smoke run."""
    data = tomllib.loads((ROOT / "examples" / "biexciton.toml").read_text())
    if page.smoke:
        data["biexciton"].update(twist_scan=[0.5, 1.0], n_radial=40, lifetime_n_radial=40, window=4,
                                 fillings=[0.5, 1.0, 1.5, 1.9], pl_points=201, dipole_scales=[0.0, 1.0, 2.0])
    return data


def repulsion_table(res):
    rep = res.repulsion
    head = ["θ (deg)", "a_M (nm)", "ħω0 (meV)"] + [f"Δxx, ε_r = {e:g} (meV)" for e in rep.epsilon] \
        + [f"Δxx/ħω0 (ε_r = {rep.epsilon[0]:g})"]
    rows = [[f"{t:g}", f"{rep.period[j]:.2f}", f"{rep.hbar_omega0[j]:.2f}"]
            + [f"{rep.delta_xx[i, j]:.2f}" for i in range(len(rep.epsilon))]
            + [f"{rep.delta_xx[0, j] / rep.hbar_omega0[j]:.3f}"] for j, t in enumerate(rep.theta_deg)]
    return markdown_table(head, rows)


def trap_table(res):
    """The 1 deg numbers next to the seed's, and the linear fit of Delta_xx(theta)."""
    rep, trap, b = res.repulsion, res.trap, res.biexciton
    slope, intercept = np.polyfit(rep.theta_deg, rep.delta_xx[0], 1)
    fit = f"{slope:.1f} meV/deg · θ {'+' if intercept >= 0 else '−'} {abs(intercept):.1f} meV"
    rows = [["U0 = −M(r_min)", f"{trap.u0:.3f} meV", "3√3 B/2"],
            ["ħω0 from the curvature of M(r)", f"{trap.hbar_omega0:.3f} meV", "≈ 20 meV"],
            ["ħω0 from Eq. 22", f"{trap.hbar_omega0_eq22:.3f} meV", ""],
            [f"Δxx (ε_r = {res.epsilon_r:g})", f"{b.delta_xx:.3f} meV", "≈ 17 meV"],
            ["largest \\|Δxx(n) − Δxx(n/2)\\| of the scan", f"{np.abs(rep.delta_xx_change).max():.3f} meV", ""],
            [f"linear fit Δxx(θ), ε_r = {rep.epsilon[0]:g}", fit, "∝ θ"],
            ["ζ = τ_xx/τ_x (Eq. 47)", f"{b.lifetime_ratio:.4f}", ""]]
    return markdown_table([f"at {res.twist_deg:g}°", "hpcx", "seed 003"], rows)


def convergence_table(page):
    """Delta_xx (meV) against the relative-motion basis size at eps_r = 4.5."""
    sizes = page.pick((20, 40, 80, 160, 320), (20, 40))
    s = moire_system(SYSTEM)
    d = heterostructure("MoSe2-WSe2").interlayer_distance_nm
    rows = []
    for theta in (0.5, 1.0):
        _, trap = bx.trap_at(s.a_electron_nm, s.a_hole_nm, mp.MoirePotential.from_ab(s.A_meV, s.B_meV),
                             s.exciton_mass, theta)
        rows.append([f"{theta:g}"] + [f"{bx.delta_xx(trap, d, EPS_HBN_SEED, n):.4f}" for n in sizes])
    return markdown_table(["θ (deg)"] + [f"n_radial = {n}" for n in sizes], rows)


def sensitivity_table(page):
    """hbar omega0 and Delta_xx at 1 deg with one input changed at a time."""
    s = moire_system(SYSTEM)
    hbn = environment("hBN")
    eps_bulk = float(np.sqrt(hbn.eps_par * hbn.eps_perp))
    mass_cb = tmd("MoSe2").m_e + tmd("WSe2").m_h
    d = heterostructure("MoSe2-WSe2").interlayer_distance_nm
    base = dict(d=d, eps=EPS_HBN_SEED, mass=s.exciton_mass, b=s.B_meV, mismatch=True)
    cases = [("hpcx defaults", {}), ("d = 0.65 nm (seed's rounded value)", {"d": 0.65}),
             (f"ε_r = {eps_bulk:.2f} = √(ε_∥ε_⊥) of bulk hBN (environments.toml)", {"eps": eps_bulk}),
             (f"m_x = {mass_cb:.2f} m0 (bright-spin CB mass sum, tmd.toml)", {"mass": mass_cb}),
             ("B = 20 meV", {"b": 20.0}), ("a_M = a/θ (no mismatch, as the seed)", {"mismatch": False})]
    n_radial = page.pick(240, 40)
    rows = []
    for label, change in cases:
        p = dict(base, **change)
        _, trap = bx.trap_at(s.a_electron_nm, s.a_hole_nm, mp.MoirePotential.from_ab(0.0, p["b"]), p["mass"],
                             1.0, p["mismatch"])
        dxx = bx.delta_xx(trap, p["d"], p["eps"], n_radial)
        rows.append([label, f"{trap.hbar_omega0:.2f}", f"{dxx:.2f}", f"{dxx / trap.hbar_omega0:.3f}"])
    return markdown_table(["case", "ħω0 (meV)", "Δxx (meV)", "Δxx/ħω0"], rows)


def branching_table(res):
    """XX_0 -> X_N1 + photon: branching ratio and photon energy per final level N1."""
    b, hw = res.biexciton, res.trap.hbar_omega0
    levels = b.decay_levels[0]
    shown = [n for n in range(min(len(levels), 5))]
    rows = [[f"X{n}", f"{100 * levels[n] / levels.sum():.2f} %", f"{(2 * hw + b.delta_xx - hw * (n + 1)) / hw:.2f}"]
            for n in shown]
    return markdown_table(["final state", "branching", "photon energy (E − E0)/ħω0"], rows)


def lifetime_table(res):
    life = res.lifetime
    rows = [[f"{s:g}", f"{d:.3f}", f"{dxx:.2f}", f"{x:.3f}", f"{z:.4f}"] for s, d, dxx, x, z in
            zip(life.dipole_scale, life.dipole_length, life.delta_xx, life.x, life.zeta)]
    return markdown_table(["d scale", "d (nm)", "Δxx (meV)", "x = Δxx/ħω0", "ζ"], rows)


def pl_table(res):
    """Occupations and the X_0/XX_0 peak ratio at the fillings of PL_FILLINGS."""
    pl, trap = res.pl, res.trap
    x = (pl.energy + trap.u0) / trap.hbar_omega0
    i_x0 = np.argmin(np.abs(x - 1.0))
    i_xx = np.argmin(np.abs(x - (1.0 + res.biexciton.delta_xx / trap.hbar_omega0)))
    rows = []
    for a, t in enumerate(pl.temperature):
        for b, f in enumerate(pl.filling):
            if f in PL_FILLINGS:
                prob, spec = pl.probability[a, b], pl.intensity[a, b]
                rows.append([f"{t:g}", f"{f:g}", f"{prob[0]:.3f}", f"{prob[1]:.3f}", f"{prob[2]:.3f}",
                             f"{spec[i_x0] / spec[i_xx]:.3g}"])
    return markdown_table(["T_eff (K)", "filling", "P(0)", "P(1)", "P(2)", "I(X0)/I(XX0)"], rows)


def main(page):
    page.run("biexciton", config(page))
    res = page.read("biexciton")
    page.table("repulsion", repulsion_table(res))
    page.table("trap", trap_table(res))
    page.table("convergence", convergence_table(page))
    page.table("sensitivity", sensitivity_table(page))
    page.table("branching", branching_table(res))
    page.table("lifetime", lifetime_table(res))
    page.table("pl", pl_table(res))
    page.plot_run("biexciton")


if __name__ == "__main__":
    Page.main(__file__, main)
