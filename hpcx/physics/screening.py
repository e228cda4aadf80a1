"""Electrostatics of layered, anisotropic dielectric stacks (2D screening).

For a unit point charge on one plane of a planar stack we solve, at each
in-plane wave number q (Gaussian units),

    -d/dz(eps_perp dphi/dz) + eps_par q^2 phi = 4 pi rho(z)

exactly.  In a region with tensor (eps_par, eps_perp) the solutions are
exp(+-kappa q z), kappa = sqrt(eps_par/eps_perp).  In a finite region
[z_b, z_t] we write

    phi(z) = A exp(kappa q (z - z_t)) + B exp(-kappa q (z - z_b)),

so both exponentials are <= 1 inside the region and the linear system stays
well conditioned for any q (the half-spaces keep only the decaying term).
At every plane phi is continuous and

    eps_perp dphi/dz |above - eps_perp dphi/dz |below
        = -4 pi (sigma_free + sigma_ind),   sigma_ind = -chi2d q^2 phi,

where chi2d (nm) is the 2D polarizability of a sheet on that plane
(Keldysh length r0 = 2 pi chi2d).  The result is expressed as the effective
dielectric function eps_eff(q) := 2 pi / (q phi(z_obs)), so that the
screened electron-hole interaction is
V(q) = 2 pi e^2/(4 pi eps0) / (q eps_eff(q))  [meV nm^2].

Special cases: Rytova-Keldysh (one sheet), Danovich et al. PRB 97, 195452
(2018) (two sheets), Rytova / Trolle-type finite slabs.  See
docs/theory/wannier.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from hpcx.units import COULOMB_MEV_NM

__all__ = [
    "Environment",
    "SheetLayer",
    "SlabLayer",
    "LayeredDielectric",
    "stack_from_materials",
    "keldysh_epsilon",
    "keldysh_real_space",
]


@dataclass(frozen=True)
class Environment:
    """Dielectric half-space (substrate or superstrate); dimensionless tensor."""

    eps_par: float
    eps_perp: float

    @classmethod
    def isotropic(cls, eps: float) -> Environment:
        return cls(eps, eps)


@dataclass(frozen=True)
class SheetLayer:
    """Zero-thickness polarizable sheet; chi2d in nm (r0 = 2 pi chi2d)."""

    chi2d_nm: float


@dataclass(frozen=True)
class SlabLayer:
    """Homogeneous slab of thickness_nm with the bulk tensor; charges at its mid-plane."""

    thickness_nm: float
    eps_par: float
    eps_perp: float


Layer = SheetLayer | SlabLayer


@dataclass(frozen=True)
class _Region:
    thickness: float
    eps_par: float
    eps_perp: float


class LayeredDielectric:
    """A stack substrate | layers (bottom to top) | superstrate.

    Sheet layers are separated by vacuum gaps of ``interlayer_distance_nm``
    (required for more than one sheet); slab layers touch each other and
    their carriers sit in the slab mid-planes.  Layers are indexed 0, 1, ...
    from the substrate side; ``layers=[]`` is a uniform interface.
    """

    def __init__(
        self,
        substrate: Environment,
        layers: Sequence[Layer],
        superstrate: Environment,
        interlayer_distance_nm: float | None = None,
    ) -> None:
        self.substrate = substrate
        self.superstrate = superstrate
        self.layers = tuple(layers)
        self.interlayer_distance_nm = interlayer_distance_nm
        kinds = {type(layer) for layer in self.layers}
        if len(kinds) > 1:
            raise ValueError("mixing SheetLayer and SlabLayer in one stack is not supported")
        regions: list[_Region] = []
        chi: list[float] = []  # polarizability of each plane (nm)
        layer_plane: list[int] = []  # plane index carrying each layer's carriers
        if not self.layers:
            chi.append(0.0)
        elif isinstance(self.layers[0], SheetLayer):
            if len(self.layers) > 1 and not interlayer_distance_nm:
                raise ValueError("several sheets need interlayer_distance_nm > 0")
            for k, layer in enumerate(self.layers):
                if k > 0:
                    regions.append(_Region(float(interlayer_distance_nm), 1.0, 1.0))
                layer_plane.append(len(chi))
                chi.append(float(layer.chi2d_nm))
        else:
            chi.append(0.0)  # substrate / first slab interface
            for layer in self.layers:
                half = 0.5 * float(layer.thickness_nm)
                regions.append(_Region(half, layer.eps_par, layer.eps_perp))
                layer_plane.append(len(chi))
                chi.append(0.0)
                regions.append(_Region(half, layer.eps_par, layer.eps_perp))
                chi.append(0.0)
        self._regions = tuple(regions)
        self._chi = np.asarray(chi, dtype=float)
        self._layer_plane = tuple(layer_plane) if layer_plane else (0,)

    @property
    def n_planes(self) -> int:
        return len(self._chi)

    def _plane(self, layer: int) -> int:
        if not 0 <= layer < len(self._layer_plane):
            raise IndexError(f"layer {layer} not in stack of {len(self._layer_plane)} layer(s)")
        return self._layer_plane[layer]

    def _solve(self, q: np.ndarray, source_plane: int) -> np.ndarray:
        """phi(z_plane) for all planes; q shape (nq,) -> (nq, n_planes), nm."""
        nq = q.size
        n_reg = len(self._regions)
        n_pl = self.n_planes
        n = 2 * n_reg + 2  # unknowns: bottom half-space, (A, B) per region, top half-space
        M = np.zeros((nq, n, n))
        rhs = np.zeros((nq, n))
        # column index and coefficient arrays for phi and eps_perp*dphi/dz / q
        # evaluated at the top (below-side) and bottom (above-side) of each region
        sub, sup = self.substrate, self.superstrate
        k_sub = np.sqrt(sub.eps_par / sub.eps_perp) * sub.eps_perp  # eps_perp * kappa
        k_sup = np.sqrt(sup.eps_par / sup.eps_perp) * sup.eps_perp
        decay = [np.exp(-np.sqrt(r.eps_par / r.eps_perp) * q * r.thickness) for r in self._regions]
        ek = [np.sqrt(r.eps_par * r.eps_perp) for r in self._regions]
        for p in range(n_pl):
            row_c, row_j = 2 * p, 2 * p + 1
            # region below plane p
            if p == 0:
                M[:, row_c, 0] += 1.0
                M[:, row_j, 0] -= k_sub  # - eps dphi/dz|below / q
                phi_cols = [(0, 1.0)]
            else:
                r = p - 1
                ia, ib = 1 + 2 * r, 2 + 2 * r
                M[:, row_c, ia] += 1.0
                M[:, row_c, ib] += decay[r]
                M[:, row_j, ia] -= ek[r]
                M[:, row_j, ib] += ek[r] * decay[r]
                phi_cols = [(ia, 1.0), (ib, decay[r])]
            # region above plane p
            if p == n_pl - 1:
                M[:, row_c, n - 1] -= 1.0
                M[:, row_j, n - 1] -= k_sup
            else:
                ia, ib = 1 + 2 * p, 2 + 2 * p
                M[:, row_c, ia] -= decay[p]
                M[:, row_c, ib] -= 1.0
                M[:, row_j, ia] += ek[p] * decay[p]
                M[:, row_j, ib] -= ek[p]
            # induced sheet charge: -4 pi chi q phi (jump row divided by q)
            if self._chi[p] != 0.0:
                for col, coef in phi_cols:
                    M[:, row_j, col] -= 4.0 * np.pi * self._chi[p] * q * coef
        rhs[:, 2 * source_plane + 1] = -4.0 * np.pi / q
        x = np.linalg.solve(M, rhs[..., None])[..., 0]
        phi = np.empty((nq, n_pl))
        phi[:, 0] = x[:, 0]
        for p in range(1, n_pl):
            r = p - 1
            phi[:, p] = x[:, 1 + 2 * r] + x[:, 2 + 2 * r] * decay[r]
        return phi

    def epsilon(self, q_nm: np.ndarray, electron_layer: int = 0, hole_layer: int = 0) -> np.ndarray:
        """Effective dielectric function eps_eff(q) (dimensionless, shape of q; q in 1/nm > 0)."""
        q = np.asarray(q_nm, dtype=float)
        flat = q.ravel()
        if np.any(flat <= 0.0):
            raise ValueError("q must be > 0")
        phi = self._solve(flat, self._plane(electron_layer))[:, self._plane(hole_layer)]
        with np.errstate(divide="ignore", over="ignore"):  # interlayer phi -> 0 at q d >~ 700
            return (2.0 * np.pi / (flat * phi)).reshape(q.shape)

    def potential(self, q_nm: np.ndarray, electron_layer: int = 0, hole_layer: int = 0) -> np.ndarray:
        """Magnitude of the attractive e-h interaction V(q) = 2 pi e^2/(q eps_eff), meV nm^2."""
        q = np.asarray(q_nm, dtype=float)
        return 2.0 * np.pi * COULOMB_MEV_NM / (q * self.epsilon(q, electron_layer, hole_layer))


def keldysh_epsilon(q_nm: np.ndarray, r0_nm: float, eps_env: float) -> np.ndarray:
    """Rytova-Keldysh eps(q) = eps_env + r0 q (r0 = 2 pi chi2d, vacuum convention)."""
    return eps_env + r0_nm * np.asarray(q_nm, dtype=float)


def keldysh_real_space(
    r_nm: np.ndarray,
    r0_nm: float,
    eps_env: float = 1.0,
    onsite_length_nm: float | None = None,
    interlayer_distance_nm: float = 0.0,
    onsite_u: float = 1.0,
) -> np.ndarray:
    """Rytova-Keldysh interaction magnitude V(r) in meV (the e-h energy is -V).

    V(r) = pi e^2/(4 pi eps0) / (2 eps_env r0') [H0(r/r0') - Y0(r/r0')],
    r0' = r0/eps_env + d.  d = 0 is the intralayer form, the Fourier transform
    of 2 pi e^2/(q (eps_env + r0 q)); d > 0 is the interlayer variant of
    seed 004 (r0 -> r0 + d, the small-q limit of the two-sheet problem,
    exp(-q d) ~ 1/(1 + q d)).  At r = 0 the on-site value is regularised as
    in seed 004 / Wu et al. PRB 91, 075310 (2015): V(0) = U V(a) with
    a = onsite_length_nm (lattice constant) and U = onsite_u.
    """
    r = np.asarray(r_nm, dtype=float)
    rp = r0_nm / eps_env + interlayer_distance_nm
    pref = np.pi * COULOMB_MEV_NM / (2.0 * eps_env * rp)

    def v(x: np.ndarray) -> np.ndarray:
        return pref * (special.struve(0, x / rp) - special.y0(x / rp))

    at_zero = r == 0.0
    if np.any(at_zero) and onsite_length_nm is None:
        raise ValueError("r = 0 needs onsite_length_nm (on-site regularisation)")
    out = v(np.where(at_zero, 1.0, r))
    if np.any(at_zero):
        out = np.where(at_zero, onsite_u * v(np.asarray(onsite_length_nm, dtype=float)), out)
    return out


def stack_from_materials(layers, substrate, superstrate, screening="slab", interlayer_distance_nm=None):
    """The dielectric stack of TMD layers (bottom to top) between two half-spaces.

    ``layers`` are :class:`hpcx.materials.TMD`, ``substrate``/``superstrate``
    :class:`hpcx.materials.Environment` (anything with ``eps_par``/``eps_perp``);
    ``screening`` 'slab' models a layer as a finite slab with the bulk dielectric
    tensor (seed 001's two-slab problem), 'sheet' as a Rytova-Keldysh sheet (chi2d).
    ``interlayer_distance_nm`` (mid-plane to mid-plane) is needed for two layers.
    """
    if screening not in ("slab", "sheet"):
        raise ValueError(f"screening {screening!r}; allowed: 'slab', 'sheet'")
    models = [SheetLayer(t.chi2d_nm) if screening == "sheet"
              else SlabLayer(t.slab_thickness_nm, t.eps_par, t.eps_perp) for t in layers]
    return LayeredDielectric(Environment(substrate.eps_par, substrate.eps_perp), models,
                             Environment(superstrate.eps_par, superstrate.eps_perp),
                             interlayer_distance_nm=interlayer_distance_nm)
