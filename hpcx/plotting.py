"""PNG figures from run files (``hpcx plot RUN.h5``), written next to the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import RunFile


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, stem, suffix, dpi=100):
    """Lay out, write ``<stem>_<suffix>.png``, close; returns the path."""
    fig.tight_layout()
    out = Path(f"{stem}_{suffix}.png")
    fig.savefig(out, dpi=dpi)
    _pyplot().close(fig)
    return out


def plot_run(path):
    """Write the figures of one run file; returns the PNG paths."""
    path = Path(path)
    with RunFile(path) as run:
        plotter = PLOTTERS.get(run.workflow) or _workflow_plotter(run.workflow)
        if plotter is None:
            return []
        return plotter(run, path.with_suffix(""))


def _workflow_plotter(name):
    """The ``plot(run, stem)`` of workflow module ``name``, if it defines one."""
    from . import workflows
    if name not in workflows.WORKFLOW_MODULES:
        return None
    return getattr(workflows.load(name), "plot", None)


def _species(run):
    return sorted(run.file["results/excitons"].keys())


def plot_wannier(run, stem):
    """Wavefunctions |phi(r)|, phi(k), binding-energy levels and 1s form factors."""
    plt = _pyplot()
    names = _species(run)
    outputs = []

    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.4), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], names):
        states, _ = run.read(f"results/excitons/{name}/states")
        eb, _ = run.read(f"results/excitons/{name}/binding_energy")
        for label, e in zip(states, eb):
            ax.hlines(-e, 0.1, 0.9, color="C0" if label.endswith("s") else "C1")
            ax.text(0.92, -e, label, va="center", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_xlim(0, 1.2)
    axes[0][0].set_ylabel("$-E_b$ (meV)")
    fig.suptitle("exciton levels below the band gap")
    outputs.append(_save(fig, stem, "levels", dpi=130))

    fig, (ax_r, ax_k, ax_f) = plt.subplots(1, 3, figsize=(11, 3.4))
    for i, name in enumerate(names):
        group = f"results/excitons/{name}"
        r, _ = run.read(f"{group}/r")
        k, _ = run.read(f"{group}/k")
        states, _ = run.read(f"{group}/states")
        phi_r, _ = run.read(f"{group}/phi_r")
        phi_k, _ = run.read(f"{group}/phi_k")
        for j, label in enumerate(states):
            style = "-" if label == "1s" else ":"
            if label in ("1s", "2s"):
                ax_r.plot(r, r * phi_r[j] ** 2 * 2 * np.pi, style, color=f"C{i}", label=f"{name} {label}")
                ax_k.plot(k, np.abs(phi_k[j]) ** 2, style, color=f"C{i}", label=f"{name} {label}")
        q, _ = run.read(f"{group}/q")
        ff, _ = run.read(f"{group}/form_factor")
        ax_f.plot(q, ff, color=f"C{i}", label=name)
    ax_r.set(xlabel="r (nm)", ylabel=r"$2\pi r|\phi(r)|^2$ (1/nm)", xlim=(0, None))
    ax_k.set(xlabel="k (1/nm)", ylabel=r"$|\phi(k)|^2$ (nm$^2$)", xlim=(0, 3))
    ax_f.set(xlabel="q (1/nm)", ylabel="1s form factor F(q)", xlim=(0, 6))
    ax_r.legend(fontsize=7)
    ax_f.legend(fontsize=7)
    outputs.append(_save(fig, stem, "wavefunctions", dpi=130))
    return outputs


def plot_moire(run, stem):
    """Bands on the path, bandwidth/gap vs twist (if scanned) and the potential map M(r)."""
    plt = _pyplot()
    outputs = []
    theta, _ = run.read("results/geometry/theta_deg")
    x, _ = run.read("results/bands/path_x")
    energy, _ = run.read("results/bands/path_energy")
    ticks, _ = run.read("results/bands/path_ticks")
    labels, _ = run.read("results/bands/path_labels")
    names = {"gamma": r"$\gamma$", "kappa": r"$\kappa$", "m": "m"}
    fig, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.plot(x, energy, color="C0", lw=1.2)
    for t in ticks:
        ax.axvline(t, color="0.7", lw=0.6)
    ax.set_xticks(ticks, [names.get(lab, lab) for lab in labels])
    ax.set(xlim=(x[0], x[-1]), ylabel="E (meV)", title=f"moiré exciton bands, {float(theta):g}°")
    outputs.append(_save(fig, stem, "bands", dpi=100))

    if "results/twist_scan" in run.file:
        th, _ = run.read("results/twist_scan/theta_deg")
        width, _ = run.read("results/twist_scan/bandwidth")
        gap, _ = run.read("results/twist_scan/gap")
        fig, ax = plt.subplots(figsize=(4.2, 3.4))
        ax.plot(th, width, "-", color="C0", label="ground-band width")
        ax.plot(th, gap, "o-", color="C4", ms=3, label="gap to 2nd band")
        ax.set(xlabel="twist angle (deg)", ylabel="energy (meV)", ylim=(0, None))
        ax.legend(fontsize=8)
        outputs.append(_save(fig, stem, "twist_scan", dpi=100))

    px, _ = run.read("results/potential/x")
    py, _ = run.read("results/potential/y")
    vmap, _ = run.read("results/potential/map")
    period, _ = run.read("results/geometry/period")
    fig, ax = plt.subplots(figsize=(4.0, 3.4))
    im = ax.pcolormesh(px / period, py / period, vmap, cmap="RdBu_r", shading="auto")
    fig.colorbar(im, ax=ax, label="M(r) (meV)")
    ax.set(xlabel="x / $a_M$", ylabel="y / $a_M$", aspect="equal",
           title=f"moiré potential, $a_M$ = {float(period):.2f} nm")
    outputs.append(_save(fig, stem, "potential", dpi=100))
    return outputs


def plot_scattering(run, stem):
    """RTA D(T), v2_eff, tau_eff, and the out-scattering rate per state vs its energy."""
    plt = _pyplot()
    T, _ = run.read("results/rta/temperature")
    fig, ax = plt.subplots(1, 3, figsize=(10.5, 3.2))
    for a, key, label in zip(ax, ("diffusion", "v2_eff", "tau_eff"),
                             ("$D_{RTA}$ (cm$^2$/s)", "$v^2_{eff}$ (nm$^2$/ps$^2$)", r"$\tau_{eff}$ (ps)")):
        y, _ = run.read(f"results/rta/{key}")
        a.plot(T, y, "o-", ms=3)
        a.set(xlabel="T (K)", ylabel=label)
    out_rta = _save(fig, stem, "rta", dpi=100)
    E, _ = run.read("results/rates/energy")
    rate, _ = run.read("results/rates/total_rate")
    T_tab = run.file["results/rates"].attrs["temperature_K"]
    fig, ax = plt.subplots(figsize=(4.0, 3.2))
    ax.semilogy(E, rate, ".", ms=3)
    ax.set(xlabel="E (meV)", ylabel="out-scattering rate (1/ps)", title=f"T = {float(T_tab):g} K")
    out_rate = _save(fig, stem, "rates", dpi=100)
    return [out_rta, out_rate]


PLOTTERS = {"wannier": plot_wannier, "moire": plot_moire, "scattering": plot_scattering}
