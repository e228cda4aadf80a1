"""Peak memory per rank of a ``biexciton`` run, from its parameters (before any allocation)."""

from __future__ import annotations

from ...physics import biexciton as bx


def estimate_memory(p, comm_size=1):
    """Peak bytes per rank: the process, the PL spectra, the decay amplitudes and the relative motion.

    The PL's Lorentzian lines (every distinct biexciton energy to every final
    level, up to 2 m + 1 of them with m the brightness grid) dominate; every
    sweep item is computed whole on one rank, so nothing shrinks with the
    rank count except the gathered lists.
    """
    n2 = bx.biexciton_count_bound(p.window)
    m_max = bx.brightness_grid_size(p.window, p.window, p.n_radial)
    n_levels = 2 * m_max + 1
    decay = 3 * 8 * n2 * 2 * n_levels + bx.decay_memory_bytes(m_max)
    spectra = bx.spectrum_memory_bytes(p.pl_points, n2 * n_levels) \
        + 4 * 8 * len(p.temperatures) * len(p.fillings) * p.pl_points
    lifetime = bx.decay_memory_bytes(p.lifetime_n_radial) + bx.relative_memory_bytes(p.lifetime_n_radial)
    relative = bx.relative_memory_bytes(p.n_radial, p.window) * (p.window // 2 + 1)
    return int(decay + relative + max(spectra, lifetime))
