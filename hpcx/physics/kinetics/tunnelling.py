"""Disorder-assisted interlayer tunnelling of one carrier between exciton species (seed 001 Methods).

Single-particle element (seed 001): T_ab = V_rho(|k_b - k_a|) V_z <u_a|u_b>_uc with
V_rho(k) = sqrt(pi) L_C / (1 + k^2 L_C^2 / 2)^(3/4).  |V_rho|^2 (nm^2) is the Fourier
transform of the exponential correlation exp(-sqrt(2) r / L_C) of a unit-amplitude
disorder potential, so A|T|^2 = V_z^2 |<u|u>|^2 |V_rho|^2 (meV^2 nm^2) plays the role
of A|g|^2 in the phonon rates.

Excitonic element (docs/theory/kinetics.md): when the hole tunnels and the electron
is a spectator, the IaX(Q) -> IeX(Q') element is T(|Q - Q'|) O(|alpha_a Q - alpha_b Q'|)
with O the momentum-shifted overlap of the two relative-motion wavefunctions
(:mod:`.overlaps`) and alpha = m_e/M; when the electron tunnels (hole spectator),
alpha -> beta = m_h/M.  The golden-rule pair rate is

    r_ij = (2 pi / hbar) < A|T(|Q_i - Q_j|)|^2 O(|c_a Q_i - c_b Q_j|)^2 >_theta L(E_j - E_i),

symmetric under a <-> b (the tunnelling Hamiltonian is Hermitian).
"""

from __future__ import annotations

import numpy as np

from hpcx import _kernels

from .detailed_balance import angle_nodes, broadening_cutoff
from .states import Exciton

__all__ = ["disorder_spectrum", "tunnelling_coupling_T2A", "spectator_fractions", "tunnelling_pair_rates"]


def disorder_spectrum(k_nm, correlation_length_nm: float) -> np.ndarray:
    """|V_rho(k)|^2 = pi L_C^2 / (1 + k^2 L_C^2 / 2)^(3/2), nm^2; k in 1/nm."""
    k = np.asarray(k_nm, dtype=float)
    lc = correlation_length_nm
    return np.pi * lc * lc / (1.0 + 0.5 * (k * lc) ** 2) ** 1.5


def tunnelling_coupling_T2A(k_nm, V_z_meV: float, cell_overlap: float, correlation_length_nm: float):
    """A |T(k)|^2 = V_z^2 |<u|u>|^2 |V_rho(k)|^2, meV^2 nm^2."""
    return (V_z_meV * cell_overlap) ** 2 * disorder_spectrum(k_nm, correlation_length_nm)


def spectator_fractions(a: Exciton, b: Exciton) -> tuple[str, float, float]:
    """(tunnelling carrier, c_a, c_b) for species a -> b sharing one carrier's layer.

    The spectator keeps its momentum: c = alpha (= m_e/M) of each species when the
    hole tunnels, beta (= m_h/M) when the electron tunnels.  Raises ValueError if
    a and b share no carrier layer or differ in neither.
    """
    if a.electron_layer == b.electron_layer and a.hole_layer != b.hole_layer:
        return "hole", a.alpha, b.alpha
    if a.hole_layer == b.hole_layer and a.electron_layer != b.electron_layer:
        return "electron", a.beta, b.beta
    raise ValueError(f"{a.name} and {b.name} are not connected by the tunnelling of one carrier")


def tunnelling_pair_rates(q_from, E_from, q_to, E_to, a: Exciton, b: Exciton, overlap, V_z_meV: float,
                          cell_overlap: float, correlation_length_nm: float, hwhm: float,
                          beta: float = 2.0, n_angles: int = 48) -> np.ndarray:
    """Pair-rate densities (nm^2/ps) from states of species a (|Q| = q_from, E_from) to shells of b.

    q_from, E_from: scalars or (n_from,); q_to, E_to (n,) in 1/nm, meV; overlap: the
    :class:`~.overlaps.RadialTable` O_ab(|p|).  Returns (n,) for a scalar state, else
    (n_from, n).  Computed by the kernel ``kinetics_rates`` (``hpcx._kernels``).
    """
    _, ca, cb = spectator_fractions(a, b)
    scalar = np.ndim(q_from) == 0
    q_from, E_from = np.atleast_1d(np.asarray(q_from, dtype=float)), np.atleast_1d(np.asarray(E_from, dtype=float))
    out = _kernels.load("kinetics_rates").tunnelling_rates(
        q_from, E_from, np.ascontiguousarray(q_to, dtype=float), np.ascontiguousarray(E_to, dtype=float),
        angle_nodes(n_angles), overlap.values, overlap.p_max, ca, cb, (V_z_meV * cell_overlap) ** 2,
        correlation_length_nm, hwhm, beta, broadening_cutoff(hwhm, beta))
    return out[0] if scalar else out
