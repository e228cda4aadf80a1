"""Born-Markov exciton-phonon pair rates on isotropic momentum shells (seed 001 Eq. 3, N^scatt).

Golden rule with the exciton vertex of seed 000 SI Eq. 2 (``physics.phonons.exciton_vertex``)
and the couplings of SI Eq. 3 (``physics.phonons.coupling_g2A``):

    r_ij = (2 pi / hbar) < A|g(q)|^2 [(n + 1) L(E_j - E_i + Omega) + n L(E_j - E_i - Omega)] >_theta

with q = |Q_j - Q_i| at angle theta, Omega = hbar v q (Debye; LA, TA) or const
(Einstein; Gamma optical), n the Bose occupation and L the generalized-normal
broadening of ``physics.phonons.gennorm_pdf`` (HWHM ``hwhm``).  Each carrier
couples to the phonons of its own layer: an intralayer exciton sees one vertex
D_e F(beta q) - D_h F(alpha q) per mode of its layer; an interlayer exciton sees
the electron's layer (D_h -> 0) and the hole's layer (D_e -> 0) as separate modes.
``D_h`` is the valence-band element (hpcx/materials/phonons.toml).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcx import _kernels

from .detailed_balance import angle_nodes, broadening_cutoff
from .states import Exciton

__all__ = ["PhononMode", "layer_modes", "exciton_modes", "mode_arrays", "phonon_pair_rates"]

@dataclass(frozen=True)
class PhononMode:
    """One phonon branch of one layer coupled to an exciton.

    kind 'debye' (D~ = D1 q, Omega = hbar v q; ``value`` = v in nm/ps) or 'einstein'
    (D~ = D0, Omega = ``value`` in meV).  D_e, D_h: electron and valence elements
    (meV for Debye, meV/nm for Einstein) already zeroed for a carrier in another
    layer; rho: surface mass density of the layer (m0/nm^2).
    """

    name: str
    kind: str
    value: float
    D_e: float
    D_h: float
    rho: float


def layer_modes(ph) -> list[tuple[str, str, float, float, float]]:
    """(name, kind, value, D_e, D_h) of the intravalley modes of one layer's
    :class:`hpcx.materials.phonons.PhononParams` (branches with zero coupling dropped)."""
    out = [(f"{ph.name} LA", "debye", ph.v_LA, ph.D1_LA_e, ph.D1_LA_h),
           (f"{ph.name} TA", "debye", ph.v_TA, ph.D1_TA_e, ph.D1_TA_h),
           (f"{ph.name} optical", "einstein", ph.E_opt, ph.D0_opt_e, ph.D0_opt_h)]
    return [m for m in out if m[3] != 0.0 or m[4] != 0.0]


def exciton_modes(exciton: Exciton, layer_params) -> list[PhononMode]:
    """Modes seen by ``exciton``; layer_params[l] = PhononParams of layer l."""
    modes = []
    for layer, ph in enumerate(layer_params):
        if layer not in (exciton.electron_layer, exciton.hole_layer):
            continue
        for name, kind, value, d_e, d_h in layer_modes(ph):
            d_e = d_e if exciton.electron_layer == layer else 0.0
            d_h = d_h if exciton.hole_layer == layer else 0.0
            if d_e != 0.0 or d_h != 0.0:
                modes.append(PhononMode(name, kind, value, d_e, d_h, ph.rho))
    return modes


def mode_arrays(modes):
    """(kind, value, D_e, D_h, rho) arrays of ``modes`` for the rate kernel (kind 0 Debye, 1 Einstein)."""
    kind = np.array([0 if m.kind == "debye" else 1 for m in modes], dtype=np.int64)
    cols = [np.array([getattr(m, k) for m in modes], dtype=float) for k in ("value", "D_e", "D_h", "rho")]
    return (kind, *cols)


def phonon_pair_rates(q_from, E_from, q_to, E_to, exciton: Exciton, form_factor, modes, T_K: float,
                      hwhm: float, beta: float = 2.0, n_angles: int = 48) -> np.ndarray:
    """Pair-rate densities r (nm^2/ps) from states (|Q| = q_from, energy E_from) to shells q_to.

    q_from, E_from: scalars or (n_from,); q_to, E_to: (n,) 1/nm and meV; form_factor: the
    :class:`~.overlaps.RadialTable` F(|p|) of the exciton's 1s state; modes:
    :func:`exciton_modes`.  Returns (n,) for a scalar state, else (n_from, n).  Computed by
    the kernel ``kinetics_rates`` (``hpcx._kernels``).
    """
    scalar = np.ndim(q_from) == 0
    q_from, E_from = np.atleast_1d(np.asarray(q_from, dtype=float)), np.atleast_1d(np.asarray(E_from, dtype=float))
    q_to, E_to = np.ascontiguousarray(q_to, dtype=float), np.ascontiguousarray(E_to, dtype=float)
    if not modes:
        out = np.zeros((q_from.size, q_to.size))
    else:
        out = _kernels.load("kinetics_rates").phonon_rates(
            q_from, E_from, q_to, E_to, angle_nodes(n_angles), form_factor.values, form_factor.p_max,
            *mode_arrays(modes), exciton.m_e, exciton.m_h, float(T_K), hwhm, beta, broadening_cutoff(hwhm, beta))
    return out[0] if scalar else out
