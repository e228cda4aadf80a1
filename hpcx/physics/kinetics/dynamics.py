"""Luminescence Bloch equations of seed 001 (Eqs. 2 and 3) on isotropic momentum shells.

Variables: the coherent polarization of the pumped species at Q = 0 and the
incoherent exciton densities n[s, i] = weight * N[s, i] of every species s and
shell i (nm^-2).  With a resonant pump and the phase of P taken along i Omega,
Eq. 2 in the frame rotating at the exciton frequency is real,

    dp/dt = Omega(t) - kappa p,   kappa = gamma_r + (1/2) sum_j Gamma_P^{0 j},   |P|^2 = p^2,

and is solved in closed form (:func:`coherent_amplitude`).  Eq. 3 becomes the
linear system

    dn/dt = G n + Gamma_P p(t)^2,    G = W^T - diag(sum_j W_ij) - diag(2 gamma_r f_lc),

with W[i, j] = r'[i, j] weight the detailed-balanced pair rates of phonon
scattering and tunnelling (:mod:`.detailed_balance`), Gamma_P^{0 j} the phonon
rates out of the Q = 0 state (formation: polarization-to-population transfer)
and f_lc = Q_lc^2 / Delta(Q^2) the light-cone part of the first shell (radiative
decay from Q ~ 0 only).  Every column of W^T - diag(sum W) sums to zero, so the
total density changes only through the source and the radiative term.  The
system is propagated exactly by the exponential integrator of :mod:`.propagation`
(:func:`simulate`); scipy's stiff BDF (:func:`solve_occupations`) is the independent
reference it is tested against.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.integrate import solve_ivp
from scipy.interpolate import CubicHermiteSpline
from scipy.optimize import brentq
from scipy.special import erfc, erfcx

from . import propagation
from .detailed_balance import detailed_balance
from .phonon_rates import PhononMode, phonon_pair_rates
from .states import Exciton, QShells, light_cone
from .tunnelling import tunnelling_pair_rates

__all__ = ["Tunnelling", "KineticsModel", "Pulse", "pair_rate_rows", "generator", "polarization_rates",
           "coherent_amplitude", "solve_occupations", "Trajectory", "simulate", "formation_time"]


@dataclass(frozen=True)
class Tunnelling:
    """Seed 001 tunnelling parameters: V_z (meV), <u|u>_uc, L_C (nm)."""

    V_z: float
    cell_overlap: float
    correlation_length: float


@dataclass(frozen=True)
class KineticsModel:
    """Everything the rate equations need besides the temperature and the pump.

    species: the exciton species (index ``pumped`` is driven at Q = 0); shells: the
    shared momentum shells; form_factors[s]: F(|p|) of species s; overlaps[(a, b)]:
    O_ab(|p|) for species connected by tunnelling (a < b); modes[s]: phonon modes of
    species s; radiative[s]: gamma_r (1/ps, amplitude rate; populations decay at
    2 gamma_r); hwhm: broadening of energy conservation (meV); beta: its gennorm shape.
    """

    species: tuple[Exciton, ...]
    shells: QShells
    form_factors: tuple[Callable, ...]
    overlaps: Mapping[tuple[int, int], Callable]
    modes: tuple[tuple[PhononMode, ...], ...]
    tunnelling: Tunnelling
    radiative: tuple[float, ...]
    pumped: int = 0
    hwhm: float = 1.0
    beta: float = 2.0
    n_angles: int = 48

    @property
    def n_states(self) -> int:
        return len(self.species) * self.shells.n

    def energies(self) -> np.ndarray:
        """Shell energies of all species, concatenated (n_species * n_shells,), meV."""
        return np.concatenate([self.shells.energies(s) for s in self.species])

    def light_cone_fraction(self) -> np.ndarray:
        """f_lc of each species: light-cone area / area of the first shell (<= 1)."""
        d = float(self.shells.q2_edges[1])
        return np.array([min(1.0, light_cone(s) ** 2 / d) for s in self.species])


def pair_rate_rows(model: KineticsModel, T_K: float, rows: Sequence[int]) -> np.ndarray:
    """Raw pair-rate densities r[rows, :] (nm^2/ps) of phonon scattering within each species and
    tunnelling between species; each row is computed on its own (a block distribution of rows
    over ranks gives bit-identical tables); no self-scattering term (it cancels in Eq. 3)."""
    rows = np.asarray(list(rows), dtype=int)
    n = model.shells.n
    out = np.zeros((rows.size, model.n_states))
    q, E = model.shells.q, [model.shells.energies(x) for x in model.species]
    tp = model.tunnelling
    for s, a in enumerate(model.species):
        sel = np.nonzero(rows // n == s)[0]
        if sel.size == 0:
            continue
        i = rows[sel] % n
        out[sel, s * n:(s + 1) * n] = phonon_pair_rates(q[i], E[s][i], q, E[s], a, model.form_factors[s],
                                                        model.modes[s], T_K, model.hwhm, model.beta, model.n_angles)
        for (x, y), overlap in model.overlaps.items():
            if s in (x, y):
                t = y if s == x else x
                out[sel, t * n:(t + 1) * n] = tunnelling_pair_rates(
                    q[i], E[s][i], q, E[t], a, model.species[t], overlap, tp.V_z, tp.cell_overlap,
                    tp.correlation_length, model.hwhm, model.beta, model.n_angles)
    out[np.arange(rows.size), rows] = 0.0
    return out


def generator(model: KineticsModel, r: np.ndarray, T_K: float, radiative: bool = True) -> np.ndarray:
    """G (1/ps, (N, N)) of dn/dt = G n from the full raw pair table r (N, N)."""
    W = detailed_balance(r, model.energies(), T_K) * model.shells.weight
    G = W.T.copy()
    G[np.diag_indices_from(G)] -= W.sum(axis=1)
    if radiative:
        n = model.shells.n
        for s, (g, f) in enumerate(zip(model.radiative, model.light_cone_fraction())):
            G[s * n, s * n] -= 2.0 * g * f
    return G


def polarization_rates(model: KineticsModel, T_K: float) -> np.ndarray:
    """Gamma_P^{0 j} (1/ps, (N,)): phonon rates from the Q = 0 state of the pumped species."""
    s = model.pumped
    a = model.species[s]
    n = model.shells.n
    out = np.zeros(model.n_states)
    out[s * n:(s + 1) * n] = model.shells.weight * phonon_pair_rates(
        0.0, a.energy, model.shells.q, model.shells.energies(a), a, model.form_factors[s], model.modes[s],
        T_K, model.hwhm, model.beta, model.n_angles)
    return out


@dataclass(frozen=True)
class Pulse:
    """Gaussian pump Omega(t) = Omega0 exp(-(t - t0)^2 / 2 sigma^2) resonant with the pumped species.

    center (ps), fwhm (ps) of the intensity |Omega|^2, density (nm^-2): the coherent
    density (Omega0 sigma sqrt(2 pi))^2 the pulse would create without any decay.
    """

    center: float = 0.5
    fwhm: float = 0.1
    density: float = 1e-3

    @property
    def sigma(self) -> float:
        return self.fwhm / (2.0 * math.sqrt(math.log(2.0)))

    @property
    def amplitude(self) -> float:
        """Omega0 (nm^-1 ps^-1)."""
        return math.sqrt(self.density) / (self.sigma * math.sqrt(2.0 * math.pi))

    def omega(self, t):
        t = np.asarray(t, dtype=float)
        return self.amplitude * np.exp(-0.5 * ((t - self.center) / self.sigma) ** 2)


def coherent_amplitude(t, pulse: Pulse, kappa: float) -> np.ndarray:
    """Exact p(t) of dp/dt = Omega(t) - kappa p, p(-inf) = 0 (nm^-1); t in ps, kappa in 1/ps.

    p = Omega0 sigma sqrt(pi/2) exp(-tau^2/2 sigma^2) erfcx(y) with tau = t - t0 and
    y = (kappa sigma^2 - tau)/(sqrt(2) sigma) (exponentially modified Gaussian), evaluated
    as exp(kappa^2 sigma^2/2 - kappa tau) erfc(y) for y < 0 to avoid overflow.
    """
    tau = np.asarray(t, dtype=float) - pulse.center
    s = pulse.sigma
    y = (kappa * s * s - tau) / (math.sqrt(2.0) * s)
    pref = pulse.amplitude * s * math.sqrt(0.5 * math.pi)
    pos = pref * np.exp(-0.5 * (tau / s) ** 2) * erfcx(np.maximum(y, 0.0))
    neg = pref * np.exp(np.minimum(0.5 * (kappa * s) ** 2 - kappa * tau, 700.0)) * erfc(np.minimum(y, 0.0))
    return np.where(y >= 0.0, pos, neg)


def solve_occupations(G: np.ndarray, n0: np.ndarray, t_eval: np.ndarray, source: Callable | None = None,
                      breaks: Sequence[float] = (), max_step_first: float = np.inf,
                      rtol: float = 1e-8, atol: float = 1e-14):
    """Integrate dn/dt = G n + source(t) with BDF (exact Jacobian G) from t_eval[0]: the
    adaptive reference for :func:`simulate`'s exponential integrator.

    ``breaks`` split the interval (the first piece uses ``max_step_first``, e.g. to
    resolve a pump pulse).  Returns (n at t_eval (N, nt), list of OdeSolution pieces
    with their end times).
    """
    t_eval = np.asarray(t_eval, dtype=float)
    edges = [t_eval[0], *[b for b in breaks if t_eval[0] < b < t_eval[-1]], t_eval[-1]]
    G = sparse.csc_matrix(G)   # off-shell pairs are exact zeros: G is banded in energy
    fun = (lambda t, y: G @ y) if source is None else (lambda t, y: G @ y + source(t))
    y = np.asarray(n0, dtype=float)
    out = np.empty((y.size, t_eval.size))
    pieces = []
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        sel = (t_eval >= a) & ((t_eval < b) if k < len(edges) - 2 else (t_eval <= b))
        sol = solve_ivp(fun, (a, b), y, method="BDF", jac=G, t_eval=t_eval[sel], dense_output=True,
                        rtol=rtol, atol=atol, max_step=max_step_first if k == 0 else np.inf)
        if not sol.success:
            raise RuntimeError(f"rate equations: {sol.message}")
        out[:, sel] = sol.y
        y = sol.sol(b)
        pieces.append((b, sol.sol))
    return out, pieces


@dataclass
class Trajectory:
    """Solution of one (T, Delta E) point: time (ps), |P|^2 and densities (nm^-2).

    density[s, i, t] per shell; ``rate[s, t]`` the time derivative of the species
    density (nm^-2/ps), which makes the cubic Hermite interpolation between output
    samples (:func:`formation_time`) accurate to O(dt^4).
    """

    time: np.ndarray
    coherent: np.ndarray        # (nt,) |P|^2 of the pumped species
    density: np.ndarray         # (n_species, n_shells, nt)
    rate: np.ndarray            # (n_species, nt)
    kappa: float                # 1/ps
    gamma_p: float              # sum_j Gamma_P^{0 j}, 1/ps

    def species_density(self, s: int) -> np.ndarray:
        return self.density[s].sum(axis=0)


def simulate(model: KineticsModel, G: np.ndarray, gamma_P: np.ndarray, pulse: Pulse, t_end: float,
             n_out: int, pump_step: float = 0.01) -> Trajectory:
    """Solve Eqs. 2-3 from rest on n_out uniform times of [0, t_end] (ps) for the generator G and
    rates Gamma_P (exponential integrator, :mod:`.propagation`; pump substeps <= pump_step ps)."""
    kappa = model.radiative[model.pumped] + 0.5 * float(gamma_P.sum())
    t = np.linspace(0.0, t_end, n_out)

    def profile(time):
        return coherent_amplitude(time, pulse, kappa) ** 2

    n = propagation.evolve(G, np.zeros(model.n_states), t, gamma_P, profile, pulse.center + 8.0 * pulse.sigma,
                           2.0 * kappa, pump_step)
    p2 = profile(t)
    rate = propagation.species_rates(G, n, len(model.species), gamma_P, p2)
    shape = (len(model.species), model.shells.n, t.size)
    return Trajectory(t, p2, n.reshape(shape), rate, kappa, float(gamma_P.sum()))


def formation_time(traj: Trajectory, species: int, pump_center: float) -> float:
    """Seed 001 definition: time from the pump maximum until the density of ``species`` first
    reaches (1 - 1/e) of its maximum over the simulated window (ps); NaN if never, or if the output
    grid does not resolve it (the crossing interval starts before the pump maximum: output spacing
    longer than the formation).  The crossing is located on the cubic Hermite interpolant of the
    samples and their derivatives."""
    dens = traj.species_density(species)
    target = (1.0 - math.exp(-1.0)) * float(dens.max())
    above = np.nonzero(dens >= target)[0]
    if target <= 0.0 or above.size == 0 or above[0] == 0 or traj.time[above[0] - 1] < pump_center:
        return math.nan
    k = int(above[0])
    t0, t1 = float(traj.time[k - 1]), float(traj.time[k])
    spline = CubicHermiteSpline([t0, t1], dens[k - 1:k + 1] - target, traj.rate[species, k - 1:k + 1])
    return brentq(spline, t0, t1, xtol=1e-12) - pump_center
