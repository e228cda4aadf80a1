"""Ensemble Monte Carlo of the exciton Boltzmann equation over MPI ranks (seed 000 SI).

Physics only (no files, no configs).  Units: nm, ps, meV.  The N particles are cut into B
batches of consecutive global indices (``block_range(N, B, b)``); ranks own whole batches
(``block_range(B, size, rank)``), so every float moment is summed inside one batch on one
rank in particle order and batches are combined in batch order: the moments are bit-identical
on any number of ranks (<= B), and the batches give the statistical errors.  Trajectories
come from the kernel ``mc_push`` (kernels/mc_push.pyx, obtained with
:func:`hpcx._kernels.load`; NumPy twin hpcx/_kernels/reference/mc_push.py): one
counter-based random stream per particle, so a trajectory depends only on (seed, global
particle index) and the tables.

Structure, for extensions (e.g. particles that carry a weight): :class:`Ensemble` owns the
per-particle arrays of this rank (``PARTICLE_FIELDS``, one entry per particle, the fields a
checkpoint stores) and calls the kernel's ``initialise``, ``push`` and ``sample``;
:func:`simulate` is the sampling loop (push to each time, sample, record, callback).  A sampling
interval expected to take more than ``EVENTS_PER_PIECE`` scattering events per rank is pushed in
pieces of the particles, with a callback between them (a safe point for progress and stops inside
long intervals); particles are independent, so the pieces do not change any result.  A new
per-particle quantity is a new field in ``PARTICLE_FIELDS`` (checkpointed automatically, and
checked by :func:`check_particles` before a resume; an integer field also goes into
``_INTEGER_FIELDS``) and a new argument of the kernel functions and their twin; moments are
added at the end of ``MOMENTS`` (the kernel's ``sample`` fills them in that order).
:func:`check_record` checks a record to resume from.

At every sampling time the ensemble records, per batch b and group g (band/valley):
MOMENTS = count, sum x, sum y, sum x^2, sum y^2 (positions), sum dx, sum dy, sum dx^2,
sum dy^2 (displacements from the initial position) and sum E (meV); the occupation of every
state; the x-profile (marginal over y) per group in fixed bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcx._kernels import load as load_kernel
from hpcx.parallel import block_range, gather_to_root, sum_over_ranks

from .mc_table import McTable

__all__ = ["MOMENTS", "McParams", "Record", "Ensemble", "simulate", "batch_bounds", "check_particles",
           "check_record"]

MOMENTS = ("n", "x", "y", "xx", "yy", "dx", "dy", "dxdx", "dydy", "energy")
PARTICLE_FIELDS = ("state", "x", "y", "x0", "y0", "t", "tn", "ctr")
SAMPLERS = {"search": 0, "alias": 1}
EVENTS_PER_PIECE = 10 ** 8      # expected events per rank (several seconds of the kernel) between safe points
MAX_PIECES = 10 ** 4


@dataclass(frozen=True)
class McParams:
    """particles N, batches B, seed (uint64), sigma: spot standard deviation per axis (nm),
    sampler "alias" | "search", profile_edges: uniform x-bin edges (nm, increasing)."""

    particles: int
    batches: int
    seed: int
    sigma: float
    sampler: str = "alias"
    profile_edges: np.ndarray = None

    def __post_init__(self):
        if self.batches < 1 or self.particles < self.batches:
            raise ValueError(f"need particles ({self.particles}) >= batches ({self.batches}) >= 1")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}")
        if not 0 <= self.seed < 2 ** 64:
            raise ValueError("seed must fit in 64 bits")
        e = np.asarray(self.profile_edges if self.profile_edges is not None else [-1.0, 1.0], dtype=float)
        if len(e) < 2 or not np.allclose(np.diff(e), (e[-1] - e[0]) / (len(e) - 1), rtol=1e-9):
            raise ValueError("profile_edges must be uniform and increasing")


def batch_bounds(particles, batches):
    """Global particle index where each batch starts, [B + 1]."""
    return np.array([block_range(particles, batches, b)[0] for b in range(batches)] + [particles], dtype=np.int64)


@dataclass
class Record:
    """Sampled data at times [n_t] (ps): moments [n_t, B, G, len(MOMENTS)], occupation [n_t, n]
    (particles per state), profiles [n_t, G, n_bins] (particles per x-bin), events and decays
    [n_t] (cumulative counts over all particles)."""

    times: np.ndarray
    moments: np.ndarray
    occupation: np.ndarray
    profiles: np.ndarray
    events: np.ndarray
    decays: np.ndarray

    @classmethod
    def empty(cls, times, batches, groups, states, bins):
        nt = len(times)
        return cls(np.asarray(times, dtype=float), np.zeros((nt, batches, groups, len(MOMENTS))),
                   np.zeros((nt, states), dtype=np.int64), np.zeros((nt, groups, bins), dtype=np.int64),
                   np.zeros(nt, dtype=np.int64), np.zeros(nt, dtype=np.int64))

    def as_dict(self):
        return {k: getattr(self, k) for k in ("times", "moments", "occupation", "profiles", "events", "decays")}


class Ensemble:
    """This rank's particles (whole batches) and their push/sampling on a :class:`McTable`.

    ``kernel`` is a module with the functions of kernels/mc_push.pyx (default:
    ``hpcx._kernels.load("mc_push")``, the compiled kernel or, under ``HPCX_KERNELS=reference``,
    its NumPy twin).
    """

    def __init__(self, table: McTable, params: McParams, comm, kernel=None):
        if comm.size > params.batches:
            raise ValueError(f"{comm.size} ranks but only {params.batches} batches: every rank needs a batch")
        self.table, self.params, self.comm = table, params, comm
        self.kernel = kernel or load_kernel("mc_push")
        self.bounds = batch_bounds(params.particles, params.batches)
        self.b0, self.b1 = block_range(params.batches, comm.size, comm.rank)
        self.p0, self.p1 = int(self.bounds[self.b0]), int(self.bounds[self.b1])
        n = self.p1 - self.p0
        self.batch = (np.repeat(np.arange(self.b0, self.b1), np.diff(self.bounds[self.b0:self.b1 + 1]))
                      .astype(np.int64))
        self.local_batch = self.batch - self.b0
        self.state = np.zeros(n, dtype=np.int64)
        self.x, self.y, self.x0, self.y0 = (np.zeros(n) for _ in range(4))
        self.t, self.tn = np.zeros(n), np.zeros(n)
        self.ctr = np.zeros(n, dtype=np.uint64)
        self._tables = (table.vx, table.vy, table.gout, table.decay, table.indptr, table.indices,
                        table.cumulative)
        self._alias = table.alias(self.kernel) if params.sampler == "alias" else np.zeros((0, 4))
        edges = params.profile_edges
        self.edges = np.asarray(edges if edges is not None else [-1.0, 1.0], dtype=float)
        self._fastest = float(np.max(table.gout)) if table.n else 0.0

    @property
    def n_local(self):
        return self.p1 - self.p0

    def initialise(self, cdf):
        """Gaussian spot, states from cdf (initial_cdf), first flights; t = 0."""
        self.kernel.initialise(self.params.seed, self.p0, self.params.sigma, np.ascontiguousarray(cdf, dtype=float),
                               self.table.gout, self.state, self.x, self.y, self.t, self.tn, self.ctr)
        self.x0[:] = self.x
        self.y0[:] = self.y

    def push(self, t_end, piece=0, pieces=1):
        """Advance piece ``piece`` of ``pieces`` of this rank's particles (consecutive blocks; all by
        default) to t_end (ps); returns (events, decays) summed over ranks.  Particles already at
        t_end are left unchanged, so a partly pushed ensemble (a checkpoint taken between pieces)
        continues exactly."""
        vx, vy, gout, decay, indptr, indices, cum = self._tables
        a, b = block_range(self.n_local, pieces, piece)
        part = [arr[a:b] for arr in (self.state, self.x, self.y, self.t, self.tn, self.ctr)]
        ev, dec = self.kernel.push(self.params.seed, self.p0 + a, float(t_end), *part, vx, vy, gout, decay, indptr,
                                   indices, cum, self._alias, SAMPLERS[self.params.sampler])
        tot = sum_over_ranks(np.array([ev, dec], dtype=np.int64), self.comm)
        return int(tot[0]), int(tot[1])

    def pieces_between(self, t_start, t_end):
        """In how many pieces to push from t_start to t_end (ps): the expected scattering events
        per rank (the ensemble's present total rate times the interval) over EVENTS_PER_PIECE,
        from 1 to MAX_PIECES; the same on every rank (collective only when the bound from the
        fastest state allows more than one piece)."""
        dt = max(float(t_end) - float(t_start), 0.0)
        if self.params.particles * dt * self._fastest <= EVENTS_PER_PIECE * self.comm.size:
            return 1
        live = self.state[self.state >= 0]
        rate = float(sum_over_ranks(np.array([np.sum(self.table.gout[live])]), self.comm)[0])
        return int(min(max(np.ceil(rate * dt / (EVENTS_PER_PIECE * self.comm.size)), 1), MAX_PIECES))

    def sample(self):
        """(moments [B, G, M], occupation [n], profiles [G, n_bins]) over all ranks."""
        tab, B, G = self.table, self.params.batches, len(self.table.group_names)
        nb = len(self.edges) - 1
        mom = np.zeros((B, G, len(MOMENTS)))
        occ = np.zeros(tab.n, dtype=np.int64)
        prof = np.zeros((G, nb), dtype=np.int64)
        # particle-order sums: a batch's moments do not depend on the rank that holds it
        self.kernel.sample(self.state, self.x, self.y, self.x0, self.y0, self.local_batch, tab.group,
                           tab.energy, self.edges[0], (self.edges[-1] - self.edges[0]) / nb,
                           mom[self.b0:self.b1], occ, prof)
        mom = sum_over_ranks(mom, self.comm)     # each batch is non-zero on one rank only: exact
        return mom, sum_over_ranks(occ, self.comm), sum_over_ranks(prof, self.comm)

    # -- checkpoints -----------------------------------------------------------------
    def gather_state(self):
        """Global particle arrays {field: [N]} on rank 0 (None elsewhere); collective."""
        parts = gather_to_root({f: getattr(self, f) for f in PARTICLE_FIELDS}, self.comm)
        if self.comm.rank != 0:
            return None
        return {f: np.concatenate([p[f] for p in parts]) for f in PARTICLE_FIELDS}

    def restore(self, arrays):
        """Take this rank's slice of global particle arrays {field: [N]}; ValueError when they do not
        fit the table (:func:`check_particles` of shapes and states: the kernel indexes the table
        with the states unchecked)."""
        check_particles(arrays, self.params.particles, self.table.n)
        for f in PARTICLE_FIELDS:
            getattr(self, f)[:] = np.asarray(arrays[f])[self.p0:self.p1]


_INTEGER_FIELDS = ("state", "ctr")


def check_particles(arrays, particles, n_states, t_from=None, t_to=None):
    """Raise ValueError (KeyError for a missing field) unless the global particle arrays
    ``arrays`` ({field: [particles]}, as :meth:`Ensemble.gather_state` gives) can be pushed on a
    table of ``n_states`` states: every field of ``PARTICLE_FIELDS`` present, one entry per
    particle, integer ``state`` and ``ctr``, states in -1..n_states - 1 (-1: decayed), finite
    positions and times, next events not before the particle's time.  With ``t_from`` and ``t_to``
    (ps): every particle's time at most ``t_to``, a live particle's at least ``t_from`` (particles
    are pushed to a sampling time, or partly to the next one)."""
    a = {}
    for f in PARTICLE_FIELDS:
        a[f] = np.asarray(arrays[f])
        if a[f].shape != (particles,):
            raise ValueError(f"particle field {f} has shape {a[f].shape}, expected ({particles},)")
        integer = a[f].dtype.kind in "iu"
        if integer != (f in _INTEGER_FIELDS) or (not integer and a[f].dtype.kind != "f"):
            raise ValueError(f"particle field {f} has dtype {a[f].dtype}")
    state = a["state"]
    if particles and (state.min() < -1 or state.max() >= n_states):
        raise ValueError(f"particle states {state.min()}..{state.max()} outside -1..{n_states - 1}")
    for f in ("x", "y", "x0", "y0", "t"):
        if not np.all(np.isfinite(a[f])):
            raise ValueError(f"particle field {f} is not finite")
    if not np.all(a["tn"] >= a["t"]):               # NaN fails too: the push would never reach its end
        raise ValueError("particle field tn: a next event before the particle's time")
    if t_to is not None and a["t"].max(initial=-np.inf) > t_to:
        raise ValueError(f"particle times after {t_to} ps")
    if t_from is not None and np.any((a["t"] < t_from) & (state >= 0)):
        raise ValueError(f"live particle times before {t_from} ps")


def check_record(record, times, batches, particles, n_states, bins, filled):
    """Number of groups of ``record`` (:meth:`Record.as_dict`) after checking that it fits: arrays
    of the shapes of :meth:`Record.empty` for ``times`` (ps, equal to record["times"]), ``batches``,
    ``n_states`` and ``bins``; in its first ``filled`` samples finite moments whose counts and
    occupations (>= 0) add up to the live particles (``particles`` - decays), events and decays
    non-decreasing, decays at most ``particles``.  ValueError (KeyError for a missing field) otherwise."""
    r = {k: np.asarray(record[k]) for k in ("times", "moments", "occupation", "profiles", "events", "decays")}
    nt = len(times)
    if r["moments"].ndim != 4:
        raise ValueError(f"record moments have {r['moments'].ndim} dimensions, expected 4")
    groups = r["moments"].shape[2]
    expect = {"times": (nt,), "moments": (nt, batches, groups, len(MOMENTS)), "occupation": (nt, n_states),
              "profiles": (nt, groups, bins), "events": (nt,), "decays": (nt,)}
    for key, shape in expect.items():
        if r[key].shape != shape:
            raise ValueError(f"record {key} has shape {r[key].shape}, expected {shape}")
        if r[key].dtype.kind not in ("f" if key in ("times", "moments") else "iu"):
            raise ValueError(f"record {key} has dtype {r[key].dtype}")
    if not np.array_equal(r["times"], np.asarray(times, dtype=float)):
        raise ValueError("record times differ from the sampling times")
    k = int(filled)
    if not 0 <= k <= nt:
        raise ValueError(f"{k} samples filled of {nt}")
    events, decays, occ, mom = r["events"][:k], r["decays"][:k], r["occupation"][:k], r["moments"][:k]
    if not np.all(np.isfinite(mom)):
        raise ValueError("record moments are not finite")
    if np.any(np.diff(events) < 0) or np.any(events < 0) or np.any(np.diff(decays) < 0) or np.any(decays < 0) \
            or np.any(decays > particles):
        raise ValueError("record events or decays are not non-decreasing counts")
    alive = particles - decays
    if occ.min(initial=0) < 0 or np.any(occ.sum(axis=1) != alive) or np.any(mom[..., 0].sum(axis=(1, 2)) != alive):
        raise ValueError("record occupations or counts do not add up to the live particles")
    return groups


def simulate(table: McTable, params: McParams, times, cdf, comm, record=None, start=0, particles=None,
             on_sample=None, kernel=None, counts=None, on_piece=None):
    """Run the ensemble through the sampling times (ps, increasing, >= 0); returns a Record.

    Fresh start: particles placed from ``cdf`` and sampled at times[0].  Resume: ``record``
    (filled up to start - 1) and global ``particles`` arrays (Ensemble.gather_state) at
    times[start - 1], or partly pushed towards times[start] with ``counts`` = (events, decays)
    so far.  ``on_sample(k, record, ensemble)`` is called after sample k (for checkpoints,
    progress and stop requests); ``on_piece(k, record, ensemble, pushed, (events, decays))``
    between the pieces of a long interval (:meth:`Ensemble.pieces_between`), ``pushed`` the
    approximate number of particles already at times[k].  Both are collective.
    """
    times = np.asarray(times, dtype=float)
    if np.any(np.diff(times) <= 0) or times[0] < 0:
        raise ValueError("sampling times must increase from >= 0")
    ens = Ensemble(table, params, comm, kernel)
    G, nb = len(table.group_names), len(ens.edges) - 1
    if record is None:
        record = Record.empty(times, params.batches, G, table.n, nb)
    elif check_record(record.as_dict(), times, params.batches, params.particles, table.n, nb, start) != G:
        raise ValueError(f"record of {record.moments.shape[2]} groups, the table has {G}")
    if start == 0:
        ens.initialise(cdf)
    else:
        ens.restore(particles)
    if counts is not None:
        events, decays = (int(c) for c in counts)
    else:
        events = int(record.events[start - 1]) if start else 0
        decays = int(record.decays[start - 1]) if start else 0
    for k in range(start, len(times)):
        pieces = ens.pieces_between(times[k - 1] if k else 0.0, times[k]) if on_piece is not None else 1
        for piece in range(pieces):
            ev, dec = ens.push(times[k], piece, pieces)
            events, decays = events + ev, decays + dec
            if piece + 1 < pieces:
                on_piece(k, record, ens, params.particles * (piece + 1) // pieces, (events, decays))
        record.moments[k], record.occupation[k], record.profiles[k] = ens.sample()
        record.events[k], record.decays[k] = events, decays
        if on_sample is not None:
            on_sample(k, record, ens)
    return record
