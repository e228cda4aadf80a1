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

from hpcx.physics import phonons
from hpcx.units import HBAR_MEV_PS as _HBAR

from .detailed_balance import angle_nodes, broadening_cutoff, transfer
from .states import Exciton

__all__ = ["PhononMode", "layer_modes", "exciton_modes", "phonon_pair_rates"]

_Q_FLOOR = 1e-9  # 1/nm: keeps Omega = hbar v q > 0 in the q -> 0 limit (the rate -> 0 there)


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


def _g2A_and_energy(mode: PhononMode, q, exciton: Exciton, form_factor):
    """(A|g|^2 in meV^2 nm^2, Omega in meV) for phonon momenta q (1/nm), any shape."""
    q = np.maximum(q, _Q_FLOOR)
    qvec = np.stack([q, np.zeros_like(q)], axis=-1)
    if mode.kind == "debye":
        omega = phonons.debye_energy(q, mode.value)
        vertex = phonons.exciton_vertex(qvec, mode.D_e * q, mode.D_h * q, form_factor, exciton.m_e, exciton.m_h)
    else:
        omega = phonons.einstein_energy(q, mode.value)
        vertex = phonons.exciton_vertex(qvec, mode.D_e, mode.D_h, form_factor, exciton.m_e, exciton.m_h)
    return phonons.coupling_g2A(vertex, mode.rho, omega), omega


def phonon_pair_rates(q_from, E_from, q_to, E_to, exciton: Exciton, form_factor, modes, T_K: float,
                      hwhm: float, beta: float = 2.0, n_angles: int = 48) -> np.ndarray:
    """Pair-rate densities r (nm^2/ps) from one state (|Q| = q_from, energy E_from) to shells q_to.

    q_to, E_to: (n,) 1/nm and meV; form_factor: F(|p|) of the exciton's 1s state;
    modes: :func:`exciton_modes`.  Returns (n,).
    """
    q_to = np.asarray(q_to, dtype=float)
    dE_all = np.asarray(E_to, dtype=float) - E_from
    cut = broadening_cutoff(hwhm, beta)
    cos = angle_nodes(n_angles)[None, :]
    total = np.zeros(q_to.size)
    for mode in modes:
        # columns that can be on the energy shell (others are exactly 0 at this precision)
        if mode.kind == "debye":
            reach = phonons.debye_energy(q_from + q_to, mode.value) + cut
            near = np.abs(dE_all) <= reach
        else:
            near = np.abs(np.abs(dE_all) - mode.value) <= cut
        if not near.any():
            continue
        q = transfer(q_from, q_to[near][:, None], cos)
        dE = dE_all[near][:, None]
        g2A, omega = _g2A_and_energy(mode, q, exciton, form_factor)
        n = phonons.bose(omega, T_K)
        shape = ((n + 1.0) * phonons.gennorm_pdf(dE + omega, hwhm, beta)
                 + n * phonons.gennorm_pdf(dE - omega, hwhm, beta))
        total[near] += np.mean(g2A * shape, axis=1)
    return 2.0 * np.pi / _HBAR * total
