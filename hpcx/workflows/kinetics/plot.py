"""Figures of a ``kinetics`` run: densities (seed Fig. 3a), occupations (Figs. 4/5), PL (Fig. 6), sweep (Fig. 3b)."""

from __future__ import annotations

import numpy as np

from ...plotting import colorbar, pyplot, save, title
from .result import Result


def plot(run, stem):
    """PNG paths of the figures of a finished kinetics run file."""
    res = Result.read(run)
    p = res.point
    system = f"{'/'.join(p.species[:2])}, Delta E = {p.delta_e:g} meV"
    out = [densities(p, system, stem), occupations(p, system, stem), photoluminescence(p, system, stem)]
    if res.sweep is not None:
        out.append(sweep(res.sweep, stem))
    return out


def densities(p, system, stem):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for s, name in enumerate(p.species):
        ax.plot(p.time, p.density[s] / 1e-3, label=f"{name} incoherent")
    ax.plot(p.time, p.polarization[0] / 1e-3, "--", label=f"{p.species[0]} coherent |P|$^2$")
    ax.axvline(p.formation_time + 0.5, color="0.5", lw=0.8, label=f"formation time {p.formation_time:.2f} ps")
    ax.set(xlabel="time t (ps)", ylabel=r"density n (10$^{-3}$ nm$^{-2}$)", xlim=(0, min(20.0, p.time[-1])))
    ax.legend(fontsize=7)
    ax.set_title(title(system, temperature_K=p.temperature), fontsize=9)
    return save(fig, stem, "densities")


def occupations(p, system, stem):
    plt = pyplot()
    fig, axes = plt.subplots(1, len(p.species), figsize=(4.2 * len(p.species), 3.4), squeeze=False)
    wanted = (0.6, 1.0, 2.0, 5.0, 20.0, p.snapshot_time[-1])
    picks = sorted({int(np.argmin(np.abs(p.snapshot_time - t))) for t in wanted})
    for s, ax in enumerate(axes[0]):
        for k in picks:
            ax.semilogy(p.q, np.maximum(p.occupation[s, :, k], 1e-30), label=f"t = {p.snapshot_time[k]:.1f} ps")
        ax.set(xlabel="centre-of-mass momentum Q (1/nm)", ylabel="occupation per state N_Q", ylim=(1e-12, None))
        ax.set_title(p.species[s], fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(title(system, temperature_K=p.temperature, extra="occupation snapshots"), fontsize=9)
    return save(fig, stem, "occupations")


def photoluminescence(p, system, stem):
    plt = pyplot()
    fig, (ax_map, ax_t) = plt.subplots(1, 2, figsize=(10, 3.8))
    I = np.log10(np.maximum(p.pl_intensity, p.pl_intensity.max() * 1e-12))
    im = ax_map.pcolormesh(p.pl_energy, p.snapshot_time, I, shading="auto", cmap="magma")
    colorbar(fig, im, ax_map, r"log$_{10}$ PL intensity (nm$^{-2}$ ps$^{-1}$ meV$^{-1}$)")
    ax_map.set(xlabel="photon energy (eV)", ylabel="time t (ps)")
    peaks = [p.emission[s] * 2 / (np.pi * p.linewidth[s]) for s in range(2)]
    for s, name in enumerate(p.species[:2]):
        ax_t.semilogy(p.time, peaks[s], label=f"{name} peak emission")
    top = max(float(np.max(x)) for x in peaks)
    ax_t.set_ylim(top * 1e-16, top * 3.0)
    if np.isfinite(p.crossover_time):
        ax_t.axvline(p.crossover_time + 0.5, color="0.5", lw=0.8, label=f"crossover {p.crossover_time:.1f} ps")
    ax_t.set(xlabel="time t (ps)", ylabel=r"peak PL (nm$^{-2}$ ps$^{-1}$ meV$^{-1}$)")
    ax_t.legend(fontsize=7)
    fig.suptitle(title(system, temperature_K=p.temperature, extra="photoluminescence"), fontsize=9)
    return save(fig, stem, "pl")


def sweep(sw, stem):
    plt = pyplot()
    n = len(sw.substrate)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.6), squeeze=False, sharey=True)
    for k, (ax, name) in enumerate(zip(axes[0], sw.substrate)):
        for i, T in enumerate(sw.temperature):
            ax.plot(sw.delta_e, sw.formation_time[k, i], "o-", label=f"T = {T:g} K")
        ax.set(xlabel=r"band offset $\Delta E$ (meV)", ylabel=r"formation time $\tau$ (ps)")
        ax.set_title(f"on {name}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("interlayer exciton formation time", fontsize=9)
    return save(fig, stem, "sweep")
