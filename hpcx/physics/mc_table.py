"""Monte Carlo view of a scattering table: states, out-rates, CSR sampling rows, initial states.

Physics only (no files, no configs).  Units: meV, nm, ps, m0, K.  A table holds n states
with energy E_i, group velocity v_i, a label group_i (moiré band or valley), the total
out-scattering rate Gamma_i = sum_f W_if, an optional radiative decay rate gamma_i, and the
CSR rows of the conditional final-state distribution W_if / sum_f W_if (cumulative
probabilities, as written by the ``scattering`` workflow, docs/output.md).  The flight time
uses the total rate Gamma_i + gamma_i; entries dropped below the scattering threshold
(``rates/dropped``) are redistributed proportionally over the kept ones.

On several ranks of a node the arrays can live once per node in shared memory
(:func:`share_table`, :meth:`McTable.share_alias`, :class:`hpcx.parallel.SharedArrays`): a
table is read-only, so the ranks read one copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

__all__ = ["McTable", "SHARED_FIELDS", "share_table", "csr_from_rates", "parabolic_elastic_table", "initial_cdf",
           "boltzmann"]

# the arrays a table keeps in node-shared memory, with their dtypes (per state, then per entry)
SHARED_FIELDS = {"energy": np.float64, "velocity": np.float64, "total_rate": np.float64, "group": np.int64,
                 "weight": np.float64, "k": np.float64, "indptr": np.int64, "indices": np.int64,
                 "cumulative": np.float64}


@dataclass
class McTable:
    """States and sampling rows.

    energy [n] meV, velocity [n, 2] nm/ps, total_rate [n] 1/ps, indptr [n + 1], indices
    [nnz] (final states), cumulative [nnz] (per row increasing, last exactly 1), group [n]
    int label with names group_names, weight [n] (state measure of thermal averages), k
    [n, 2] 1/nm (centre-of-mass momentum label: moiré Q or valley-local k), decay [n] 1/ps.
    """

    energy: np.ndarray
    velocity: np.ndarray
    total_rate: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    cumulative: np.ndarray
    group: np.ndarray
    group_names: tuple
    weight: np.ndarray = None
    k: np.ndarray = None
    decay: np.ndarray = None
    _alias: tuple = field(default=None, repr=False)

    def __post_init__(self):
        n = len(self.energy)
        self.energy = np.ascontiguousarray(self.energy, dtype=float)
        self.velocity = np.ascontiguousarray(self.velocity, dtype=float).reshape(n, 2)
        self.total_rate = np.ascontiguousarray(self.total_rate, dtype=float)
        self.indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int64)
        self.cumulative = np.ascontiguousarray(self.cumulative, dtype=float)
        self.group = np.ascontiguousarray(self.group, dtype=np.int64)
        self.group_names = tuple(str(g) for g in self.group_names)
        self.weight = np.ones(n) if self.weight is None else np.ascontiguousarray(self.weight, dtype=float)
        self.k = np.zeros((n, 2)) if self.k is None else np.ascontiguousarray(self.k, dtype=float).reshape(n, 2)
        self.decay = np.zeros(n) if self.decay is None else np.ascontiguousarray(self.decay, dtype=float)
        nnz = len(self.indices)
        if (self.total_rate.shape != (n,) or self.indptr.shape != (n + 1,) or self.cumulative.shape != (nnz,)
                or self.group.shape != (n,) or self.weight.shape != (n,) or self.decay.shape != (n,)):
            raise ValueError("McTable: inconsistent shapes")
        if self.indptr[0] != 0 or self.indptr[-1] != nnz or np.any(np.diff(self.indptr) < 0):
            raise ValueError("McTable: indptr must rise from 0 to nnz")
        if nnz and (self.indices.min() < 0 or self.indices.max() >= n):
            raise ValueError("McTable: final-state index out of range")
        if np.any(self.total_rate < 0) or np.any(self.decay < 0):
            raise ValueError("McTable: rates must be >= 0")
        if n and (self.group.min() < 0 or self.group.max() >= len(self.group_names)):
            raise ValueError("McTable: group label without a name")

    def check_values(self):
        """Raise ValueError unless the values are usable (for tables read from a file; the shapes and
        indices are checked on construction): finite energies, velocities, rates, weights and k,
        cumulative probabilities in [0, 1] with every non-empty row ending at exactly 1.  O(n + nnz)
        time, no copy of the entries; returns self."""
        for name in ("energy", "velocity", "total_rate", "weight", "k", "decay"):
            if not np.all(np.isfinite(getattr(self, name))):
                raise ValueError(f"McTable: {name} is not finite")
        if self.nnz and not (self.cumulative.min() >= 0.0 and self.cumulative.max() <= 1.0):
            raise ValueError("McTable: cumulative probabilities outside [0, 1]")
        ends = self.indptr[1:][np.diff(self.indptr) > 0] - 1
        if np.any(self.cumulative[ends] != 1.0):
            raise ValueError("McTable: a row's cumulative probabilities do not end at 1")
        return self

    @property
    def n(self):
        return len(self.energy)

    @property
    def nnz(self):
        return len(self.indices)

    @property
    def vx(self):
        return np.ascontiguousarray(self.velocity[:, 0])

    @property
    def vy(self):
        return np.ascontiguousarray(self.velocity[:, 1])

    @property
    def gout(self):
        """Total rate of leaving a state by a flight's end: scattering + decay (1/ps)."""
        return self.total_rate + self.decay

    def alias(self, kernel=None):
        """Walker/Vose alias tables of the rows, packed [nnz, 4] (built once by ``kernel``'s
        ``build_alias``; default ``hpcx._kernels.load("mc_push")``)."""
        if self._alias is None:
            from hpcx._kernels import load
            kernel = kernel or load("mc_push")
            self._alias = kernel.build_alias(self.indptr, self.indices, self.cumulative)
        return self._alias

    def share_alias(self, arena, kernel=None):
        """Build the alias tables (:meth:`alias`) once per node into ``arena``
        (:class:`hpcx.parallel.SharedArrays`; on its node roots); returns self.  Collective."""
        if self._alias is None:
            def fill(view):
                view[...] = self.alias(kernel)      # the root's private copy, dropped below
            self._alias = arena.array((self.nnz, 4), np.float64, fill)
        return self

    def with_decay(self, rate, light_cone):
        """Copy with radiative decay ``rate`` (1/ps) for the states with |k| <= light_cone (1/nm)
        (same arrays and alias tables: they do not depend on the decay)."""
        bright = np.linalg.norm(self.k, axis=1) <= light_cone
        return McTable(self.energy, self.velocity, self.total_rate, self.indptr, self.indices, self.cumulative,
                       self.group, self.group_names, self.weight, self.k, np.where(bright, float(rate), 0.0),
                       _alias=self._alias)

    def row(self, i):
        """(final states, probabilities) of row i."""
        a, b = self.indptr[i], self.indptr[i + 1]
        return self.indices[a:b], np.diff(np.concatenate([[0.0], self.cumulative[a:b]]))


def share_table(table, arena, group_names=None):
    """The node root's ``table`` with its :data:`SHARED_FIELDS` in ``arena``
    (:class:`hpcx.parallel.SharedArrays`: one copy per node, read-only); the other ranks of the
    node may pass None (then ``group_names`` must be given on every rank).  Collective."""
    root = arena.node_root
    names = group_names if group_names is not None else table.group_names
    fields = dict(SHARED_FIELDS, decay=np.float64)
    arrays = {name: arena.copy(getattr(table, name) if root else None, dtype) for name, dtype in fields.items()}
    return McTable(group_names=names, **arrays)


def csr_from_rates(W, threshold=0.0):
    """(total_rate, indptr, indices, cumulative) of a dense rate matrix W [n, n] (1/ps).

    Uses :func:`hpcx.physics.scattering.sampling_table` (the scattering workflow's tables).
    """
    from . import scattering as sc
    tab = sc.sampling_table(np.asarray(W, dtype=float), threshold)
    indptr = np.concatenate([[0], np.cumsum(tab["counts"])]).astype(np.int64)
    return tab["total_rate"], indptr, tab["indices"], tab["cumulative"]


def boltzmann(energy, weight, T):
    """Boltzmann occupation N_i = w_i exp(-(E_i - E_min)/kT) / sum (fractions), shape of energy."""
    E = np.asarray(energy, dtype=float)
    b = np.asarray(weight, dtype=float) * np.exp(-(E - E.min()) / (_KB * T))
    return b / b.sum()


def initial_cdf(table: McTable, kind, T=None, e0=None, state=None):
    """Cumulative distribution over states of the initial condition (last entry exactly 1).

    kind "uniform": equal probability per unit state measure (weight) for E - E_min <= e0
    (meV), i.e. a flat energy distribution for a constant density of states; "thermal":
    Boltzmann at T (K); "state": all particles in ``state``.
    """
    E = table.energy
    if kind == "uniform":
        p = np.where(E - E.min() <= e0, table.weight, 0.0)
    elif kind == "thermal":
        p = boltzmann(E, table.weight, T)
    elif kind == "state":
        if not 0 <= state < table.n:
            raise ValueError(f"initial state {state} outside 0..{table.n - 1}")
        p = np.zeros(table.n)
        p[state] = 1.0
    else:
        raise ValueError(f"unknown initial condition {kind!r}")
    if not np.any(p > 0):
        raise ValueError("initial condition selects no state")
    cdf = np.cumsum(p) / np.sum(p)
    last = np.nonzero(p > 0)[0][-1]
    cdf[last:] = 1.0
    return cdf


def parabolic_elastic_table(M, tau, e_max, n_energy, n_angle):
    """Parabolic band E = hbar^2 k^2 / (2 M) with constant, isotropic, elastic scattering.

    States on a polar grid: energies (j + 1/2) e_max / n_energy (meV), angles
    2 pi (l + 1/2) / n_angle; a uniform energy grid of a 2D parabola has equal k-space area
    per state (constant density of states), so all weights are equal.  Every state scatters
    with rate 1/tau (ps) to the n_angle states of its energy with equal probability (the
    out-going direction is uniform, so velocity memory is lost at each event and
    D = <|v|^2> tau / 2 = k_B T tau / M exactly for a Boltzmann distribution).  M in m0.
    """
    E1 = (np.arange(n_energy) + 0.5) * e_max / n_energy
    phi = 2.0 * np.pi * (np.arange(n_angle) + 0.5) / n_angle
    E = np.repeat(E1, n_angle)
    kabs = np.sqrt(E * M / _H)
    ang = np.tile(phi, n_energy)
    k = np.stack([kabs * np.cos(ang), kabs * np.sin(ang)], axis=1)
    v = 2.0 * _H / (_HBAR * M) * k
    n = len(E)
    indptr = np.arange(n + 1, dtype=np.int64) * n_angle
    indices = np.repeat(np.arange(n_energy) * n_angle, n_angle * n_angle) + np.tile(np.arange(n_angle), n)
    cum = np.tile((np.arange(n_angle) + 1.0) / n_angle, n)
    cum[n_angle - 1::n_angle] = 1.0
    return McTable(E, v, np.full(n, 1.0 / tau), indptr, indices, cum, np.zeros(n, np.int64), ("band",),
                   np.ones(n), k)
