"""Figures of a ``transport`` run: sigma^2(t) and D(t), x-profiles, occupations, D(T) of a sweep."""

from __future__ import annotations

import tomllib

import numpy as np

from ...plotting import decoration, pyplot, save, title
from .result import Result


def describe(run):
    """The system of a run, from its stored config (the tables' file for ``input`` runs)."""
    cfg = tomllib.loads(run.config_text)
    if cfg.get("transport", {}).get("input"):
        return f"tables of {cfg['transport']['input']}"
    s = cfg.get("scattering", {})
    if s.get("model", "moire") == "multivalley":
        return f"{s.get('material', 'WS2')} multi-valley excitons"
    return s.get("system", "MoSe2-WSe2/hBN")


def plot(run, stem):
    """Variance and D(t), x-profiles, occupations and populations, and D(T) of a sweep; PNG paths."""
    res = Result.read(run)
    system = describe(run)
    out = [_variance(res, system, stem), _profiles(res, system, stem), _occupation(res, system, stem)]
    if len(res.temperature) > 1:
        out.append(_sweep(res, system, stem))
    return out


def _theta(res, p):
    return float(res.theta_deg[p]) if np.isfinite(res.theta_deg[p]) else None


def _label(res, p):
    return (f"{res.theta_deg[p]:g}°, " if np.isfinite(res.theta_deg[p]) else "") + f"{res.temperature[p]:g} K"


def _variance(res, system, stem):
    plt = pyplot()
    ob, t, t_fit = res.observables, res.time, res.fit_from_ps
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for p in range(len(res.temperature)):
        D, err = ob["stationary"][p], ob["stationary_error"][p]
        line, = a.plot(t, 1e-6 * ob["variance"][p, :, -1], label=f"{_label(res, p)}: Monte Carlo σ²(t)")
        late = t >= t_fit
        # sigma^2 = sigma_0^2 + msd; the stationary fit is msd = intercept + 4 D t (D in nm^2/ps = 100 D)
        fit = ob["variance"][p, 0, -1] + ob["fit_intercept"][p] + 400.0 * D * t[late]
        a.plot(t[late], 1e-6 * fit, "--", color=line.get_color(), lw=1,
               label=f"fit σ₀² + 4Dt: D = {D:.3g} ± {err:.2g} cm²/s")
        b.plot(t, ob["transient"][p], color=line.get_color(),
               label=f"{_label(res, p)} (RTA {res.diffusion_rta[p]:.3g} cm²/s)")
    for ax in (a, b):
        ax.axvspan(t_fit, t[-1], color="0.92", zorder=0, label=f"fit window t ≥ {t_fit:.3g} ps")
        ax.legend(fontsize=7)
    a.set(xlabel="t (ps)", ylabel="σ² = var(x) + var(y) (µm²)")
    b.set(xlabel="t (ps)", ylabel="D(t) = ¼ dσ²/dt (cm²/s)")
    fig.suptitle(title(system, extra="spread of the exciton cloud"), fontsize=9)
    return save(fig, stem, "variance", dpi=100)


def _profiles(res, system, stem):
    plt = pyplot()
    n_p, t, x = len(res.temperature), res.time, res.profile_edges
    x = 0.5 * (x[1:] + x[:-1])
    fig, axes = plt.subplots(1, n_p, figsize=(4.2 * n_p, 3.5), squeeze=False)
    for p, ax in zip(range(n_p), axes[0]):
        for k in np.unique(np.linspace(0, len(t) - 1, 6).astype(int)):
            y = res.observables["profiles"][p, k, -1]
            ax.plot(1e-3 * x, y / max(y.max(), 1e-300), label=f"t = {t[k]:.3g} ps")
        ax.set(xlabel="x (µm)", ylabel="N(x, t) / max_x N")
        ax.set_title(title(system, _theta(res, p), res.temperature[p]), fontsize=8)
        ax.legend(fontsize=7)
    return save(fig, stem, "profiles", dpi=100)


def _occupation(res, system, stem):
    plt = pyplot()
    n_p, t, ob = len(res.temperature), res.time, res.observables
    edges = res.energy_edges
    centre = 0.5 * (edges[1:] + edges[:-1])
    fig, axes = plt.subplots(2, n_p, figsize=(4.2 * n_p, 6.6), squeeze=False)
    for p in range(n_p):
        ax = axes[0, p]
        for k in (0, len(t) // 10, len(t) - 1):
            ax.step(centre, ob["energy_histogram"][p, k], where="mid", label=f"Monte Carlo, t = {t[k]:.3g} ps")
        ax.plot(centre, ob["energy_histogram_boltzmann"][p], "k--", lw=1, label="Boltzmann")
        ax.set(yscale="log", xlabel="excess energy E − E_min (meV)", ylabel="fraction of excitons per bin")
        ax.set_ylim(bottom=0.3 / float(res.attrs["particles"]), top=1.5)
        ax.set_title(title(system, _theta(res, p), res.temperature[p]), fontsize=8)
        ax.legend(fontsize=7)
        ax = axes[1, p]
        for g, name in enumerate(res.group_names):
            ax.plot(t, ob["population"][p, :, g], label=name)
        ax.set_xscale("symlog", linthresh=max(t[1], 1e-9))
        ax.set(xlim=(0, t[-1]), xlabel="t (ps)", ylabel="population (fraction of N)")
        ax.legend(fontsize=7)
    return save(fig, stem, "occupation", dpi=100)


def _sweep(res, system, stem):
    plt = pyplot()
    T, theta, ob = res.temperature, res.theta_deg, res.observables
    fig, ax = plt.subplots(figsize=(5.0, 3.8))
    for th in (np.unique(theta) if np.all(np.isfinite(theta)) else [np.nan]):
        m = (theta == th) if np.isfinite(th) else np.ones(len(T), bool)
        tag = f"{th:g}° " if np.isfinite(th) else ""
        line, = ax.plot(T[m], ob["stationary"][m], "o-", ms=3, label=f"{tag}Monte Carlo ± batch error")
        bars = ax.errorbar(T[m], ob["stationary"][m], yerr=ob["stationary_error"][m], fmt="none",
                           ecolor=line.get_color(), capsize=2)
        decoration(*bars.lines[1], *bars.lines[2])
        ax.plot(T[m], res.diffusion_rta[m], "--", color=line.get_color(), label=f"{tag}RTA (Boltzmann)")
    ax.set(xlabel="T (K)", ylabel="D (cm²/s)", yscale="log")
    ax.legend(fontsize=7)
    ax.set_title(title(system, extra="stationary D ± batch error"), fontsize=8)
    return save(fig, stem, "sweep", dpi=100)
