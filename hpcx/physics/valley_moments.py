"""Deterministic spatial-moment solver of the valley-resolved exciton Wigner equation (seed 002).

The Wigner function N_v(Q, r, t) obeys (Eq. 1-2 of seed 002)

    dN/dt = -v(Q).grad_r N + C[N] - gamma(Q) N + Gamma_{Q,0} u(r) f(t),

with a collision operator C that acts on Q only.  Its spatial moments per cell j,
n_j = int N d^2r, a_j = int (Q^.r) N d^2r, s_j = int r^2 N d^2r, therefore obey the closed
linear system (docs/theory/valley.md)

    dn/dt = (C0 - gamma) n + g f(t)
    da/dt = V n + (C1 - gamma) a
    ds/dt = 2 V a + (C0 - gamma) s + <r^2>_0 g f(t)

(C0, C1 the m = 0 and m = 1 harmonics of C, V = diag(v_j)); it is lower block triangular
and stiff, and is propagated exactly (:mod:`hpcx.physics.valley_propagate`).  Groups of cells
(valleys, all cells, the light cone weighted by the radiative rate for the PL) give
w^2 = s/n and D = (1/4) d(s/n)/dt, the time derivative taken from the right-hand side
(no finite differences), and the scattering-induced D^scat of seed 002 Eq. 4 from the
collision part alone.  Units: ps, nm, 1/ps; D in nm^2/ps (x 0.01 for cm^2/s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .valley_propagate import propagate

__all__ = ["Kinetics", "kinetics", "rta_kinetics", "MomentTrace", "solve_moments"]


@dataclass(frozen=True)
class Kinetics:
    """Linear kinetics on cells: scattering operators ``C[m]`` (sparse, 1/ps; harmonics
    m = 0, 1, ...), ``decay`` [n] 1/ps, cell velocities ``v`` [n] nm/ps, ``formation`` [n] 1/ps."""

    C: tuple
    decay: np.ndarray
    v: np.ndarray
    formation: np.ndarray

    @property
    def n(self) -> int:
        return len(self.v)


def kinetics(tables, intervalley: bool = True, harmonics: int = 2) -> Kinetics:
    """Kinetics of :class:`~hpcx.physics.valley_rates.RateTables` (with or without intervalley)."""
    return Kinetics(tuple(tables.collision(m, intervalley) for m in range(harmonics)), tables.radiative,
                    tables.thermal.v, tables.formation)


def rta_kinetics(thermal, tau: float, formation=None) -> Kinetics:
    """Constant relaxation time tau (ps): every cell scatters at 1/tau into the Boltzmann
    distribution, isotropically (C1 = -1/tau); the stationary D is tau <v^2>/2 = tau kT/M."""
    p = thermal.boltzmann()
    n = len(p)
    C0 = sp.csr_matrix(np.outer(p, np.ones(n)) / tau - np.eye(n) / tau)
    C1 = sp.diags(np.full(n, -1.0 / tau)).tocsr()
    return Kinetics((C0, C1), np.zeros(n), thermal.v, p if formation is None else formation)


def _system(kin: Kinetics):
    """The 3n x 3n Jacobian of (n, a, s) (sparse CSC)."""
    D = sp.diags(kin.decay)
    A0, A1, V = kin.C[0] - D, kin.C[1] - D, sp.diags(kin.v)
    return sp.bmat([[A0, None, None], [V, A1, None], [None, 2 * V, A0]], format="csc")


@dataclass(frozen=True)
class MomentTrace:
    """Moments summed over groups of cells, [group, time]: ``n``, ``s`` (nm^2), their time
    derivatives ``dn``, ``ds`` and the scattering-only derivatives ``dn_scat``, ``ds_scat``."""

    t: np.ndarray
    n: np.ndarray
    s: np.ndarray
    dn: np.ndarray
    ds: np.ndarray
    dn_scat: np.ndarray
    ds_scat: np.ndarray

    def width2(self) -> np.ndarray:
        """w^2 = int r^2 N / int N (nm^2), NaN where a group is empty."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.s / self.n, np.nan)

    def diffusion(self) -> np.ndarray:
        """D = (1/4) d w^2/dt (nm^2/ps)."""
        return self._d(self.ds, self.dn)

    def diffusion_scattering(self) -> np.ndarray:
        """D^scat = (1/4)(ds_scat - w^2 dn_scat)/n (seed 002 Eq. 4), nm^2/ps."""
        return self._d(self.ds_scat, self.dn_scat)

    def _d(self, ds, dn):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, (ds * self.n - self.s * dn) / (4.0 * self.n ** 2), np.nan)


def solve_moments(segments, f, width2_0, times, groups, *, source_end, log_z=None, fine_dt=0.002):
    """Moments at ``times`` (uniform, ps) from zero excitons at times[0].

    ``segments`` = [(t_start, Kinetics), ...] in time order (a change must fall on an output
    time after the source), ``f`` the source's time profile (1/ps, negligible after
    ``source_end``), ``width2_0`` <r^2> of the source (nm^2), ``groups`` [n_groups, n_cells]
    weights, ``log_z`` the cells' Boltzmann weights (the scaling that keeps tiny populations
    at full relative accuracy; default none).  Returns a :class:`MomentTrace`.
    """
    kins = [k for _, k in segments]
    n = kins[0].n
    z = np.zeros(n) if log_z is None else 0.5 * (np.asarray(log_z) - np.max(log_z))
    L = np.sqrt(width2_0) if width2_0 > 0 else 1.0
    scale = np.exp(np.concatenate([z, z + np.log(L), z + 2 * np.log(L)]))
    src = np.concatenate([kins[0].formation, np.zeros(n), width2_0 * kins[0].formation])
    Js = [_system(k) for k in kins]
    Y, seg = propagate([(t, J) for (t, _), J in zip(segments, Js)], src, f, times, source_end,
                       scale=scale, fine_dt=fine_dt)
    pieces = [_trace_piece(kins[i], Js[i], src, f, times[seg == i], Y[:, seg == i], groups)
              for i in range(len(segments)) if np.any(seg == i)]
    return MomentTrace(*(np.concatenate([p[k] for p in pieces], axis=-1) for k in range(7)))


def _trace_piece(kin, J, src, f, t, Y, groups):
    n = kin.n
    dY = J @ Y + src[:, None] * f(t)[None, :]
    C0 = kin.C[0]
    G = np.asarray(groups, dtype=float)
    N, S = Y[:n], Y[2 * n:]
    return (t, G @ N, G @ S, G @ dY[:n], G @ dY[2 * n:], G @ (C0 @ N), G @ (C0 @ S))
