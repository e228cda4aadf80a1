"""Shared figure helpers; each workflow's ``plot.py`` draws its own figures with them.

``hpcx plot RUN.h5`` calls the ``plot(run, stem)`` of the run's workflow and
writes PNG files next to the run file.  :func:`save` checks every figure
before writing it, so that a figure a physicist reads without the code is the
default: every image has a colorbar with a label, every data line and marker
is in a legend (mark decorations, such as high-symmetry ticks, with
:func:`decoration`), and every axis is labelled.
"""

from __future__ import annotations

from pathlib import Path

from .io import RunFile


class FigureError(ValueError):
    """A figure misses a colorbar, a legend entry or an axis label."""


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


_pyplot = pyplot


def decoration(*artists):
    """Mark artists (guide lines, tick lines, annotations, repeats of a labelled line) that need no
    legend entry, and keep them out of the legend (a repeat keeps its label with a leading "_")."""
    for artist in artists:
        for a in (artist if isinstance(artist, (list, tuple)) else [artist]):
            a.set_gid("decoration")
            label = a.get_label() or ""
            if label and not label.startswith("_"):
                a.set_label(f"_{label}")
    return artists[0] if len(artists) == 1 else artists


def title(system=None, theta_deg=None, temperature_K=None, extra=None):
    """A title naming the system, twist angle and temperature, e.g. 'MoSe2-WSe2, 3°, 10 K'."""
    parts = [system] if system else []
    if theta_deg is not None:
        parts.append(f"{float(theta_deg):g}°")
    if temperature_K is not None:
        parts.append(f"{float(temperature_K):g} K")
    if extra:
        parts.append(extra)
    return ", ".join(parts)


def colorbar(fig, mappable, ax, label):
    """A colorbar whose label names the quantity and its unit ('n (1/nm²)', '|ψ|² (arb. units)')."""
    if not label:
        raise FigureError("a colorbar needs a label with its unit")
    return fig.colorbar(mappable, ax=ax, label=label)


def _is_data(artist):
    if artist.get_gid() == "decoration":
        return False
    label = artist.get_label() or ""
    return not (label.startswith("_child") or label == "")


def _legend_labels(ax):
    legend = ax.get_legend()
    return set() if legend is None else {t.get_text() for t in legend.get_texts()}


def check_figure(fig):
    """Raise FigureError if an image lacks a colorbar, data lacks a legend entry, or an axis a label."""
    from matplotlib.collections import PathCollection, PolyCollection, QuadMesh
    from matplotlib.image import AxesImage
    colorbar_axes = {getattr(getattr(c, "colorbar", None), "ax", None) for ax in fig.axes for c in ax.collections}
    for ax in fig.axes:
        if ax in colorbar_axes or not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        images = [m for m in ax.images + ax.collections
                  if isinstance(m, (AxesImage, QuadMesh)) or (
                      isinstance(m, PolyCollection) and m.get_array() is not None)]
        for m in images:
            if m.get_gid() != "decoration" and m.colorbar is None:
                raise FigureError(f"axes '{ax.get_title()}': an image plot without a colorbar")
        lines = [a for a in ax.lines if a.get_gid() != "decoration"]
        markers = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_gid() != "decoration"
                   and c.get_array() is None]
        labels = _legend_labels(ax)
        for artist in lines + markers:
            label = artist.get_label()
            if not _is_data(artist) or label not in labels:
                raise FigureError(f"axes '{ax.get_title()}': a line or marker set "
                                  f"({label or 'unlabelled'}) is not in a legend; label it or mark it "
                                  f"with hpcx.plotting.decoration")
        if (lines or images or markers) and not _has_label(ax, "x"):
            raise FigureError(f"axes '{ax.get_title()}': no x-axis label")
        if (lines or images or markers) and not _has_label(ax, "y"):
            raise FigureError(f"axes '{ax.get_title()}': no y-axis label")


def _has_label(ax, which):
    """An axis label (or named ticks) on ``ax`` or on an axes sharing that axis with it."""
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    for a in shared.get_siblings(ax):
        axis = a.xaxis if which == "x" else a.yaxis
        if axis.get_label_text() or any(t.get_text() for t in axis.get_ticklabels()):
            return True
    return not (ax.xaxis if which == "x" else ax.yaxis).get_visible()


def save(fig, stem, suffix=None, dpi=130, check=True):
    """Check (:func:`check_figure`), lay out, write ``<stem>_<suffix>.png`` (``<stem>.png`` without
    a suffix), close; returns the path."""
    if check:
        try:
            check_figure(fig)
        except FigureError:
            pyplot().close(fig)
            raise
    fig.tight_layout()
    out = Path(f"{stem}_{suffix}.png" if suffix else f"{stem}.png")
    fig.savefig(out, dpi=dpi)
    pyplot().close(fig)
    return out


def _save(fig, stem, suffix, dpi=100):
    """:func:`save` without the figure checks (figures not yet brought up to them)."""
    return save(fig, stem, suffix, dpi=dpi, check=False)


def plot_run(path):
    """Write the figures of one run file with its workflow's ``plot``; returns the PNG paths."""
    from . import workflows
    path = Path(path)
    with RunFile(path) as run:
        plotter = None
        if run.workflow in workflows.WORKFLOW_MODULES:
            plotter = getattr(workflows.load(run.workflow), "plot", None)
        if plotter is None:
            return []
        return plotter(run, path.with_suffix(""))
