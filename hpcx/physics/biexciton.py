"""Moiré-trapped single excitons and repulsive biexcitons (seed 003 App. II-IV).

Units: meV, nm, 1/nm, masses in m0, temperatures in K.  Energies are
relative to the free interlayer exciton (no moiré potential), as in
hpcx.physics.moire; the trap bottom lies at -U0.

- Harmonic trap (Eqs. 21-22): expansion of the first-shell potential
  M(r) of :class:`hpcx.physics.moire.MoirePotential` around its minimum:
  U0 = -M(r_min), m omega0^2 = curvature of M at r_min.
- Single excitons (Eqs. 25-26): E_nl = hbar omega0 (2n + |l| + 1) - U0.
- Two excitons (Eqs. 30-35): centre of mass = oscillator of mass 2m; relative
  motion in V(r) + m omega0^2 r^2/4 with the dipolar repulsion of Eq. 27,
  solved in the relative-oscillator basis (even l_r, bosons).
  E^(2) = hbar omega0 (N_c + 1) + E^(r) - 2 U0.
- Light (Eqs. 36-40), overlaps and decay amplitudes (Eqs. 43-46), PL
  I = I^(1) + I^(2) in the grand-canonical ensemble of one trap holding 0, 1
  or 2 excitons, lifetime ratio (Eq. 47).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaln

from ..errors import ConvergenceError
from ..units import COULOMB_MEV_NM, HBAR2_2M0_MEV_NM2, KB_MEV_PER_K
from . import oscillator as osc
from .moire import MoireGeometry, rotation

SIGMAS = (1, -1)


# -- trap ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class HarmonicTrap:
    """Harmonic approximation of a moiré potential minimum.

    u0 (meV): depth, M(r_min) = -u0; hbar_omega0 (meV); mass (m0);
    minimum [2] (nm); light [2] (1/nm): K_c - K_v, the exciton momentum
    coupling to normal-incidence light; kv_hat [2]: direction of K_v.
    """

    u0: float
    hbar_omega0: float
    mass: float
    minimum: np.ndarray
    light: np.ndarray
    kv_hat: np.ndarray

    @property
    def kappa(self):
        """Inverse confinement length sqrt(m omega0/hbar) (1/nm)."""
        return float(np.sqrt(self.mass * self.hbar_omega0 / (2.0 * HBAR2_2M0_MEV_NM2)))

    def single_energy(self, n_quanta):
        """E = hbar omega0 (N + 1) - U0 (meV) for N quanta."""
        return self.hbar_omega0 * (np.asarray(n_quanta) + 1.0) - self.u0


def potential_minimum(geometry, potential):
    """Position r_min (nm) of a minimum of a first-shell potential.

    M(r) = sum_n 2 Re[v1 exp(i g_n.r)] with sum_n g_n = 0 is extremal where all
    phases g_n.r equal one phi with 3 phi = 0 mod 2 pi; the minimum takes the
    phi in {0, 2pi/3, 4pi/3} minimising 6 Re[v1 e^(i phi)].
    """
    phis = 2 * np.pi * np.arange(3) / 3.0
    phi = phis[np.argmin(np.real(potential.v1 * np.exp(1j * phis)))]
    g = geometry.g
    return np.linalg.solve(g[:2], np.array([phi, phi]))


def potential_hessian(geometry, potential, r):
    """d^2 M/dr_i dr_j (meV/nm^2) at r [2]: -sum_n 2 Re[v1 e^(i g_n.r)] g_n g_n^T."""
    g = geometry.g
    amp = 2.0 * np.real(potential.v1 * np.exp(1j * (g @ r)))
    return -np.einsum("n,ni,nj->ij", amp, g, g)


def harmonic_trap(geometry, potential, mass_m0):
    """Trap of seed 003 Eqs. 21-22 from the moiré potential itself.

    The Hessian at the minimum is isotropic (C3): m omega0^2 = trace/2; this
    equals Eq. 22, hbar omega0 = hbar (2 pi/a_M) sqrt(2 U0/(3 m)).
    """
    r0 = potential_minimum(geometry, potential)
    u0 = -float(potential.real_space(geometry, r0))
    hess = potential_hessian(geometry, potential, r0)
    curvature = 0.5 * np.trace(hess)
    if curvature <= 0.0 or u0 <= 0.0:
        raise ValueError("the moiré potential has no confining minimum (A = B = 0?)")
    hw = float(np.sqrt(2.0 * HBAR2_2M0_MEV_NM2 * curvature / mass_m0))       # hbar sqrt(k/m)
    # K points of the two layers: K_l = R(30 deg) G_l/sqrt3, G_l = 4 pi/(sqrt3 a_l) R(-+theta/2) e_x
    e_x = np.array([1.0, 0.0])
    k_c = rotation(np.pi / 6) @ (4 * np.pi / (3 * geometry.a1_nm) * rotation(-geometry.theta_rad / 2) @ e_x)
    k_v = rotation(np.pi / 6) @ (4 * np.pi / (3 * geometry.a2_nm) * rotation(+geometry.theta_rad / 2) @ e_x)
    return HarmonicTrap(u0, hw, float(mass_m0), r0, k_c - k_v, k_v / np.linalg.norm(k_v))


# -- interaction and relative motion --------------------------------------------

def dipolar_repulsion(r_nm, d_nm, eps_r):
    """V(r) = e^2/(4 pi eps_r eps0) (2/r - 2/sqrt(d^2 + r^2)) (Eq. 27), meV."""
    r = np.asarray(r_nm, dtype=float)
    return COULOMB_MEV_NM / eps_r * (2.0 / r - 2.0 / np.sqrt(d_nm * d_nm + r * r))


@dataclasses.dataclass(frozen=True)
class RelativeMotion:
    """Relative-motion eigenstates per |l_r|: energies[|l|] [k] (meV), coefficients[|l|] [n_radial, k].

    psi_(nu l)(r) = sum_n c_n(nu) Phi_nl(r) in the oscillator of mass m/2
    (kappa_r = kappa/sqrt2; Eq. 33).
    """

    hbar_omega0: float
    n_radial: int
    energies: dict
    coefficients: dict


def relative_hamiltonian(trap, d_nm, eps_r, n_radial, l):
    """Eq. 34: hbar omega0 (2n + |l| + 1) delta_nn' + V^l_nn' (meV), [n_radial, n_radial].

    V^l_nn' by composite Gauss-Legendre quadrature in rho = kappa_r r, panels
    refined around kappa_r d (oscillator.radial_matrix).
    """
    kr = trap.kappa / np.sqrt(2.0)
    n = np.arange(n_radial)
    h = np.diag(trap.hbar_omega0 * (2.0 * n + abs(l) + 1.0))
    if d_nm > 0.0:
        h = h + osc.radial_matrix(lambda rho: dipolar_repulsion(rho / kr, d_nm, eps_r), n_radial, l,
                                  rho_short=kr * d_nm)
    return h


def solve_relative(trap, d_nm, eps_r, n_radial, l_values):
    """Eigenstates of Eq. 34 for every |l| in ``l_values`` (sign is irrelevant)."""
    energies, coefficients = {}, {}
    for l in sorted({abs(int(v)) for v in l_values}):
        e, c = np.linalg.eigh(relative_hamiltonian(trap, d_nm, eps_r, n_radial, l))
        c = c * np.where(c[np.argmax(np.abs(c), axis=0), np.arange(c.shape[1])] < 0, -1.0, 1.0)
        energies[l], coefficients[l] = e, c
    return RelativeMotion(trap.hbar_omega0, n_radial, energies, coefficients)


def delta_xx(trap, d_nm, eps_r, n_radial):
    """Repulsion energy Delta_xx = E^(r)_(0,l=0) - hbar omega0 (meV): biexciton minus twice the exciton ground state."""
    return float(solve_relative(trap, d_nm, eps_r, n_radial, [0]).energies[0][0] - trap.hbar_omega0)


# -- state lists ------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Singles:
    """Single-exciton states (n, l, N) [k] with energies (meV)."""

    n: np.ndarray
    l: np.ndarray
    quanta: np.ndarray
    energy: np.ndarray


def single_states(trap, n_quanta):
    n, l, big = osc.states(n_quanta)
    return Singles(n, l, big, trap.single_energy(big))


@dataclasses.dataclass(frozen=True)
class Biexcitons:
    """Two-exciton states (n_c, l_c, nu_r, l_r) [k], energies (meV), sorted by energy."""

    n_c: np.ndarray
    l_c: np.ndarray
    nu_r: np.ndarray
    l_r: np.ndarray
    energy: np.ndarray

    def __len__(self):
        return len(self.energy)


def biexciton_states(trap, relative, window):
    """All states within ``window`` hbar omega0 of the biexciton ground state.

    Relative states of every even l_r with |l_r| in ``relative`` (both signs).
    """
    hw = trap.hbar_omega0
    e_rel0 = relative.energies[0][0]
    top = window * hw * (1 + 1e-12)
    n_c, l_c, big_c = osc.states(int(np.floor(window + 1e-9)))
    rows = []
    for l_abs, e_r in relative.energies.items():
        for l_r in sorted({l_abs, -l_abs}):
            for nu, e in enumerate(e_r):
                excess = hw * big_c + (e - e_rel0)
                for i in np.nonzero(excess <= top)[0]:
                    rows.append((hw * (big_c[i] + 1) + e - 2 * trap.u0, n_c[i], l_c[i], nu, l_r))
    energy, nc, lc, nu, lr = (np.array(col) for col in zip(*rows))
    order = np.lexsort((lr, nu, lc, nc, energy))
    return Biexcitons(nc[order].astype(int), lc[order].astype(int), nu[order].astype(int),
                      lr[order].astype(int), energy[order])


# -- light --------------------------------------------------------------------------

def selection_factor(n):
    """f(n) = 1 + 2 cos(2 pi n/3): 3 for n = 0 mod 3, else 0 (Eq. 40), exact integers."""
    return np.where(np.mod(np.asarray(n), 3) == 0, 3, 0)


def momentum_amplitude(trap, n, l, q):
    """Phi_nl(Q) at Q [..., 2] (1/nm), normalised as int d^2Q |Phi|^2 = 1 (nm).

    Fourier transform (1/2pi) int d^2r e^(-iQ.r) Phi_nl(r): (-i)^(2n+|l|) times
    the same oscillator function with kappa -> 1/kappa.
    """
    q = np.asarray(q, dtype=float)
    qabs = np.linalg.norm(q, axis=-1)
    radial = osc.radial_profile(n, l, qabs / trap.kappa) / (trap.kappa * np.sqrt(np.pi))
    return (-1j) ** (2 * n + abs(l)) * radial * np.exp(1j * l * np.arctan2(q[..., 1], q[..., 0]))


def optical_matrix_element(trap, n, l, sigma):
    """g_sigma(nu)/g0 (nm) of Eqs. 36 and 39 for normal emission.

    sum_(j=0..2) (e_sigma . C3^j K_v/|K_v|) e^(i 2 pi j/3) Phi_nu(C3^j (K_c - K_v)),
    e_sigma = (1, i sigma)/sqrt2.  C3 is taken clockwise (rotation by
    -120 deg): the convention in which Eqs. 36/39 give Eq. 40,
    |g| = Phi~(|K_c - K_v|) f(sigma + l - 1)/sqrt2.
    """
    e = np.array([1.0, 1j * sigma]) / np.sqrt(2.0)
    total = 0.0
    for j in range(3):
        rot = rotation(-2 * np.pi * j / 3)
        total = total + (e @ (rot @ trap.kv_hat)) * np.exp(2j * np.pi * j / 3) * \
            momentum_amplitude(trap, n, l, rot @ trap.light)
    return total


def fock_brightness(trap, m_max):
    """|g_sigma|^2 (nm^2) on the Fock grid (n+, n-) <= m_max: array [2 (sigma = +1, -1), m+1, m+1].

    Closed form of Eq. 40 (tested against the sum of Eqs. 36/39):
    Phi~_nl(q)^2 f(sigma + l - 1)^2/2 with q = |K_c - K_v|.
    """
    q = np.linalg.norm(trap.light) / trap.kappa
    # table[n, |l|] = R_n|l|(q) by the Laguerre recurrence in n, vectorised over |l|
    ls = np.arange(m_max + 1)
    x = q * q
    table = np.empty((m_max + 1, m_max + 1))
    table[0] = np.exp(ls * np.log(q) - 0.5 * x - 0.5 * gammaln(ls + 1))
    if m_max > 0:
        table[1] = (1 + ls - x) * table[0] / np.sqrt(1.0 + ls)
    for n in range(2, m_max + 1):
        a = np.sqrt(n / (n + ls))
        b = np.sqrt(n * (n - 1) / ((n + ls) * (n + ls - 1.0)))
        table[n] = ((2 * n + ls - 1 - x) * a * table[n - 1] - (n + ls - 1) * b * table[n - 2]) / n
    npl, nmi = np.meshgrid(np.arange(m_max + 1), np.arange(m_max + 1), indexing="ij")
    n, l = osc.from_fock(npl, nmi)
    phi2 = table[n, np.abs(l)] ** 2 / (np.pi * trap.kappa**2)
    return np.array([phi2 * selection_factor(sigma + l - 1) ** 2 / 2.0 for sigma in SIGMAS])


# -- overlaps and decay ---------------------------------------------------------------

class BracketCache:
    """Columns N_c < n_cols of the beam-splitter matrices by total quanta, computed once.

    Deterministic, so one cache may serve every caller of a process.
    """

    def __init__(self, n_cols=32):
        self.n_cols = n_cols
        self._b = {}

    def __call__(self, total):
        if total not in self._b:
            self._b[total] = osc.beam_splitter(total)[:, :self.n_cols].copy()
        return self._b[total]


BRACKETS = BracketCache()


def overlaps(n_c, l_c, l_r, coeffs, m_max, brackets=None):
    """gamma^(nu1 nu2)_nu of Eq. 44 on the Fock grid: [n1+, n1-, n2+, n2-], each <= m_max.

    For the biexciton (n_c, l_c) x sum_n coeffs[n] |n l_r>_rel (Laguerre sign
    convention on both sides).  Dense, for small m_max (tests, inspection).
    """
    brackets = brackets or BRACKETS
    out = np.zeros((m_max + 1,) * 4)
    cp, cm = osc.to_fock(n_c, l_c)
    for n_r, c in enumerate(coeffs):
        rp, rm = osc.to_fock(n_r, l_r)
        mp_, mm = cp + rp, cm + rm
        if mp_ > m_max or mm > m_max or c == 0.0:
            continue
        bp, bm = brackets(int(mp_))[:, cp], brackets(int(mm))[:, cm]
        i1p, i1m = np.arange(mp_ + 1), np.arange(mm + 1)
        n1, _ = osc.from_fock(i1p[:, None], i1m[None, :])
        n2, _ = osc.from_fock(mp_ - i1p[:, None], mm - i1m[None, :])
        sign = (-1.0) ** (n1 + n2 + n_c + n_r)
        out[i1p[:, None], i1m[None, :], mp_ - i1p[:, None], mm - i1m[None, :]] += c * sign * np.outer(bp, bm)
    return out


def decay_by_level(n_c, l_c, l_r, coeffs, brightness, brackets=None):
    """Gamma^sigma_(nu nu1) of Eq. 46 summed over final states nu1 of equal quanta N1.

    Gamma^sigma_(nu nu1) = 2 sum_nu2 |g_sigma(nu2) gamma^(nu1 nu2)_nu|^2.  For a
    given (nu1, nu2) only one relative component n_r contributes (quanta of
    each circular mode are conserved), so the sum runs over n_r and the
    final Fock states (n1+, n1-).  ``brightness`` = fock_brightness(trap, m).
    Returns [2 (sigma), N1_max + 1] (nm^2, i.e. units of |g0|^2).
    """
    brackets = brackets or BRACKETS
    m_max = brightness.shape[1] - 1
    cp, cm = osc.to_fock(n_c, l_c)
    if max(cp, cm) >= brackets.n_cols:
        raise ValueError(f"centre-of-mass state ({n_c}, {l_c}) needs more than {brackets.n_cols} bracket columns")
    out = np.zeros((2, 2 * m_max + 1))
    for n_r, c in enumerate(coeffs):
        if c == 0.0:
            continue
        rp, rm = osc.to_fock(n_r, l_r)
        mp_, mm = int(cp + rp), int(cm + rm)
        if mp_ > m_max or mm > m_max:
            raise ValueError(f"brightness grid {m_max} too small for {mp_}, {mm} quanta")
        weight = 2.0 * c * c * np.outer(brackets(mp_)[:, cp] ** 2, brackets(mm)[:, cm] ** 2)
        g2 = brightness[:, mp_::-1, mm::-1]                 # g at n2+ = m+ - n1+, n2- = m- - n1-
        level = (np.arange(mp_ + 1)[:, None] + np.arange(mm + 1)[None, :]).ravel()
        for k in range(2):
            out[k] += np.bincount(level, weights=(weight * g2[k]).ravel(), minlength=out.shape[1])
    return out


def brightness_grid_size(n_c_max_quanta, l_r_max, n_radial):
    """Largest quanta of one circular mode reached by a biexciton component."""
    return int(n_c_max_quanta + n_radial - 1 + l_r_max)


def lifetime_ratio(single_brightness, decay):
    """zeta = tau^(2)_0/tau^(1)_0 = sum_sigma |g_sigma(0)|^2 / sum_(sigma, nu1) Gamma^sigma_(0 nu1) (Eq. 47)."""
    return float(np.sum(single_brightness) / np.sum(decay))


# -- occupations and spectra ------------------------------------------------------------

def _log_partition_terms(e1, e2, kT, x):
    """ln(u z1) and ln(u^2 z2) with x = (mu - min e1)/kT, referenced to the single ground state."""
    e0 = e1.min()
    a = x + np.log(np.sum(np.exp(-(e1 - e0) / kT)))
    b = 2 * x + np.log(np.sum(np.exp(-(e2 - 2 * e0) / kT)))
    return a, b


def filling_of(x, e1, e2, kT):
    """Mean excitons per trap, sum P^(1) + 2 sum P^(2), at x = (mu - E^(1)_0)/kT."""
    a, b = _log_partition_terms(e1, e2, kT, x)
    top = max(0.0, a, b)
    w0, w1, w2 = np.exp(-top), np.exp(a - top), np.exp(b - top)
    return (w1 + 2 * w2) / (w0 + w1 + w2)


def chemical_potential(filling, e1, e2, temperature_K):
    """mu (meV) with sum_nu P^(1) + 2 sum_nu P^(2) = filling (Eq. after 46), by brentq.

    Grand-canonical trap with 0, 1 or 2 excitons: 0 < filling < 2.
    """
    if not 0.0 < filling < 2.0:
        raise ValueError(f"filling {filling} outside (0, 2): a trap holds at most two excitons here")
    kT = KB_MEV_PER_K * temperature_K
    lo, hi = -1.0, 1.0
    while filling_of(lo, e1, e2, kT) > filling:
        lo *= 2.0
    while filling_of(hi, e1, e2, kT) < filling:
        hi *= 2.0
    x = brentq(lambda t: filling_of(t, e1, e2, kT) - filling, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=500)
    return float(e1.min() + kT * x)


def occupations(mu, e1, e2, temperature_K):
    """(P0, P^(1) [n1], P^(2) [n2]): P_nu = exp(-(E_nu - N mu)/kT)/Z over 0-, 1- and 2-exciton states."""
    kT = KB_MEV_PER_K * temperature_K
    l1 = -(e1 - mu) / kT
    l2 = -(e2 - 2 * mu) / kT
    top = max(0.0, l1.max(), l2.max())
    w0, w1, w2 = np.exp(-top), np.exp(l1 - top), np.exp(l2 - top)
    z = w0 + w1.sum() + w2.sum()
    return w0 / z, w1 / z, w2 / z


SPECTRUM_CHUNK_BYTES = 16 * 2**20     # (energy, line) pairs evaluated at once in lorentzian_spectrum, bytes


def lorentzian_spectrum(energy, line_energy, line_weight, hwhm):
    """sum_i w_i L(E - E_i), L normalised Lorentzian of half width ``hwhm`` (meV).

    ``energy`` [n_E], lines [n_lines]; returns [n_E].  Evaluated a block of
    energies at a time (temporaries of at most a few SPECTRUM_CHUNK_BYTES);
    each energy's sum over the lines is the same as in one block.
    """
    energy = np.asarray(energy, dtype=float)
    rows = int(max(1, SPECTRUM_CHUNK_BYTES // (8 * max(len(line_energy), 1))))
    out = np.empty(len(energy))
    for start in range(0, len(energy), rows):
        x = energy[start:start + rows, None] - line_energy[None, :]
        out[start:start + rows] = (line_weight[None, :] * (hwhm / np.pi) / (x * x + hwhm * hwhm)).sum(axis=1)
    return out


def spectrum_memory_bytes(n_energies, n_lines):
    """Peak temporaries of :func:`lorentzian_spectrum`: four real [rows, n_lines] blocks."""
    return int(4 * min(8 * n_energies * n_lines, max(SPECTRUM_CHUNK_BYTES, 8 * n_lines)))


# -- sweep points (each computed whole, so results do not depend on how points are distributed) --

def trap_at(a_electron_nm, a_hole_nm, potential, mass_m0, theta_deg, include_mismatch=True):
    """(MoireGeometry, HarmonicTrap) of a moiré system at twist ``theta_deg``.

    Lattice constants in nm, ``potential`` a :class:`hpcx.physics.moire.MoirePotential`,
    exciton mass in m0; ``include_mismatch=False`` uses the electron layer's
    lattice constant for both layers (seed 003).
    """
    geo = MoireGeometry.for_layers(a_electron_nm, a_hole_nm, theta_deg, include_mismatch)
    return geo, harmonic_trap(geo, potential, mass_m0)


def delta_xx_and_change(trap, d_nm, eps_r, n_radial):
    """(Delta_xx with ``n_radial`` functions, its change from n_radial // 2), meV: the value and
    the basis-convergence measure of :func:`check_basis_converged`."""
    full = delta_xx(trap, d_nm, eps_r, n_radial)
    return full, full - delta_xx(trap, d_nm, eps_r, n_radial // 2)


@dataclasses.dataclass(frozen=True)
class LifetimePoint:
    """Ground-state repulsion Delta_xx and its basis change (meV), lifetime ratio zeta (Eq. 47)."""

    delta_xx: float
    change: float
    zeta: float


def lifetime_point(trap, d_nm, eps_r, n_radial):
    """:class:`LifetimePoint` of the biexciton ground state at dipole length ``d_nm`` (nm)."""
    rel = solve_relative(trap, d_nm, eps_r, n_radial, [0])
    dxx = float(rel.energies[0][0] - trap.hbar_omega0)
    change = dxx - delta_xx(trap, d_nm, eps_r, n_radial // 2)
    bright = fock_brightness(trap, n_radial)
    decay = decay_by_level(0, 0, 0, rel.coefficients[0][:, 0], bright)
    return LifetimePoint(dxx, change, lifetime_ratio(bright[:, 0, 0], decay))


def check_basis_converged(changes, tol_meV, what, hint):
    """Raise ConvergenceError if any |Delta_xx(n) - Delta_xx(n/2)| in ``changes`` (meV) exceeds ``tol_meV``.

    ``what`` names the calculation, ``hint`` what to change (e.g. the config key).
    """
    worst = float(np.max(np.abs(changes), initial=0.0))
    if worst > tol_meV:
        raise ConvergenceError(f"{what}: |Delta_xx(n_radial) - Delta_xx(n_radial/2)| = {worst:.3g} meV exceeds "
                               f"convergence_tol = {tol_meV:g} meV; {hint}")


# -- light emission of the states ------------------------------------------------------

def single_strengths(trap, singles):
    """|g_sigma(nu)/g0|^2 (nm^2) of every single-exciton state: [n_single, 2 (sigma = +1, -1)]."""
    return np.array([[abs(optical_matrix_element(trap, n, l, s)) ** 2 for s in SIGMAS]
                     for n, l in zip(singles.n, singles.l)])


def state_decay(states, i, relative, brightness):
    """:func:`decay_by_level` of biexciton state ``i`` of ``states`` (a :class:`Biexcitons`), [2, n_levels]."""
    coeffs = relative.coefficients[abs(states.l_r[i])][:, states.nu_r[i]]
    return decay_by_level(states.n_c[i], states.l_c[i], states.l_r[i], coeffs, brightness)


def trim_levels(decay):
    """``decay`` [n2, 2, n_levels] cut after the highest final level that any state reaches."""
    n_levels = int(np.nonzero(decay.sum(axis=(0, 1)))[0].max()) + 1
    return decay[:, :, :n_levels]


@dataclasses.dataclass(frozen=True)
class LineGroups:
    """Degenerate states merged for the PL: first single state of each level [k1] and the
    strength per level [k1] (nm^2); first biexciton of each energy [k2] and its decay per
    energy and final level [k2, n_levels] (nm^2)."""

    first_single: np.ndarray
    single_strength: np.ndarray
    first_biexciton: np.ndarray
    biexciton_decay: np.ndarray


def line_groups(singles, strength, states, decay):
    """:class:`LineGroups` of ``singles`` with ``strength`` [n1, 2] and ``states`` with ``decay`` [n2, 2, n_levels].

    Degenerate states have bitwise equal energies (same quanta, same relative level)
    and hence equal occupations, so their lines can be summed before broadening.
    """
    _, first1, inv1 = np.unique(singles.quanta, return_index=True, return_inverse=True)
    s1 = np.zeros(len(first1))
    np.add.at(s1, inv1, strength.sum(axis=1))
    _, first2, inv2 = np.unique(np.round(states.energy, 9), return_index=True, return_inverse=True)
    g2 = np.zeros((len(first2), decay.shape[2]))
    np.add.at(g2, inv2, decay.sum(axis=1))
    return LineGroups(first1, s1, first2, g2)


@dataclasses.dataclass(frozen=True)
class PLPoint:
    """PL at one (T_eff, filling): chemical potential (meV), probabilities of 0, 1, 2 excitons,
    I^(1) and I^(2) on the energy grid (nm^2/meV), probability in the highest shell kept."""

    mu: float
    probability: tuple
    single: np.ndarray
    biexciton: np.ndarray
    top_shell: float


def pl_point(temperature_K, filling, singles, states, groups, trap, energy, hwhm):
    """:class:`PLPoint` of a trap in the grand-canonical ensemble at (T_eff, filling).

    ``energy`` [n_E] photon energies (meV); Lorentzian lines of half width ``hwhm`` (meV).
    The top-shell probability (single states with the most quanta kept, biexcitons
    above (window - 1) hbar omega0) measures the truncation of the state lists.
    """
    e1, e2 = singles.energy, states.energy
    g = groups
    mu = chemical_potential(filling, e1, e2, temperature_K)
    p0, p1, p2 = occupations(mu, e1, e2, temperature_K)
    i1 = lorentzian_spectrum(energy, e1[g.first_single], g.single_strength * p1[g.first_single], hwhm)
    level_energy = trap.single_energy(np.arange(g.biexciton_decay.shape[1]))
    line_e = (e2[g.first_biexciton][:, None] - level_energy[None, :]).ravel()
    line_w = (g.biexciton_decay * p2[g.first_biexciton][:, None]).ravel()
    keep = line_w > 0.0
    i2 = lorentzian_spectrum(energy, line_e[keep], line_w[keep], hwhm)
    window = singles.quanta.max()
    # biexcitons above (window - 1) hbar omega0; the relative tolerance keeps the states exactly at
    # (window - 1) hbar omega0 (centre-of-mass excitations of a relative level) out, whatever the round-off
    top_shell = e2 - e2[0] > (window - 1) * trap.hbar_omega0 * (1 + 1e-9)
    top = p1[singles.quanta == window].sum() + p2[top_shell].sum()
    return PLPoint(mu, (p0, p1.sum(), p2.sum()), i1, i2, top)


def relative_profile(trap, relative, d_nm, eps_r, points=301):
    """Seed 003 Fig. 2a at the relative ground state (l_r = 0).

    Returns r [points] (nm, 0 < r <= 5/kappa_r), potentials [3 (trap m omega0^2 r^2/4,
    dipolar V(r), sum), points] (meV), |psi(r)|^2 with and without the repulsion (1/nm^2).
    """
    kr = trap.kappa / np.sqrt(2.0)
    r = np.linspace(0.0, 5.0 / kr, points + 1)[1:]
    trap_part = 0.5 * trap.hbar_omega0 * (kr * r) ** 2                # m w^2 r^2/4 = hbar w (kappa_r r)^2/2
    dip = dipolar_repulsion(r, d_nm, eps_r)
    c = relative.coefficients[0][:, 0]
    prof = sum(ci * osc.radial_profile(n, 0, kr * r) for n, ci in enumerate(c))
    psi = (kr**2 / np.pi) * prof**2
    psi0 = (kr**2 / np.pi) * osc.radial_profile(0, 0, kr * r) ** 2
    return r, np.array([trap_part, dip, trap_part + dip]), psi, psi0


# -- memory -----------------------------------------------------------------------------

def relative_memory_bytes(n_radial, l_max=0):
    """Peak bytes of :func:`solve_relative` for one |l| with ``n_radial`` functions.

    The quadrature grid grows as sqrt(n_radial) panels of 24 nodes; the radial
    functions [n_radial, n_nodes], their weighted copy, the Hamiltonian, its
    eigenvectors and LAPACK's work space (~3 n^2) are the dominant arrays.
    """
    rho_max = np.sqrt(4 * n_radial + 2 * l_max + 62) + 4.0
    nodes = 24 * (int(rho_max / 0.5) + 12)
    return int(8 * (3 * n_radial * nodes + 6 * n_radial * n_radial))


def biexciton_count_bound(window):
    """Number of two-exciton states within ``window`` hbar omega0 of the ground state without
    repulsion: sum over N_c + M <= window (M even) of (N_c + 1)(M + 1); the repulsion changes it
    little (486 instead of 511 at window 10, seed 003 parameters)."""
    return sum((n_c + 1) * (m + 1) for n_c in range(window + 1) for m in range(0, window + 1 - n_c, 2))


def decay_memory_bytes(m_max, n_cols=32):
    """Peak bytes of the decay amplitudes: brightness [2, m+1, m+1], the bracket cache
    (columns < n_cols of the beam splitters up to 2 m quanta) and one product of two beam
    splitters with its per-level weights."""
    brightness = 8 * 2 * (m_max + 1) ** 2
    cache = 8 * sum(min(t + 1, n_cols) * (t + 1) for t in range(m_max + 1))
    splitter = 8 * 6 * (m_max + 1) ** 2
    return int(brightness + cache + splitter)
