"""Moiré excitons: superlattice geometry, continuum potential, zone-folded bands.

Units: meV, nm, 1/nm, ps, masses in m0; velocities in nm/ps.

Geometry (seed 003 App. II, seed 000 SI Eq. 8): layer l (lattice constant
a_l, rotated by theta_l; layer 1 by -theta/2, layer 2 by +theta/2) has the
fundamental reciprocal vector G^(l) = 4 pi/(sqrt3 a_l) R(theta_l) e_x; the
moiré reciprocal vectors are g_n = C3^n (G^(2) - G^(1)), n = 0, 1, 2, and
a_M = 4 pi / (sqrt3 |g|).

Potential (seed 003 Eqs. 19-20): M_{g_n} = V1, M_{-g_n} = V1*, i.e.
M(r) = sum_n [A cos(g_n.r) + B sin(g_n.r)] with V1 = (A - iB)/2.

Zone-folded Hamiltonian (seed 000 SI Eq. 9) in plane waves Q+g, |g| <= g_cut:
H_gg'(Q) = hbar^2 |Q+g|^2/(2M) delta_gg' + M_{g-g'}.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..parallel import block_range
from ..units import HBAR2_2M0_MEV_NM2, HBAR_MEV_PS

SQRT3 = np.sqrt(3.0)


def rotation(angle_rad):
    """2x2 rotation matrix."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s], [s, c]])


C3 = rotation(2.0 * np.pi / 3.0)


@dataclasses.dataclass(frozen=True)
class MoireGeometry:
    """Moiré superlattice of two hexagonal layers (a1, a2 in nm) twisted by theta (rad).

    ``g`` [3, 2] are the first-shell vectors g_n = C3^n g_0 (1/nm); the
    reciprocal basis is b1 = g_0, b2 = g_1 (120 deg apart).
    """

    a1_nm: float
    a2_nm: float
    theta_rad: float

    @classmethod
    def from_degrees(cls, a1_nm, a2_nm, theta_deg):
        return cls(float(a1_nm), float(a2_nm), float(np.deg2rad(theta_deg)))

    @classmethod
    def for_layers(cls, a_electron_nm, a_hole_nm, theta_deg, include_mismatch=True):
        """Electron layer (a_electron, nm) and hole layer twisted by ``theta_deg``.

        ``include_mismatch=False`` gives both layers the electron layer's
        lattice constant (a_M = a/(2 sin(theta/2)), as seed 003).
        """
        return cls.from_degrees(a_electron_nm, a_hole_nm if include_mismatch else a_electron_nm, theta_deg)

    @property
    def g(self):
        e_x = np.array([1.0, 0.0])
        G1 = 4 * np.pi / (SQRT3 * self.a1_nm) * rotation(-self.theta_rad / 2) @ e_x
        G2 = 4 * np.pi / (SQRT3 * self.a2_nm) * rotation(+self.theta_rad / 2) @ e_x
        g0 = G2 - G1
        if np.linalg.norm(g0) == 0.0:
            raise ValueError("identical lattices at zero twist have no moiré superlattice")
        return np.array([g0, C3 @ g0, C3 @ C3 @ g0])

    @property
    def g_abs(self):
        """|g_n| (1/nm)."""
        return float(np.linalg.norm(self.g[0]))

    @property
    def period_nm(self):
        """Moiré period a_M = 4 pi/(sqrt3 |g|) (nm)."""
        return 4 * np.pi / (SQRT3 * self.g_abs)

    @property
    def reciprocal_basis(self):
        """[2, 2] rows b1 = g_0, b2 = g_1 (1/nm)."""
        return self.g[:2].copy()

    @property
    def lattice_vectors(self):
        """[2, 2] rows L1, L2 (nm) with L_i . b_j = 2 pi delta_ij."""
        return 2 * np.pi * np.linalg.inv(self.reciprocal_basis).T

    @property
    def cell_area_nm2(self):
        """Area of the moiré unit cell, sqrt3/2 a_M^2 (nm^2)."""
        return float(abs(np.linalg.det(self.lattice_vectors)))

    def high_symmetry_points(self):
        """{'gamma', 'kappa', 'm'}: points of the mini Brillouin zone (1/nm)."""
        b1, b2 = self.reciprocal_basis
        return {"gamma": np.zeros(2), "kappa": (2 * b1 + b2) / 3.0, "m": b1 / 2.0}

    def path(self, n_points, corners=("gamma", "kappa", "m", "gamma")):
        """Straight segments through ``corners`` with ~``n_points`` in total.

        Points are distributed in proportion to segment length, every corner
        included once.  Returns (Q [n, 2] 1/nm, x [n] arc length 1/nm,
        tick positions [n_corner] 1/nm, labels).
        """
        pts = self.high_symmetry_points()
        ends = np.array([pts[c] for c in corners])
        lengths = np.linalg.norm(np.diff(ends, axis=0), axis=1)
        total = lengths.sum()
        qs, xs, ticks = [], [], [0.0]
        x0 = 0.0
        for i, length in enumerate(lengths):
            n = max(2, int(round((n_points - 1) * length / total)))
            t = np.arange(n) / n
            qs.append(ends[i] + t[:, None] * (ends[i + 1] - ends[i]))
            xs.append(x0 + t * length)
            x0 += length
            ticks.append(x0)
        qs.append(ends[-1:])
        xs.append(np.array([x0]))
        return np.concatenate(qs), np.concatenate(xs), np.array(ticks), list(corners)

    def fold(self, Q):
        """Map Q [..., 2] into the first mini Brillouin zone (Wigner-Seitz cell)."""
        Q = np.asarray(Q, dtype=float)
        b = self.reciprocal_basis
        frac = Q @ np.linalg.inv(b)
        base = frac - np.floor(frac)
        shifts = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)
        cands = (base[..., None, :] + shifts) @ b            # [..., 9, 2]
        norms = np.round(np.einsum("...i,...i->...", cands, cands) / self.g_abs**2, 12)
        best = np.argmin(norms, axis=-1)
        return np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]

    def monkhorst_pack(self, n):
        """Gamma-centred n x n grid folded into the mBZ: (Q [n*n, 2] 1/nm, fractions [n*n, 2])."""
        i = np.arange(n) / n
        frac = np.stack(np.meshgrid(i, i, indexing="ij"), axis=-1).reshape(-1, 2)
        return self.fold(frac @ self.reciprocal_basis), frac


def basis_size(shells):
    """Number of plane waves in the first ``shells`` shells (independent of the geometry)."""
    return len(plane_wave_basis(MoireGeometry(1.0, 1.0, 0.1), shells)[0])


def plane_wave_basis(geometry, shells):
    """Moiré vectors g = s1 b1 + s2 b2 in the first ``shells`` shells (shell 0 = {0}).

    Returns (g [n_g, 2] 1/nm, s [n_g, 2] integers), sorted by |g|; the set is
    C6-symmetric, so C3 and inversion map the basis onto itself.
    """
    n = shells + 2
    s = np.array([(i, j) for i in range(-2 * n, 2 * n + 1) for j in range(-2 * n, 2 * n + 1)])
    # |s1 b1 + s2 b2|^2 / |b|^2 with b1.b2 = -|b|^2/2: integer s1^2 + s2^2 - s1 s2
    norm2 = s[:, 0] ** 2 + s[:, 1] ** 2 - s[:, 0] * s[:, 1]
    radii = np.unique(norm2)
    keep = norm2 <= radii[shells]
    order = np.lexsort((s[keep, 1], s[keep, 0], norm2[keep]))
    s = s[keep][order]
    return s @ geometry.reciprocal_basis, s


@dataclasses.dataclass(frozen=True)
class MoirePotential:
    """First-shell continuum potential: M_{g_n} = v1, M_{-g_n} = conj(v1) (meV).

    Real-space form: M(r) = sum_n 2 Re[v1 exp(i g_n.r)].
    """

    v1: complex

    @classmethod
    def from_ab(cls, a_meV, b_meV):
        """Seed 003 Eq. 19: M(r) = sum_n [A cos(g_n.r) + B sin(g_n.r)], v1 = (A - iB)/2."""
        return cls(complex(a_meV, -b_meV) / 2.0)

    @classmethod
    def from_layer_potentials(cls, v_c, v_v, form_e, form_h):
        """Seed 000 SI Eq. 8: v1 = v_c F(m_h/M g0) - conj(v_v) F(-m_e/M g0).

        v_c, v_v: complex effective atomic potentials (meV) of the other layer
        felt by the electron (CB) and the hole (VB); form_e, form_h: the 1s
        form factors at those momenta (dimensionless).  Sign as printed in the
        seed (partly garbled; handbook 5.2).
        """
        return cls(complex(v_c) * form_e - np.conj(complex(v_v)) * form_h)

    @property
    def a_meV(self):
        return 2.0 * self.v1.real

    @property
    def b_meV(self):
        return -2.0 * self.v1.imag

    def fourier(self, geometry, dg):
        """M_{dg} for moiré vectors dg [..., 2] (1/nm): v1, conj(v1) or 0."""
        dg = np.asarray(dg, dtype=float)
        out = np.zeros(dg.shape[:-1], dtype=complex)
        tol = 1e-6 * geometry.g_abs
        for gn in geometry.g:
            out[np.linalg.norm(dg - gn, axis=-1) < tol] = self.v1
            out[np.linalg.norm(dg + gn, axis=-1) < tol] = np.conj(self.v1)
        return out

    def real_space(self, geometry, r):
        """M(r) in meV at points r [..., 2] (nm)."""
        phase = np.asarray(r, dtype=float) @ geometry.g.T          # [..., 3]
        return 2.0 * np.real(self.v1 * np.exp(1j * phase)).sum(axis=-1)

    def depth_meV(self):
        """Harmonic offset U0 = -min M(r) of a first-shell potential.

        The extremes of sum_n Re[v1 e^{i phi_n}] with phi_0+phi_1+phi_2 = 0
        are at phi_n = phi equal for all n: 3*2|v1| cos(arg v1 + phi) with
        3 phi = 0 mod 2 pi; for A = 0 this is 3 sqrt3 B/2 (seed 003 Eq. 21).
        """
        phis = 2 * np.pi * np.arange(3) / 3.0
        return float(-np.min(6.0 * np.real(self.v1 * np.exp(1j * phis))))


def harmonic_frequency_meV(geometry, potential, mass_m0):
    """hbar omega0 = hbar (2 pi/a_M) sqrt(2 U0/(3 m_x)) (seed 003 Eq. 22), meV."""
    u0 = potential.depth_meV()
    g = 2 * np.pi / geometry.period_nm
    # hbar^2 g^2 (2 U0/(3 m)) = 4 (hbar^2/2m0) g^2 U0 / (3 m)
    return float(np.sqrt(4.0 * HBAR2_2M0_MEV_NM2 * g**2 * u0 / (3.0 * mass_m0)))


@dataclasses.dataclass
class Bands:
    """Moiré exciton bands at n_Q momenta.

    energy [n_Q, n_bands] meV; vectors [n_Q, n_bands, n_g] complex,
    omega_g^eta(Q) with sum_g |omega|^2 = 1; velocity [n_Q, n_bands, 2] nm/ps.
    """

    Q: np.ndarray
    energy: np.ndarray
    vectors: np.ndarray
    velocity: np.ndarray


class MoireHamiltonian:
    """H_gg'(Q) = hbar^2|Q+g|^2/(2M) delta_gg' + M_{g-g'} on a shell basis (meV)."""

    def __init__(self, geometry, potential, mass_m0, shells):
        self.geometry, self.potential, self.mass_m0, self.shells = geometry, potential, mass_m0, shells
        self.g, self.s = plane_wave_basis(geometry, shells)
        self.coupling = potential.fourier(geometry, self.g[:, None, :] - self.g[None, :, :])
        self.kinetic_prefactor = HBAR2_2M0_MEV_NM2 / mass_m0      # hbar^2/(2M), meV nm^2

    @property
    def n_g(self):
        return len(self.g)

    def matrix(self, Q):
        """H(Q) [n_Q, n_g, n_g] for Q [n_Q, 2] (1/nm)."""
        Q = np.atleast_2d(np.asarray(Q, dtype=float))
        k = Q[:, None, :] + self.g[None, :, :]
        h = np.broadcast_to(self.coupling, (len(Q), self.n_g, self.n_g)).copy()
        idx = np.arange(self.n_g)
        h[:, idx, idx] += self.kinetic_prefactor * np.einsum("qgi,qgi->qg", k, k)
        return h

    def solve(self, Q, n_bands, chunk=None, progress=None):
        """Lowest ``n_bands`` bands, eigenvectors (fixed gauge) and Hellmann-Feynman velocities.

        v = (1/hbar) <eta| dH/dQ |eta>, dH/dQ = hbar^2 (Q+g)/M delta_gg' (exact for
        non-degenerate states).  The gauge makes each vector's largest
        component real and positive, so results are reproducible.  Matrices
        are diagonalised ``chunk`` at a time (default :func:`solve_chunk`, at
        most 256 and ~64 MiB of matrices); ``progress.update(n)`` is called
        after every chunk when given.
        """
        Q = np.atleast_2d(np.asarray(Q, dtype=float))
        if n_bands > self.n_g:
            raise ValueError(f"n_bands = {n_bands} exceeds the basis size {self.n_g}")
        chunk = chunk or solve_chunk(self.n_g)
        energy = np.empty((len(Q), n_bands))
        vectors = np.empty((len(Q), n_bands, self.n_g), dtype=complex)
        for start in range(0, len(Q), chunk):
            part = slice(start, start + chunk)
            e, v = np.linalg.eigh(self.matrix(Q[part]))
            energy[part] = e[:, :n_bands]
            vectors[part] = np.swapaxes(v[:, :, :n_bands], 1, 2)
            if progress is not None:
                progress.update(len(e))
        vectors = fix_gauge(vectors)
        weight = np.abs(vectors) ** 2                                  # [n_Q, n_b, n_g]
        k = Q[:, None, :] + self.g[None, :, :]                         # [n_Q, n_g, 2]
        dE_dQ = 2.0 * self.kinetic_prefactor * np.einsum("qbg,qgi->qbi", weight, k)
        return Bands(Q, energy, vectors, dE_dQ / HBAR_MEV_PS)


SOLVE_CHUNK_BYTES = 64 * 2**20      # matrices H(Q) diagonalised at once, bytes


def solve_chunk(n_g):
    """Momenta per :meth:`MoireHamiltonian.solve` batch: 256, fewer when 256 matrices exceed 64 MiB."""
    return int(max(1, min(256, SOLVE_CHUNK_BYTES // (16 * n_g * n_g))))


def solve_block(hamiltonian, Q, n_bands, comm, progress=None):
    """Bands at this rank's contiguous block of ``Q`` [n_Q, 2]: (offset, :class:`Bands` of the block).

    Blocks follow :func:`hpcx.parallel.block_range`, so concatenating them in
    rank order restores ``Q``; each momentum is solved whole on one rank.
    """
    start, stop = block_range(len(Q), comm.size, comm.rank)
    return start, hamiltonian.solve(Q[start:stop], n_bands, progress=progress)


def solve_memory_bytes(n_q, n_g, n_bands):
    """Peak bytes of :meth:`MoireHamiltonian.solve` for ``n_q`` momenta (results and temporaries).

    One batch of matrices and eigenvectors (2 x chunk n_g^2 complex), the
    kept vectors [n_q, n_bands, n_g] complex three times (result, the gauge
    fix's copy and phases as complex temporaries) plus |vectors| and its
    square (real), the momenta k [n_q, n_g, 2] and the energies/velocities.
    """
    batch = 2 * 16 * min(n_q, solve_chunk(n_g)) * n_g * n_g
    kept = n_q * n_bands * n_g * (3 * 16 + 2 * 8)
    return batch + kept + 16 * n_q * n_g + 8 * n_q * n_bands * 3


def fix_gauge(vectors):
    """Multiply each vector [..., n_g] by a phase making its largest component real > 0."""
    big = np.argmax(np.abs(vectors), axis=-1)
    pivot = np.take_along_axis(vectors, big[..., None], axis=-1)
    return vectors * (np.abs(pivot) / pivot)


def free_bands(geometry, mass_m0, shells, Q, n_bands):
    """Folded parabola hbar^2|Q+g|^2/(2M), lowest n_bands per Q (meV), [n_Q, n_bands]."""
    g, _ = plane_wave_basis(geometry, shells)
    k = np.atleast_2d(Q)[:, None, :] + g[None, :, :]
    return np.sort(HBAR2_2M0_MEV_NM2 / mass_m0 * np.einsum("qgi,qgi->qg", k, k), axis=1)[:, :n_bands]


def band_summary(energy):
    """(bandwidth of band 0, gap = min E_1 - max E_0, direct gap min_Q(E_1 - E_0)), meV.

    ``energy`` [n_Q, n_bands >= 2] sampled over the mBZ.
    """
    e0, e1 = energy[:, 0], energy[:, 1]
    return float(e0.max() - e0.min()), float(e1.min() - e0.max()), float((e1 - e0).min())


@dataclasses.dataclass(frozen=True)
class TwistPoint:
    """Band extrema of one twist angle (meV) with its period (nm) and hbar omega0 of Eq. 22 (meV)."""

    bandwidth: float
    gap: float
    direct_gap: float
    period_nm: float
    harmonic_energy: float

    def as_tuple(self):
        return (self.bandwidth, self.gap, self.direct_gap, self.period_nm, self.harmonic_energy)


def twist_point(geometry, potential, mass_m0, shells, grid, path_points=31):
    """:func:`band_summary` of the two lowest bands on a ``grid`` x ``grid`` mBZ grid plus the
    gamma-kappa-m-gamma path of ``path_points`` (which holds the band extrema a coarse grid misses)."""
    ham = MoireHamiltonian(geometry, potential, mass_m0, shells)
    grid_q, _ = geometry.monkhorst_pack(grid)
    path_q = geometry.path(path_points)[0]
    bands = ham.solve(np.concatenate([grid_q, path_q]), 2)
    width, gap, direct = band_summary(bands.energy)
    return TwistPoint(width, gap, direct, geometry.period_nm, harmonic_frequency_meV(geometry, potential, mass_m0))


DOS_CHUNK_BYTES = 32 * 2**20        # Gaussians evaluated at once in density_of_states, bytes


def dos_energy_grid(energy, sigma_meV, n_points):
    """Energies (meV) [n_points] from 5 sigma below the lowest to 5 sigma above the highest of ``energy``."""
    return np.linspace(energy.min() - 5 * sigma_meV, energy.max() + 5 * sigma_meV, n_points)


def density_of_states(energy, e_grid, sigma_meV, cell_area_nm2):
    """Gaussian-broadened DOS per moiré cell and per area.

    energy [n_Q, n_bands] on a uniform mBZ grid; returns (per cell [n_E] 1/meV,
    per area [n_E] 1/(meV nm^2)); integrates to n_bands states per cell.
    The Gaussians are summed a block of energies at a time (at most
    ``DOS_CHUNK_BYTES`` of temporaries; each energy's sum is the same as in one block).
    """
    flat = energy.reshape(-1)
    rows = int(max(1, DOS_CHUNK_BYTES // (8 * max(flat.size, 1))))
    per_cell = np.empty(len(e_grid))
    for start in range(0, len(e_grid), rows):
        x = (e_grid[start:start + rows, None] - flat[None, :]) / sigma_meV
        per_cell[start:start + rows] = np.exp(-0.5 * x**2).sum(axis=1)
    per_cell /= np.sqrt(2 * np.pi) * sigma_meV * energy.shape[0]
    return per_cell, per_cell / cell_area_nm2


def dos_memory_bytes(n_states, n_energies):
    """Peak temporaries of :func:`density_of_states` (two real blocks of at most DOS_CHUNK_BYTES)."""
    return 2 * min(8 * n_states * n_energies, max(DOS_CHUNK_BYTES, 8 * n_states))


def potential_map_memory_bytes(n_points):
    """Peak bytes of :func:`potential_map`: positions, phases (real and complex) and the map, n^2 points."""
    return n_points * n_points * (2 * 8 + 2 * 8 + 3 * 8 + 2 * 3 * 16 + 8)


def potential_map(geometry, potential, n_points, cells=2.0):
    """M(r) on an n x n Cartesian grid spanning [-cells/2, cells/2] a_M in x and y.

    Returns (x [n] nm, y [n] nm, M [n_y, n_x] meV).
    """
    half = 0.5 * cells * geometry.period_nm
    x = np.linspace(-half, half, n_points)
    X, Y = np.meshgrid(x, x, indexing="xy")
    return x, x.copy(), potential.real_space(geometry, np.stack([X, Y], axis=-1))
