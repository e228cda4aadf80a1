"""Exciton species of a heterobilayer from the Wannier equation, and the kinetics model built on them.

The relative-motion 1s states come from :mod:`hpcx.physics.wannier` (in process,
:func:`solve_species`) or from a ``wannier`` run file (the caller reads phi(r)); either
way the form factors and overlaps are Hankel transforms of phi(r) (:mod:`.overlaps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hpcx.physics import wannier

from .dynamics import KineticsModel, Tunnelling
from .overlaps import RadialTable, overlap_tables
from .phonon_rates import exciton_modes
from .states import Exciton, QShells

__all__ = ["SpeciesInput", "solve_species", "radial_grid", "RadialTables", "radial_tables", "build_model",
           "tunnelling_pairs"]


@dataclass(frozen=True)
class SpeciesInput:
    """One species before the band offset is applied: layers, masses (m0), quasiparticle gap and
    1s binding energy (meV), 1s radial wavefunction phi(r) (1/nm) on r (nm)."""

    name: str
    electron_layer: int
    hole_layer: int
    m_e: float
    m_h: float
    gap: float
    binding: float
    r: np.ndarray
    phi_r: np.ndarray

    def exciton(self, gap_shift: float = 0.0) -> Exciton:
        """The species with band bottom gap + gap_shift - binding (meV)."""
        return Exciton(self.name, self.gap + gap_shift - self.binding, self.m_e, self.m_h,
                       self.electron_layer, self.hole_layer)


def radial_grid(r_max: float = 40.0, n: int = 4001) -> np.ndarray:
    """Radial grid (nm) for the Hankel transforms of 1s states (Bohr radii ~ 1-2 nm)."""
    return np.linspace(0.0, r_max, n)


def solve_species(stack, name: str, electron_layer: int, hole_layer: int, m_e: float, m_h: float,
                  gap_meV: float, r_nm: np.ndarray | None = None) -> SpeciesInput:
    """1s state of one species in the dielectric ``stack`` (physics.screening.LayeredDielectric)."""
    mu = m_e * m_h / (m_e + m_h)
    res = wannier.solve_wannier(mu, lambda q: stack.epsilon(q, electron_layer, hole_layer), ("1s",))
    r = radial_grid() if r_nm is None else np.asarray(r_nm, dtype=float)
    return SpeciesInput(name, electron_layer, hole_layer, m_e, m_h, gap_meV, float(res.binding_energy_meV[0]),
                        r, res.phi_r("1s", r))


def tunnelling_pairs(excitons) -> list[tuple[int, int]]:
    """Index pairs (a < b) of species (anything with electron_layer, hole_layer) that differ by the
    layer of exactly one carrier."""
    out = []
    for a in range(len(excitons)):
        for b in range(a + 1, len(excitons)):
            x, y = excitons[a], excitons[b]
            if (x.electron_layer == y.electron_layer) != (x.hole_layer == y.hole_layer):
                out.append((a, b))
    return out


@dataclass(frozen=True)
class RadialTables:
    """Form factors F_s(|p|) of every species and overlaps O_ab(|p|) of every tunnelling pair (a < b):
    independent of the temperature and the band offset, so one set serves a whole sweep."""

    forms: tuple[RadialTable, ...]
    overlaps: dict


def radial_tables(inputs: Sequence[SpeciesInput], p_max: float = 40.0) -> RadialTables:
    """The :class:`RadialTables` of ``inputs`` (all phi(r) put on the radial grid of species 0)."""
    r = inputs[0].r
    phi = [np.interp(r, s.r, s.phi_r, right=0.0) for s in inputs]
    pairs = tunnelling_pairs(inputs)
    tables = overlap_tables(r, [(f, f) for f in phi] + [(phi[a], phi[b]) for a, b in pairs], p_max)
    return RadialTables(tuple(tables[:len(inputs)]), dict(zip(pairs, tables[len(inputs):])))


def build_model(inputs: Sequence[SpeciesInput], gap_shifts: Sequence[float], shells: QShells, layer_phonons,
                tunnelling: Tunnelling, radiative: Sequence[float], hwhm: float, beta: float = 2.0,
                n_angles: int = 48, tables: RadialTables | None = None) -> KineticsModel:
    """The :class:`KineticsModel` of ``inputs`` (species 0 is pumped); gap_shifts in meV per species;
    ``tables`` from :func:`radial_tables` (computed here if not given)."""
    excitons = tuple(s.exciton(d) for s, d in zip(inputs, gap_shifts))
    tables = radial_tables(inputs) if tables is None else tables
    modes = tuple(tuple(exciton_modes(x, layer_phonons)) for x in excitons)
    return KineticsModel(excitons, shells, tables.forms, tables.overlaps, modes, tunnelling, tuple(radiative),
                         0, hwhm, beta, n_angles)
