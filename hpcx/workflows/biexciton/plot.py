"""Figures of a ``biexciton`` run: seed 003 Fig. 2a/2b, 3b, 4a/b and 4c analogues.

Photon energies are shown as (E - E_0)/hbar omega0 with E_0 = -U_0, the
bottom of the harmonic trap: the single-exciton ground state X_0 is at 1, the
biexciton ground state's main line XX_0 -> X_0 at 1 + Delta_xx/hbar omega0.
"""

from __future__ import annotations

import numpy as np

from ...plotting import colorbar, decoration, pyplot, save, title
from .result import Result

SEED_1DEG_MEV = (17.0, 20.0)        # seed 003 at 1 deg: Delta_xx ~ 17 meV, hbar omega0 ~ 20 meV
PHOTON_AXIS = r"$(E - E_0)/\hbar\omega_0$,  $E_0 = -U_0$ (trap bottom)"


def plot(run, stem):
    """The four figures of a run file; PNG paths."""
    res = Result.read(run)
    return [save(repulsion_figure(res), stem, "repulsion", dpi=110),
            save(relative_figure(res), stem, "relative", dpi=110),
            save(pl_figure(res), stem, "pl", dpi=110),
            save(lifetime_figure(res), stem, "lifetime", dpi=110)]


def repulsion_figure(res):
    """Delta_xx and hbar omega0 against the twist angle for every eps_r (Fig. 2b), and their ratio."""
    plt = pyplot()
    rep = res.repulsion
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax.plot(rep.theta_deg, rep.hbar_omega0, "k--", label=r"$\hbar\omega_0$ (trap)")
    for i, e in enumerate(rep.epsilon):
        ax.plot(rep.theta_deg, rep.delta_xx[i], "o-", ms=3, label=rf"$\Delta_{{xx}}$, $\varepsilon_r$ = {e:g}")
        ax2.plot(rep.theta_deg, rep.delta_xx[i] / rep.hbar_omega0, "o-", ms=3, label=rf"$\varepsilon_r$ = {e:g}")
    ax.plot([1.0, 1.0], SEED_1DEG_MEV, "r*", ms=9,
            label=r"seed 003 at 1°: $\Delta_{xx}$ ≈ 17, $\hbar\omega_0$ ≈ 20 meV")
    ax.set(xlabel="twist angle θ (deg)", ylabel="energy (meV)")
    ax.legend(fontsize=7)
    ax2.set(xlabel="twist angle θ (deg)", ylabel=r"$\Delta_{xx}/\hbar\omega_0$")
    ax2.legend(fontsize=7)
    fig.suptitle(title(res.system, extra=r"repulsion $\Delta_{xx}$ = $E^{(2)}_0 - 2E^{(1)}_0$ vs twist, "
                                         "ground states (T = 0)"), fontsize=9)
    return fig


def relative_figure(res):
    """Relative-motion potentials and ground-state radial densities (Fig. 2a)."""
    plt = pyplot()
    b, hw = res.biexciton, res.trap.hbar_omega0
    r = b.relative_r
    fig, ax = plt.subplots(figsize=(5.4, 3.8))
    labels = (r"trap $m_x\omega_0^2 r^2/4$", "dipolar repulsion V(r), Eq. 27", "sum")
    for row, label, style in zip(b.relative_potential / hw, labels, ("C0-", "C1-", "C3-")):
        ax.plot(r, row, style, label=label)
    ax.set_ylim(0, 6)
    ax.set(xlabel="exciton–exciton distance r (nm)", ylabel=r"potential $V/\hbar\omega_0$")
    twin = ax.twinx()
    ring = 2 * np.pi * r
    twin.fill_between(r, ring * b.relative_density[1], color="C0", alpha=0.2, label="density, V = 0")
    twin.fill_between(r, ring * b.relative_density[0], color="C3", alpha=0.3, label="density, with V(r)")
    twin.set_ylabel(r"radial density $2\pi r|\psi_0(r)|^2$ (1/nm)")
    ax.legend(loc="upper left", fontsize=7)
    twin.legend(loc="upper right", fontsize=7)
    ax.set_title(title(res.system, res.twist_deg, extra=rf"$\varepsilon_r$ = {res.epsilon_r:g}, "
                                                         rf"d = {res.dipole_length:g} nm"), fontsize=9)
    return fig


def pl_figure(res):
    """PL against filling and photon energy for every T_eff (Fig. 4a, b), and the spectra at the last T_eff."""
    plt = pyplot()
    pl, trap = res.pl, res.trap
    x = (pl.energy + trap.u0) / trap.hbar_omega0
    n_t = len(pl.temperature)
    fig, axes = plt.subplots(1, n_t + 1, figsize=(4.0 * (n_t + 1), 3.6))
    intensity = pl.intensity
    for ax, t, spec in zip(axes, pl.temperature, intensity):
        mesh = ax.pcolormesh(x, pl.filling, spec / spec.max(), shading="nearest", cmap="magma")
        colorbar(fig, mesh, ax, "PL / panel maximum")
        ax.set(xlabel=PHOTON_AXIS, ylabel="filling f (excitons per moiré cell)")
        ax.set_title(title(res.system, res.twist_deg, t), fontsize=9)
    ax = axes[-1]
    for j, f in enumerate(pl.filling):
        ax.plot(x, intensity[-1, j], lw=1, label=f"f = {f:g}")
    for position, name in ((1.0, "X$_0$"), (1.0 + res.biexciton.delta_xx / trap.hbar_omega0, "XX$_0$")):
        decoration(ax.axvline(position, color="0.7", lw=0.6, ls=":"))
        decoration(ax.annotate(name, (position, 0.98), xycoords=("data", "axes fraction"), xytext=(-2, 0),
                               textcoords="offset points", fontsize=7, ha="right", va="top"))
    ax.set(xlabel=PHOTON_AXIS, ylabel=r"PL intensity I (nm$^2$/meV, per $|g_0|^2$)")
    ax.set_title(title(res.system, res.twist_deg, pl.temperature[-1], extra="spectra"), fontsize=9)
    ax.legend(fontsize=6)
    fig.suptitle(f"Lorentzian lines of {pl.linewidth:g} meV half width", fontsize=8)
    return fig


def lifetime_figure(res):
    """zeta(Delta_xx/hbar omega0) (Fig. 4c) and the branching of XX_0 -> X_N1 + photon (Fig. 3b)."""
    plt = pyplot()
    life, b, hw = res.lifetime, res.biexciton, res.trap.hbar_omega0
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax.plot(life.x, life.zeta, "o-", ms=3, label=r"$\zeta$, d scaled by " + f"{life.dipole_scale.min():g}–"
            f"{life.dipole_scale.max():g}")
    ax.axhline(0.5, color="0.6", lw=0.8, label=r"$\zeta$ = 1/2 without repulsion")
    ax.set(xlabel=r"$\Delta_{xx}/\hbar\omega_0$", ylabel=r"lifetime ratio $\zeta = \tau_{xx}/\tau_x$ (Eq. 47)")
    ax.legend(fontsize=7)
    ax.set_title(title(res.system, res.twist_deg, extra=rf"$\varepsilon_r$ = {res.epsilon_r:g}"), fontsize=9)
    levels = b.decay_levels[0]
    photon = (2 * hw + b.delta_xx - hw * (np.arange(len(levels)) + 1)) / hw       # XX_0 -> X_N1, above E_0
    ax2.bar(photon, levels / levels.sum(), width=0.05, label=r"XX$_0\to$X$_{N_1}$, $N_1$ = 0, 1, 2, ...")
    ax2.set_yscale("log")
    ax2.set(ylim=(1e-6, 2), xlim=(-4, 3), xlabel=PHOTON_AXIS, ylabel="branching ratio")
    ax2.legend(fontsize=7)
    ax2.set_title(title(res.system, res.twist_deg, extra="decay channels of XX$_0$"), fontsize=9)
    return fig
