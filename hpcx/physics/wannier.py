"""Exciton Wannier equation in 2D, solved in an even-tempered Gaussian basis.

    [-hbar^2 nabla^2 / (2 mu) - V(r)] phi(r) = E phi(r),
    V(q) = 2 pi e^2/(4 pi eps0) / (q eps(q))    (magnitude, meV nm^2)

Units: meV, nm, masses in m0.  For each angular momentum m the basis is
chi_i = N_i r^|m| exp(-a_i r^2) exp(i m theta), N_i = sqrt((2 a_i)^(m+1)/(pi m!)),
a_i = a_min beta^i.  With c = a_i + a_j (closed forms, docs/theory/wannier.md):

    S_ij = N_i N_j pi m! / c^(m+1)
    T_ij = (hbar^2/2mu) N_i N_j 4 pi (m+1)! a_i a_j / c^(m+2)
    V_ij = -N_i N_j (2 pi e^2/(4 pi eps0)) m!/(2 c^(m+1))
           * Int_0^inf dq exp(-q^2/4c) L_m(q^2/4c) / eps(q)

The q-integral is done by the trapezoidal rule in u = ln q on one grid per
(basis, m) (spectrally accurate; step 0.1, truncation < 1e-9 relative),
so eps(q) is evaluated once per problem.  The generalised eigenproblem is
solved by canonical orthogonalisation (S eigenvalues below 1e-10 of the
largest are dropped).  The k-th eigenvalue for |m| is labelled n = k+|m|+1.

Default basis (DEFAULT_BASIS): a from 1e-4 to 1e4 nm^-2, 64 functions
(beta ~ 1.34).  Evidence (tests/test_wannier_physics.py and
docs/theory/wannier.md): doubling the density (127 functions) changes the
1s/2s/3s/2p binding energies of MoSe2, WSe2 and MoSe2-WSe2 (interlayer),
sheet and slab models, vacuum and SiO2, by < 0.01 meV (so does widening the
range to 1e-5..1e5 nm^-2); 2D hydrogen 1s, 2s, 3s, 2p (a_B = 1.3 nm) come
out to < 2e-5 relative in energy, ~1e-4 in <r^2>.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import eval_laguerre

from hpcx import _kernels as kernels
from hpcx.units import COULOMB_MEV_NM, HBAR2_2M0_MEV_NM2

__all__ = [
    "GaussianBasis",
    "DEFAULT_BASIS",
    "AngularSolution",
    "WannierResult",
    "Species",
    "parse_state",
    "angular_problems",
    "solve_angular_momentum",
    "solve_wannier",
    "result_from_solutions",
]

log = logging.getLogger(__name__)


_L_LETTERS = "spdfghik"
FORM_FACTOR_BLOCK_BYTES = 8 * 2 ** 20    # one [q block, n, n] float64 kernel of WannierResult.form_factor
_S_TOL = 1e-10
_QUAD_STEP = 0.1  # trapezoid step in ln q
_QUAD_XMAX = 60.0  # exp(-q^2/4c) truncated at x = q^2/4c_max = _QUAD_XMAX + 4 m
_QUAD_QMIN_REL = 1e-9  # q_min = _QUAD_QMIN_REL * sqrt(a_min); missed part ~ q_min/sqrt(c)


@dataclass(frozen=True)
class GaussianBasis:
    """Even-tempered exponents a_i = a_min (a_max/a_min)^(i/(n-1)), in nm^-2."""

    a_min: float = 1e-4
    a_max: float = 1e4
    n: int = 64

    def exponents(self) -> np.ndarray:
        """Exponents, shape (n,), nm^-2."""
        return np.geomspace(self.a_min, self.a_max, self.n)

    def densified(self) -> GaussianBasis:
        """Same range with twice the density (half the step in ln a)."""
        return GaussianBasis(self.a_min, self.a_max, 2 * self.n - 1)


DEFAULT_BASIS = GaussianBasis()


def parse_state(label: str) -> tuple[int, int]:
    """'2p' -> (n=2, |m|=1).  Letters s, p, d, f, ... give |m| = 0, 1, 2, 3, ..."""
    label = label.strip().lower()
    if len(label) < 2 or not label[:-1].isdigit() or label[-1] not in _L_LETTERS:
        raise ValueError(f"state label {label!r} is not of the form '<n><s|p|d|f|...>'")
    n, m = int(label[:-1]), _L_LETTERS.index(label[-1])
    if n < m + 1:
        raise ValueError(f"state {label!r}: n must be >= |m| + 1")
    return n, m


def _norms(a: np.ndarray, m: int) -> np.ndarray:
    return np.sqrt((2.0 * a) ** (m + 1) / (np.pi * math.factorial(m)))


def quadrature_grid(a: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes q (1/nm) and trapezoid weights dq (= q du), shapes (nq,), for exponents a."""
    q_min = _QUAD_QMIN_REL * math.sqrt(a.min())
    q_max = math.sqrt(4.0 * 2.0 * a.max() * (_QUAD_XMAX + 4.0 * m))
    nq = int(math.ceil(math.log(q_max / q_min) / _QUAD_STEP)) + 1
    u = np.linspace(math.log(q_min), math.log(q_max), nq)
    h = u[1] - u[0]
    q = np.exp(u)
    w = h * q
    w[0] *= 0.5
    w[-1] *= 0.5
    return q, w


def _potential_integrals(a: np.ndarray, m: int, q: np.ndarray, w: np.ndarray) -> np.ndarray:
    """I_ij = sum_k w_k exp(-x) L_m(x), x = q_k^2/4(a_i+a_j) (kernel ``keldysh``)."""
    out = np.empty((a.size, a.size))
    kernels.load("keldysh").potential_integrals(
        np.ascontiguousarray(a, dtype=float), int(m),
        np.ascontiguousarray(q, dtype=float), np.ascontiguousarray(w, dtype=float), out,
    )
    return out


def hamiltonian(
    m: int, reduced_mass_m0: float, epsilon: Callable[[np.ndarray], np.ndarray], basis: GaussianBasis
) -> tuple[np.ndarray, np.ndarray]:
    """(H, S) in the normalised basis for angular momentum |m|; H in meV, shapes (n, n)."""
    a = basis.exponents()
    nrm = _norms(a, m)
    c = a[:, None] + a[None, :]
    nn = nrm[:, None] * nrm[None, :]
    fm = math.factorial(m)
    S = nn * np.pi * fm / c ** (m + 1)
    T = (HBAR2_2M0_MEV_NM2 / reduced_mass_m0) * nn * 4.0 * np.pi * math.factorial(m + 1) * (
        a[:, None] * a[None, :]) / c ** (m + 2)
    q, w = quadrature_grid(a, m)
    eps = np.asarray(epsilon(q), dtype=float)
    integrals = _potential_integrals(a, m, q, w / eps)
    V = -nn * (2.0 * np.pi * COULOMB_MEV_NM) * fm / (2.0 * c ** (m + 1)) * integrals
    return T + V, S


@dataclass(frozen=True)
class AngularSolution:
    """Lowest eigenpairs for one |m|: energies (meV, < 0 if bound), coefficients (n_basis, k)."""

    m: int
    exponents: np.ndarray
    energies_meV: np.ndarray
    coefficients: np.ndarray  # of normalised Gaussians, columns normalised to 1

    def state_index(self, n: int) -> int:
        k = n - self.m - 1
        if not 0 <= k < self.energies_meV.size:
            raise ValueError(f"n={n} not solved for |m|={self.m}")
        return k


def solve_angular_momentum(
    m: int,
    reduced_mass_m0: float,
    epsilon: Callable[[np.ndarray], np.ndarray],
    n_states: int,
    basis: GaussianBasis | None = None,
) -> AngularSolution:
    """Lowest n_states eigenpairs of the Wannier equation for |m| (independent problem per m)."""
    m = abs(int(m))
    basis = basis or DEFAULT_BASIS
    H, S = hamiltonian(m, reduced_mass_m0, epsilon, basis)
    s, U = np.linalg.eigh(S)
    keep = s > _S_TOL * s.max()
    X = U[:, keep] / np.sqrt(s[keep])
    if n_states > X.shape[1]:
        raise ValueError(f"n_states={n_states} exceeds the {X.shape[1]} independent basis functions")
    e, y = np.linalg.eigh(X.T @ H @ X)
    C = X @ y[:, :n_states]
    C *= np.where(_norms(basis.exponents(), m) @ C < 0.0, -1.0, 1.0)  # phi ~ +r^m at r -> 0
    return AngularSolution(m, basis.exponents(), e[:n_states].copy(), C)


@dataclass(frozen=True)
class WannierResult:
    """Exciton states: binding energies (meV, > 0 if bound), rms radii (nm), wavefunctions.

    Wavefunctions are radial parts; the full functions are phi(r) e^{i m theta} and
    phi(k) (-i)^m e^{i m theta_k}, normalised as int d^2r |phi|^2 = 1 and
    int d^2k/(2pi)^2 |phi(k)|^2 = 1.
    """

    states: tuple[str, ...]
    binding_energy_meV: np.ndarray
    rms_radius_nm: np.ndarray
    solutions: dict = field(repr=False)

    def _coeffs(self, state: str) -> tuple[int, np.ndarray, np.ndarray]:
        n, m = parse_state(state)
        sol = self.solutions[m]
        c = sol.coefficients[:, sol.state_index(n)]
        a = sol.exponents
        return m, a, c * _norms(a, m)

    def phi_r(self, state: str, r_nm: np.ndarray) -> np.ndarray:
        """Radial wavefunction phi(r), nm^-1, shape of r."""
        m, a, cn = self._coeffs(state)
        r = np.asarray(r_nm, dtype=float)
        return r**m * (np.exp(-np.multiply.outer(r**2, a)) @ cn)

    def phi_k(self, state: str, k_nm: np.ndarray) -> np.ndarray:
        """Radial momentum wavefunction phi(k), nm, shape of k (2D FT of phi_r)."""
        m, a, cn = self._coeffs(state)
        k = np.asarray(k_nm, dtype=float)
        g = np.exp(-np.multiply.outer(k**2, 1.0 / (4.0 * a))) @ (cn / (2.0 * a) ** (m + 1))
        return 2.0 * np.pi * k**m * g

    def form_factor(self, state: str, q_nm: np.ndarray) -> np.ndarray:
        """F(q) = int d^2r |phi|^2 e^{i q.r} (real, isotropic, F(0) = 1), shape of q.

        Evaluated in blocks of q so that the [q, n, n] kernel stays under
        :data:`FORM_FACTOR_BLOCK_BYTES` (each q is summed on its own: the same numbers).
        """
        m, a, cn = self._coeffs(state)
        q = np.asarray(q_nm, dtype=float)
        flat = q.reshape(-1)
        c = a[:, None] + a[None, :]
        scale = np.pi * math.factorial(m) / c ** (m + 1)
        block = max(1, FORM_FACTOR_BLOCK_BYTES // (8 * a.size * a.size))
        out = np.empty(flat.size)
        for start in range(0, flat.size, block):
            x = np.multiply.outer(flat[start:start + block] ** 2, 1.0 / (4.0 * c))
            kern = scale * np.exp(-x) * eval_laguerre(m, x)
            out[start:start + block] = np.einsum("i,...ij,j->...", cn, kern, cn)
        return out.reshape(q.shape)

    def energy(self, state: str) -> float:
        return float(self.binding_energy_meV[self.states.index(state)])


@dataclass(frozen=True)
class Species:
    """An exciton species of a layer stack: electron and hole layer (0 = bottom), masses (m0)."""

    name: str
    electron_layer: int
    hole_layer: int
    electron_mass: float
    hole_mass: float

    @property
    def reduced_mass(self) -> float:
        return self.electron_mass * self.hole_mass / (self.electron_mass + self.hole_mass)

    @property
    def interlayer(self) -> bool:
        return self.electron_layer != self.hole_layer


def angular_problems(states: Sequence[str]) -> dict[int, int]:
    """{|m|: number of eigenstates needed} to obtain ``states`` ('1s', '2p', ...)."""
    need: dict[int, int] = {}
    for label in states:
        n, m = parse_state(label)
        need[m] = max(need.get(m, 0), n - m)
    return need


def _rms_radius(m: int, a: np.ndarray, cn: np.ndarray) -> float:
    c = a[:, None] + a[None, :]
    r2 = np.pi * math.factorial(m + 1) / c ** (m + 2)
    return float(np.sqrt(cn @ r2 @ cn))


def solve_wannier(
    reduced_mass_m0: float,
    epsilon: Callable[[np.ndarray], np.ndarray],
    states: Sequence[str] = ("1s", "2s", "3s", "2p"),
    basis: GaussianBasis | None = None,
) -> WannierResult:
    """Solve for the requested states ('1s', '2p', ...); epsilon maps q (1/nm) to eps(q)."""
    states = tuple(s.strip().lower() for s in states)
    sols = {m: solve_angular_momentum(m, reduced_mass_m0, epsilon, k, basis)
            for m, k in angular_problems(states).items()}
    return result_from_solutions(states, sols)


def result_from_solutions(states: Sequence[str], sols: dict) -> WannierResult:
    """Collect the requested states from per-|m| solutions (solved anywhere, e.g. on other ranks)."""
    states = tuple(s.strip().lower() for s in states)
    eb, rms = [], []
    for label in states:
        n, m = parse_state(label)
        sol = sols[m]
        k = sol.state_index(n)
        eb.append(-sol.energies_meV[k])
        rms.append(_rms_radius(m, sol.exponents, sol.coefficients[:, k] * _norms(sol.exponents, m)))
    return WannierResult(states, np.array(eb), np.array(rms), sols)
