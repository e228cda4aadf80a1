"""Peak memory per rank of a ``transport`` run, from its parameters (hpcx.physics.scattering_memory)."""

from __future__ import annotations

import math

from ...io.tables import moire_bands_meta, scattering_tables_meta
from ...physics import scattering_memory as sm
from ...physics import scattering_states as ss


def _states(p):
    """(number of states, table entries (bound: every pair), groups) of the points' tables."""
    if p.input is not None:
        n = scattering_tables_meta(p.input)[3]
        return n, n * n, 8
    if p.bands_input is not None:
        _, _, n_q, n_b, _ = moire_bands_meta(p.bands_input)
        return n_q * n_b, (n_q * n_b) ** 2, n_b
    n = ss.n_states(p.model)
    groups = len(p.model.valleys) if isinstance(p.model, ss.MultivalleyModel) else p.model.n_bands
    return n, n * n, groups


def estimate_memory(p, comm_size=1):
    """Bytes per rank at the peak: the in-process tables of a point, or its Monte Carlo ensemble
    (particles of the rank's batches, checkpoint copies, replicated tables and records)."""
    mc, n_points = p.mc, len(p.points)
    n_groups = max(1, min(comm_size, n_points))
    ranks = max(1, comm_size // n_groups)                     # the smallest group holds the most per rank
    n, nnz, groups = _states(p)
    ensemble = sm.ensemble_bytes(mc.particles, mc.batches, ranks, n, nnz, mc.samples + 1, groups,
                                 mc.profile_bins, n_points)
    if p.input is not None:
        return int(ensemble)
    thetas = sorted({theta for theta, _ in p.points if theta == theta}) or [None]
    tables = max(sm.table_bytes(p.model, theta, math.ceil(n / ranks), n) for theta in thetas)
    return int(max(tables, ensemble))
