"""Valley-resolved spatiotemporal dynamics at one temperature: cells, rates, source, solvers.

Glue between the model (:mod:`.valley_model`), the rates (:mod:`.valley_rates`), the moment
solver (:mod:`.valley_moments`) and the profile solver (:mod:`.valley_profiles`): plain
values and typed objects in, arrays out.  Units: K, ps, nm, meV; D in nm^2/ps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

from . import valley_moments as vm
from . import valley_profiles as vp
from .valley_cells import make_cells
from .valley_rates import rate_tables
from .valley_source import Pulse, polarization_intensity

__all__ = ["Settings", "Setup", "setup", "formation_window", "groups", "solve_moments_at",
           "solve_profiles_at", "stationary_diffusion", "wannier_form_factor"]


@dataclass(frozen=True)
class Settings:
    """Numerical and excitation settings shared by all temperatures."""

    t_end: float = 150.0
    dt: float = 0.1
    dq: float = 0.01
    energy_window_kT: float = 8.0
    pulse: Pulse = Pulse()
    radiative_decay: bool = True
    intervalley_off_after: float | None = None
    profile_dt: float = 0.5
    profile_dq: float = 0.03
    profile_harmonics: int = 8
    profile_chunk: int = 16
    profile_fine_dt: float = 0.005

    def times(self, dt=None) -> np.ndarray:
        step = self.dt if dt is None else dt
        return np.linspace(0.0, self.t_end, int(round(self.t_end / step)) + 1)


def formation_window(model, T: float) -> float:
    """Largest kinetic energy (meV) at which the pulse creates excitons in any valley (0 if none)."""
    e_b = model.valleys[model.bright].offset
    best = 0.0
    for ch in model.einstein:
        if model.bright in (ch.a, ch.b):
            f = ch.b if ch.a == model.bright else ch.a
            best = max(best, e_b + ch.energy - model.valleys[f].offset)
    for br in model.debye:
        if br.valley == model.bright:
            q0 = _HBAR * br.c * model.valleys[br.valley].mass / _H
            best = max(best, _H * q0 * q0 / model.valleys[br.valley].mass)
    return best


@dataclass(frozen=True)
class Setup:
    """Cells, rate tables, source profile and solver inputs of one temperature and grid."""

    T: float
    cells: object
    tables: object
    f: object
    decay_rate: float
    source_end: float
    segments: list
    groups: np.ndarray


def groups(cells, tables, n_valleys) -> np.ndarray:
    """Weights [valleys + total + PL, cells]: indicator of each valley, all cells, radiative rates."""
    G = np.zeros((n_valleys + 2, cells.n))
    for v in range(n_valleys):
        G[v, cells.of(v)] = 1.0
    G[n_valleys] = 1.0
    G[n_valleys + 1] = tables.radiative
    return G


def setup(model, T: float, s: Settings, dq: float, harmonics: int) -> Setup:
    """Everything the solvers need at temperature T (K) on cells of width dq."""
    window = formation_window(model, T) + s.energy_window_kT * _KB * T
    cells = make_cells(model.valleys, [np.sqrt(window * v.mass / _H) for v in model.valleys], dq)
    tables = rate_tables(model, cells, T, harmonics)
    radiative = model.radiative_rate if s.radiative_decay else 0.0
    if not s.radiative_decay:
        tables = dataclasses.replace(tables, radiative=np.zeros(cells.n))
    decay = float(tables.formation.sum()) + radiative
    f = polarization_intensity(s.pulse, decay)
    segments = [(0.0, vm.kinetics(tables, True, harmonics))]
    if s.intervalley_off_after is not None:
        segments.append((s.intervalley_off_after, vm.kinetics(tables, False, harmonics)))
    return Setup(T, cells, tables, f, decay, s.pulse.end(decay), segments,
                 groups(cells, tables, len(model.valleys)))


def solve_moments_at(model, T: float, s: Settings) -> tuple[vm.MomentTrace, Setup]:
    """Moments of every valley, of the total density and of the PL at ``s.times()``."""
    st = setup(model, T, s, s.dq, 2)
    trace = vm.solve_moments(st.segments, st.f, s.pulse.width2, s.times(), st.groups,
                             source_end=st.source_end, log_z=st.tables.thermal.log_z)
    return trace, st


def solve_profiles_at(model, T: float, s: Settings, k, w) -> vp.ProfileTrace:
    """Fourier components of the valley, total and PL profiles at ``s.times(s.profile_dt)``."""
    st = setup(model, T, s, s.profile_dq, s.profile_harmonics)
    return vp.solve_profiles(st.segments, st.f, s.pulse, s.times(s.profile_dt), k, w, st.groups,
                             source_end=st.source_end, harmonics=s.profile_harmonics,
                             log_z=st.tables.thermal.log_z, chunk=s.profile_chunk, fine_dt=s.profile_fine_dt)


def stationary_diffusion(tables, groups_, intervalley: bool = True) -> np.ndarray:
    """Stationary D (nm^2/ps) of every group for the Boltzmann distribution (no decay).

    With intervalley scattering the whole distribution is one Boltzmann distribution; without,
    each valley is its own.  a solves C1 a = -V p and D = (1/2) sum v a / sum p per group.
    """
    from scipy.sparse.linalg import spsolve
    p = tables.thermal.boltzmann()
    C1 = tables.collision(1, intervalley).tocsc()
    v = tables.thermal.v
    a = spsolve(C1, -v * p)
    num, den = groups_ @ (v * a), groups_ @ p
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 0.5 * num / den, np.nan)


def wannier_form_factor(tmd, environment, m_e: float, m_h: float):
    """1s form factor F(p) of a monolayer exciton between two half-spaces (Wannier equation,
    slab screening) as an interpolating callable, and its binding energy (meV)."""
    from .screening import stack_from_materials
    from .wannier import solve_wannier
    stack = stack_from_materials([tmd], environment, environment, "slab")
    res = solve_wannier(m_e * m_h / (m_e + m_h), lambda q: stack.epsilon(q, 0, 0), ("1s",))
    q = np.linspace(0.0, 60.0, 6001)
    F = res.form_factor("1s", q)
    return (lambda p: np.interp(p, q, F, right=0.0)), float(res.binding_energy_meV[0])
