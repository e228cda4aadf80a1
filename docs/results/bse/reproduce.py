"""Reproduce docs/results/bse.md: monolayer WSe2 from the Wannier90 fixture (seed 004), its tables and figures.

    python docs/results/bse/reproduce.py [--smoke] [--workdir DIR]        (make figures TOPIC=bse)

Runs the ``bse`` workflow (all eigenpairs, dense solver) on the fixture at the example's
settings (2 v + 2 c, 9 x 9) and on 24 x 24 with and without exchange; the binding-energy
convergence (direct term, 1 v + 1 c fixture, 1 v + 2 c three-band model) is a library
calculation on grids up to 33 x 33.  About 2 minutes on one core.
"""

import numpy as np

from hpcx.bse import bands as bb
from hpcx.bse import hamiltonian as hh
from hpcx.bse import interaction as it
from hpcx.bse.liu import liu_model
from hpcx.bse.tbmodel import monkhorst_pack
from hpcx.formats.wannier90 import load_wannier90
from hpcx.plotting import pyplot, title
from hpcx.reproduce import ROOT, Page, markdown_table

FIXTURE = ROOT / "examples" / "data" / "wse2-wannier90"
SYSTEM = "monolayer WSe2 (Wannier90 fixture, LDA)"
BERKELBACH_EB = 0.45      # eV, Berkelbach, Hybertsen, Reichman, PRB 88, 045318 (2013), free-standing WSe2


def config(n, exchange):
    """The fixture at the example's band window and interaction, all eigenpairs, n x n grid."""
    return {"run": {"workflow": "bse"},
            "bse": {"source": "wannier90", "wannier90_dir": str(FIXTURE), "seedname": "WSe2", "n_occupied": 7,
                    "k_grid": n, "valence_bands": 2, "conduction_bands": 2, "exchange": exchange, "n_eig": 0,
                    "broadening": 0.03, "energy_min": 0.8, "energy_max": 2.6, "wavefunctions": 5}}


def convergence(grids):
    """E_b (eV) of the lowest exciton, direct term only: fixture 1 v + 1 c, three-band TNN + SOC 1 v + 2 c."""
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


def lowest_table(runs, states=8):
    """E, E - gap and f of the lowest states of each run: {label: Result}."""
    header = ["S"]
    for label in runs:
        header += [f"{label} E (eV)", "E − gap (eV)", "f"]
    rows = []
    for s in range(states):
        row = [s]
        for r in runs.values():
            row += [f"{r.eigenvalues[s]:.4f}", f"{r.eigenvalues[s] - r.qp_gap:+.3f}", f"{r.oscillator_strength[s]:.3g}"]
        rows.append(row)
    return markdown_table(header, rows)


def convergence_table(grids, conv, shown):
    cols = [grids.index(n) for n in shown if n in grids]
    rows = [["fixture (LDA, no SOC)"] + [f"{conv['fixture'][i]:.4f}" for i in cols],
            ["three-band TNN + SOC (1 v + 2 c, f_x = 1)"] + [f"{conv['liu'][i]:.4f}" for i in cols]]
    return markdown_table(["grid"] + [str(grids[i]) for i in cols], rows)


def spectrum_figure(page, panels):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    for ax, (label, r) in zip(np.atleast_1d(axes), panels.items()):
        ax.plot(r.energy, r.sigma, label="BSE (with e-h interaction)")
        ax.plot(r.energy, r.sigma_ip, "--", label="independent particles")
        ax.axvline(r.qp_gap, color="0.6", lw=0.8, label="quasiparticle gap")
        ax.set_title(title(SYSTEM, extra=label), fontsize=9)
        ax.set_xlabel("photon energy E (eV)")
        ax.set_ylabel(r"Re $\sigma_{xx}$ ($e^2/\hbar$)")
        ax.legend(fontsize=7)
    page.figure(fig, "bse_spectrum", dpi=90)


def wavefunction_figure(page, r, states=(0, 2, 4), view=30.0):
    """|Psi_S|^2 on the electron sites, hole fixed on the W atom (+), one panel per state."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(states) + 1, figsize=(3.5 * len(states) + 0.8, 3.5),
                             gridspec_kw={"width_ratios": [1] * len(states) + [0.06]})
    p, hole = r.positions.reshape(-1, 3), r.hole_position
    for ax, s in zip(axes, states):
        d = r.density[s].ravel()
        keep = d > 1e-4 * d.max()
        image = ax.scatter(p[keep, 0], p[keep, 1], c=d[keep] / d.max(), s=6, cmap="magma_r", vmin=0, vmax=1)
        ax.plot(hole[0], hole[1], "c+", ms=10, mew=2, label="hole (fixed, W site)")
        ax.set_aspect("equal")
        ax.set_title(f"S{s}: {r.eigenvalues[s]:.3f} eV", fontsize=10)
        ax.set_xlabel("x (Å)")
        ax.set_ylabel("y (Å)")
        ax.set_xlim(hole[0] - view, hole[0] + view)
        ax.set_ylim(hole[1] - view, hole[1] + view)
        ax.legend(fontsize=7, loc="upper right")
    fig.colorbar(image, cax=axes[-1], label="|Ψ_S(r_e, r_h)|² / its maximum")
    fig.suptitle(title(SYSTEM, extra=f"{r.grid[0]} × {r.grid[1]} k-points, electron density with the hole fixed"),
                 fontsize=9)
    page.figure(fig, "bse_wavefunction", dpi=90)


def convergence_figure(page, grids, conv):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(grids, conv["fixture"], "o-", label="Wannier90 fixture (LDA, no SOC)")
    ax.plot(grids, conv["liu"], "s-", label="three-band TNN + SOC")
    ax.axhline(BERKELBACH_EB, color="0.5", ls=":", label=f"Berkelbach 2013 ({BERKELBACH_EB} eV)")
    ax.set_xlabel("k-grid n (n × n)")
    ax.set_ylabel("binding energy E_b (eV)")
    ax.set_title(title("monolayer WSe2", extra="lowest exciton, direct term"), fontsize=9)
    ax.legend(fontsize=8)
    page.figure(fig, "bse_convergence", dpi=90)


def main(page):
    coarse_n, fine_n = page.pick(9, 6), page.pick(24, 9)
    runs = {}
    for name, n, x in (("coarse", coarse_n, True), ("fine", fine_n, True), ("fine_no_exchange", fine_n, False)):
        page.run(f"wse2_{n}x{n}{'' if x else '_no_exchange'}", config(n, x))
        runs[name] = page.read(f"wse2_{n}x{n}{'' if x else '_no_exchange'}")
    page.table("lowest", lowest_table({f"{coarse_n} × {coarse_n} (example)": runs["coarse"],
                                       f"{fine_n} × {fine_n}": runs["fine"]}))
    if page.root:
        spectrum_figure(page, {f"{coarse_n} × {coarse_n} (examples/bse_wse2.toml)": runs["coarse"],
                               f"{fine_n} × {fine_n}": runs["fine"]})
        wavefunction_figure(page, runs["fine"])
    grids = page.pick([9, 12, 15, 18, 21, 24, 27, 30, 33], [6, 9])
    conv = convergence(grids)
    page.table("convergence", convergence_table(grids, conv, page.pick([9, 15, 21, 27, 33], grids)))
    if page.root:
        convergence_figure(page, grids, conv)
    gap = runs["coarse"].qp_gap
    exchange_effect = np.abs(runs["fine"].eigenvalues[:8] - runs["fine_no_exchange"].eigenvalues[:8]).max()
    page.table("summary", markdown_table(["quantity", "value"], [
        ["LDA quasiparticle gap in the basis (direct, at K)", f"{gap:.4f} eV"],
        [f"binding energy, {fine_n} × {fine_n}, exchange on", f"{runs['fine'].binding_energy:.4f} eV"],
        [f"largest change of the lowest 8 energies without exchange ({fine_n} × {fine_n})",
         f"{exchange_effect:.1e} eV"]]))


if __name__ == "__main__":
    Page.main(__file__, main)
