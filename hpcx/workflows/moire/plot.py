"""Figures of a ``moire`` run: bands on the path, bandwidth and gap vs twist angle, the potential map."""

from __future__ import annotations

from ...plotting import colorbar, decoration, pyplot, save, title
from .result import Result

POINT_NAMES = {"gamma": r"$\gamma$", "kappa": r"$\kappa$", "m": "m"}


def plot(run, stem):
    """Bands, twist scan (if scanned) and the potential M(r) of a run file; PNG paths."""
    res = Result.read(run)
    out = [save(bands_figure(res), stem, "bands", dpi=100)]
    if res.scan is not None:
        out.append(save(twist_scan_figure(res), stem, "twist_scan", dpi=100))
    out.append(save(potential_figure(res), stem, "potential", dpi=100))
    return out


def draw_bands(ax, res, ylim=None, legend_loc="upper left"):
    """E_eta(Q) on gamma-kappa-m-gamma into ``ax``: ground band and excited bands in two colours."""
    path = res.path
    ax.plot(path.x, path.energy[:, 0], color="C0", lw=1.2, label=r"ground band $\eta$ = 0")
    ax.plot(path.x, path.energy[:, 1:], color="C1", lw=0.9,
                      label=rf"excited bands $\eta$ = 1..{path.energy.shape[1] - 1}")
    for t in path.ticks:
        decoration(ax.axvline(t, color="0.75", lw=0.6))
    ax.set_xticks(path.ticks, [POINT_NAMES.get(lab, lab) for lab in path.labels])
    ax.set(xlim=(path.x[0], path.x[-1]), xlabel="momentum Q along the mini Brillouin zone path")
    if ylim is not None:
        ax.set_ylim(*ylim)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=7, loc=legend_loc)


def bands_figure(res):
    """The bands of one run, energies relative to the free exciton at Q = 0."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.0, 3.8))
    draw_bands(ax, res)
    ax.set_ylabel(r"E (meV), 0 = free exciton at Q = 0")
    ax.set_title(title(res.system, res.geometry.theta_deg, extra="moiré exciton bands"), fontsize=9)
    return fig


def twist_scan_figure(res):
    """Ground-band width and gap to the second band vs twist angle."""
    plt = pyplot()
    scan = res.scan
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    ax.plot(scan.theta_deg, scan.bandwidth, "-", color="C0", label="ground-band width")
    ax.plot(scan.theta_deg, scan.gap, "o-", ms=3, color="C4", label="gap: min E$_1$ − max E$_0$")
    ax.set(xlabel="twist angle θ (deg)", ylabel="energy (meV)", ylim=(0, None))
    ax.legend(fontsize=8)
    ax.set_title(title(res.system, extra=f"{scan.scan_grid}×{scan.scan_grid} grid + path"), fontsize=9)
    return fig


def potential_figure(res, label_angle=True):
    """The moiré potential M(r) in units of the period a_M (the same for every angle in these units)."""
    plt = pyplot()
    pot, period = res.potential, res.geometry.period
    fig, ax = plt.subplots(figsize=(4.2, 3.5))
    im = ax.pcolormesh(pot.x / period, pot.y / period, pot.map, cmap="RdBu_r", shading="auto")
    colorbar(fig, im, ax, "M(r) (meV)")
    ax.set(xlabel="x / $a_M$", ylabel="y / $a_M$", aspect="equal")
    theta = res.geometry.theta_deg if label_angle else None
    ax.set_title(title(res.system, theta, extra=f"$a_M$ = {period:.2f} nm" if label_angle else "any θ"),
                 fontsize=9)
    return fig
