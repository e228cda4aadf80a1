"""RTA D(T) of MoSe2-WSe2/hBN moiré excitons for 3-6 deg and a phonon-parameter sensitivity scan.

Writes docs/figures/scattering_rta.png and prints the tables used in docs/results/scattering.md.
Usage: .venv/bin/python scripts/scattering_figures.py   (about a minute on 4 cores)
"""

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from types import SimpleNamespace

import numpy as np

from hpcx.config import validate
from hpcx import workflows
from hpcx.log import get_logger
from hpcx.parallel import SerialComm
from hpcx.physics import scattering as sc
from hpcx.workflows import scattering as ws

TEMPS = [10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0]
BASE = """[run]
workflow = "scattering"
[scattering]
twist_deg = {theta}
shells = 6
n_bands = 3
grid = 9
"""


def curve(args):
    theta, scale_d1, scale_d0, temps = args
    cfg = validate(BASE.format(theta=theta), "fig.toml", workflows.schemas())
    log = get_logger("fig")
    s = cfg.scattering
    orig = sc.layer_modes

    def scaled(params, carrier, tag=""):
        out = []
        for m in orig(params, carrier, tag):
            f = scale_d1 if m.kind == "debye" else scale_d0
            out.append(dataclasses.replace(m, D_e=m.D_e * f, D_h=m.D_h * f))
        return out

    sc.layer_modes = scaled
    E, v, w, _, terms, _ = ws.build(cfg, SerialComm(), log)
    sc.layer_modes = orig
    out = []
    for T in temps:
        W, _, _, _ = ws.table(E, terms, T, s, SerialComm(), log)
        out.append(sc.rta_curve(E, v, 1.0 / W.sum(1), T, w))
    return theta, scale_d1, scale_d0, np.array(out)


def main():
    jobs = [(t, 1.0, 1.0, TEMPS) for t in (3.0, 4.0, 5.0, 6.0)]
    jobs += [(3.0, f1, f0, [10.0, 70.0, 300.0]) for f1, f0 in ((0.5, 1.0), (2.0, 1.0), (1.0, 0.5), (1.0, 2.0))]
    with ProcessPoolExecutor(4) as pool:
        res = list(pool.map(curve, jobs))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    for theta, f1, f0, arr in res:
        if f1 == 1.0 and f0 == 1.0:
            print(f"theta {theta}: " + ", ".join(f"{T:g} K: D={d:.3g} cm2/s v2={a:.3g} tau={b:.3g}"
                                                 for T, (d, a, b) in zip(TEMPS, arr)))
            for k, lab in enumerate(("D_RTA (cm$^2$/s)", "v$^2_{eff}$ (nm$^2$/ps$^2$)", "$\\tau_{eff}$ (ps)")):
                ax[k].plot(TEMPS, arr[:, k], "o-", label=f"{theta:g}°")
                ax[k].set_xlabel("T (K)")
                ax[k].set_ylabel(lab)
        else:
            print(f"sensitivity 3 deg D1 x{f1} D0 x{f0}: " + ", ".join(f"{d:.3g}" for d, _, _ in arr)
                  + " cm2/s at 10, 70, 300 K")
    ax[0].legend()
    ax[1].set_yscale("log")
    ax[2].set_yscale("log")
    fig.tight_layout()
    fig.savefig("docs/figures/scattering_rta.png", dpi=100)


if __name__ == "__main__":
    main()
