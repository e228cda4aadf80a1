"""Moiré potential of the interlayer exciton from layer potentials and 1s form factors.

Seed 000 SI Eqs. 4-8.  Units: meV, nm, 1/nm, masses in m0.

Layer potentials.  A band-edge state of one layer feels the other layer's lattice.  At zero
twist the band edge depends only on the lateral displacement of the layers; in a moiré the
displacement varies slowly, and to first shell (SI Eqs. 5-6) the local shift of the band
edge is

    dE_b(r) = sum_n 2 Re[c_b exp(i g_n.r)],   g_n = C3^n g_0,  b = conduction, valence,

with one complex amplitude c_b per band.  At the three C3-symmetric stackings all phases
g_n.r are equal, phi = 0, 2 pi/3, -2 pi/3 (convention below), so the three stacking-resolved
band edges (relative to their mean) determine c_b (they sum to zero by construction):

    dE_b(phi_j) = 6 Re[c_b e^{i phi_j}],    c_b = (1/9) sum_j dE_b(phi_j) e^{-i phi_j}.

In the notation of SI Eq. 6, c = v = alpha_1 + alpha_2 exp(2 pi i kappa/3) (alpha_1, alpha_2 real:
the interaction of the band-edge orbital with the other layer's metal and chalcogen atoms;
kappa = +1 for R, -1 for H stacking) for the electron's layer; the valence band of the hole's
layer enters SI Eq. 8 as conj(v_v), i.e. v_v = conj(c_valence) here.

Which stacking sits at which phase is a choice of origin and orientation of the moiré cell
(a translation permutes the phases cyclically, a reflection swaps 2 pi/3 and -2 pi/3 and
conjugates every c_b): it moves the potential in real space and leaves the band energies
unchanged, as long as the conduction and valence data use the same assignment:

    STACKING_PHASES = {R_h^h: 0, R_h^M: 2 pi/3, R_h^X: -2 pi/3}.

Exciton potential (SI Eq. 8).  The electron sits at R + (m_h/M) r, the hole at R - (m_e/M) r
(R centre of mass, r relative coordinate, M = m_e + m_h); averaging the band shifts over the
1s relative motion |phi(r)|^2 gives the exciton potential's first-shell amplitude

    v1(theta) = c_c F(m_h/M |g|) - c_v F(m_e/M |g|),
    F(q) = int d^2r |phi_1s(r)|^2 exp(i q.r),

so M(r) = sum_n 2 Re[v1 exp(i g_n.r)] (:class:`hpcx.physics.moire.MoirePotential`).  As
|g| -> 0 (small twist) F -> 1 and v1 -> c_c - c_v, the point-particle potential of the
interlayer gap (seed 003 App. II: A = 0, B = 23 meV, v1 = (A - iB)/2).  At larger angles the
moiré wavelength approaches the exciton radius and the amplitude falls: the electron's and
the hole's share are weighted differently (m_h < m_e here), so the split of the gap modulation
between the conduction and the valence band matters (docs/theory/moire_potential.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import wannier as wp
from .moire import MoireGeometry, MoirePotential

__all__ = ["STACKINGS", "STACKING_PHASES", "POTENTIAL_KINDS", "layer_amplitude", "stacking_shifts",
           "amplitude_from_alphas", "alphas_from_amplitude", "LayerPotentials", "form_factor_momenta",
           "exciton_potential", "ExcitonPotentialModel", "modulation_range", "interlayer_1s",
           "hydrogen_1s_form_factor"]

STACKINGS = ("R_h^h", "R_h^M", "R_h^X")
STACKING_PHASES = np.array([0.0, 2.0 * np.pi / 3.0, -2.0 * np.pi / 3.0])

#: how the exciton's moiré amplitude is obtained: with the 1s form factors of SI Eq. 8, or as a
#: point particle (F = 1 at every angle, seed 003 App. II)
POTENTIAL_KINDS = ("form_factor", "point_particle")


def layer_amplitude(band_edges_meV: Sequence[float]) -> complex:
    """First-shell amplitude c (meV) of a band's local shift from its edges at (R_h^h, R_h^M, R_h^X).

    Only differences matter: the mean of the three energies is a uniform shift and drops out.
    """
    e = np.asarray(band_edges_meV, dtype=float)
    if e.shape != (3,):
        raise ValueError(f"need three band edges (R_h^h, R_h^M, R_h^X), got shape {e.shape}")
    return complex(np.sum((e - e.mean()) * np.exp(-1j * STACKING_PHASES)) / 9.0)


def stacking_shifts(c: complex) -> np.ndarray:
    """Band-edge shifts (meV, [3], zero mean) at (R_h^h, R_h^M, R_h^X) of amplitude c: 6 Re[c e^{i phi}]."""
    return 6.0 * np.real(complex(c) * np.exp(1j * STACKING_PHASES))


def amplitude_from_alphas(alpha1: float, alpha2: float, stacking: str = "R") -> complex:
    """SI Eq. 6: c = alpha_1 + alpha_2 exp(2 pi i kappa/3), kappa = +1 (R) or -1 (H); meV."""
    kappa = {"R": 1.0, "H": -1.0}[stacking]
    return complex(alpha1 + alpha2 * np.exp(2j * np.pi * kappa / 3.0))


def alphas_from_amplitude(c: complex, stacking: str = "R") -> tuple[float, float]:
    """Inverse of :func:`amplitude_from_alphas`: real (alpha_1, alpha_2) in meV."""
    kappa = {"R": 1.0, "H": -1.0}[stacking]
    alpha2 = c.imag / (kappa * np.sin(2.0 * np.pi / 3.0))
    return float(c.real - alpha2 * np.cos(2.0 * np.pi / 3.0)), float(alpha2)


@dataclass(frozen=True)
class LayerPotentials:
    """First-shell amplitudes (meV) of the conduction-band shift (electron's layer) and the
    valence-band shift (hole's layer), both as functions of position: dE_b = sum_n 2 Re[c_b e^{i g_n.r}]."""

    conduction: complex
    valence: complex

    @classmethod
    def from_band_edges(cls, conduction_meV: Sequence[float], valence_meV: Sequence[float]) -> LayerPotentials:
        """From the band edges (meV) at (R_h^h, R_h^M, R_h^X) of each band."""
        return cls(layer_amplitude(conduction_meV), layer_amplitude(valence_meV))

    @classmethod
    def from_split(cls, point_particle: MoirePotential, conduction_fraction: float) -> LayerPotentials:
        """Gap modulation v1 = c_c - c_v shared in phase: c_c = s v1, c_v = -(1 - s) v1.

        s = 1: only the conduction band moves; s = 0: only the valence band; s = 0.5: both by
        half, in opposite directions (an interlayer dipole).
        """
        s = float(conduction_fraction)
        return cls(s * point_particle.v1, -(1.0 - s) * point_particle.v1)

    @property
    def conduction_fraction(self) -> float:
        """Share s of the gap modulation carried by the conduction band, Re[c_c/(c_c - c_v)]."""
        return float((self.conduction / (self.conduction - self.valence)).real)

    def point_particle(self) -> MoirePotential:
        """The exciton potential without form factors (F = 1): v1 = c_c - c_v."""
        return MoirePotential(self.conduction - self.valence)

    def exciton(self, form_electron: float, form_hole: float) -> MoirePotential:
        """v1 = c_c F_e - c_v F_h (SI Eq. 8 with v_c = c_c, v_v = conj(c_v))."""
        return MoirePotential.from_layer_potentials(self.conduction, np.conj(self.valence),
                                                    form_electron, form_hole)


def form_factor_momenta(geometry: MoireGeometry, m_e: float, m_h: float) -> tuple[float, float]:
    """(m_h/M |g|, m_e/M |g|) in 1/nm: the arguments of the electron's and the hole's form factor."""
    M = m_e + m_h
    return m_h / M * geometry.g_abs, m_e / M * geometry.g_abs


def exciton_potential(layers: LayerPotentials, geometry: MoireGeometry, form_factor: Callable,
                      m_e: float, m_h: float) -> MoirePotential:
    """Exciton moiré potential at this geometry (twist angle): v1 = c_c F(m_h/M g) - c_v F(m_e/M g).

    form_factor: F(|q|) of the 1s relative motion (q in 1/nm), e.g. from :func:`interlayer_1s`;
    m_e, m_h: the band masses (m0) of the same Wannier problem.
    """
    q_e, q_h = form_factor_momenta(geometry, m_e, m_h)
    return layers.exciton(float(form_factor(q_e)), float(form_factor(q_h)))


def modulation_range(v1: complex) -> float:
    """max M(r) - min M(r) (meV) of the first-shell potential with amplitude v1.

    The extremes of sum_n 2 Re[v1 e^{i g_n.r}] lie where all three phases are equal,
    phi = 0, 2 pi/3, -2 pi/3 (:meth:`hpcx.physics.moire.MoirePotential.depth_meV`).
    """
    values = 6.0 * np.real(complex(v1) * np.exp(1j * STACKING_PHASES))
    return float(values.max() - values.min())


@dataclass(frozen=True)
class ExcitonPotentialModel:
    """The interlayer exciton's first-shell moiré amplitude as a function of the twist angle.

    ``kind``: "form_factor" (SI Eq. 8: the gap modulation ``point_particle`` split between the
    conduction band (share ``conduction_fraction``) and the valence band, each weighted by the
    1s form factor at its momentum) or "point_particle" (``point_particle`` itself at every
    angle, seed 003 App. II); ``m_e``, ``m_h`` (m0): the band masses of the Wannier problem
    whose form factor is used.
    """

    kind: str
    point_particle: MoirePotential
    conduction_fraction: float
    m_e: float
    m_h: float

    def __post_init__(self):
        if self.kind not in POTENTIAL_KINDS:
            raise ValueError(f"unknown potential kind {self.kind!r}; known: {', '.join(POTENTIAL_KINDS)}")
        if not 0.0 <= self.conduction_fraction <= 1.0:
            raise ValueError(f"conduction_fraction {self.conduction_fraction} outside [0, 1]")

    @property
    def layers(self) -> LayerPotentials:
        """Conduction- and valence-band amplitudes of the split gap modulation (meV)."""
        return LayerPotentials.from_split(self.point_particle, self.conduction_fraction)

    @property
    def needs_form_factor(self) -> bool:
        return self.kind == "form_factor"

    def form_factors(self, geometry: MoireGeometry, form_factor: Callable | None) -> tuple[float, float]:
        """(F_e, F_h): the electron's F(m_h/M |g|) and the hole's F(m_e/M |g|); (1, 1) for a point particle."""
        if not self.needs_form_factor:
            return 1.0, 1.0
        if form_factor is None:
            raise ValueError("the form-factor potential needs the 1s form factor F(q)")
        q_e, q_h = form_factor_momenta(geometry, self.m_e, self.m_h)
        return float(form_factor(q_e)), float(form_factor(q_h))

    def at(self, geometry: MoireGeometry, form_factor: Callable | None = None) -> MoirePotential:
        """The exciton potential at this geometry; ``form_factor`` F(|q|) (q in 1/nm) for "form_factor"."""
        if not self.needs_form_factor:
            return self.point_particle
        return self.layers.exciton(*self.form_factors(geometry, form_factor))

    def range_bound(self) -> float:
        """Upper bound (meV) of max M - min M at any angle, without a form factor.

        v1 = c_c F_e - c_v F_h is linear in (F_e, F_h), |F| <= 1 (the Fourier transform of a
        probability density), and the range is a convex function of v1 (a maximum of linear
        functions), so its largest value over [-1, 1]^2 sits at a corner.  For a split in phase
        (the data) this is the point-particle range.
        """
        if not self.needs_form_factor:
            return modulation_range(self.point_particle.v1)
        lay = self.layers
        return max(modulation_range(lay.conduction * fe - lay.valence * fh) for fe in (-1.0, 1.0)
                   for fh in (-1.0, 1.0))


def interlayer_1s(stack, m_e: float, m_h: float, electron_layer: int = 0, hole_layer: int = 1,
                  basis: wp.GaussianBasis | None = None) -> tuple[Callable, float]:
    """1s form factor F(q) (callable, q in 1/nm) and binding energy (meV) of the exciton of a stack.

    ``stack``: :class:`hpcx.physics.screening.LayeredDielectric` (``stack.epsilon(q, l_e, l_h)``),
    the same electrostatics as the ``wannier`` and ``scattering`` workflows, so F depends on the
    environment and the interlayer distance.
    """
    res = wp.solve_wannier(m_e * m_h / (m_e + m_h), lambda q: stack.epsilon(q, electron_layer, hole_layer),
                           ("1s",), basis)
    return (lambda q: res.form_factor("1s", q)), float(res.binding_energy_meV[0])


def hydrogen_1s_form_factor(q, bohr_radius_nm: float):
    """Closed form for the 2D hydrogen 1s state, phi ~ exp(-2r/a_B): F(q) = (1 + (q a_B/4)^2)^(-3/2).

    a_B = 4 pi eps0 eps hbar^2/(mu e^2) is the 3D Bohr radius of the same Coulomb problem
    (2D binding energy 4 Ry*): |phi|^2 ~ exp(-4r/a_B), whose 2D Fourier transform is
    kappa^3/(kappa^2 + q^2)^(3/2) with kappa = 4/a_B.
    """
    x = np.asarray(q, dtype=float) * bohr_radius_nm / 4.0
    return (1.0 + x * x) ** -1.5
