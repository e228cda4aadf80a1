"""Figures of a ``valley`` run: widths and diffusion per valley (seed 002 Fig. 3), the normalised
PL profile (Fig. 2) and the scattering-induced diffusion (Fig. 5a)."""

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
