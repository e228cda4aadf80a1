"""Commensurate twisted cells and the stacking-dependent moiré modulation of on-site energies.

Geometry (Angstrom, the layer's own frame): the layer (WSe2, lattice a1, a2
of the unit-cell model, 60 degrees apart) is treated alone, as in seed 004
Methods E; the other layer (WS2) only sets the local stacking.  A
commensurate cell is a pair of integer vectors m (layer) and n (other
layer) with m1 a1 + m2 a2 = n1 a1' + n2 a2', where the other layer's
lattice a_i' = c a_i is the layer's scaled and rotated by the complex
factor c (|c| = a_other/a_layer after a small strain, arg c = -theta).  The
layer's supercell is then the hexagonal cell of m (|det M| = m1^2 + m1 m2 +
m2^2 sites); seed 004 SI Table A cells are m = (2, 2)/n = (3, 1) at 16.1
deg, (9, 1)/(8, 2) at 5.68 deg, etc.

Modulation: the local stacking at a metal site r is its position measured
in the other layer's lattice, d(r) = r mod {a'}; with the first-shell
reciprocal vectors G'_j = C3^j b'_1 of the other layer (j = 0, 1, 2)

    Delta_alpha(r) = 2 V_alpha sum_j cos(G'_j . r + phi_alpha)

for orbital class alpha (``conduction`` = d_z2, ``valence`` = d_xy,
d_x2-y2: the K-valley band-edge orbitals of the three-band model).  At the
three high-symmetry stackings d = 0, (a1' + a2')/3, 2 (a1' + a2')/3 this
takes the values 6 V cos(phi), 6 V cos(phi + 2 pi/3), 6 V cos(phi - 2 pi/3)
(zero mean), which is how :func:`first_harmonic` turns stacking-resolved
band-edge shifts into (V, phi).  Since G'_j . r = g_j . r (mod 2 pi) at the
metal sites, with g_j = G'_j - G_j the moiré vectors, the modulation is
periodic in the commensurate cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .supercell import hexagonal_supercell_matrix

C3 = np.array([[np.cos(2 * np.pi / 3), -np.sin(2 * np.pi / 3)], [np.sin(2 * np.pi / 3), np.cos(2 * np.pi / 3)]])


def _z(v):
    return complex(v[0], v[1])


def _check_hexagonal(a2d):
    a1, a2 = a2d
    cos = a1 @ a2 / (np.linalg.norm(a1) * np.linalg.norm(a2))
    if not (abs(np.linalg.norm(a1) - np.linalg.norm(a2)) < 1e-8 * np.linalg.norm(a1) and abs(cos - 0.5) < 1e-8):
        raise ValueError("the unit-cell lattice must be hexagonal with a1, a2 at 60 degrees")


@dataclass(frozen=True)
class TwistedCell:
    """A commensurate cell of a layer (lattice ``a2d`` (2, 2) Angstrom) on another layer.

    m, n: integer vectors of the common supercell vector in the layer / other layer.
    c: complex, other layer's lattice vectors a_i' = c a_i (as complex numbers).
    a_other: unstrained lattice constant of the other layer (Angstrom).
    """

    a2d: np.ndarray
    m: tuple
    n: tuple
    c: complex
    a_other: float

    @property
    def M(self):
        """Supercell matrix of the layer (sites = m1^2 + m1 m2 + m2^2)."""
        return hexagonal_supercell_matrix(*self.m)

    @property
    def n_sites(self):
        m1, m2 = self.m
        return m1 * m1 + m1 * m2 + m2 * m2

    @property
    def n_sites_other(self):
        n1, n2 = self.n
        return n1 * n1 + n1 * n2 + n2 * n2

    @property
    def theta_deg(self):
        """Twist of the layer relative to the other layer (deg, in (-30, 30])."""
        t = -np.degrees(np.angle(self.c))
        return float((t + 30.0) % 60.0 - 30.0) if abs((t + 30.0) % 60.0 - 30.0) > 1e-12 else 0.0

    @property
    def strain(self):
        """Isotropic strain applied to the other layer to make the cell commensurate."""
        return float(abs(self.c) * np.linalg.norm(self.a2d[0]) / self.a_other - 1.0)

    @property
    def period(self):
        """Length of the supercell vector (Angstrom)."""
        return float(np.linalg.norm(self.m[0] * self.a2d[0] + self.m[1] * self.a2d[1]))

    @property
    def moire_period(self):
        """4 pi / (sqrt3 |g|) (Angstrom): the moiré period from the moiré vectors."""
        return float(4 * np.pi / (np.sqrt(3) * np.linalg.norm(self.moire_vectors[0])))

    @property
    def primitive(self):
        """True when the cell is one moiré cell (supercell period = moiré period)."""
        return abs(self.moire_period - self.period) < 1e-6 * self.period

    @property
    def other_lattice(self):
        """(2, 2) Angstrom: the (strained) other layer's a1', a2' in the layer frame."""
        return np.array([[(self.c * _z(a)).real, (self.c * _z(a)).imag] for a in self.a2d])

    @property
    def other_reciprocal_shell(self):
        """(3, 2) 1/Angstrom: G'_j = C3^j b'_1, the first shell of the other layer."""
        b1 = 2 * np.pi * np.linalg.inv(self.other_lattice).T[0]
        return np.array([b1, C3 @ b1, C3 @ C3 @ b1])

    @property
    def moire_vectors(self):
        """(3, 2) 1/Angstrom: g_j = G'_j - G_j (G_j the layer's matching shell)."""
        b1 = 2 * np.pi * np.linalg.inv(self.a2d).T[0]
        G = np.array([b1, C3 @ b1, C3 @ C3 @ b1])
        return self.other_reciprocal_shell - G

    def stacking_phase(self, r):
        """(n, 3): G'_j . r for in-plane positions r (n, 2 or 3) Angstrom."""
        r = np.asarray(r, dtype=float)[:, :2]
        return r @ self.other_reciprocal_shell.T


def twisted_cell(a2d, m, n, a_other):
    """The commensurate cell for the integer vectors m (layer) and n (other layer)."""
    a2d = np.asarray(a2d, dtype=float)[:2, :2]
    _check_hexagonal(a2d)
    L_m = m[0] * a2d[0] + m[1] * a2d[1]
    L_n = n[0] * a2d[0] + n[1] * a2d[1]
    if np.linalg.norm(L_n) == 0 or np.linalg.norm(L_m) == 0:
        raise ValueError("m and n must be non-zero")
    return TwistedCell(a2d, (int(m[0]), int(m[1])), (int(n[0]), int(n[1])), _z(L_m) / _z(L_n), float(a_other))


def _search_ranges(a, a_other, max_sites, max_strain):
    """(r, rn): the layer indices 0 <= m2 <= m1 <= r and the other layer's 0 <= n1, n2 <= rn searched."""
    r = int(np.ceil(np.sqrt(max_sites))) + 1
    return r, int(np.ceil(r * a / a_other * (1 + max_strain))) + 1


def search_candidates(a, a_other, max_sites, max_strain=0.005):
    """Number of (m, n) vector pairs :func:`commensurate_cells` compares for a layer of lattice
    constant ``a`` on one of ``a_other`` (Angstrom): its memory is proportional to this, and it
    is counted without building them."""
    r, rn = _search_ranges(a, a_other, max_sites, max_strain)
    m1 = np.arange(r + 1)
    sites = m1[:, None] ** 2 + m1[:, None] * m1[None, :] + m1[None, :] ** 2        # [m1, m2]
    n_m = int(np.sum(np.tril((sites > 0) & (sites <= max_sites))))
    return n_m * ((rn + 1) ** 2 - 1)


def commensurate_cells(a2d, a_other, max_sites, max_strain=0.005):
    """All primitive commensurate cells with at most ``max_sites`` layer sites and
    |strain| <= max_strain (one per distinct (sites, |theta|), the smallest strain kept),
    sorted by decreasing |theta|."""
    a2d = np.asarray(a2d, dtype=float)[:2, :2]
    _check_hexagonal(a2d)
    a = np.linalg.norm(a2d[0])
    z1, z2 = _z(a2d[0]), _z(a2d[1])
    r, rn = _search_ranges(a, a_other, max_sites, max_strain)
    m = np.array([(m1, m2) for m1 in range(r + 1) for m2 in range(m1 + 1)
                  if 0 < m1 * m1 + m1 * m2 + m2 * m2 <= max_sites])
    n = np.array([(n1, n2) for n1 in range(rn + 1) for n2 in range(rn + 1) if n1 or n2])
    zm = m[:, 0] * z1 + m[:, 1] * z2
    zn = n[:, 0] * z1 + n[:, 1] * z2
    c = zm[:, None] / zn[None, :]
    strain = np.abs(c) * a / a_other - 1.0
    best = {}
    for i, j in zip(*np.nonzero(np.abs(strain) <= max_strain)):
        cell = TwistedCell(a2d, (int(m[i, 0]), int(m[i, 1])), (int(n[j, 0]), int(n[j, 1])), complex(c[i, j]),
                           float(a_other))
        if not cell.primitive:
            continue
        key = (cell.n_sites, round(abs(cell.theta_deg), 6))
        if key not in best or abs(cell.strain) < abs(best[key].strain):
            best[key] = cell
    return sorted(best.values(), key=lambda cl: (-abs(cl.theta_deg), cl.n_sites))


def closest_cell(a2d, a_other, theta_deg, max_sites, max_strain=0.005, angle_tol=0.05):
    """The commensurate cell for a twist of ``theta_deg``: among the cells within
    ``angle_tol`` deg the one with the smallest strain, else the closest in angle."""
    cells = commensurate_cells(a2d, a_other, max_sites, max_strain)
    if not cells:
        raise ValueError(f"no commensurate cell with <= {max_sites} sites and strain <= {max_strain}")
    near = [c for c in cells if abs(abs(c.theta_deg) - theta_deg) <= angle_tol]
    if near:
        return min(near, key=lambda c: (round(abs(c.strain), 6), c.n_sites))
    return min(cells, key=lambda c: (round(abs(abs(c.theta_deg) - theta_deg), 6), c.n_sites))


def first_harmonic(shifts):
    """(V, phi) of 2 V sum_j cos(G'_j.d + phi) from the values at the stackings d = 0,
    (a1'+a2')/3, 2(a1'+a2')/3 (eV); the mean of ``shifts`` is removed (a uniform shift
    is not a moiré effect)."""
    s = np.asarray(shifts, dtype=float)
    s = s - s.mean()
    # s_k = 6 V cos(phi + 2 pi k/3), k = 0, 1, 2  ->  sum_k s_k exp(-2 pi i k/3) = 9 V exp(i phi)
    z = np.sum(s * np.exp(-2j * np.pi * np.arange(3) / 3)) / 9.0
    return float(abs(z)), float(np.angle(z))


def modulation(cell, positions, V, phi):
    """(n,) eV: 2 V sum_j cos(G'_j . r + phi) at positions (n, 2 or 3) Angstrom."""
    return 2.0 * V * np.cos(cell.stacking_phase(positions) + phi).sum(axis=1)


def onsite_shifts(cell, positions, orbital_class, params):
    """(n_orb,) eV on-site shifts of the supercell orbitals.

    orbital_class: (n_orb,) strings (e.g. 'conduction', 'valence', or '' for none);
    params: {class: (V eV, phi rad)}.
    """
    out = np.zeros(len(positions))
    orbital_class = np.asarray(orbital_class)
    for name, (V, phi) in params.items():
        sel = orbital_class == name
        if sel.any():
            out[sel] = modulation(cell, positions[sel], V, phi)
    return out


@dataclass(frozen=True)
class ModulationData:
    """hpcx/materials/moire_modulation.toml entry: lattice constants (Angstrom) and the
    stacking-resolved on-site shifts (eV) per orbital class, {class: (AA, AB, BA)}."""

    name: str
    layer: str
    other_layer: str
    a_layer: float
    a_other: float
    shifts: dict
    sources: dict

    def harmonics(self, scale=1.0):
        """{class: (V eV, phi rad)} of the first-harmonic form, amplitudes times ``scale``."""
        out = {}
        for name, values in self.shifts.items():
            V, phi = first_harmonic(values)
            out[name] = (scale * V, phi)
        return out


def modulation_names():
    from ..materials import _table
    return sorted(_table("moire_modulation.toml"))


def modulation_data(name):
    """Load one entry of moire_modulation.toml (raises materials.UnknownMaterialError)."""
    from ..materials import UnknownMaterialError, _table
    table = _table("moire_modulation.toml")
    if name not in table:
        raise UnknownMaterialError(name, "moire modulation", sorted(table))
    raw = table[name]
    to_ev = {"meV": 1e-3, "eV": 1.0}
    shifts = {cls: tuple(raw[f"{cls}_{s}"]["value"] * to_ev[raw[f"{cls}_{s}"]["unit"]] for s in ("AA", "AB", "BA"))
              for cls in ("valence", "conduction")}
    return ModulationData(name, raw["layer"]["value"], raw["other_layer"]["value"], float(raw["a_layer"]["value"]),
                          float(raw["a_other"]["value"]), shifts, {k: e["source"] for k, e in raw.items()})
