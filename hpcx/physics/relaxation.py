"""The relaxation bottleneck of moiré excitons: which phonons connect the bands, and where.

Physics only (no files, no configs).  Units: meV, ps, K, 1/nm.

Seed 000 (Fig. 3b, Fig. S2) explains its low-temperature enhancement of D by hot excitons that
cannot leave the bottom of an excited band: the gap to the ground band exceeds what one
acoustic phonon bridges, and emission of an optical phonon from there would end below the
ground band.  Two tools make that statement quantitative for a given set of tables:

* :func:`mode_rates` splits the golden-rule rates of seed 000 SI Eq. 16 by phonon mode (the
  same couplings, self-consistent dephasing and broadening as the full table), and
  :func:`resonance_table` bins the states of one band by their energy above that band's
  minimum and gives, per bin, the median rate into every band through every mode;
* :func:`band_indicators` reads the band-structure criteria of Fig. S2 off the bands: ground
  band width W0, the gap to the first excited band, and where emission of each optical
  phonon from the bottom of band 1 lands relative to band 0;
* :func:`hitting_probability` gives, for every initial state, the probability that the hot
  exciton's cascade of scattering events reaches a set of states (the trap) before another
  (the ground band): the trapped fraction of any injection without a Monte Carlo.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as splinalg

from . import scattering as sc

__all__ = ["mode_rates", "ResonanceTable", "resonance_table", "BandIndicators", "band_indicators",
           "hitting_probability"]


def mode_rates(bands, exciton, modes, T, gamma, beta, width_min, coupling_cut, start=0, stop=None):
    """{mode name: W [stop - start, n]} (1/ps): golden-rule rates of the rows [start, stop) through one
    phonon mode each.

    ``bands``: :class:`hpcx.physics.scattering_states.MoireBands`; ``exciton``:
    :class:`hpcx.physics.scattering_states.Exciton1s` (form factor and masses of the vertex);
    ``modes``: :class:`hpcx.physics.scattering.Mode` list; ``gamma`` [n] (meV) the self-consistent
    dephasing of the full table at T (K); ``beta``, ``width_min`` the broadening.  The sum over
    the modes is the unsymmetrised table of all modes (detailed balance is exact per mode up to
    the broadening, so the symmetrisation changes the sum by far less than the rates themselves).
    """
    E = bands.energy.reshape(-1)
    stop = len(E) if stop is None else stop
    out = {}
    for mode in modes:
        terms = sc.moire_terms(bands.Q, bands.energy, bands.vectors, bands.s, bands.basis, bands.cell_area, [mode],
                               exciton.form_factor, exciton.m_e, exciton.m_h, start, stop, coupling_cut=coupling_cut)
        out[mode.name] = sc.rates(E, terms, T, gamma, beta, width_min)
    return out


@dataclasses.dataclass
class ResonanceTable:
    """Rates out of the states of band ``source`` binned by their energy above the band's minimum.

    ``edges`` [n_bin + 1] meV; ``count`` [n_bin] states per bin; ``rate`` {mode: [n_bin, n_band]}
    median over the bin's states of the rate (1/ps) into each band (NaN for an empty bin).
    """

    source: int
    edges: np.ndarray
    count: np.ndarray
    rate: dict


def resonance_table(energy, group, rates_by_mode, source, bin_width, n_bins=None, start=0):
    """:class:`ResonanceTable` of the rows of ``rates_by_mode`` ({mode: W [n_rows, n]}, rows
    ``start ..``) that belong to band ``source``; ``energy`` [n] meV and ``group`` [n] (band of each
    state), bins of ``bin_width`` meV from the band's minimum (``n_bins``: default up to its maximum)."""
    E, group = np.asarray(energy, dtype=float), np.asarray(group)
    n_band = int(group.max()) + 1
    rows = np.arange(start, start + len(next(iter(rates_by_mode.values()))))
    mine = rows[group[rows] == source]
    e0 = E[group == source].min()
    excess = E[mine] - e0
    n_bins = int(np.ceil((excess.max() + 1e-12) / bin_width)) if n_bins is None else n_bins
    edges = bin_width * np.arange(n_bins + 1)
    which = np.minimum((excess // bin_width).astype(int), n_bins)
    count = np.array([(which == b).sum() for b in range(n_bins)])
    table = {}
    for name, W in rates_by_mode.items():
        into = np.stack([W[mine - start][:, group == g].sum(axis=1) for g in range(n_band)], axis=1)
        med = np.full((n_bins, n_band), np.nan)
        for b in range(n_bins):
            if count[b]:
                med[b] = np.median(into[which == b], axis=0)
        table[name] = med
    return ResonanceTable(source, edges, count, table)


@dataclasses.dataclass
class BandIndicators:
    """Band-structure criteria of the bottleneck (seed 000 Fig. S2), energies in meV.

    ``width0`` = max E0 - min E0; ``gap`` = min E1 - max E0 (negative: the bands overlap);
    ``band1_min`` = min E1 - min E0; ``landing`` {optical energy: min E1 - E_opt - min E0}, where
    emission of that phonon from the bottom of band 1 ends, relative to the bottom of band 0
    (negative: below band 0, no final state; between 0 and width0: resonant with band 0).
    """

    width0: float
    gap: float
    band1_min: float
    landing: dict


def band_indicators(energy, optical_energies):
    """:class:`BandIndicators` of bands ``energy`` [n_Q, n_band >= 2] (meV) for the optical phonon
    energies given (meV)."""
    E = np.asarray(energy, dtype=float)
    e0_min, e0_max, e1_min = E[:, 0].min(), E[:, 0].max(), E[:, 1].min()
    landing = {float(w): float(e1_min - w - e0_min) for w in optical_energies}
    return BandIndicators(float(e0_max - e0_min), float(e1_min - e0_max), float(e1_min - e0_min), landing)


def hitting_probability(W, target, avoid):
    """h [n]: probability that the jump process with rates W [n, n] (1/ps, W[i, f] from i to f) started
    in state i enters the states ``target`` (bool [n]) before the states ``avoid`` (bool [n]).

    h = 1 on target, 0 on avoid, and h_i = sum_f p_if h_f elsewhere, p_if = W_if / sum_f W_if the
    jump probabilities (a first-step analysis; a sparse linear solve).  States that reach neither
    set get h = 0 where the solve leaves them undetermined (rows without rates).
    """
    W = sparse.csr_matrix(W)
    target, avoid = np.asarray(target, dtype=bool), np.asarray(avoid, dtype=bool)
    if np.any(target & avoid):
        raise ValueError("target and avoid overlap")
    out_rate = np.asarray(W.sum(axis=1)).ravel()
    free = ~target & ~avoid & (out_rate > 0)
    h = target.astype(float)
    if not free.any():
        return h
    P = sparse.diags(1.0 / np.where(out_rate > 0, out_rate, 1.0)) @ W
    P_ff = P[free][:, free]
    rhs = np.asarray(P[free][:, target].sum(axis=1)).ravel()
    h[free] = splinalg.spsolve((sparse.identity(int(free.sum())) - P_ff).tocsc(), rhs)
    return np.clip(h, 0.0, 1.0)
