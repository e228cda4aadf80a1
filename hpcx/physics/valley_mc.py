"""Weighted ensemble Monte Carlo of the valley-resolved Wigner equation (seed 002), over MPI ranks.

The cross-check of the moment solver (:mod:`hpcx.physics.valley_moments`): particles on the
same |Q| cells with the same rates (:mod:`hpcx.physics.valley_mc_table`), pushed by the kernel
``mc_push.push_cells`` (kernels/mc_push.pyx; NumPy twin hpcx/_kernels/reference/mc_push.py).

* Source (:class:`Source`): particle p is born at a Gaussian spot position (draw 0), in a cell
  drawn from the formation rates and at a time drawn from the source profile f(t) by its
  inverse CDF (draw 1), with a speed from the cell's Boltzmann shape and a uniform direction
  (draw 2) and its first flight (draw 3); events use draws 4, 5, ... (two per event).  All
  particles carry the weight (excitons formed per coherent exciton) / N; radiative decay
  lowers it deterministically, so no particle is lost and no random number depends on decay.
* Layout (as :mod:`hpcx.physics.mc_engine`): N particles in B batches of consecutive global
  indices, ranks own whole batches, sums are formed per batch in particle order and combined in
  batch order, so every number is bit-identical on any number of ranks (<= B).
* Observables per group g of cells (weights G[g, cell]: the valleys, all cells, the radiative
  rates for the PL), per batch: sum w, sum w r^2, sum w |r - r_birth|^2 and sum w^2, and radial
  histograms of w.  Because the rates do not depend on position, the displacement is
  independent of the birth position, so w^2 = <r^2>_0 + <|r - r_birth|^2> (the
  lower-variance estimator; the direct one is kept too).  Errors: jackknife over the batches;
  D = (1/4) dw^2/dt by centred differences of the sampled w^2 (same jackknife).
Units: nm, ps; D in nm^2/ps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import cumulative_trapezoid

from hpcx._kernels import load as load_kernel
from hpcx.parallel import block_range, sum_over_ranks

from .mc_engine import batch_bounds

__all__ = ["Source", "pulse_source", "initial_source", "McSettings", "CellEnsemble", "McRecord", "simulate",
           "McTrace", "observables", "PARTICLE_FIELDS"]

PARTICLE_FIELDS = ("cell", "x", "y", "x0", "y0", "t", "tn", "ctr", "weight", "phi", "speed")
_TWO_PI = 6.283185307179586


@dataclass(frozen=True)
class Source:
    """Births: ``cell_cdf`` [n] cumulative probabilities of the cells (last 1); birth times by
    the inverse of ``time_cdf`` on ``time_grid`` (ps; None: all at t = 0); Gaussian spot with
    <r^2> = ``width2`` (nm^2); ``weight`` the total statistical weight of the particles."""

    cell_cdf: np.ndarray
    width2: float
    weight: float = 1.0
    time_grid: np.ndarray | None = None
    time_cdf: np.ndarray | None = None


def _cdf(p):
    p = np.asarray(p, dtype=float)
    if not np.any(p > 0):
        raise ValueError("source: no cell has a positive probability")
    c = np.cumsum(p) / p.sum()
    c[np.nonzero(p > 0)[0][-1]:] = 1.0
    return c


def pulse_source(formation, f, source_end: float, width2: float, points: int = 20001) -> Source:
    """The optical source of the moment solver: cells by ``formation`` [n] (1/ps), times by
    f(t) (1/ps, callable) on [0, source_end], weight sum(formation) int f dt."""
    t = np.linspace(0.0, source_end, points)
    c = cumulative_trapezoid(f(t), t, initial=0.0)
    return Source(_cdf(formation), width2, float(np.sum(formation) * c[-1]), t, c / c[-1])


def initial_source(p_cells, width2: float, weight: float = 1.0) -> Source:
    """All particles born at t = 0 with cell probabilities ``p_cells`` (e.g. a Boltzmann
    distribution)."""
    return Source(_cdf(p_cells), width2, weight)


@dataclass(frozen=True)
class McSettings:
    """``particles`` N, ``batches`` B (N >= B >= 1), ``seed`` (uint64), ``r_edges`` radial bin edges
    (nm, uniform, from 0) of the profiles."""

    particles: int
    batches: int
    seed: int
    r_edges: np.ndarray

    def __post_init__(self):
        if self.batches < 1 or self.particles < self.batches:
            raise ValueError(f"need particles ({self.particles}) >= batches ({self.batches}) >= 1")
        if not 0 <= self.seed < 2 ** 64:
            raise ValueError("seed must fit in 64 bits")
        e = np.asarray(self.r_edges, dtype=float)
        if len(e) < 2 or e[0] != 0.0 or not np.allclose(np.diff(e), e[1], rtol=1e-9):
            raise ValueError("r_edges must be uniform from 0")


class CellEnsemble:
    """This rank's particles (whole batches) on a :class:`~hpcx.physics.valley_mc_table.CellTable`
    with alias tables (``table.with_alias``)."""

    def __init__(self, table, settings: McSettings, comm, kernel=None):
        if comm.size > settings.batches:
            raise ValueError(f"{comm.size} ranks but only {settings.batches} batches: every rank needs a batch")
        self.table, self.settings, self.comm = table, settings, comm
        self.kernel = kernel or load_kernel("mc_push")
        if table.packed is None:
            self.table = table = table.with_alias(self.kernel)
        self.bounds = batch_bounds(settings.particles, settings.batches)
        self.b0, self.b1 = block_range(settings.batches, comm.size, comm.rank)
        self.p0, self.p1 = int(self.bounds[self.b0]), int(self.bounds[self.b1])
        n = self.p1 - self.p0
        self.local_batch = (np.repeat(np.arange(self.b1 - self.b0), np.diff(self.bounds[self.b0:self.b1 + 1]))
                            .astype(np.int64))
        self.cell = np.zeros(n, dtype=np.int64)
        self.ctr = np.zeros(n, dtype=np.uint64)
        for name in PARTICLE_FIELDS[1:]:
            if name != "ctr":
                setattr(self, name, np.zeros(n))

    def place(self, source: Source):
        """Births of this rank's particles (draws 0-3 of each particle's stream)."""
        n, ker, seed, tab = self.p1 - self.p0, self.kernel, self.settings.seed, self.table
        pid = self.p0 + np.arange(n, dtype=np.int64)

        def draw(c):
            return ker.uniforms(seed, pid, np.full(n, c, dtype=np.uint64))
        u1, u2 = draw(0)
        r = np.sqrt(-source.width2 * np.log1p(-u1))
        self.x[:], self.y[:] = r * np.cos(_TWO_PI * u2), r * np.sin(_TWO_PI * u2)
        self.x0[:], self.y0[:] = self.x, self.y
        u1, u2 = draw(1)
        self.cell[:] = np.minimum(np.searchsorted(source.cell_cdf, u1, "right"), tab.n - 1)
        self.t[:] = 0.0 if source.time_grid is None else np.interp(u2, source.time_cdf, source.time_grid)
        u1, u2 = draw(2)
        self.speed[:] = tab.speed(u1, self.cell)
        self.phi[:] = _TWO_PI * u2
        _, u2 = draw(3)
        g = tab.gout[self.cell]
        with np.errstate(divide="ignore"):
            self.tn[:] = np.where(g > 0, self.t - np.log1p(-u2) / np.where(g > 0, g, 1.0), np.inf)
        self.ctr[:] = 4
        self.weight[:] = source.weight / self.settings.particles

    def push(self, t_end: float) -> int:
        """Advance to t_end (ps); scattering events summed over ranks."""
        tab = self.table
        ev = self.kernel.push_cells(self.settings.seed, self.p0, float(t_end), self.cell, self.x, self.y, self.t,
                                    self.tn, self.ctr, self.weight, self.phi, self.speed, tab.gout, tab.decay,
                                    tab.e0, tab.spread, tab.vfac, tab.kT, tab.indptr, tab.indices, tab.packed,
                                    tab.angles)
        return int(sum_over_ranks(np.array([ev], dtype=np.int64), self.comm)[0])

    def sample(self, t_now: float, groups):
        """Per-batch sums [B, G, 4] (w, w r^2, w dr^2, w^2) and radial histograms [G, bins] of the
        particles born by ``t_now``, over all ranks (batch-ordered, rank-independent)."""
        B, G = self.settings.batches, len(groups)
        edges = np.asarray(self.settings.r_edges, dtype=float)
        nb, nl = len(edges) - 1, self.b1 - self.b0
        born = self.t <= t_now
        lb, cell, w = self.local_batch[born], self.cell[born], self.weight[born]
        x, y = self.x[born], self.y[born]
        r2 = x * x + y * y
        dx, dy = x - self.x0[born], y - self.y0[born]
        d2 = dx * dx + dy * dy
        del x, y, dx, dy
        k = np.floor(np.sqrt(r2) / (edges[1] - edges[0])).astype(np.int64)
        ok = k < nb
        bin_ok = lb[ok] * nb + k[ok]
        weights = np.asarray(groups, dtype=float)
        sums, hist = np.zeros((B, G, 4)), np.zeros((B, G, nb))
        for g in range(G):                  # one group at a time: a few particle-sized temporaries
            wg = weights[g, cell] * w
            for c, q in enumerate((None, r2, d2, wg)):
                sums[self.b0:self.b1, g, c] = np.bincount(lb, weights=wg if q is None else wg * q, minlength=nl)
            hist[self.b0:self.b1, g] = np.bincount(bin_ok, weights=wg[ok], minlength=nl * nb).reshape(nl, nb)
        sums = sum_over_ranks(sums, self.comm)          # each batch is non-zero on one rank only: exact
        hist = sum_over_ranks(hist, self.comm)
        return sums, hist.sum(axis=0)


@dataclass
class McRecord:
    """Sampled sums at ``times`` [n_t] (ps): ``sums`` [n_t, B, G, 4] (w, w r^2, w dr^2, w^2), ``profiles``
    [n_t, G, bins] (weight per radial bin), ``events`` [n_t] (cumulative, all particles)."""

    times: np.ndarray
    sums: np.ndarray
    profiles: np.ndarray
    events: np.ndarray


def simulate(table, source: Source, settings: McSettings, times, groups, comm, kernel=None,
             on_sample=None) -> McRecord:
    """Place the particles, push them through ``times`` (ps, increasing, >= 0) and sample each;
    ``on_sample(k)`` is called after sample k (progress, stop requests)."""
    times = np.asarray(times, dtype=float)
    if np.any(np.diff(times) <= 0) or times[0] < 0:
        raise ValueError("sampling times must increase from >= 0")
    ens = CellEnsemble(table, settings, comm, kernel)
    ens.place(source)
    G, nb = len(groups), len(settings.r_edges) - 1
    rec = McRecord(times, np.zeros((len(times), settings.batches, G, 4)), np.zeros((len(times), G, nb)),
                   np.zeros(len(times), dtype=np.int64))
    events = 0
    for k, t in enumerate(times):
        events += ens.push(t)
        rec.sums[k], rec.profiles[k] = ens.sample(t, groups)
        rec.events[k] = events
        if on_sample is not None:
            on_sample(k)
    return rec


@dataclass(frozen=True)
class McTrace:
    """Observables of an :class:`McRecord`, [G, n_t] each, with jackknife standard errors
    (``*_error``): ``n`` weight, ``width2`` <r^2>_0 + <dr^2> (nm^2), ``width2_direct`` <r^2>,
    ``diffusion`` (1/4) d width2/dt (nm^2/ps); ``profile`` [G, n_t, bins] weight per area
    (1/nm^2) at radii ``r`` (bin centres, nm); ``particles`` the effective number of particles
    (sum w)^2 / sum w^2 behind each value (the errors are reliable only when it is large)."""

    t: np.ndarray
    n: np.ndarray
    n_error: np.ndarray
    width2: np.ndarray
    width2_error: np.ndarray
    width2_direct: np.ndarray
    width2_direct_error: np.ndarray
    diffusion: np.ndarray
    diffusion_error: np.ndarray
    r: np.ndarray
    profile: np.ndarray
    particles: np.ndarray


def _jackknife(estimate, sums):
    """(estimate of the totals, jackknife standard error) of estimate(totals [..., 4]) over axis 1
    of sums [n_t, B, G, 4]."""
    total = sums.sum(axis=1)
    B = sums.shape[1]
    full = estimate(total)
    if B < 2:
        return full, np.full_like(full, np.nan)
    loo = np.stack([estimate(total - sums[:, b]) for b in range(B)])
    err = np.sqrt((B - 1) / B * np.sum((loo - loo.mean(axis=0)) ** 2, axis=0))
    return full, err


def observables(rec: McRecord, width2_0: float, r_edges) -> McTrace:
    """The :class:`McTrace` of a record; ``width2_0`` <r^2> of the source spot (nm^2)."""
    t = rec.times

    def ratio(c):
        def f(tot):
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(tot[..., 0] > 0, tot[..., c] / tot[..., 0], np.nan)
        return f

    def width2(tot):
        return width2_0 + ratio(2)(tot)

    def diffusion(tot):
        w = width2(tot)
        return np.gradient(w, t, axis=0) / 4.0 if len(t) > 1 else np.zeros_like(w)
    out = [_jackknife(lambda tot: tot[..., 0], rec.sums), _jackknife(width2, rec.sums),
           _jackknife(ratio(1), rec.sums), _jackknife(diffusion, rec.sums)]
    e = np.asarray(r_edges, dtype=float)
    area = np.pi * (e[1:] ** 2 - e[:-1] ** 2)
    prof = np.moveaxis(rec.profiles / area, 0, 1)                                  # [G, n_t, bins]
    tot = rec.sums.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = np.where(tot[..., 3] > 0, tot[..., 0] ** 2 / tot[..., 3], 0.0)
    T = lambda a: a.T  # noqa: E731   [n_t, G] -> [G, n_t]
    return McTrace(t, T(out[0][0]), T(out[0][1]), T(out[1][0]), T(out[1][1]), T(out[2][0]), T(out[2][1]),
                   T(out[3][0]), T(out[3][1]), 0.5 * (e[1:] + e[:-1]), prof, T(ess))
