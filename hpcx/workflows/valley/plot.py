"""Figures of a ``valley`` run: widths and diffusion per valley (seed 002 Fig. 3), the normalised
PL profile (Fig. 2), the scattering-induced diffusion (Fig. 5a) and, with the Monte Carlo, its
cross-check of the moment solver."""

from __future__ import annotations

import numpy as np

from ...plotting import colorbar, decoration, pyplot, save, title
from .result import Result

LABELS = {"KK": "KK", "KKp": "KK'", "KL": "KΛ"}
COLORS = {"KK": "C3", "KKp": "C0", "KL": "C2"}


def label(v):
    return LABELS.get(v, v)


def plot(run, stem):
    """w², D per valley; PL profiles; D_KK vs D^scat; PNG paths."""
    res = Result.read(run)
    paths = [widths(res, stem)]
    if res.pl_profile is not None:
        paths.append(pl_maps(res, stem))
    paths.append(scattering(res, stem))
    if res.monte_carlo is not None:
        paths.append(save(monte_carlo_figure(res), stem, "monte_carlo", dpi=120))
    return paths


def widths(res, stem):
    plt = pyplot()
    nT = len(res.temperature)
    fig, axes = plt.subplots(2, nT, figsize=(4.0 * nT, 6.0), squeeze=False, sharex="col")
    for c, T in enumerate(res.temperature):
        top, bot = axes[0][c], axes[1][c]
        for i, v in enumerate(res.valleys):
            top.plot(res.time, 1e-6 * res.width2[c, i], color=COLORS.get(v), label=label(v))
            bot.plot(res.time, res.diffusion[c, i], color=COLORS.get(v), label=label(v))
        for ax, w2, d in ((top, res.pl_width2[c], None), (bot, None, res.pl_diffusion[c])):
            ax.plot(res.time, 1e-6 * w2 if d is None else d, "k--", label="PL")
        top.plot(res.time, 1e-6 * res.total_width2[c], "k:", label="total N")
        bot.plot(res.time, res.total_diffusion[c], "k:", label="total N")
        top.set(ylabel="w² (µm²)", title=title("WS2 (hBN)", temperature_K=T))
        bot.set(xlabel="t (ps)", ylabel="D (cm²/s)")
        decoration(bot.axhline(0.0, color="0.6", lw=0.5))
        lim = np.nanpercentile(np.abs(res.diffusion[c]), 99) if np.any(np.isfinite(res.diffusion[c])) else 1
        bot.set_ylim(-0.6 * lim, 1.2 * lim)
        top.legend(fontsize=7)
        bot.legend(fontsize=7)
    return save(fig, stem, "widths", dpi=120)


def pl_maps(res, stem):
    plt = pyplot()
    nT = len(res.temperature)
    fig, axes = plt.subplots(1, nT, figsize=(4.2 * nT, 3.6), squeeze=False)
    x = np.concatenate([-res.r[::-1], res.r[1:]]) * 1e-3
    for c, T in enumerate(res.temperature):
        prof = res.pl_profile[c]
        prof = np.concatenate([prof[:, ::-1], prof[:, 1:]], axis=1)
        peak = np.max(prof, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = np.where(peak > 0, prof / peak, np.nan)
        ax = axes[0][c]
        im = ax.pcolormesh(x, res.profile_time, norm, shading="nearest", vmin=0, vmax=1, cmap="magma")
        colorbar(fig, im, ax, "I_PL / max_x I_PL")
        ax.set(xlabel="x (µm)", ylabel="t (ps)", title=title("WS2 PL", temperature_K=T))
        ax.set_xlim(-min(3.0, x[-1]), min(3.0, x[-1]))
    return save(fig, stem, "pl", dpi=120)


def scattering(res, stem):
    plt = pyplot()
    c = int(np.argmin(res.temperature))
    i = res.valleys.index("KK") if "KK" in res.valleys else 0
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    ax.plot(res.time, res.diffusion[c, i], color="C3", label=f"D of {label(res.valleys[i])}")
    ax.plot(res.time, res.diffusion_scattering[c, i], "k--", label="D^scat (Eq. 4)")
    decoration(ax.axhline(0.0, color="0.6", lw=0.5))
    ax.set(xlabel="t (ps)", ylabel="D (cm²/s)", title=title("WS2 (hBN)", temperature_K=res.temperature[c]))
    ax.legend(fontsize=8)
    return save(fig, stem, "scattering", dpi=120)


#: effective particles below which a Monte Carlo value is not shown (its error bar is unreliable)
MC_MIN_PARTICLES = 2000


def monte_carlo_figure(res):
    """Moment solver (lines) vs Monte Carlo (markers, 3 sigma bars) growth of w^2 per valley and of
    the total density, one panel per Monte Carlo temperature; groups with fewer than
    MC_MIN_PARTICLES effective particles are left out of the Monte Carlo markers."""
    plt = pyplot()
    mc = res.monte_carlo
    nT = len(mc.temperature)
    fig, axes = plt.subplots(1, nT, figsize=(4.2 * nT, 3.6), squeeze=False)
    w0 = float(mc.attrs["spot_width2_nm2"])
    for c, T in enumerate(mc.temperature):
        ax, i = axes[0][c], list(res.temperature).index(T)
        rows = [(g, res.width2[i, g] if g < len(res.valleys) else res.total_width2[i], COLORS.get(v, "k"),
                 label(v) if g < len(res.valleys) else "total N") for g, v in enumerate(res.valleys + ["total"])]
        for g, w2, color, name in rows:
            ax.plot(res.time, 1e-3 * (w2 - w0), color=color, lw=1.0, label=f"{name} moments")
            ok = mc.values["particles"][c, g] >= MC_MIN_PARTICLES
            if np.any(ok):
                y = 1e-3 * (mc.values["width2"][c, g, ok] - w0)
                ax.plot(mc.time[ok], y, "o", ms=3, color=color, label=f"{name} Monte Carlo (3σ bars)")
                bars = ax.errorbar(mc.time[ok], y, yerr=3e-3 * mc.values["width2_error"][c, g, ok], fmt="none",
                                   ecolor=color, capsize=2)
                decoration(*bars.lines[1], *bars.lines[2])          # caps and bars of the labelled markers
        ax.set(xlabel="t (ps)", ylabel="w² − w₀² (10³ nm²)",
               title=title("WS2 (hBN)", temperature_K=T) + "; w₀² = spot ⟨r²⟩")
        ax.legend(fontsize=6)
    return fig
