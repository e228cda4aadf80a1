"""Continuum (effective-mass) cross-check of the atomistic moiré BSE (``bse_moire``, seed 004).

For the cells of the twist-angle series (16.1, 5.68, 4.7, 2.8 deg found by angle exactly as the
workflow does with its default config; seed 004's explicit 2.2, 1.3, 0.4 and 0 deg cells) and
modulation scales 1, 2, 4, the 1s exciton (masses of the three-band model at K, Keldysh r0 =
82.96 A, eps = 1) moving in the first-harmonic moiré potential (hpcx/bse/continuum.py) gives the
Q = 0 absorption peaks of the folded centre-of-mass states.  Prints a markdown table next to the
atomistic peaks of /tmp/hpcx_bse_moire_series/series.json (scripts/bse_moire_figures.py) where
those runs exist (finished run files t*.h5 next to it that the cache does not list yet are read
too).  Takes ~10 s (the cell search by angle dominates).

    .venv/bin/python scripts/bse_moire_continuum.py [--series PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bse_moire_figures import CELLS, SERIES  # the series' cells (seed 004 Table A below 2.8 deg)

THETAS = tuple(SERIES)
SCALES = (1.0, 2.0, 4.0)
SPAN, MIN_RATIO = 0.25, 0.01           # peaks within 250 meV of the lowest, >= 1 % of its weight / height
R0, EPS = 82.96, 1.0                   # the workflow's defaults (Angstrom, -)


def cell_of(theta):
    """(validated config, TwistedCell) of ``theta`` via the workflow's own twisted_cell."""
    from hpcx import workflows
    from hpcx.config import validate
    from hpcx.workflows.bse_moire import twisted_cell, unit_model
    keys = CELLS.get(theta, dict(theta=theta))
    body = "\n".join(f"{k} = {v!r}" for k, v in keys.items())
    cfg = validate(f'[run]\nworkflow = "bse_moire"\n[bse_moire]\n{body}\n', "continuum", workflows.schemas())
    unit, _ = unit_model(cfg)
    return cfg, twisted_cell(cfg, unit)


def load_runs(path):
    """{name: {dataset: value}} from the series cache ``path`` plus the finished run files
    <name>.h5 beside it that it does not hold (a run in progress is skipped)."""
    import h5py
    runs = json.loads(path.read_text()) if path.exists() else {}
    for h5 in sorted(path.parent.glob("t*.h5")):
        if h5.stem in runs:
            continue
        try:
            with h5py.File(h5, "r") as f:
                r = f["results"]
                runs[h5.stem] = {k: r[k][()].tolist() for k in ("spectrum/peaks", "spectrum/peak_height",
                                                                 "qp_gap", "eigenvalues")}
        except (OSError, KeyError):
            continue
    return runs


def atomistic(runs, theta, scale):
    """(peak I shift vs the flat cell meV, qp-gap shift meV, [(meV above I, height / I)],
    flat [(meV, ratio)] or None) or None when the run is missing."""
    name = f"t{theta}_mod" if scale == 1.0 else f"t{theta}_scale{scale}"
    r, f = runs.get(name), runs.get(f"t{theta}_flat")
    if r is None:
        return None

    def peaks(x):
        p, h = np.array(x["spectrum/peaks"]), np.array(x["spectrum/peak_height"])
        keep = (p < p[0] + SPAN) & (h / h[0] >= MIN_RATIO)
        return [(1e3 * (a - p[0]), b / h[0]) for a, b in zip(p[keep], h[keep])][1:]

    shift = 1e3 * (r["spectrum/peaks"][0] - f["spectrum/peaks"][0]) if f else float("nan")
    gap = 1e3 * (r["qp_gap"] - f["qp_gap"]) if f else float("nan")
    return shift, gap, peaks(r), peaks(f) if f else None


def fmt(pairs):
    return ", ".join(f"+{e:.0f} ({w:.2f})" for e, w in pairs) or "–"


def main():
    from hpcx.bse import continuum as ct
    from hpcx.bse.liu import liu_model
    from hpcx.bse.modulation import modulation_data
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="/tmp/hpcx_bse_moire_series/series.json")
    args = parser.parse_args()
    path = Path(args.series)
    runs = load_runs(path)

    model = liu_model("WSe2", "TNN", soc=False)
    m_e, m_h = ct.effective_masses(model)
    ex = ct.keldysh_exciton(m_e, m_h, R0, EPS, ("1s", "2s"))
    disp = ct.pair_dispersion(model, m_e, m_h)
    print(f"three-band TNN WSe2 (no SOC) at K: m_e = {m_e:.4f}, m_h = {m_h:.4f}, M = {m_e + m_h:.4f} m0, "
          f"beta_e = {m_e / (m_e + m_h):.3f}")
    print(f"Keldysh r0 = {R0} A, eps = {EPS}: continuum 1s binding {ex.energy('1s'):.1f} meV, 2s {ex.energy('2s'):.1f} "
          f"meV (2s - 1s = {ex.energy('1s') - ex.energy('2s'):.1f} meV), 1s rms radius {ex.rms_radius_nm[0]:.2f} nm")
    for th in THETAS:
        f = runs.get(f"t{th}_flat")
        if f is None:
            continue
        p, gap = f["spectrum/peaks"], f["qp_gap"]
        print(f"  atomistic flat cell {th:>5} deg: qp gap - lowest exciton = {1e3 * (gap - min(f['eigenvalues'])):.1f} "
              f"meV, qp gap - peak I = {1e3 * (gap - p[0]):.1f} meV, peak II - I = {1e3 * (p[1] - p[0]):.0f} meV")
    print(f"\natomistic runs: {', '.join(sorted(runs)) or 'none found'} ({path.parent}); peaks within "
          f"{1e3 * SPAN:.0f} meV of the lowest with "
          f">= {100 * MIN_RATIO:.0f} % of its weight (continuum) / height (atomistic, 10 meV Gaussian); "
          "'shift' = lowest level relative to the unmodulated 1s (continuum) / peak I modulated - flat (atomistic, "
          "in brackets the qp-gap shift); 'non-parabolic': the parabola replaced by the free-pair dispersion of the "
          "model's bands at K + beta_e Q, K - beta_h Q (value at g in the ħ²g²/2M column)\n")
    print("| θ (deg) | sites | moiré period (Å) | ħ²g²/2M (non-parabolic) (meV) | F(β_e g), F(β_h g) | scale | "
          "abs U_g (meV) | continuum shift (meV) | continuum peaks, meV above lowest (weight ratio) | "
          "non-parabolic: shift, peaks | atomistic shift (meV) | atomistic peaks, meV above I (height ratio) | "
          "flat-cell peaks |")
    print("| " + " | ".join(["---"] * 13) + " |")
    for theta in THETAS:
        cfg, cell = cell_of(theta)
        data = modulation_data(cfg.bse_moire.modulation_data)
        for scale in SCALES:
            sp, (F_e, F_h) = ct.continuum_spectrum(cell, data.harmonics(scale), m_e, m_h, ex)
            e, w = sp.peaks(SPAN, MIN_RATIO)
            soft, _ = ct.continuum_spectrum(cell, data.harmonics(scale), m_e, m_h, ex, dispersion=disp)
            es, ws = soft.peaks(SPAN, MIN_RATIO)
            eg = 1e3 * disp(cell.moire_vectors).mean()
            at = atomistic(runs, theta, scale)
            cols = [f"{abs(cell.theta_deg):.2f}", f"{cell.n_sites}", f"{cell.moire_period:.1f}",
                    f"{1e3 * sp.kinetic:.0f} ({eg:.0f})", f"{F_e:.3f}, {F_h:.3f}", f"{scale:g}",
                    f"{1e3 * abs(sp.U):.1f}", f"{1e3 * sp.energies[0]:.1f}", fmt(list(zip(1e3 * e[1:], w[1:]))),
                    f"{1e3 * soft.energies[0]:.1f}; " + fmt(list(zip(1e3 * es[1:], ws[1:])))]
            if at is None:
                cols += ["(not run)", "", ""]
            else:
                shift = f"{at[0]:.1f} ({at[1]:.1f})" if at[3] is not None else "(no flat run)"
                cols += [shift, fmt(at[2]), fmt(at[3]) if at[3] is not None else "(not run)"]
            print("| " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
