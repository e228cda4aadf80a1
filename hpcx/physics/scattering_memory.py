"""Peak memory per rank of building scattering tables and of a Monte Carlo ensemble, before allocation.

Used by the ``scattering`` and ``transport`` workflows' ``estimate_memory``.  Sizes in
bytes.  The models follow the arrays the code allocates (checked against the peak RSS of
examples/scattering.toml and examples/transport.toml on 1 and 2 ranks, and of multi-valley
runs with 14 x 14 and 24 x 24 grids, within 1.5x; docs/theory/scattering.md):

* beyond what the process holds when the estimate is checked (the interpreter and its
  libraries, :mod:`hpcx.resources`): the row-block temporaries of the coupling terms
  (``chunk_pairs`` pairs);
* moiré states: the bands (plane-wave vectors), the dense optical couplings [n_loc, n]
  per Einstein mode, and the sparse coupling terms (int32 row and column, float64 coupling
  and phonon energy: 24 bytes each, about 2x that at the peak: the terms, the field being
  concatenated and the per-term rate temporaries; measured 48 bytes per term on the
  15 x 15 x 5, 6-shell grid of examples/seed000_transport_3deg.toml).
  Their number per (initial, final) pair depends on the band overlaps; it is measured on a
  4 x 4 grid of the same model (at most 10 shells), which predicts the 9 x 9 count of the
  examples within 5 %;
* multi-valley states: every channel keeps a dense coupling and phonon-energy table [n, n]
  on every rank, and building them needs about six more [n, n] arrays;
* the rate tables of the local rows: forward, reverse, symmetrised and the sampling
  table's temporaries, about six [n_loc, n] float64 arrays.
"""

from __future__ import annotations

import dataclasses
import math

from . import moire as mp
from . import scattering_states as ss

__all__ = ["table_bytes", "ensemble_bytes", "terms_per_pair"]

MIB = 2 ** 20
CHUNK_BYTES = 40 * MIB          # row-block temporaries of the moiré terms (2^18 pairs)
TERM_BYTES = 24                 # int32 row, int32 column, float64 coupling, float64 phonon energy
TERM_PEAK = 2                   # bytes per term at the peak over TERM_BYTES: the terms, one field being
                                # concatenated and the per-term rate temporaries (about 48 bytes per term)
MULTIVALLEY_TERM_PEAK = 3       # the same for multi-valley terms (checked on 14 x 14 and 24 x 24 grids)
TABLE_ARRAYS = 6                # [n_loc, n] float64 arrays of the rate tables
PROXY_GRID, PROXY_SHELLS = 4, 10


def terms_per_pair(model, twist_deg):
    """Sparse coupling terms per (initial, final) pair of a :class:`MoireModel`, counted on a small grid."""
    proxy = dataclasses.replace(model, grid=min(model.grid, PROXY_GRID), shells=min(model.shells, PROXY_SHELLS))
    states, _ = ss.build_states(proxy, twist_deg)
    return len(states.terms(0, states.n).row) / states.n ** 2


def _multivalley_terms_per_row(model):
    """Nonzero channel entries per row (upper bound: every coupling of the channels' selection rules)."""
    m2, names = model.k_points ** 2, [name for name, _ in model.valleys]
    pairs = ss.intervalley_phonons(model.phonons, names)
    per_valley = [2 * (m2 - 1) + m2 + 2 * m2 * sum(name in pair for pair in pairs) for name in names]
    return max(per_valley), 3 + 2 * len(pairs)


def table_bytes(model, twist_deg, n_loc, n, n_g=None):
    """Peak bytes of one rank holding ``n_loc`` of the ``n`` rows while the tables are built."""
    tables = TABLE_ARRAYS * 8 * n_loc * n
    if isinstance(model, ss.MultivalleyModel):
        per_row, n_channels = _multivalley_terms_per_row(model)
        terms = per_row * n_loc
        channels = 2 * n_channels * 8 * n * n
        return channels + max(6 * 8 * n * n, MULTIVALLEY_TERM_PEAK * TERM_BYTES * terms,
                                           TERM_BYTES * terms + tables)
    if n_g is None:
        n_g = len(mp.plane_wave_basis(mp.MoireGeometry(1.0, 1.0, 0.1), model.shells)[0])
    terms = terms_per_pair(model, twist_deg) * n_loc * n
    fixed = CHUNK_BYTES + 2 * 16 * n * n_g + 2 * 8 * n_loc * n
    return fixed + max(TERM_PEAK * TERM_BYTES * terms, TERM_BYTES * terms + tables)


def ensemble_bytes(particles, batches, ranks, n_states, nnz, n_times, groups, bins, n_points):
    """Peak bytes of one rank of a Monte Carlo group of ``ranks`` ranks.

    Particles: 10 int64/float64 fields per local particle (whole batches per rank), the
    gathered copy of a checkpoint (8 fields of all particles, twice while concatenated) on
    the group's first rank and the restored copy of a checkpoint on every rank; tables:
    CSR rows and alias tables (48 bytes per entry) and per-state arrays; records of all
    points (moments, occupations, profiles) at every sampling time, three times while analysed.
    """
    local = math.ceil(batches / ranks) * math.ceil(particles / batches)
    particle_bytes = 80 * local + 128 * particles + 64 * particles
    table = 48 * nnz + 160 * n_states
    record = n_times * (batches * groups * 10 * 8 + 8 * n_states + 8 * groups * bins)
    return particle_bytes + table + 3 * n_points * record
