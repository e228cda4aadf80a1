"""Twist-angle series of the modulated WSe2 layer of WS2/WSe2 (seed 004 Figs. 1-2 analogue).

Runs the ``bse_moire`` workflow (in-process, on the script's MPI ranks) for the seed 004 SI
Table A cells 16.1, 5.68, 4.7, 2.8, 2.2, 1.3, 0.4 and 0 deg with the ASSUMED modulation of
hpcx/materials/moire_modulation.toml and without it (flat layer, same cell), then the
sensitivity of the peak splitting to the modulation amplitude (scale 0.5, 1, 2, 4 at
4.7 deg) and to the band window (5.68 deg).  k-grids keep the Born-von Karman cell at
~90-105 A and the unit-cell sampling at ~28-32 per direction at every angle; band windows
keep every band within ``--window`` eV of the band edges (and end between non-degenerate
levels where one is within 8 bands).  Writes docs/figures/bse_moire_{series,splitting,modulation}.png and prints the
tables of docs/results/bse_moire.md.

    OMP_NUM_THREADS=1 mpirun -n 2 .venv/bin/python scripts/bse_moire_figures.py   # ~90 min
    .venv/bin/python scripts/bse_moire_figures.py --replot                          # figures from the cache
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# theta (deg) -> k_grid: BvK cell n a_M >= 90 A, sqrt(n_sites n_k) >= 28 unit-cell points per
# direction, and the grid must contain the folded K, K' points: at 2.8 deg (m = (13, 3),
# m1 - m2 not a multiple of 3) K folds to the moire K, so the grid is 3 x 3 (147 A), not 2 x 2
SERIES = {16.1: 8, 5.68: 3, 4.7: 3, 2.8: 3, 2.2: 3, 1.3: 3, 0.4: 3, 0.0: 3}
# below 2.8 deg the cells are given explicitly: they are seed 004 SI Table A's (283, 397, 496 and
# 441 WSe2 sites = 849, 1191, 1488, 1323 atoms); a search by angle would pick a cell of the same
# angle with less strain but a different size.  The 0 deg cell (21, 0)/(22, 0) needs -0.54 % strain
# of the WS2 lattice (the seed's period, 69.7 A).
CELLS = {2.2: dict(cell_m=[13, 6], cell_n=[13, 7]), 1.3: dict(cell_m=[12, 11], cell_n=[13, 11]),
         0.4: dict(cell_m=[20, 4], cell_n=[21, 4]), 0.0: dict(cell_m=[21, 0], cell_n=[22, 0], max_strain=0.006)}
SCALES = (0.5, 2.0, 4.0)           # sensitivity at SENS_THETA (scale 1 is in the series)
SENS_THETA = 4.7
BIG = 4.0                          # the angle series again at 4x the ASSUMED amplitude (a sensitivity)
COMMON = dict(n_eig=4, spectrum="recursion", n_lanczos=200, broadening=0.01, energy_points=2001,
              operator="matrix-free", peak_prominence=0.01)


def toml_value(v):
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v)


def config_text(**keys):
    body = "\n".join(f"{k} = {toml_value(v)}" for k, v in keys.items())
    return f'[run]\nworkflow = "bse_moire"\n[bse_moire]\n{body}\n'


def cell_keys(theta):
    """Config keys selecting the cell of ``theta``: seed 004's explicit cell or the search by angle."""
    return dict(CELLS[theta]) if theta in CELLS else dict(theta=theta)


def band_window(theta, k_grid, window, comm, modulation=True):
    """(n_v, n_c): every band within ``window`` eV of the edges at every k, extended to the next
    count that does not split a (near-)degenerate level."""
    from hpcx import workflows
    from hpcx.bse.supercell import bands_near_gap_mpi
    from hpcx.bse.tbmodel import monkhorst_pack
    from hpcx.config import validate
    from hpcx.workflows.bse_moire import _mid_gap, supercell_model, twisted_cell, unit_model
    cfg = validate(config_text(**cell_keys(theta), modulation=modulation), "series", workflows.schemas())
    unit, n_occ = unit_model(cfg)
    cell = twisted_cell(cfg, unit)
    sc, _, _ = supercell_model(cfg, unit, cell)
    n_max = min(n_occ * cell.n_sites - 1, 90)
    k = monkhorst_pack(k_grid, k_grid)
    _, e, _ = bands_near_gap_mpi(sc, k, n_max, n_max, _mid_gap(unit, n_occ), comm)
    e = np.concatenate(comm.allgather(e)) if comm.size > 1 else e
    ev, ec = e[:, :n_max][:, ::-1], e[:, n_max:]
    vbm, cbm = ev[:, 0].max(), ec[:, 0].min()
    need_v, need_c = int((ev > vbm - window).sum(1).max()), int((ec < cbm + window).sum(1).max())
    # the flat layer folded into the cell has degenerate multiplets at every count: keep the
    # energy window there (the run logs the split edges)
    top = lambda need: range(need, min(n_max, need + 8))                   # noqa: E731
    n_v = next((n for n in top(need_v) if np.all(ev[:, n - 1] - ev[:, n] > 1e-6)), need_v)
    n_c = next((n for n in top(need_c) if np.all(ec[:, n] - ec[:, n - 1] > 1e-6)), need_c)
    return n_v, n_c


def continuum_peaks(scales):
    """{(theta, scale): (meV above the lowest, weight / lowest)} of the continuum model
    (hpcx/bse/continuum.py, non-parabolic estimate) for every cell of SERIES."""
    from hpcx import workflows
    from hpcx.bse import continuum as ct
    from hpcx.config import validate
    from hpcx.workflows.bse_moire import _data, twisted_cell, unit_model
    out = {}
    for theta in SERIES:
        cfg = validate(config_text(**cell_keys(theta)), "continuum", workflows.schemas())
        unit, _ = unit_model(cfg)
        cell = twisted_cell(cfg, unit)
        if theta == next(iter(SERIES)):
            m_e, m_h = ct.effective_masses(unit)
            ex = ct.keldysh_exciton(m_e, m_h, cfg.bse_moire.r0, cfg.bse_moire.epsilon)
            disp = ct.pair_dispersion(unit, m_e, m_h)
        for s in scales:
            spec, _ = ct.continuum_spectrum(cell, _data(cfg).harmonics(s), m_e, m_h, ex, dispersion=disp)
            e, w = spec.peaks()
            out[theta, s] = (1e3 * e[1:], w[1:])
    return out


def _stored_config(path):
    """The config text of a finished run file, or None."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            return f["config"][()].decode()
    except (OSError, KeyError):
        return None


def run_one(text, path, comm):
    """Run the workflow on ``comm`` (or reuse ``path`` if it holds a finished run of the same
    config); returns the /results datasets needed here (every rank)."""
    import h5py

    from hpcx import workflows
    from hpcx.config import validate
    from hpcx.io import RunWriter
    from hpcx.log import PhaseTimer
    stored = comm.bcast(_stored_config(path) if comm.rank == 0 else None)
    if stored != text:
        cfg = validate(text, str(path), workflows.schemas())
        module = workflows.load("bse_moire")
        module.check(cfg)
        timer = PhaseTimer()
        with RunWriter(path, comm, workflow="bse_moire", config_text=text, config_source=str(path),
                       overwrite=True) as w:
            module.run(cfg, w, comm, timer)
            w.finish(timer.seconds)
    comm.Barrier()
    with h5py.File(path) as f:
        wall = float(sum(f[f"timings/{p}"][()] for p in f["timings"]))
        r = f["results"]
        out = {name: r[name][()].tolist() for name in
               ("eigenvalues", "oscillator_strength", "qp_gap", "spectrum/energy", "spectrum/sigma",
                "spectrum/sigma_ip", "spectrum/peaks", "spectrum/peak_height", "supercell/theta_deg",
                "supercell/n_sites", "supercell/moire_period", "supercell/strain", "supercell/onsite_shift",
                "supercell/site_positions", "supercell/lattice")}
        out["attrs"] = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.attrs.items()
                        if k in ("bse_dimension", "k_grid", "n_valence", "n_conduction", "modulation",
                                 "modulation_scale", "solver", "split_degenerate_edges")}
    out["wall_s"] = wall
    out["ranks"] = comm.size
    return out


def compute(args, comm):
    work = Path(args.workdir)
    if comm.rank == 0:
        work.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    runs = {}

    def go(name, **keys):
        text = config_text(**{**COMMON, **keys})
        t = time.perf_counter()
        runs[name] = run_one(text, work / f"{name}.h5", comm)
        if comm.rank == 0:
            r = runs[name]
            print(f"{name}: N = {r['attrs']['bse_dimension']}, {time.perf_counter() - t:.0f} s, peaks "
                  f"{np.round(r['spectrum/peaks'], 4).tolist()}", flush=True)

    windows = {}
    for theta, n in SERIES.items():
        for mod in (True, False):                 # windows chosen per cell: the flat one has more degeneracies
            n_v, n_c = band_window(theta, n, args.window, comm, modulation=mod)
            windows[theta, mod] = n_v, n_c
            go(f"t{theta}_{'mod' if mod else 'flat'}", **cell_keys(theta), k_grid=n, valence_bands=n_v,
               conduction_bands=n_c, modulation=mod)
    n_v, n_c = windows[SENS_THETA, True]
    for s in SCALES:
        go(f"t{SENS_THETA}_scale{s}", theta=SENS_THETA, k_grid=SERIES[SENS_THETA], valence_bands=n_v,
           conduction_bands=n_c, modulation_scale=s)
    for theta, n in SERIES.items():
        if theta != SENS_THETA:
            n_v, n_c = windows[theta, True]
            go(f"t{theta}_scale{BIG}", **cell_keys(theta), k_grid=n, valence_bands=n_v, conduction_bands=n_c,
               modulation_scale=BIG)
    # band-window convergence at 5.68 deg: a 0.3 eV window
    wv, wc = band_window(5.68, SERIES[5.68], args.window + 0.1, comm)
    go("t5.68_wide", theta=5.68, k_grid=SERIES[5.68], valence_bands=wv, conduction_bands=wc)
    return runs


def lowest_peaks(r, span=0.25):
    """Peaks within ``span`` eV above the lowest peak (eV), relative heights."""
    p, h = np.array(r["spectrum/peaks"]), np.array(r["spectrum/peak_height"])
    if not len(p):
        return p, h
    keep = p < p[0] + span
    return p[keep], h[keep] / h[0]


def tables(runs):
    cont = continuum_peaks((1.0, BIG))
    fmt = lambda e, w: ", ".join(f"+{x:.0f} ({y:.2f})" for x, y in zip(e, w)) or "—"     # noqa: E731
    print("\n| θ (deg) | WSe2 sites | moiré period (Å) | k-grid | n_v + n_c | N | lowest exciton (eV) | "
          "qp gap (eV) | peaks (eV), modulated | II − I, III − I (meV) | peaks (eV), flat | continuum: folded 1s "
          "(meV, weight / I) | wall (s, modulated) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for theta in SERIES:
        m, f = runs[f"t{theta}_mod"], runs[f"t{theta}_flat"]
        pm, _ = lowest_peaks(m)
        pf, _ = lowest_peaks(f)
        a = m["attrs"]
        split = ", ".join(f"{1e3 * (x - pm[0]):.0f}" for x in pm[1:]) or "—"
        print(f"| {abs(m['supercell/theta_deg']):.2f} | {m['supercell/n_sites']} | {m['supercell/moire_period']:.1f} | "
              f"{a['k_grid'][0]}×{a['k_grid'][1]} | {a['n_valence']} + {a['n_conduction']} | {a['bse_dimension']} | "
              f"{m['eigenvalues'][0]:.4f} | {m['qp_gap']:.4f} | {', '.join(f'{x:.3f}' for x in pm)} | {split} | "
              f"{', '.join(f'{x:.3f}' for x in pf)} | {fmt(*cont[theta, 1.0])} | {m['wall_s']:.0f} |")
    print(f"\nSensitivity at {SENS_THETA} deg (modulation amplitude x scale):\n")
    print("| scale | local gap AA − AB (meV) | peaks (eV) | II − I, III − I (meV) | heights II, III / I |")
    print("| --- | --- | --- | --- | --- |")
    for s in (0.0,) + tuple(sorted(SCALES + (1.0,))):
        name = {0.0: f"t{SENS_THETA}_flat", 1.0: f"t{SENS_THETA}_mod"}.get(s, f"t{SENS_THETA}_scale{s}")
        r = runs[name]
        p, h = lowest_peaks(r)
        print(f"| {s:g} | {-90 * s + 0.0:.0f} | {', '.join(f'{x:.3f}' for x in p)} | "
              f"{', '.join(f'{1e3 * (x - p[0]):.0f}' for x in p[1:]) or '—'} | "
              f"{', '.join(f'{x:.3f}' for x in h[1:]) or '—'} |")
    print(f"\nThe angle series at {BIG:g} x the ASSUMED amplitude (local gap AA - AB = {-90 * BIG:.0f} meV):\n")
    print("| θ (deg) | peaks (eV) | II − I, III − I, ... (meV) | heights / I | flat-cell peaks (eV) | "
          "continuum: folded 1s (meV, weight / I) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for theta in SERIES:
        r, f = runs[f"t{theta}_scale{BIG}"], runs[f"t{theta}_flat"]
        p, h = lowest_peaks(r)
        print(f"| {abs(r['supercell/theta_deg']):.2f} | {', '.join(f'{x:.3f}' for x in p)} | "
              f"{', '.join(f'{1e3 * (x - p[0]):.0f}' for x in p[1:]) or '—'} | "
              f"{', '.join(f'{x:.3f}' for x in h[1:]) or '—'} | "
              f"{', '.join(f'{x:.3f}' for x in lowest_peaks(f)[0])} | {fmt(*cont[theta, BIG])} |")
    w, m = runs["t5.68_wide"], runs["t5.68_mod"]
    print(f"\nBand window at 5.68 deg: {m['attrs']['n_valence']} + {m['attrs']['n_conduction']} -> peaks "
          f"{np.round(lowest_peaks(m)[0], 4).tolist()}; {w['attrs']['n_valence']} + {w['attrs']['n_conduction']} "
          f"-> {np.round(lowest_peaks(w)[0], 4).tolist()}; lowest exciton {m['eigenvalues'][0]:.4f} vs "
          f"{w['eigenvalues'][0]:.4f} eV")


def figures(runs, out):
    from hpcx.plotting import _pyplot
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    # 1. spectra vs theta (seed 004 Fig. 1 analogue), energies relative to the flat-layer 1s
    fig, ax = plt.subplots(figsize=(6.4, 2.0 + 1.0 * len(SERIES)))
    styles = (("flat", "--", "0.5", "flat layer, same cell"),
              ("mod", "-", "C0", "modulated, ASSUMED amplitude"),
              (f"scale{BIG}", "-", "C3", f"modulated, {BIG:g} x ASSUMED amplitude"))
    for i, theta in enumerate(SERIES):
        f = runs[f"t{theta}_flat"]
        ref, top = f["spectrum/peaks"][0], max(f["spectrum/sigma"])
        for key, ls, color, lab in styles:
            r = runs[f"t{theta}_{key}"]
            E, sg = np.array(r["spectrum/energy"]), np.array(r["spectrum/sigma"])
            ax.plot(1e3 * (E - ref), sg / top + 1.2 * i, ls, color=color, lw=1.0, label=lab if i == 0 else None)
            if key != "flat":
                for p in lowest_peaks(r)[0]:
                    ax.plot(1e3 * (p - ref), 1.2 * i - 0.06, "^", color=color, ms=4)
        ax.text(335, 1.2 * i + 0.55, f"{abs(f['supercell/theta_deg']):.2f}°\n{f['supercell/n_sites']} sites",
                fontsize=8, ha="right")
    ax.set_xlim(-150, 340)
    ax.set_xlabel("E − E(1s, flat layer) (meV)")
    ax.set_ylabel(r"Re $\sigma_{xx}$ / max(flat) (offset)")
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("WSe2 layer of WS2/WSe2: intralayer absorption vs twist angle", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "bse_moire_series.png", dpi=110)
    plt.close(fig)
    # 2. peak positions vs theta and vs modulation scale (seed 004 Fig. 2 analogue)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.6, 3.5))
    cont = continuum_peaks((1.0, BIG))
    for key, scale, color, lab, dx in (("mod", 1.0, "C0", "ASSUMED amplitude", -0.08),
                                       (f"scale{BIG}", BIG, "C3", f"{BIG:g} x ASSUMED", 0.08)):
        for j, theta in enumerate(SERIES):
            r = runs[f"t{theta}_{key}"]
            p, h = lowest_peaks(r)
            x = abs(r["supercell/theta_deg"]) + dx
            a1.scatter([x] * len(p), 1e3 * (p - p[0]), s=12 + 80 * np.clip(h, 0, 1),
                       c=color, label=lab if j == 0 else None)
            e, w = cont[theta, scale]
            a1.scatter([x + 2 * dx] * len(e), e, s=12 + 80 * np.clip(w, 0, 1), facecolors="none",
                       edgecolors=color, label=f"continuum model, {lab}" if j == 0 else None)
    a1.set_xlabel("twist angle (deg)")
    a1.set_ylabel("peak − peak I (meV)")
    a1.set_title("peaks within 250 meV of peak I (size: height / I)\nfilled: BSE; open: folded 1s "
                 "(continuum model)", fontsize=8)
    a1.legend(fontsize=7)
    for s_ in sorted((0.0, 1.0) + SCALES):
        name = {0.0: f"t{SENS_THETA}_flat", 1.0: f"t{SENS_THETA}_mod"}.get(s_, f"t{SENS_THETA}_scale{s_}")
        p, h = lowest_peaks(runs[name])
        a2.scatter([s_] * len(p), 1e3 * (p - p[0]), s=12 + 80 * np.clip(h, 0, 1), c="C1")
    a2.set_xlabel(f"modulation scale (1 = ASSUMED data), {SENS_THETA}°")
    a2.set_ylabel("peak − peak I (meV)")
    a2.set_title("sensitivity to the modulation amplitude", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "bse_moire_splitting.png", dpi=110)
    plt.close(fig)
    # 3. the local gap modulation of the smallest-angle cell
    theta = min(SERIES)
    m = runs[f"t{theta}_mod"]
    pos, shift = np.array(m["supercell/site_positions"]), np.array(m["supercell/onsite_shift"])
    A = np.array(m["supercell/lattice"])
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    pts = [pos + i * A[0] + j * A[1] for i in (0, 1) for j in (0, 1)]
    gap = 1e3 * (shift[:, 1] - shift[:, 0])
    sc = ax.scatter(np.concatenate(pts)[:, 0], np.concatenate(pts)[:, 1], c=np.tile(gap, 4), s=5, cmap="coolwarm")
    fig.colorbar(sc, ax=ax, label="local gap shift (meV)")
    ax.set_aspect("equal")
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_title(f"{abs(m['supercell/theta_deg']):.2f}°: W sites of 2×2 moiré cells (ASSUMED)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "bse_moire_modulation.png", dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "figures"))
    ap.add_argument("--workdir", default="/tmp/hpcx_bse_moire_series")
    ap.add_argument("--window", type=float, default=0.2, help="band window around the edges (eV)")
    ap.add_argument("--replot", action="store_true", help="figures and tables from the cached JSON")
    args = ap.parse_args()
    from hpcx.log import setup_logging
    from hpcx.parallel import get_comm
    comm = get_comm()
    setup_logging(comm, "WARNING")
    cache = Path(args.workdir) / "series.json"
    if args.replot:
        runs = json.loads(cache.read_text())
    else:
        t0 = time.perf_counter()
        runs = compute(args, comm)
        if comm.rank == 0:
            cache.write_text(json.dumps(runs))
            print(f"total {time.perf_counter() - t0:.0f} s on {comm.size} rank(s)")
    if comm.rank == 0:
        tables(runs)
        figures(runs, Path(args.out))


if __name__ == "__main__":
    main()
