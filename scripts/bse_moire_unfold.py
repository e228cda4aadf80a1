"""Where the electron of each computed exciton sits in the primitive Brillouin zone (unfolding).

For a finished ``bse_moire`` run with ``write_amplitudes = true`` (source = 'twisted'), recomputes
the run's conduction states on its k-grid, projects each onto the primitive plane waves
p = k + G (G: supercell reciprocal vectors, p inside the first primitive zone),

    W_c,k(p) = sum_t |sum_s exp(-i (p - k).tau_s) a_(s,t),c(k)|^2 / n_sites,

(a = atomic-gauge coefficients, s metal sites, t orbitals of a site; sum_p W = 1), and weights
them with the exciton's electron distribution sum_v |A^S_kvc|^2.  Prints, per exciton, the electron
weight within 0.2 1/Angstrom of K, of K' and elsewhere (e.g. the Lambda valley), and its d_z2
fraction.  Used for docs/results/bse_moire.md ("SOC at 1.3°").

    .venv/bin/python scripts/bse_moire_unfold.py RUN.h5
"""

from __future__ import annotations

import argparse

import h5py
import numpy as np


def main():
    from hpcx import workflows
    from hpcx.bse.supercell import bands_near_gap
    from hpcx.bse.tbmodel import monkhorst_pack
    from hpcx.config import validate
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="bse_moire run file written with write_amplitudes = true")
    ap.add_argument("--radius", type=float, default=0.2, help="valley radius (1/Angstrom)")
    args = ap.parse_args()
    with h5py.File(args.run) as f:
        text = f["config"][()].decode()
        r = f["results"]
        if "amplitudes" not in r:
            raise SystemExit(f"{args.run}: no results/amplitudes (run with write_amplitudes = true)")
        A, ev, fs = r["amplitudes"][()], r["eigenvalues"][()], r["oscillator_strength"][()]
    cfg = validate(text, args.run, workflows.schemas())
    b = cfg.bse_moire
    if b.source != "twisted":
        raise SystemExit("unfolding needs the twisted source (its primitive lattice)")
    prob = workflows.load("bse_moire").build_problem(cfg)
    n_v, n_c = b.valence_bands, b.conduction_bands
    k = monkhorst_pack(b.k_grid, b.k_grid)
    _, c = bands_near_gap(prob.model, k, n_v + 1, n_c + 1, prob.mid_gap)
    C_c = c[:, :, n_v + 1:n_v + 1 + n_c]                       # [k, orbital, c] lattice gauge
    A = A.reshape(len(k), n_v, n_c, -1)
    electron = (np.abs(A) ** 2).sum(axis=1)                    # [k, c, S]
    dz2 = np.array([lab.startswith("dz2") for lab in prob.model.labels])
    d_frac = np.einsum("kc,kcs->s", (np.abs(C_c) ** 2 * dz2[None, :, None]).sum(axis=1), electron)

    B = 2 * np.pi * np.linalg.inv(prob.unit.lattice[:2, :2]).T  # primitive reciprocal rows
    K, Kp = np.array([2 / 3, 1 / 3]) @ B, np.array([1 / 3, 2 / 3]) @ B
    images = np.array([i * B[0] + j * B[1] for i in range(-1, 3) for j in range(-1, 3)])
    g = prob.model.reciprocal[:2, :2]
    span = int(np.ceil(np.linalg.norm(B[0]) / np.linalg.norm(g[0]))) + 2
    n = np.arange(-span, span + 1)
    G = np.array([i * g[0] + j * g[1] for i in n for j in n])
    sites = prob.site_pos[:, :2]
    pos = prob.model.positions[:, :2]
    near = lambda p, P, rad: np.min(np.linalg.norm(p[:, None] - (P + images)[None], axis=-1), axis=1) < rad  # noqa
    out = np.zeros((A.shape[-1], 3))
    for ik, kf in enumerate(k):
        kc = kf[:2] @ g
        p = kc + G
        red = p @ np.linalg.inv(B)
        p = p[np.all((red >= -0.5) & (red < 0.5), axis=1)]    # one representative per primitive class
        a = (C_c[ik] * np.exp(-1j * (pos @ kc))[:, None]).reshape(len(sites), -1, n_c)
        W = (np.abs(np.einsum("gs,stc->gtc", np.exp(-1j * ((p - kc) @ sites.T)), a)) ** 2).sum(1) / len(sites)
        at_K, at_Kp = near(p, K, args.radius), near(p, Kp, args.radius)
        for j, mask in enumerate((at_K, at_Kp, ~(at_K | at_Kp))):
            out[:, j] += W[mask].sum(axis=0) @ electron[ik]
    print(f"{args.run}: electron of each exciton (unfolded; valley radius {args.radius} 1/A)\n")
    print("| S | E (eV) | f | near K | near K' | elsewhere | d_z2 fraction |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for S in range(A.shape[-1]):
        print(f"| {S} | {ev[S]:.4f} | {fs[S]:.3g} | {out[S, 0]:.3f} | {out[S, 1]:.3f} | {out[S, 2]:.3f} | "
              f"{d_frac[S]:.3f} |")


if __name__ == "__main__":
    main()
