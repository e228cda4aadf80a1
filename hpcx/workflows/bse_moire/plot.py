"""Figures of a ``bse_moire`` run: spectrum, modulation map, hole-fixed and hole densities."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...plotting import colorbar, decoration, pyplot, save, title
from .result import Result


def system(res):
    """'WSe2 on WS2' (twisted cells) or 'Wannier90 supercell <name>'."""
    if res.supercell.twisted:
        return f"{res.attrs['layer']} layer of {res.attrs['layer']}/{res.attrs['other_layer']}"
    return f"Wannier90 supercell {Path(str(res.attrs['model']).split(' ', 1)[-1]).name}"


def figure_title(res, extra=None):
    """System, twist angle and cell size."""
    theta = res.supercell.theta_deg if res.supercell.twisted else None
    size = f"{res.supercell.n_sites} sites"
    return title(system(res), round(theta, 2) if theta is not None else None,
                 extra=f"{size}, {extra}" if extra else size)


def plot(run, stem):
    """Spectrum, the modulation map (twisted cells) and, when computed, the densities; PNG paths."""
    res = Result.read(run)
    out = [spectrum(res, stem)]
    if res.supercell.twisted:
        out.append(modulation(res, stem))
    if res.wavefunctions is not None:
        out += wavefunctions(res, stem)
    return out


def spectrum(res, stem):
    plt = pyplot()
    s, ev, f = res.spectrum, res.eigenvalues, res.oscillator_strength
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(s.energy, s.sigma, label="BSE (e-h interaction)")
    ax.plot(s.energy, s.sigma_ip, "--", label="independent particles")
    ax.axvline(res.qp_gap, color="0.6", lw=0.8, label="quasiparticle gap")
    for i, p in enumerate(s.peaks):
        ax.axvline(p, color="C3", lw=0.6, ls=":", label="peaks of BSE σ" if i == 0 else "_peak")
        if i:
            decoration(ax.lines[-1])
    keep = ev <= s.energy[-1]
    if f[keep].size and f[keep].max() > 0:
        ax.vlines(ev[keep], 0, 0.25 * s.sigma.max() * f[keep] / f[keep].max(), color="k", lw=0.8,
                  label="computed excitons (height ∝ oscillator strength f)")
    ax.set_xlabel("photon energy E (eV)")
    ax.set_ylabel(r"Re $\sigma_{xx}$ ($e^2/\hbar$)")
    ax.set_title(figure_title(res, "absorption"), fontsize=9)
    ax.legend(fontsize=7)
    return save(fig, stem, "spectrum")


def cell_edges(ax, A):
    """The supercell vectors A1, A2 from the origin (in the legend)."""
    for i, v in enumerate((A[0], A[1])):
        ax.plot([0, v[0]], [0, v[1]], "k-", lw=0.8, label="supercell vectors A1, A2" if i == 0 else "_cell")
        if i:
            decoration(ax.lines[-1])


def modulation(res, stem):
    plt = pyplot()
    pos, shift, A = res.supercell.site_positions, res.supercell.onsite_shift, res.supercell.lattice
    gap = 1e3 * (shift[:, 1] - shift[:, 0])
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    image = ax.scatter(pos[:, 0], pos[:, 1], c=gap, s=max(2.0, 3000.0 / len(pos)), cmap="coolwarm")
    colorbar(fig, image, ax, "local gap shift Δ_c − Δ_v (meV)")
    cell_edges(ax, A)
    ax.set_aspect("equal")
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(figure_title(res, "metal sites"), fontsize=9)
    return save(fig, stem, "modulation")


def density_panel(ax, tri, values, centre, view, marks=None, cmap="viridis", legend=True, **kwargs):
    """One density map: ``values`` on the triangulation ``tri`` (Angstrom), framed +-view around
    ``centre``, white circles at ``marks`` (the AA points, in the legend when ``legend``);
    returns the image."""
    image = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap, **kwargs)
    if marks is not None:
        ax.plot(marks[:, 0], marks[:, 1], "o", mfc="none", mec="w", ms=4.5, mew=0.6, label="AA points")
        if not legend:
            decoration(ax.lines[-1])
    ax.set_xlim(centre[0] - view, centre[0] + view)
    ax.set_ylim(centre[1] - view, centre[1] + view)
    ax.set_aspect("equal")
    ax.set_xlabel("x (Å)", fontsize=7)
    ax.set_ylabel("y (Å)", fontsize=7)
    ax.tick_params(labelsize=6)
    return image


def _multiplets(dens):
    """First state of each multiplet (its members carry the same averaged density)."""
    return [0] + [s for s in range(1, len(dens)) if not np.array_equal(dens[s], dens[s - 1])]


def panels(plt, n, ncol_max=6, size=(2.6, 2.8)):
    """(figure, [n axes] in rows of at most ``ncol_max``, colorbar axes on the right)."""
    ncol = min(ncol_max, n)
    nrow = -(-n // ncol)
    fig = plt.figure(figsize=(size[0] * ncol + 0.9, size[1] * nrow))
    gs = fig.add_gridspec(nrow, ncol + 1, width_ratios=[1] * ncol + [0.06])
    axes = [fig.add_subplot(gs[i // ncol, i % ncol]) for i in range(n)]
    return fig, axes, fig.add_subplot(gs[:, -1])


def wavefunctions(res, stem):
    """One panel per degenerate multiplet: the electron density with the hole fixed (+) and, when
    written, the hole density on 5 x 5 images of the cell."""
    import matplotlib.tri
    plt = pyplot()
    wf, ev, f = res.wavefunctions, res.eigenvalues, res.oscillator_strength
    dens, wpos, hole = wf.density, wf.positions.reshape(-1, 3), np.asarray(wf.hole_position)
    A, twisted = res.supercell.lattice, res.supercell.twisted
    first = _multiplets(dens)
    # zoom to 1.2 moire periods around the hole, or more if 95 % of a density lies further out
    dist = np.linalg.norm(wpos[:, :2] - hole[:2], axis=1)
    order = np.argsort(dist)
    r95 = max(dist[order][np.searchsorted(np.cumsum(d.ravel()[order]), 0.95)] for d in dens)
    view = max(1.2 * res.supercell.moire_period if twisted else 0.0, 1.3 * r95)
    n12 = np.arange(-4, 5)
    marks = np.array([i * A[0] + j * A[1] for i in n12 for j in n12]) if twisted else None
    tri = matplotlib.tri.Triangulation(wpos[:, 0], wpos[:, 1])
    fig, axes, cax = panels(plt, len(first))
    top = max(dens[s].max() for s in first)
    for j, (s, ax) in enumerate(zip(first, axes)):
        end = first[j + 1] if j + 1 < len(first) else len(dens)
        image = density_panel(ax, tri, dens[s].ravel(), hole, view, marks, legend=j == 0, vmin=0, vmax=top)
        ax.plot(hole[0], hole[1], "r+", ms=8, label="hole (fixed)")
        if j:
            decoration(ax.lines[-1])
        else:
            ax.legend(fontsize=6, loc="lower left")
        ax.set_title(f"S = {s}" + (f"-{end - 1}" if end - 1 > s else "") +
                     f": +{1e3 * (ev[s] - ev[0]):.1f} meV, f = {f[s:end].sum():.3g}", fontsize=7)
    fig.colorbar(image, cax=cax, label="electron density per site (sum 1)")
    fig.suptitle(figure_title(res, "electron density, hole fixed"), fontsize=9)
    out = [save(fig, stem, "wavefunction")]
    if wf.hole_density is not None:
        out.append(_hole_density(res, stem, first, view, marks))
    return out


def _hole_density(res, stem, first, view, marks):
    """Where the exciton sits: the hole density of each multiplet on the cell and its images."""
    import matplotlib.tri
    plt = pyplot()
    pos, A, ev = res.supercell.site_positions, res.supercell.lattice, res.eigenvalues
    rho = res.wavefunctions.hole_density
    shifts = np.array([i * A[0] + j * A[1] for i in range(-2, 3) for j in range(-2, 3)])   # cell: [0, 1)^2
    tiled = (pos[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    tri = matplotlib.tri.Triangulation(tiled[:, 0], tiled[:, 1])
    view = min(view, 2.0 * float(np.linalg.norm(A[:2, :2], axis=1).min()))   # inside the 5 x 5 images
    fig, axes, cax = panels(plt, len(first))
    n_site = rho.shape[1]
    top = max(rho[s].max() for s in first) * n_site
    for j, (s, ax) in enumerate(zip(first, axes)):
        image = density_panel(ax, tri, np.tile(rho[s] * n_site, len(shifts)), (0.0, 0.0), view, marks,
                              cmap="magma", legend=j == 0, vmin=0, vmax=top)
        if j == 0 and marks is not None:
            ax.legend(fontsize=6, loc="lower left")
        ax.set_title(f"S = {s}: +{1e3 * (ev[s] - ev[0]):.1f} meV", fontsize=7)
    fig.colorbar(image, cax=cax, label="hole density / cell mean")
    fig.suptitle(figure_title(res, "hole density (electron anywhere)"), fontsize=9)
    return save(fig, stem, "hole_density")
