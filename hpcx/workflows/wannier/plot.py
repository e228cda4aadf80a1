"""Figures of a ``wannier`` run: exciton levels, wavefunctions and 1s form factors."""

from __future__ import annotations

import numpy as np

from ...plotting import pyplot, save, title
from .result import Result


def _structure(run):
    """'MoSe2/WSe2 on SiO2'-style description of the stack, from the stored config."""
    import tomllib
    st = tomllib.loads(run.config_text).get("structure", {})
    layers = "/".join(st.get("layers", []))
    return f"{layers}, {st.get('substrate', 'vacuum')} below, {st.get('superstrate', 'vacuum')} above"


def plot(run, stem):
    """Levels below the gap, radial densities, momentum densities and 1s form factors; PNG paths."""
    res = Result.read(run)
    system = _structure(run)
    return [_levels(res, system, stem), _wavefunctions(res, system, stem)]


def _levels(res, system, stem):
    plt = pyplot()
    n = len(res.species)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.6), squeeze=False, sharey=True)
    for ax, sp in zip(axes[0], res.species):
        for label, e in zip(sp.states, sp.binding_energy):
            kind = "s states" if label.endswith("s") else "p, d, ... states"
            ax.hlines(-e, 0.1, 0.9, color="C0" if label.endswith("s") else "C1", label=kind)
            ax.text(0.92, -e, label, va="center", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="center right")
        ax.set_title(sp.species.name, fontsize=9)
        ax.set_xticks([])
        ax.set_xlim(0, 1.2)
        ax.set_xlabel("state")
    axes[0][0].set_ylabel("$-E_b$ = energy below the band gap (meV)")
    fig.suptitle(f"exciton levels: {system}", fontsize=9)
    return save(fig, stem, "levels", dpi=130)


def _wavefunctions(res, system, stem):
    plt = pyplot()
    fig, (ax_r, ax_k, ax_f) = plt.subplots(1, 3, figsize=(11, 3.6))
    for i, sp in enumerate(res.species):
        name = sp.species.name
        for j, label in enumerate(sp.states):
            if label in ("1s", "2s"):
                style = "-" if label == "1s" else ":"
                ax_r.plot(sp.r, sp.r * sp.phi_r[j] ** 2 * 2 * np.pi, style, color=f"C{i}", label=f"{name} {label}")
                ax_k.plot(sp.k, np.abs(sp.phi_k[j]) ** 2, style, color=f"C{i}", label=f"{name} {label}")
        ax_f.plot(sp.q, sp.form_factor, color=f"C{i}", label=name)
    ax_r.set(xlabel="r (nm)", ylabel=r"radial density $2\pi r|\phi(r)|^2$ (1/nm)", xlim=(0, None))
    ax_k.set(xlabel="k (1/nm)", ylabel=r"$|\phi(k)|^2$ (nm$^2$)", xlim=(0, 3))
    ax_f.set(xlabel="q (1/nm)", ylabel="1s form factor F(q)", xlim=(0, 6))
    for ax in (ax_r, ax_k, ax_f):
        ax.legend(fontsize=7)
    fig.suptitle(title(system, extra="relative-motion wavefunctions"), fontsize=9)
    return save(fig, stem, "wavefunctions", dpi=130)
