"""Exciton-phonon coupling, golden-rule rates, self-consistent dephasing, RTA diffusion.

Physics only (no files, no configs), vectorised NumPy.  Units: meV, nm, ps, m0, K.
Conventions (seed 000 SI Eqs. 2-3 and 23-24; docs/theory/phonons.md):

* Phonons: acoustic Debye ``Omega = hbar v q``; optical and intervalley Einstein
  ``Omega = const``.
* Carrier-phonon element (SI Eq. 3) ``|g_q|^2 = hbar^2 Dt^2 / (2 rho A Omega)`` with
  ``Dt = D1 q`` (intravalley TA/LA) or ``Dt = D0`` (optical, intervalley).  Functions
  return the area-normalised ``g2A = A |g_q|^2`` in meV^2 nm^2, because sums over
  final states become ``sum_q -> A int d^2q / (2 pi)^2`` and A cancels.  With rho in
  m0/nm^2, ``hbar^2 / m0 = 2 HBAR2_2M0_MEV_NM2``, hence ``g2A = H Dt^2 / (rho Omega)``.
* Exciton vertex (SI Eq. 2): ``Dt_X = Dt_e F(beta (q + s Q)) - Dt_h F(-alpha (q + s Q))``,
  ``alpha = m_e/M``, ``beta = m_h/M`` of the initial exciton, ``s = 1 - M_f/M_i`` the
  mass imbalance (0 for intravalley).  ``Dt_h`` is the valence-band element (a hole is
  a missing valence electron): equal conduction and valence shifts leave the gap and
  hence a point-like exciton unchanged.  For the interlayer exciton the electron and
  the hole couple to phonons of different layers, i.e. to different modes: call the
  vertex once per mode with the other carrier's element set to 0 (no interference).
* Rates (Fermi's golden rule): ``W_if = (2 pi / hbar) g2A w_f [(n+1) L(E_f - E_i + Omega)
  + n L(E_f - E_i - Omega)]`` with ``w_f = d^2k_f / (2 pi)^2`` (1/nm^2) and L a
  normalised broadening (1/meV).  Dephasing (SI Eq. 24) ``Gamma_i = (hbar/2) sum_f W_if``
  (meV); out-scattering rate ``2 Gamma_i / hbar`` (1/ps); ``tau_i = hbar / (2 Gamma_i)``.
* Broadening: generalised normal distribution (scipy.stats.gennorm), shape ``beta``,
  whose half width at half maximum is the Lorentzian width ``Gamma_i + Gamma_f`` of SI
  Eq. 24 it replaces (scale ``sigma = hwhm / (ln 2)^(1/beta)``).  It is even in its
  argument, so emission i->f and absorption f->i share it exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gamma as _gamma_fn
from scipy.special import gammainc

from hpcx.errors import ConvergenceError
from hpcx.units import HBAR2_2M0_MEV_NM2 as _H
from hpcx.units import HBAR_MEV_PS as _HBAR
from hpcx.units import KB_MEV_PER_K as _KB

__all__ = [
    "bose", "debye_energy", "einstein_energy", "coupling_g2A", "exciton_vertex",
    "gennorm_pdf", "gennorm_cdf", "hwhm_to_scale", "Channel", "k_grid", "dephasing",
    "transition_rates", "self_consistent_dephasing", "enforce_detailed_balance",
    "einstein_rate_parabolic", "acoustic_rate_equipartition", "acoustic_rate_exact",
    "rta_diffusion", "ValleyGrid", "multivalley_grid", "multivalley_channels",
]


# --------------------------------------------------------------------------- phonons
def bose(omega_meV, T_K):
    """Bose-Einstein occupation n = 1/(exp(Omega/kT) - 1); 0 at T = 0.  Shape of omega."""
    omega = np.asarray(omega_meV, dtype=float)
    if T_K <= 0.0:
        return np.zeros_like(omega)
    with np.errstate(over="ignore", divide="ignore"):
        return 1.0 / np.expm1(omega / (_KB * T_K))


def debye_energy(q_nm, v_nm_ps):
    """Acoustic phonon energy hbar v q (meV); q in 1/nm, v in nm/ps."""
    return _HBAR * v_nm_ps * np.abs(np.asarray(q_nm, dtype=float))


def einstein_energy(q_nm, energy_meV):
    """Dispersionless (optical / zone-boundary) phonon energy, shape of q (meV)."""
    return np.full_like(np.asarray(q_nm, dtype=float), energy_meV)


def coupling_g2A(dtilde, rho_m0_nm2, omega_meV):
    """Area-normalised carrier-phonon element A |g|^2 = hbar^2 Dt^2/(2 rho Omega), meV^2 nm^2.

    dtilde: Dt in meV (D1 q with D1 in meV and q in 1/nm, or D0 in meV/nm ... times the
    exciton form factors); rho in m0/nm^2; omega in meV (> 0).  Broadcasts.
    """
    dt = np.asarray(dtilde)
    return _H * np.abs(dt) ** 2 / (rho_m0_nm2 * np.asarray(omega_meV, dtype=float))


def exciton_vertex(q_vec, D_e, D_h, form_factor: Callable, m_e: float, m_h: float,
                   Q_vec=None, s: float = 0.0):
    """Exciton vertex Dt_e F(beta (q + s Q)) - Dt_h F(-alpha (q + s Q)) (SI Eq. 2).

    q_vec: phonon momentum (small part), shape (..., 2), 1/nm.  D_e, D_h: carrier
    elements Dt (meV or meV/nm), broadcastable to q_vec[..., 0].  form_factor: callable
    F(|p|) of the exciton (isotropic, F(0) = 1), e.g. ``WannierResult.form_factor``
    bound to a state.  m_e, m_h: masses (m0) of the initial exciton; Q_vec: its
    centre-of-mass momentum (needed only for s != 0); s = 1 - M_f/M_i.
    """
    p = np.asarray(q_vec, dtype=float)
    if s != 0.0:
        p = p + s * np.asarray(Q_vec, dtype=float)
    pabs = np.linalg.norm(p, axis=-1)
    M = m_e + m_h
    return D_e * form_factor(m_h / M * pabs) - D_h * form_factor(m_e / M * pabs)


# ----------------------------------------------------------------------- broadening
def hwhm_to_scale(hwhm, beta: float):
    """gennorm scale sigma whose half width at half maximum is ``hwhm``."""
    return np.asarray(hwhm, dtype=float) / np.log(2.0) ** (1.0 / beta)


def gennorm_pdf(x, hwhm, beta: float = 2.0):
    """Generalised normal density beta/(2 sigma Gamma(1/beta)) exp(-(|x|/sigma)^beta), 1/meV.

    Equals scipy.stats.gennorm.pdf(x, beta, scale=sigma); beta = 2 is a Gaussian with
    standard deviation sigma/sqrt(2), beta = 1 a Laplace distribution.
    """
    sigma = hwhm_to_scale(hwhm, beta)
    return beta / (2.0 * sigma * _gamma_fn(1.0 / beta)) * np.exp(-(np.abs(x) / sigma) ** beta)


def gennorm_cdf(x, hwhm, beta: float = 2.0):
    """Cumulative distribution of :func:`gennorm_pdf` (broadened step function)."""
    x = np.asarray(x, dtype=float)
    sigma = hwhm_to_scale(hwhm, beta)
    return 0.5 + 0.5 * np.sign(x) * gammainc(1.0 / beta, (np.abs(x) / sigma) ** beta)


# ------------------------------------------------------------------ discrete tables
@dataclass(frozen=True)
class Channel:
    """One phonon mode on a discrete set of states.

    g2w: area-normalised coupling times the final-state weight, A |g|^2 d^2k_f/(2 pi)^2,
    meV^2, shape (n_i, n_f).  omega: phonon energy for each pair (meV), broadcastable
    to (n_i, n_f).  For detailed balance both must be symmetric under i <-> f (true for
    couplings that depend on |k_f - k_i| with equal final weights).
    """

    g2w: np.ndarray
    omega: np.ndarray
    name: str = ""


def k_grid(k_max: float, n: int):
    """Uniform n x n grid on [-k_max, k_max]^2 (cell centres): k (n^2, 2) 1/nm, weight d^2k/(2 pi)^2."""
    dk = 2.0 * k_max / n
    ax = -k_max + dk * (np.arange(n) + 0.5)
    kx, ky = np.meshgrid(ax, ax, indexing="ij")
    return np.stack([kx.ravel(), ky.ravel()], axis=-1), dk * dk / (2.0 * np.pi) ** 2


def _widths(gamma, width_min):
    g = np.asarray(gamma, dtype=float)
    return np.maximum(g[:, None] + g[None, :], width_min)


def _emission_absorption(E_i, E_f, ch: Channel, T, width, beta):
    dE = E_f[None, :] - E_i[:, None]
    n = bose(ch.omega, T)
    em = ch.g2w * (n + 1.0) * gennorm_pdf(dE + ch.omega, width, beta)
    ab = ch.g2w * n * gennorm_pdf(dE - ch.omega, width, beta)
    return em, ab


def transition_rates(E, channels: Sequence[Channel], T, gamma, beta: float = 2.0,
                     width_min: float = 0.0, split: bool = False):
    """Golden-rule rates W[i, f] (1/ps) between states of energy E (meV, shape (n,)).

    Broadening HWHM max(Gamma_i + Gamma_f, width_min) (meV).  With ``split=True`` returns
    (W_emission, W_absorption) summed over channels, else their sum.
    """
    E = np.asarray(E, dtype=float)
    width = _widths(gamma, width_min)
    em = np.zeros((E.size, E.size))
    ab = np.zeros_like(em)
    for ch in channels:
        e, a = _emission_absorption(E, E, ch, T, width, beta)
        em += e
        ab += a
    pref = 2.0 * np.pi / _HBAR
    return (pref * em, pref * ab) if split else pref * (em + ab)


def dephasing(E, channels: Sequence[Channel], T, gamma, beta: float = 2.0,
              width_min: float = 0.0):
    """Right-hand side of SI Eq. 24: Gamma_i = (hbar/2) sum_f W_if (meV), shape (n,)."""
    W = transition_rates(E, channels, T, gamma, beta, width_min)
    return 0.5 * _HBAR * W.sum(axis=1)


def self_consistent_dephasing(E, channels: Sequence[Channel], T, beta: float = 2.0,
                              width_min: float = 0.0, gamma0=None, tol: float = 1e-10,
                              max_iter: int = 500, mixing: float = 0.5):
    """Iterate SI Eq. 24 to its fixed point.

    Returns (gamma (meV, shape (n,)), iterations, residual) with residual
    max|Gamma_new - Gamma_old| / max Gamma_new.  The map decreases with Gamma (wider
    resonances are lower), so the damped iteration Gamma <- (1 - mixing) Gamma +
    mixing F(Gamma) converges to its unique fixed point.  ``width_min`` (meV) is a
    numerical floor of the broadening (of the order of the grid's energy spacing) so
    that a discrete grid resolves the resonance; it must be > 0 if gamma0 is 0.
    Raises ConvergenceError when max_iter is reached.
    """
    E = np.asarray(E, dtype=float)
    g = np.zeros(E.size) if gamma0 is None else np.array(gamma0, dtype=float)
    if width_min <= 0.0 and not np.all(g > 0.0):
        raise ValueError("self_consistent_dephasing needs width_min > 0 or gamma0 > 0")
    return damped_fixed_point(lambda gamma: dephasing(E, channels, T, gamma, beta, width_min),
                              g, tol, max_iter, mixing, "self-consistent dephasing")


def damped_fixed_point(update, start, tol, max_iter, mixing, what, progress=None, done=0, after=None):
    """Fixed point of x = update(x) by x <- (1 - mixing) x + mixing update(x).

    Returns (x, iterations, residual) with residual max|new - old| / max|new|;
    raises ConvergenceError (with the residual) after max_iter iterations.
    ``progress`` (optional, with ``update()``) is told about every iteration.
    ``after(x, iterations)`` (optional) is called after every iteration that does not end the
    loop, with the iterate the next one starts from; a run resumed with that ``start`` and
    ``done = iterations`` continues bit for bit as the uninterrupted one.
    """
    x = np.array(start, dtype=float)
    residual = np.inf
    for it in range(done + 1, max_iter + 1):
        new = update(x)
        if progress is not None:
            progress.update()
        scale = max(float(np.max(np.abs(new))), np.finfo(float).tiny)
        residual = float(np.max(np.abs(new - x))) / scale
        x = (1.0 - mixing) * x + mixing * new
        if residual < tol:
            return new, it, residual
        if after is not None and it < max_iter:
            after(x, it)
    raise ConvergenceError(f"{what}: no convergence in {max_iter} iterations "
                           f"(residual {residual:.3e} > tol {tol:.1e})")


def enforce_detailed_balance(W, E, T):
    """Symmetrised table W'_if = sqrt(W_if W_fi) exp(-(E_f - E_i)/(2 kT)) (1/ps).

    W'_if / W'_fi = exp(-(E_f - E_i)/kT) exactly for every pair, so a Boltzmann
    distribution is stationary; on the energy shell (E_f - E_i = -+Omega) W' = W.
    """
    E = np.asarray(E, dtype=float)
    dE = E[None, :] - E[:, None]
    return np.sqrt(W * W.T) * np.exp(-dE / (2.0 * _KB * T))


# ------------------------------------------------------------- analytic references
def einstein_rate_parabolic(E_kin, M, g2A, omega, T, final_offset: float = 0.0,
                            M_final=None, hwhm: float = 0.0, beta: float = 2.0):
    """Total out-scattering rate (1/ps) of a parabolic exciton by one Einstein mode.

    Exact golden rule for a q-independent coupling g2A (meV^2 nm^2; point-like exciton
    or F = 1) into a parabolic band of mass M_final (default M, m0) whose minimum lies
    at final_offset (meV) relative to the initial band minimum:
    ``g2A M_f / (2 H hbar) [(n+1) Th(E - Omega - off) + n Th(E + Omega - off)]``
    with H = hbar^2/(2 m0) (2D density of states M_f/(2 pi hbar^2) times 2 pi/hbar).  With hwhm > 0 the
    step Th is the gennorm CDF, i.e. the same
    broadening as the discrete tables (exact for an unbounded grid).
    """
    Mf = M if M_final is None else M_final
    n = bose(omega, T)
    E = np.asarray(E_kin, dtype=float)
    if hwhm > 0.0:
        step = lambda x: gennorm_cdf(x, hwhm, beta)  # noqa: E731
    else:
        step = lambda x: np.heaviside(x, 0.5)  # noqa: E731
    dos = g2A * Mf / (2.0 * _H * _HBAR)
    return dos * ((n + 1.0) * step(E - omega - final_offset) + n * step(E + omega - final_offset))


def acoustic_rate_equipartition(M, D1, rho, v, T):
    """Quasi-elastic, equipartition (kT >> hbar v q) acoustic rate M D1^2 kT/(hbar^3 rho v^2), 1/ps.

    M in m0, D1 in meV (for the exciton D1 = D1_e - D1_h with F = 1), rho in m0/nm^2,
    v in nm/ps.  Independent of the exciton energy (constant 2D density of states).
    """
    return M * D1 ** 2 * _KB * T / (rho * _HBAR ** 3 * v ** 2)


def acoustic_rate_exact(k, M, v, rho, T, vertex2: Callable, n_phi: int = 4096):
    """Out-scattering rate (1/ps) by one Debye branch with exact kinematics and Bose factors.

    State |k| (1/nm) of a parabola E = H k^2 / M.  vertex2(q) = |Dt_X(q)|^2 in meV^2
    (e.g. (D1 q)^2 (F_e - F_h)^2).  The delta function is solved in |q| for each
    angle phi between k and q; the phi integral uses the midpoint rule on n_phi points.
    """
    c = _H / M
    phi = (np.arange(n_phi) + 0.5) * 2.0 * np.pi / n_phi
    cos = np.cos(phi)
    q0 = _HBAR * v / c
    total = 0.0
    for sign in (+1.0, -1.0):  # emission (k' = k - q), absorption (k' = k + q)
        q = sign * (2.0 * k * cos - q0)
        ok = q > 0.0
        q = q[ok]
        om = _HBAR * v * q
        n = bose(om, T)
        occ = n + 1.0 if sign > 0 else n
        jac = np.abs(c * (2.0 * q - sign * 2.0 * k * cos[ok]) + sign * _HBAR * v)
        g2A = _H * vertex2(q) / (rho * om)
        total += np.sum(q * g2A * occ / jac) * (2.0 * np.pi / n_phi)
    return total / (2.0 * np.pi * _HBAR)


# ----------------------------------------------------------------------- transport
def rta_diffusion(E, v, tau, T, weight=None):
    """Relaxation-time diffusion for a Boltzmann distribution (main Eq. 1, SI Eq. 23).

    E (meV, (n,)), v group velocities (nm/ps, (n, 2)), tau (ps, (n,)), weight: state
    measure (degeneracy x k-area; default 1).  N_i = w_i exp(-E_i/kT) / sum.  Returns
    (D, v2_eff, tau_eff): D = (1/2) sum N |v|^2 tau (nm^2/ps; x 0.01 for cm^2/s),
    v2_eff = sum N |v|^2 (nm^2/ps^2), tau_eff = sum N tau (ps) (Fig. 4b,c).
    """
    E = np.asarray(E, dtype=float)
    w = np.ones_like(E) if weight is None else np.asarray(weight, dtype=float)
    b = w * np.exp(-(E - E.min()) / (_KB * T))
    N = b / b.sum()
    v2 = np.sum(np.asarray(v, dtype=float) ** 2, axis=-1)
    tau = np.asarray(tau, dtype=float)
    return 0.5 * np.sum(N * v2 * tau), np.sum(N * v2), np.sum(N * tau)


# --------------------------------------------------------------- multi-valley model
@dataclass(frozen=True)
class ValleyGrid:
    """States of a multi-valley parabolic exciton on one k-grid per valley.

    E (meV), v (nm/ps), k (1/nm, valley-local), valley index per state, names, masses
    (m_e, m_h per valley, m0), weight d^2k/(2 pi)^2 (1/nm^2).
    """

    E: np.ndarray
    v: np.ndarray
    k: np.ndarray
    valley: np.ndarray
    names: tuple
    m_e: np.ndarray
    m_h: np.ndarray
    weight: float


def multivalley_grid(valleys: Mapping, k_max: float, n: int) -> ValleyGrid:
    """Parabolic valleys E = offset + H k^2/M on a common n x n grid; valleys: name -> Valley."""
    k, w = k_grid(k_max, n)
    names = tuple(valleys)
    Es, vs, ks, idx = [], [], [], []
    for i, name in enumerate(names):
        val = valleys[name]
        M = val.m_e + val.m_h
        Es.append(val.offset + _H * np.sum(k ** 2, axis=1) / M)
        vs.append(2.0 * _H / (_HBAR * M) * k)
        ks.append(k)
        idx.append(np.full(len(k), i))
    return ValleyGrid(np.concatenate(Es), np.concatenate(vs), np.concatenate(ks),
                      np.concatenate(idx), names,
                      np.array([valleys[x].m_e for x in names]),
                      np.array([valleys[x].m_h for x in names]), w)


def multivalley_channels(grid: ValleyGrid, ph, form_factor: Callable,
                         intervalley: Mapping | None = None) -> list[Channel]:
    """Channels of a single-layer multi-valley exciton (seed 002): intra- and intervalley.

    ph: :class:`hpcx.materials.phonons.PhononParams` of the layer.  Intravalley: LA and TA
    (Debye, D1_e F(beta q) - D1_h F(alpha q), times q) and the Gamma optical mode (D0_opt).
    intervalley: {(valley_a, valley_b): [(omega_meV, D0_e_meV_per_nm), ...]}: the electron
    changes valley (hole stays at K), vertex D0_e F(beta (q + s Q)) with s = 1 - M_b/M_a,
    applied symmetrically a <-> b.  Channel couplings are symmetric in i <-> f only for
    s = 0; the mass-imbalance factor makes intervalley tables slightly asymmetric.
    """
    k, val = grid.k, grid.valley
    dq = k[None, :, :] - k[:, None, :]
    qabs = np.linalg.norm(dq, axis=-1)
    same = val[:, None] == val[None, :]
    me, mh = grid.m_e[val][:, None], grid.m_h[val][:, None]
    chans = []
    for mode, vs, d1e, d1h in (("LA", ph.v_LA, ph.D1_LA_e, ph.D1_LA_h),
                               ("TA", ph.v_TA, ph.D1_TA_e, ph.D1_TA_h)):
        om = np.where(same & (qabs > 0), debye_energy(qabs, vs), np.inf)
        vert = exciton_vertex(dq, d1e * qabs, d1h * qabs, form_factor, me, mh)
        g2 = np.where(same & (qabs > 0), coupling_g2A(vert, ph.rho, np.where(np.isfinite(om), om, 1.0)), 0.0)
        chans.append(Channel(g2 * grid.weight, np.where(np.isfinite(om), om, 1.0), mode))
    vert = exciton_vertex(dq, ph.D0_opt_e, ph.D0_opt_h, form_factor, me, mh)
    g2 = np.where(same, coupling_g2A(vert, ph.rho, ph.E_opt), 0.0)
    chans.append(Channel(g2 * grid.weight, np.full(g2.shape, ph.E_opt), "opt"))
    for (a, b), modes in (intervalley or {}).items():
        ia, ib = grid.names.index(a), grid.names.index(b)
        pair = ((val[:, None] == ia) & (val[None, :] == ib)) | ((val[:, None] == ib) & (val[None, :] == ia))
        Mi = (grid.m_e + grid.m_h)[val][:, None]
        Mf = (grid.m_e + grid.m_h)[val][None, :]
        s = 1.0 - Mf / Mi
        p = np.linalg.norm(dq + s[..., None] * k[:, None, :], axis=-1)
        F = form_factor(mh / Mi * p)
        for omega, d0 in modes:
            g2 = np.where(pair, coupling_g2A(d0 * F, ph.rho, omega), 0.0)
            chans.append(Channel(g2 * grid.weight, np.full(g2.shape, omega), f"{a}-{b}"))
    return chans
