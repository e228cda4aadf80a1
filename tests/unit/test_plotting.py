"""The figure rules of hpcx.plotting: every data line in a legend once, images with colorbars."""

import numpy as np
import pytest

from hpcx.plotting import FigureError, check_figure, decoration, pyplot


def _axes():
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.set_xlabel("x (nm)")
    ax.set_ylabel("y (meV)")
    return plt, fig, ax


def test_repeats_marked_as_decoration_appear_once_in_the_legend():
    plt, fig, ax = _axes()
    for shift in range(4):
        line, = ax.plot([0, 1], [shift, shift], "k", label="level")
        if shift:
            decoration(line)
    guide, = ax.plot([0, 1], [0, 3], ":", label="guide")
    decoration(guide)
    ax.legend()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["level"]
    check_figure(fig)
    plt.close(fig)


def test_a_line_outside_the_legend_is_refused():
    plt, fig, ax = _axes()
    ax.plot([0, 1], [0, 1], label="shown")
    ax.plot([0, 1], [1, 0], label="forgotten")
    ax.legend(handles=ax.lines[:1])
    with pytest.raises(FigureError, match="forgotten"):
        check_figure(fig)
    plt.close(fig)


def test_an_image_needs_a_colorbar():
    plt, fig, ax = _axes()
    image = ax.imshow(np.eye(3))
    with pytest.raises(FigureError, match="colorbar"):
        check_figure(fig)
    fig.colorbar(image, ax=ax, label="density (1/nm^2)")
    check_figure(fig)
    plt.close(fig)
