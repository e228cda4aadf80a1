"""Peak memory per rank of a ``transport`` run, from its parameters (hpcx.physics.scattering_memory).

The Monte Carlo tables are held once per node, in shared memory of the ranks of a sweep
group on that node (hpcx.parallel.SharedArrays): their bytes are divided over those ranks,
so that ``estimate_memory`` times the ranks on a node is the node's memory.
"""

from __future__ import annotations

import math
import os

from ...io.tables import moire_bands_meta, scattering_tables_layout
from ...physics import scattering_memory as sm
from ...physics import scattering_states as ss

SHARED_ENTRY_BYTES = 48         # per table entry in shared memory: final state, cumulative, alias slot (32)
ALIAS_BUILD_BYTES = 72          # per entry while the node root builds the alias tables (kernel temporaries)


def table_sizes(p):
    """(number of states, table entries (a file's, else the bound of every pair), groups) of the points'
    tables, from the parameters ``p`` (the header of an input file; nothing is solved)."""
    if p.input is not None:
        layout, names = scattering_tables_layout(p.input)
        return layout["energy"][0][0], layout["indices"][0][0], len(names)
    if p.bands_input is not None:
        _, _, n_q, n_b, _ = moire_bands_meta(p.bands_input)
        return n_q * n_b, (n_q * n_b) ** 2, n_b
    n = ss.n_states(p.model)
    groups = len(p.model.valleys) if isinstance(p.model, ss.MultivalleyModel) else p.model.n_bands
    return n, n * n, groups


def ranks_per_node(comm_size):
    """Ranks of the run on one node: ``SLURM_NTASKS_PER_NODE`` when set, else all (one node)."""
    try:
        per_node = int(os.environ.get("SLURM_NTASKS_PER_NODE", ""))
    except ValueError:
        per_node = comm_size
    return max(1, min(comm_size, per_node))


def estimate_memory(p, comm_size=1):
    """Bytes per rank at the peak: the in-process tables of a point, or its Monte Carlo ensemble
    (particles of the rank's batches, checkpoint copies, per-state arrays and records) with the
    rank's share of the node's shared tables (entries of the group's points and the node root's
    alias temporaries, over the ranks of the smallest group on a node)."""
    mc, n_points = p.mc, len(p.points)
    n_groups = max(1, min(comm_size, n_points))
    ranks = max(1, comm_size // n_groups)                     # the smallest group holds the most per rank
    sharing = min(ranks, ranks_per_node(comm_size))
    n, nnz, groups = table_sizes(p)
    held = 1 if p.input is not None else math.ceil(n_points / n_groups)     # tables of the group's points
    tables = held * SHARED_ENTRY_BYTES * nnz + ALIAS_BUILD_BYTES * nnz
    ensemble = sm.ensemble_bytes(mc.particles, mc.batches, ranks, n, 0, mc.samples + 1, groups, mc.profile_bins,
                                 n_points) + tables / sharing
    if p.input is not None:
        return int(ensemble)
    thetas = sorted({theta for theta, _ in p.points if theta == theta}) or [None]
    build = max(sm.table_bytes(p.model, theta, math.ceil(n / ranks), n) for theta in thetas)
    return int(max(build, ensemble))
