"""Figures of a ``scattering`` run: RTA D(T), v2_eff, tau_eff; out-scattering rate per state."""

from __future__ import annotations

import tomllib

from ...plotting import pyplot, save, title
from .result import Result


def describe(run):
    """(system name, twist angle deg or None) of a run from its stored config."""
    s = tomllib.loads(run.config_text).get("scattering", {})
    if s.get("model", "moire") == "multivalley":
        return f"{s.get('material', 'WS2')} multi-valley excitons", None
    if s.get("input"):
        return f"{run.file['results'].attrs.get('model', 'moire')} bands of {s['input']}", None
    return s.get("system", "MoSe2-WSe2/hBN"), s.get("twist_deg", 3.0)


def plot(run, stem):
    """RTA curve and out-rates of the tables; PNG paths."""
    res = Result.read(run)
    system, theta = describe(run)
    return [_rta(res, system, theta, stem), _rates(res, system, theta, stem)]


def _rta(res, system, theta, stem):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4))
    for ax, y, label in zip(axes, (res.diffusion, res.v2_eff, res.tau_eff),
                            (r"$D_{RTA}$ (cm$^2$/s)", r"$v^2_{eff} = \sum_i N_i |v_i|^2$ (nm$^2$/ps$^2$)",
                             r"$\tau_{eff} = \sum_i N_i \tau_i$ (ps)")):
        ax.plot(res.temperature, y, "o-", ms=3, label="RTA, Boltzmann $N_i$")
        ax.set(xlabel="T (K)", ylabel=label)
        ax.legend(fontsize=7)
    fig.suptitle(title(system, theta, extra="relaxation-time approximation (SI Eq. 23)"), fontsize=9)
    return save(fig, stem, "rta", dpi=100)


def _rates(res, system, theta, stem):
    plt = pyplot()
    T = float(res.tables.attrs["temperature_K"])
    fig, ax = plt.subplots(figsize=(4.4, 3.4))
    ax.semilogy(res.energy, res.tables.total_rate, ".", ms=3, label=r"state $i$: $\Gamma_i = \sum_f W_{if}$")
    ax.set(xlabel="E (meV)", ylabel=r"out-scattering rate $\Gamma_i$ (1/ps)")
    ax.legend(fontsize=7)
    ax.set_title(title(system, theta, T), fontsize=9)
    return save(fig, stem, "rates", dpi=100)
