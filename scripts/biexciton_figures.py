#!/usr/bin/env python3
"""Figures and numbers of docs/results/biexciton.md (seed 003 Figs. 2, 3b, 4 analogues).

Runs the `biexciton` workflow on examples/biexciton.toml (serial, in-process),
writes docs/figures/biexciton_{repulsion,relative,pl,lifetime}.png with the
workflow's plot(), and prints the tables of the results page: Delta_xx and
hbar omega0 vs theta and eps_r, basis convergence, parameter sensitivity,
PL peaks and occupations, zeta(Delta_xx/hbar omega0).
Usage: .venv/bin/python scripts/biexciton_figures.py
"""

import tempfile
from pathlib import Path

import numpy as np

from hpcx import workflows
from hpcx.config import validate
from hpcx.io import RunFile, RunWriter
from hpcx.log import PhaseTimer
from hpcx.materials.moire import moire_system
from hpcx.parallel import SerialComm
from hpcx.physics import biexciton as bx
from hpcx.physics import moire as mp

ROOT = Path(__file__).resolve().parents[1]
FIG = ROOT / "docs" / "figures"


def run(text, path):
    cfg = validate(text, "examples/biexciton.toml", workflows.schemas())
    module = workflows.load("biexciton")
    module.check(cfg)
    timer = PhaseTimer()
    with RunWriter(path, SerialComm(), workflow="biexciton", config_text=text,
                   config_source="examples/biexciton.toml", overwrite=True) as w:
        module.run(cfg, w, SerialComm(), timer)
        return w.finish(timer.seconds)


def sensitivity():
    """Delta_xx and hbar omega0 at 1 deg for one parameter changed at a time (n_radial = 240)."""
    s = moire_system("MoSe2-WSe2/hBN")
    base = dict(d=0.647, eps=4.5, mass=s.exciton_mass, b=s.B_meV, mismatch=True)
    cases = [("hpcx defaults", {}), ("d = 0.65 nm (seed's rounded value)", {"d": 0.65}),
             ("eps_r = 5.10 = sqrt(eps_par eps_perp) of hBN", {"eps": 5.10}),
             ("m_x = 0.92 m0 (bright-spin CB)", {"mass": 0.92}), ("B = 20 meV", {"b": 20.0}),
             ("a_M = a/theta (no mismatch, as the seed)", {"mismatch": False})]
    print("\n| case | hbar omega0 (meV) | Delta_xx (meV) | Delta_xx/hbar omega0 |")
    print("| --- | --- | --- | --- |")
    for label, change in cases:
        p = dict(base, **change)
        a2 = s.a_hole_nm if p["mismatch"] else s.a_electron_nm
        geo = mp.MoireGeometry.from_degrees(s.a_electron_nm, a2, 1.0)
        trap = bx.harmonic_trap(geo, mp.MoirePotential.from_ab(0.0, p["b"]), p["mass"])
        dxx = bx.delta_xx(trap, p["d"], p["eps"], 240)
        print(f"| {label} | {trap.hbar_omega0:.2f} | {dxx:.2f} | {dxx / trap.hbar_omega0:.3f} |")


def convergence():
    s = moire_system("MoSe2-WSe2/hBN")
    print("\n| theta (deg) | n_radial = 20 | 40 | 80 | 160 | 320 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for theta in (0.5, 1.0):
        geo = mp.MoireGeometry.from_degrees(s.a_electron_nm, s.a_hole_nm, theta)
        trap = bx.harmonic_trap(geo, mp.MoirePotential.from_ab(s.A_meV, s.B_meV), s.exciton_mass)
        vals = [bx.delta_xx(trap, 0.647, 4.5, n) for n in (20, 40, 80, 160, 320)]
        print(f"| {theta} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")


def main():
    text = (ROOT / "examples" / "biexciton.toml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        path = run(text, Path(tmp) / "biexciton.h5")
        with RunFile(path) as f:
            paths = workflows.load("biexciton").plot(f, FIG / "biexciton")
            read = lambda name: f.read(f"results/{name}")[0]  # noqa: E731
            theta, eps = read("repulsion/theta_deg"), read("repulsion/epsilon")
            dxx, hw, change = read("repulsion/delta_xx"), read("repulsion/hbar_omega0"), \
                read("repulsion/delta_xx_change")
            print("| theta (deg) | a_M (nm) | hbar omega0 (meV) | " + " | ".join(
                f"Delta_xx, eps_r = {e:g} (meV)" for e in eps) + " | Delta_xx/hbar omega0 (eps_r = 4.5) |")
            print("| --- " * (4 + len(eps)) + "|")
            period = read("repulsion/period")
            for j, t in enumerate(theta):
                print(f"| {t:g} | {period[j]:.2f} | {hw[j]:.2f} | " + " | ".join(f"{dxx[i, j]:.2f}" for i in range(
                    len(eps))) + f" | {dxx[0, j] / hw[j]:.3f} |")
            print(f"largest |Delta_xx(n) - Delta_xx(n/2)|: {np.abs(change).max():.3f} meV")
            slope, icept = np.polyfit(theta, dxx[0], 1)
            print(f"linear fit eps_r = 4.5: Delta_xx = {slope:.2f} meV/deg * theta + {icept:.2f} meV")

            u0, w0 = float(read("trap/u0")), float(read("trap/hbar_omega0"))
            print(f"\n1 deg: U0 = {u0:.3f} meV, hbar omega0 = {w0:.3f} meV (Eq. 22: "
                  f"{float(read('trap/hbar_omega0_eq22')):.3f}), Delta_xx = {float(read('biexciton/delta_xx')):.3f} "
                  f"meV, zeta = {float(read('biexciton/lifetime_ratio')):.4f}")
            levels = read("biexciton/decay_levels")[0]
            print("XX_0 -> X_N1 branching (N1 = 0..4): " + ", ".join(f"{v:.4f}" for v in levels[:5] / levels.sum()))

            e, fill, temp = read("pl/energy"), read("pl/filling"), read("pl/temperature")
            inten, prob = read("pl/intensity"), read("pl/probability")
            x = (e + u0) / w0
            print("\n| T_eff (K) | filling | P(0) | P(1) | P(2) | I(X_0 at 1)/I(XX_0 at 1 + Delta_xx/hbar omega0) |")
            print("| --- | --- | --- | --- | --- | --- |")
            i_x0 = np.argmin(np.abs(x - 1.0))
            i_xx = np.argmin(np.abs(x - (1.0 + float(read("biexciton/delta_xx")) / w0)))
            for a, t in enumerate(temp):
                for b, f_ in enumerate(fill):
                    print(f"| {t:g} | {f_:g} | {prob[a, b, 0]:.3f} | {prob[a, b, 1]:.3f} | {prob[a, b, 2]:.3f} | "
                          f"{inten[a, b, i_x0] / inten[a, b, i_xx]:.2f} |")

            print("\n| dipole scale | d (nm) | Delta_xx (meV) | x = Delta_xx/hbar omega0 | zeta |")
            print("| --- | --- | --- | --- | --- |")
            for row in zip(read("lifetime_ratio/dipole_scale"), read("lifetime_ratio/dipole_length"),
                           read("lifetime_ratio/delta_xx"), read("lifetime_ratio/x"), read("lifetime_ratio/zeta")):
                print("| " + " | ".join(f"{v:.4g}" for v in row) + " |")
    convergence()
    sensitivity()
    for p in paths:
        print(f"wrote {p} ({Path(p).stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()
