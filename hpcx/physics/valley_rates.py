"""Exciton-phonon rates between |Q| cells of parabolic valleys, on continuous Q.

For every pair of cells (i, j) the golden-rule rate is integrated exactly over both cells
(no broadening): the energy-conserving delta function is integrated analytically, the
remaining integrals by Gauss-Legendre quadrature on smooth integrands.  What is computed
for each channel is the symmetric flux (docs/theory/valley.md, "Rates on cells")

    F^(m)_ij = mult int_i d^2Q/(2pi)^2 int_j d^2Q'/(2pi)^2 (2pi/hbar) |g|^2 A N e^{-E'/kT}
               delta(E - E' -+ Omega) cos(m theta),

theta the angle between Q and Q', mult the number of coupled valley copies; it is symmetric
in i <-> j because N e^{-E'/kT} = (n(Omega) + 1) e^{-max(E, E')/kT}.  The rate from cell j
into cell i of the harmonic m is W^(m)_ij = F^(m)_ij / Z_j (Z_j from
:func:`~hpcx.physics.valley_cells.cell_thermal`), so W_ij Z_j = W_ji Z_i holds to rounding:
detailed balance is exact at any resolution.  m = 0 moves densities, m = 1 first moments
(momentum relaxation), higher m the angular harmonics of the profile solver.

* Einstein channels: the delta fixes |Q| for given |Q'|, leaving one energy integral over
  the overlap of the two cells (Gauss-Legendre) and the angular integral of the vertex.
* Debye (intravalley acoustic) channels: the delta fixes the angle; with s = Q + Q',
  d = Q - Q', q0 = 2 M c/hbar the kernel is 1/sqrt((s^2/q0^2 - 1)(1 - d^2/q0^2)), whose
  inverse-square-root edges are removed exactly by d = q0 sin(psi), s = q0 cosh(u).
  The Bose factor enters as q (n + 1) = (kT/hbar c) x/(1 - e^{-x}), finite at q -> 0, so the
  quasi-elastic (equipartition) limit is part of the same formula.

Units: meV, nm, ps, m0, K.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

from .phonons import bose
from .valley_cells import Cells, CellThermal, cell_thermal, momentum

__all__ = ["RateTables", "rate_tables", "einstein_flux", "debye_flux", "debye_quadrature", "formation_rates",
           "einstein_angular", "bose_q"]

_GL = {n: np.polynomial.legendre.leggauss(n) for n in (4, 6, 8, 12, 16, 24, 32, 48, 64)}
_PAIR_BLOCK = 512         # cell pairs per block of the acoustic quadrature ([block, 7, 8, 8] arrays, ~2 MB each)
#: peak bytes of one block of the acoustic quadrature: about 16 [block, 7, n_psi, n_u] float64 arrays alive
QUADRATURE_BLOCK_BYTES = 16 * _PAIR_BLOCK * 7 * 8 * 8 * 8


def _gauss(a, b, n):
    """Gauss-Legendre nodes [..., n] and weights on [a, b] (arrays broadcast)."""
    x, w = _GL[n]
    a, b = np.asarray(a, dtype=float)[..., None], np.asarray(b, dtype=float)[..., None]
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


def bose_q(x):
    """x (n(x) + 1) = x / (1 - e^{-x}) for x = hbar c q / kT >= 0 (1 at x = 0)."""
    x = np.asarray(x, dtype=float)
    small = x < 1e-8
    return np.where(small, 1.0 + 0.5 * x, x / -np.expm1(-np.where(small, 1.0, x)))


def _vertex2(model, ch, Qa, Qb, cos):
    """|V|^2 (meV^2/nm^2) of an Einstein channel between |Q_a| = Qa (valley a) and Qb (valley b)."""
    va, vb = model.valleys[ch.a], model.valleys[ch.b]
    F = model.form_factor

    def arg(ca, cb):
        return np.sqrt(np.maximum((ca * Qa) ** 2 + (cb * Qb) ** 2 - 2.0 * ca * cb * Qa * Qb * cos, 0.0))
    vert = ch.D_e * F(arg(va.beta, vb.beta))
    if ch.D_h:
        vert = vert - ch.D_h * F(arg(va.alpha, vb.alpha))
    return vert * vert


def einstein_angular(model, ch, Qa, Qb, harmonics, n_theta=32):
    """A_m = int_0^{2pi} dtheta cos(m theta) |g|^2 A, shape [m, *Qa.shape] (meV^2 nm^2)."""
    x, w = _GL[n_theta]
    th = 0.5 * np.pi * (x + 1.0)
    cos = np.cos(th)
    g2 = _H * _vertex2(model, ch, Qa[..., None], Qb[..., None], cos) / (model.rho * ch.energy)
    return np.stack([np.sum(g2 * np.cos(m * th) * w, axis=-1) * np.pi for m in range(harmonics)])


@dataclass(frozen=True)
class Flux:
    """Symmetric pair fluxes: cells ``i``, ``j`` (each pair once), values [m, pair] scaled by
    exp(+e_ref/kT), ``e_ref`` [pair] meV."""

    i: np.ndarray
    j: np.ndarray
    value: np.ndarray
    e_ref: np.ndarray


def _einstein_pairs(cells, lo, up, omega):
    """(lower cell, upper cell) pairs of valleys lo, up whose energies overlap after + omega."""
    sl, su = cells.of(lo), cells.of(up)
    l_idx = np.arange(sl.start, sl.stop)
    edges = np.append(cells.e0[su], cells.e1[su][-1])
    first = np.clip(np.searchsorted(edges, cells.e0[sl] + omega, "right") - 1, 0, su.stop - su.start - 1)
    last = np.clip(np.searchsorted(edges, cells.e1[sl] + omega, "left") - 1, -1, su.stop - su.start - 1)
    span = np.maximum(last - first + 1, 0)
    li = np.repeat(l_idx, span)
    ui = su.start + np.repeat(first, span) + (np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span))
    x0 = np.maximum(cells.e0[li] + omega, cells.e0[ui])
    x1 = np.minimum(cells.e1[li] + omega, cells.e1[ui])
    ok = x1 > x0
    return li[ok], ui[ok], x0[ok], x1[ok]


def einstein_flux(model, ch, cells: Cells, T: float, harmonics: int = 2, n_energy: int = 6,
                  n_theta: int = 32) -> Flux:
    """Symmetric fluxes of Einstein channel ``ch`` (see the module docstring)."""
    kT = _KB * T
    orient = [(ch.a, ch.b), (ch.b, ch.a)] if ch.intervalley else [(ch.a, ch.a)]
    ga, gb = model.valleys[ch.a].degeneracy, model.valleys[ch.b].degeneracy
    mult = ga * gb if ch.intervalley else ga
    out = []
    for lo, up in orient:
        li, ui, x0, x1 = _einstein_pairs(cells, lo, up, ch.energy)
        x, w = _gauss(x0, x1, n_energy)
        Ml, Mu = model.valleys[lo].mass, model.valleys[up].mass
        Ql = momentum(x - ch.energy - model.valleys[lo].offset, Ml)
        Qu = momentum(x - model.valleys[up].offset, Mu)
        Qa, Qb = (Ql, Qu) if lo == ch.a else (Qu, Ql)
        A = einstein_angular(model, ch, Qa, Qb, harmonics, n_theta)
        integral = np.sum(A * np.exp(-(x - x0[:, None]) / kT) * w, axis=-1)
        pref = mult * (bose(ch.energy, T) + 1.0) * Ml * Mu / (4.0 * _H * _H) / (4.0 * np.pi ** 2 * _HBAR)
        out.append(Flux(li, ui, pref * integral, x0))
    return _concat(out)


def _concat(parts):
    return Flux(*(np.concatenate([getattr(p, k) for p in parts], axis=-1) for k in ("i", "j", "value", "e_ref")))


def _debye_pairs(cells, v, q0):
    """Pairs i <= j of valley v that a phonon of the branch can connect (|Q - Q'| < q0)."""
    s = cells.of(v)
    idx = np.arange(s.start, s.stop)
    i, j = np.meshgrid(idx, idx, indexing="ij")
    ok = (j >= i) & (cells.q0[j] - cells.q1[i] < q0)
    return i[ok], j[ok]


def _psi_breaks(cells, i, j, q0):
    """Sorted breakpoints [pair, 8] in psi = arcsin(d/q0) of the smooth pieces of a cell pair: the
    d-range ends, the kinks of the Q-interval ends and where an end of s = 2Q - d crosses q0."""
    qi0, qi1, qj0, qj1 = cells.q0[i], cells.q1[i], cells.q0[j], cells.q1[j]
    lo = np.maximum(qi0 - qj1, -q0)
    hi = np.minimum(qi1 - qj0, q0)
    kinks = np.stack([qi0 - qj0, qi1 - qj1, 2 * qi0 - q0, q0 - 2 * qj0, 2 * qi1 - q0, q0 - 2 * qj1], axis=-1)
    kinks = np.clip(kinks, lo[:, None], hi[:, None])
    d = np.sort(np.concatenate([lo[:, None], kinks, hi[:, None]], axis=-1), axis=-1)
    return np.arcsin(np.clip(d / q0, -1.0, 1.0))


def debye_flux(model, br, cells: Cells, T: float, harmonics: int = 2, n_psi: int = 8, n_u: int = 8) -> Flux:
    """Symmetric fluxes of intravalley acoustic branch ``br`` (see the module docstring)."""
    kT = _KB * T
    spec = model.valleys[br.valley]
    M, c = spec.mass, br.c
    q0 = _HBAR * c * M / _H
    i, j = _debye_pairs(cells, br.valley, q0)
    blocks = [_debye_values(model, br, cells, kT, i[a:a + _PAIR_BLOCK], j[a:a + _PAIR_BLOCK], harmonics, n_psi, n_u)
              for a in range(0, len(i), _PAIR_BLOCK)]
    vals = np.concatenate(blocks, axis=-1) if blocks else np.zeros((harmonics, 0))
    return Flux(i, j, vals, np.maximum(cells.e0[i], cells.e0[j]))


def _debye_values(model, br, cells, kT, i, j, harmonics, n_psi, n_u):
    """Flux values [harmonics, pairs] of branch ``br`` for the cell pairs (i, j): the quadrature over
    [pairs, 7, n_psi, n_u] points, evaluated per block of pairs to bound the memory."""
    cos, base, pref = debye_quadrature(model, br, cells, kT, i, j, n_psi, n_u)
    return np.stack([pref * np.sum(base * np.cos(m * np.arccos(cos)), axis=(1, 2, 3)) for m in range(harmonics)])


def debye_quadrature(model, br, cells: Cells, kT: float, i, j, n_psi: int, n_u: int):
    """The (psi, u) quadrature of acoustic branch ``br`` over the cell pairs (i, j) [P] at k_B T =
    ``kT`` meV: ``cos`` [P, 7, n_psi, n_u], the cosine of the scattering angle that energy
    conservation fixes at each node; ``base`` of the same shape, the node's flux weight scaled by
    exp(+e_ref/kT) with e_ref = max(e0_i, e0_j); ``pref`` the common factor.  The pair's symmetric
    flux harmonic m is pref * sum(base * cos(m theta)); shared by the rate tables and the Monte
    Carlo's angle distributions."""
    spec = model.valleys[br.valley]
    M, c = spec.mass, br.c
    q0 = _HBAR * c * M / _H
    psi_b = _psi_breaks(cells, i, j, q0)
    psi, wpsi = _gauss(psi_b[:, :-1], psi_b[:, 1:], n_psi)               # [P, 7, n_psi]
    d = q0 * np.sin(psi)
    L = np.maximum(cells.q0[i][:, None, None], cells.q0[j][:, None, None] + d)
    U = np.minimum(cells.q1[i][:, None, None], cells.q1[j][:, None, None] + d)
    s_lo = np.maximum(2 * L - d, q0)
    s_hi = np.maximum(2 * U - d, s_lo)
    u, wu = _gauss(np.arccosh(s_lo / q0), np.arccosh(s_hi / q0), n_u)      # [P, 7, n_psi, n_u]
    s = q0 * np.cosh(u)
    dd = d[..., None]
    Q, Qp = 0.5 * (s + dd), 0.5 * (s - dd)
    qs = np.abs(s * dd) / q0
    F = model.form_factor
    DX = br.D1_e * F(spec.beta * qs) - br.D1_h * F(spec.alpha * qs)
    G = _H * DX * DX * kT * bose_q(_HBAR * c * qs / kT) / (model.rho * _HBAR ** 2 * c * c)
    e_ref = np.maximum(cells.e0[i], cells.e0[j])
    boltz = np.exp(-(spec.offset + _H * np.maximum(Q, Qp) ** 2 / M - e_ref[:, None, None, None]) / kT)
    base = Q * Qp * G * boltz * wu * wpsi[..., None]
    cos = np.clip((Q * Q + Qp * Qp - qs * qs) / np.maximum(2.0 * Q * Qp, 1e-300), -1.0, 1.0)
    pref = spec.degeneracy * q0 / (2.0 * np.pi ** 2 * _HBAR ** 2 * c)
    return cos, base, pref


def formation_rates(model, cells: Cells, T: float) -> np.ndarray:
    """Rates (1/ps) from the coherent bright exciton at Q = 0 into each cell, shape [n_cells].

    The Gamma^{v,KK}_{Q,0} of seed 002 Eq. 1: every Einstein channel touching the bright
    valley (emission and absorption) and acoustic absorption inside it; each delivers its
    excitons at one |Q|, into the cell that contains it.
    """
    out = np.zeros(cells.n)
    b = model.bright
    e_b = model.valleys[b].offset
    for ch in model.einstein:
        if b not in (ch.a, ch.b):
            continue
        f = ch.b if ch.a == b else ch.a
        spec = model.valleys[f]
        copies = spec.degeneracy if ch.intervalley else 1
        for sign, occ in ((-1.0, bose(ch.energy, T) + 1.0), (1.0, bose(ch.energy, T))):
            x = e_b + sign * ch.energy - spec.offset
            if x <= 0.0:
                continue
            Q = momentum(x, spec.mass)
            zero = np.zeros(1)
            pair = (zero, np.array([Q])) if ch.a == b else (np.array([Q]), zero)
            g2 = _H * _vertex2(model, ch, *pair, 1.0)[0] / (model.rho * ch.energy)
            _deposit(out, cells, f, Q, copies * spec.mass * g2 * occ / (2.0 * _H * _HBAR))
    for br in model.debye:
        if br.valley != b:
            continue
        spec = model.valleys[b]
        q0 = _HBAR * br.c * spec.mass / _H
        F = model.form_factor
        DX = br.D1_e * F(spec.beta * q0) - br.D1_h * F(spec.alpha * q0)
        n = bose(_HBAR * br.c * q0, T)
        _deposit(out, cells, b, q0, _H * DX * DX * q0 * q0 * n / (model.rho * _HBAR ** 3 * br.c ** 2))
    return out


def _deposit(out, cells, v, Q, rate):
    s = cells.of(v)
    k = np.searchsorted(cells.q1[s], Q, "right")
    if k < s.stop - s.start:
        out[s.start + k] += rate


@dataclass(frozen=True)
class RateTables:
    """Rates on the cells of a model at one temperature.

    ``intra[m]``, ``inter[m]``: sparse W^(m) [to, from] (1/ps) of the intravalley and the
    intervalley channels; ``formation`` [n] 1/ps (from the coherent bright exciton);
    ``radiative`` [n] 1/ps (light-cone decay); ``thermal`` the cell averages.
    """

    cells: Cells
    thermal: CellThermal
    intra: tuple
    inter: tuple
    formation: np.ndarray
    radiative: np.ndarray

    def W(self, m: int, intervalley: bool = True):
        return self.intra[m] + self.inter[m] if intervalley else self.intra[m]

    def out_rate(self, intervalley: bool = True) -> np.ndarray:
        """Total phonon out-scattering rate of each cell (column sums of W^(0)), 1/ps."""
        return np.asarray(self.W(0, intervalley).sum(axis=0)).ravel()

    def collision(self, m: int, intervalley: bool = True):
        """Scattering operator W^(m) - diag(out-rate) of harmonic m (sparse, 1/ps)."""
        return (self.W(m, intervalley) - sp.diags(self.out_rate(intervalley))).tocsr()


def _to_rates(flux: Flux, thermal: CellThermal, n: int, harmonics: int):
    """Sparse W^(m)_ij = F_ij / Z_j for both directions of every symmetric pair."""
    kT = _KB * thermal.T
    rows = np.concatenate([flux.i, flux.j[flux.i != flux.j]])
    cols = np.concatenate([flux.j, flux.i[flux.i != flux.j]])
    e_ref = np.concatenate([flux.e_ref, flux.e_ref[flux.i != flux.j]])
    vals = np.concatenate([flux.value, flux.value[:, flux.i != flux.j]], axis=-1)
    scale = np.exp(-e_ref / kT - thermal.log_z[cols])
    return tuple(sp.csr_matrix((vals[m] * scale, (rows, cols)), shape=(n, n)) for m in range(harmonics))


def rate_tables(model, cells: Cells, T: float, harmonics: int = 2, n_theta: int = 32) -> RateTables:
    """All rates of ``model`` on ``cells`` at temperature T (K)."""
    th = cell_thermal(cells, T, model.bright, model.light_cone)
    intra = [debye_flux(model, br, cells, T, harmonics) for br in model.debye]
    intra += [einstein_flux(model, ch, cells, T, harmonics, n_theta=n_theta)
              for ch in model.einstein if not ch.intervalley]
    inter = [einstein_flux(model, ch, cells, T, harmonics, n_theta=n_theta)
             for ch in model.einstein if ch.intervalley]
    n = cells.n

    def total(parts):
        mats = [_to_rates(f, th, n, harmonics) for f in parts]
        return tuple(sum((m[k] for m in mats), sp.csr_matrix((n, n))) for k in range(harmonics))
    return RateTables(cells, th, total(intra), total(inter), formation_rates(model, cells, T),
                      model.radiative_rate * th.light_cone)
