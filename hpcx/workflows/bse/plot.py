"""Figures of a ``bse`` run: the spectrum and the hole-fixed exciton densities."""

from __future__ import annotations

from pathlib import Path

from ...plotting import pyplot, save, title
from .result import Result


def system(res):
    """'WSe2 TNN soc=True (three-band model)' or 'Wannier90 model <directory name>'."""
    if res.source == "liu":
        return f"{res.model_label} (three-band model)"
    return f"Wannier90 model {Path(res.model_label).name}"


def plot(run, stem):
    """Spectrum (with and without e-h interaction, exciton sticks) and hole-fixed densities; PNG paths."""
    res = Result.read(run)
    out = [spectrum(res, stem)]
    if len(res.density):
        out.append(wavefunctions(res, stem))
    return out


def spectrum(res, stem):
    plt = pyplot()
    E, ev, f = res.energy, res.eigenvalues, res.oscillator_strength
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(E, res.sigma, label="BSE (e-h interaction)")
    ax.plot(E, res.sigma_ip, "--", label="independent particles")
    ax.axvline(res.qp_gap, color="0.6", lw=0.8, label="quasiparticle gap")
    top = max(res.sigma.max(), res.sigma_ip.max(), 1e-30)
    keep = ev <= E[-1]
    if f[keep].size and f[keep].max() > 0:
        ax.vlines(ev[keep], 0, 0.25 * top * f[keep] / f[keep].max(), color="k", lw=0.8,
                  label="excitons (height ∝ oscillator strength f)")
    ax.set_xlabel("photon energy E (eV)")
    ax.set_ylabel(r"Re $\sigma_{xx}$ ($e^2/\hbar$)")
    ax.set_title(title(system(res), extra=f"{res.grid[0]}×{res.grid[1]} k-points"), fontsize=9)
    ax.legend(fontsize=8)
    return save(fig, stem, "spectrum")


def wavefunctions(res, stem, states=None, view=None):
    """|Psi_S(r_e, r_h)|^2 of the lowest states (or ``states``) with the hole fixed (+), on the
    electron sites; ``view`` (Angstrom) frames +-view around the hole."""
    plt = pyplot()
    states = list(range(min(len(res.density), 3))) if states is None else list(states)
    fig, axes = plt.subplots(1, len(states) + 1, figsize=(3.4 * len(states) + 0.9, 3.3), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * len(states) + [0.06]})
    cax = axes[0][-1]
    hole, p = res.hole_position, res.positions.reshape(-1, 3)
    top = max(res.density[s].max() for s in states)
    for s, ax in zip(states, axes[0][:-1]):
        d = res.density[s].ravel()
        big = d > 1e-4 * d.max()
        image = ax.scatter(p[big, 0], p[big, 1], c=d[big], s=10, cmap="magma_r", vmin=0, vmax=top)
        ax.plot(*hole[:2], "c+", ms=10, mew=2, label="hole (fixed)")
        ax.set_aspect("equal")
        ax.set_title(f"S{s}: {res.eigenvalues[s]:.3f} eV", fontsize=9)
        ax.set_xlabel("x (Å)")
        if view:
            ax.set_xlim(hole[0] - view, hole[0] + view)
            ax.set_ylim(hole[1] - view, hole[1] + view)
        ax.legend(fontsize=7, loc="upper right")
    axes[0][0].set_ylabel("y (Å)")
    fig.colorbar(image, cax=cax, label="|Ψ_S(r_e, r_h)|² per site (sum 1)")
    fig.suptitle(title(system(res), extra="hole-fixed exciton densities"), fontsize=9)
    return save(fig, stem, "wavefunction")
