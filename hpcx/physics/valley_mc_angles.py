"""Scattering-angle distributions of the |Q|-cell rates, for the valley Monte Carlo.

The rates W^(m)_ij of :mod:`hpcx.physics.valley_rates` are harmonics of a golden-rule flux that
is integrated over both cells of a pair by quadrature.  Each quadrature node carries a
non-negative flux and a scattering angle theta between Q and Q' (in [0, pi]; the sign is
random, the kernel being symmetric):

* Debye (intravalley acoustic) channels: the delta function fixes the angle theta* of every
  (Q, Q') node of the (psi, u) quadrature (the same nodes as the rates);
* Einstein channels: the vertex |g|^2 A(theta) on the Gauss-Legendre angle nodes, integrated
  over the energy nodes of the pair.

Summed over the nodes, flux x cos(m theta) gives the symmetric flux F^(m)_ij of the rate
tables (tested to rounding), and the flux of a node is the same in both directions i -> j and
j -> i up to one factor per direction (detailed balance), so one angle distribution serves
both entries of a pair.  :func:`quantile_tables` turns the node measure of every pair into an
inverse cumulative distribution on K equal-probability intervals (theta piecewise uniform in
each) and corrects it by a power map theta -> pi (theta/pi)^p so that its mean cos theta equals
W^(1)_ij / W^(0)_ij of the rate tables exactly: the Monte Carlo and the moment solver then share
the m = 0 and m = 1 harmonics, the only ones the moments (n, a, s) depend on.
Units: meV, 1/nm, ps, K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

from .phonons import bose
from .valley_cells import momentum
from .valley_rates import _GL, _debye_pairs, _einstein_pairs, _gauss, _vertex2, debye_quadrature

__all__ = ["AngleNodes", "debye_nodes", "einstein_nodes", "model_nodes", "quantile_tables", "mean_cos"]


@dataclass(frozen=True)
class AngleNodes:
    """Quadrature nodes of cell pairs: ``i``, ``j`` [P] cells; ``theta`` [P, k] angles in [0, pi];
    ``flux`` [P, k] >= 0, the pair's symmetric flux per node scaled by exp(+e_ref/kT); ``e_ref`` [P]
    meV."""

    i: np.ndarray
    j: np.ndarray
    theta: np.ndarray
    flux: np.ndarray
    e_ref: np.ndarray


def debye_nodes(model, br, cells, T: float, n_psi: int = 8, n_u: int = 8) -> AngleNodes:
    """Nodes of intravalley acoustic branch ``br`` (the quadrature of
    :func:`~hpcx.physics.valley_rates.debye_flux`, pairs i <= j)."""
    kT = _KB * T
    q0 = _HBAR * br.c * model.valleys[br.valley].mass / _H
    i, j = _debye_pairs(cells, br.valley, q0)
    cos, base, pref = debye_quadrature(model, br, cells, kT, i, j, n_psi, n_u)
    e_ref = np.maximum(cells.e0[i], cells.e0[j])
    P = len(i)
    return AngleNodes(i, j, np.arccos(cos).reshape(P, -1), (pref * base).reshape(P, -1), e_ref)


def einstein_nodes(model, ch, cells, T: float, n_energy: int = 6, n_theta: int = 32) -> AngleNodes:
    """Nodes of Einstein channel ``ch`` (the quadrature of
    :func:`~hpcx.physics.valley_rates.einstein_flux`, summed over its energy nodes)."""
    kT = _KB * T
    orient = [(ch.a, ch.b), (ch.b, ch.a)] if ch.intervalley else [(ch.a, ch.a)]
    ga, gb = model.valleys[ch.a].degeneracy, model.valleys[ch.b].degeneracy
    mult = ga * gb if ch.intervalley else ga
    xg, wg = _GL[n_theta]
    th = 0.5 * np.pi * (xg + 1.0)
    parts = []
    for lo, up in orient:
        li, ui, x0, x1 = _einstein_pairs(cells, lo, up, ch.energy)
        x, w = _gauss(x0, x1, n_energy)
        Ml, Mu = model.valleys[lo].mass, model.valleys[up].mass
        Ql = momentum(x - ch.energy - model.valleys[lo].offset, Ml)
        Qu = momentum(x - model.valleys[up].offset, Mu)
        Qa, Qb = (Ql, Qu) if lo == ch.a else (Qu, Ql)
        g2 = _H * _vertex2(model, ch, Qa[..., None], Qb[..., None], np.cos(th)) / (model.rho * ch.energy)
        energy = (np.exp(-(x - x0[:, None]) / kT) * w)[..., None]                   # [P, n_energy, 1]
        pref = mult * (bose(ch.energy, T) + 1.0) * Ml * Mu / (4.0 * _H * _H) / (4.0 * np.pi ** 2 * _HBAR)
        flux = pref * np.pi * np.sum(g2 * energy, axis=1) * wg                     # [P, n_theta]
        parts.append(AngleNodes(li, ui, np.broadcast_to(th, flux.shape).copy(), flux, x0))
    return AngleNodes(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("i", "j", "theta", "flux",
                                                                                  "e_ref")))


def model_nodes(model, cells, T: float, intervalley: bool = True, n_psi: int = 4, n_u: int = 4):
    """Nodes of every channel of ``model`` (intervalley ones only if ``intervalley``), as one
    :class:`AngleNodes` with a common width (shorter node sets padded with zero flux).
    ``n_psi``, ``n_u``: the Debye quadrature of the angle distribution (it needs fewer nodes
    than the rates: its m = 1 harmonic is corrected to the rates' exactly)."""
    parts = [debye_nodes(model, br, cells, T, n_psi, n_u) for br in model.debye]
    parts += [einstein_nodes(model, ch, cells, T) for ch in model.einstein if intervalley or not ch.intervalley]
    width = max(p.theta.shape[1] for p in parts)

    def pad(a):
        return np.pad(a, ((0, 0), (0, width - a.shape[1])))
    return AngleNodes(np.concatenate([p.i for p in parts]), np.concatenate([p.j for p in parts]),
                      np.concatenate([pad(p.theta) for p in parts]), np.concatenate([pad(p.flux) for p in parts]),
                      np.concatenate([p.e_ref for p in parts]))


def mean_cos(q) -> np.ndarray:
    """E[cos theta] of theta piecewise uniform between the quantiles q [..., K + 1] (each interval
    holding probability 1/K)."""
    a, b = q[..., :-1], q[..., 1:]
    h = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        seg = np.where(h > 1e-9, (np.sin(b) - np.sin(a)) / np.where(h > 1e-9, h, 1.0),
                       np.cos(0.5 * (a + b)) * (1.0 - h * h / 24.0))
    return seg.mean(axis=-1)


def _node_quantiles(key, theta, flux, n_keys, levels):
    """Quantiles [n_keys, len(levels)] of the node measures grouped by ``key``: the CDF runs
    piecewise linearly through the nodes' mid-masses (each node's flux spread over the half-gaps
    to its neighbours); a key without nodes gets the isotropic quantiles pi u."""
    keep = flux > 0.0
    key, theta, flux = key[keep], theta[keep], flux[keep]
    order = np.lexsort((theta, key))
    key, theta, flux = key[order], theta[order], flux[order]
    counts = np.bincount(key, minlength=n_keys)
    start = np.concatenate([[0], np.cumsum(counts)])
    total = np.bincount(key, weights=flux, minlength=n_keys)
    csum = np.cumsum(flux)
    before = np.concatenate([[0.0], csum])[start[key]]
    glob = key + (csum - before - 0.5 * flux) / total[key]      # key + mid-CDF in (0, 1): increasing
    last = max(len(glob) - 1, 0)
    out = np.empty((n_keys, len(levels)))
    for n, u in enumerate(levels):
        q = np.arange(n_keys) + u
        idx = np.searchsorted(glob, q)
        hi = np.clip(np.clip(idx, start[:-1], start[1:] - 1), 0, last)
        lo = np.clip(np.clip(idx - 1, start[:-1], start[1:] - 1), 0, last)
        if len(glob) == 0:
            out[:, n] = np.pi * u
            continue
        g0, g1 = glob[lo], glob[hi]
        f = np.clip(np.where(g1 > g0, (q - g0) / np.where(g1 > g0, g1 - g0, 1.0), 0.0), 0.0, 1.0)
        out[:, n] = np.where(counts > 0, theta[lo] + f * (theta[hi] - theta[lo]), np.pi * u)
    return out


def _power_correct(q, target, iterations=200):
    """q mapped by theta -> pi (theta/pi)^p with p per row (bisection in log p) so that
    mean_cos == target (clipped to what the map can reach)."""
    x = np.clip(q / np.pi, 0.0, 1.0)
    lo, hi = np.full(len(q), -30.0), np.full(len(q), 30.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        m = mean_cos(np.pi * x ** np.exp(mid)[:, None])
        up = m < target                          # need larger p (smaller angles)
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        if np.all(hi - lo < 1e-13):
            break
    return np.pi * x ** np.exp(0.5 * (lo + hi))[:, None]


def quantile_tables(nodes: AngleNodes, pairs_i, pairs_j, target, T: float, n_cells: int, intervals: int = 32):
    """Angle quantiles [P, intervals + 1] of the cell pairs (pairs_i <= pairs_j, unordered), from
    the node measure of every channel (each weighted by exp(-e_ref/kT)), with mean cos theta
    corrected to ``target`` [P] (= W^(1)/W^(0) of the rate tables).  A pair without nodes gets
    the isotropic distribution before the correction."""
    kT = _KB * T
    a, b = np.minimum(nodes.i, nodes.j), np.maximum(nodes.i, nodes.j)
    want = np.asarray(pairs_i, dtype=np.int64) * n_cells + np.asarray(pairs_j, dtype=np.int64)
    order = np.argsort(want)
    pos = np.minimum(np.searchsorted(want[order], a * n_cells + b), len(want) - 1)
    found = want[order][pos] == a * n_cells + b
    key = order[pos]
    e_pair = np.full(len(want), np.inf)
    np.minimum.at(e_pair, key[found], nodes.e_ref[found])
    scale = np.exp(-(nodes.e_ref[found] - e_pair[key[found]]) / kT)
    width = nodes.theta.shape[1]
    q = _node_quantiles(np.repeat(key[found], width), nodes.theta[found].ravel(),
                        (nodes.flux[found] * scale[:, None]).ravel(), len(want), np.linspace(0.0, 1.0, intervals + 1))
    q = np.maximum.accumulate(np.clip(q, 0.0, np.pi), axis=1)
    return _power_correct(q, np.clip(np.asarray(target, dtype=float), -1.0 + 1e-12, 1.0 - 1e-12))
