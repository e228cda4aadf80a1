"""Three-band tight-binding model of monolayer MX2 (Liu et al., PRB 88, 085433 (2013)).

Basis (d_z2, d_xy, d_x2-y2) of the metal atom; nearest-neighbour ("NN") or up to
third-nearest-neighbour ("TNN") hoppings; on-site spin-orbit coupling
H_SO = (lambda/2) L_z sigma_z with L_z[d_xy, d_x2-y2] = 2i.  Parameters (GGA) and
their sources: hpcx/materials/tb_liu.toml.

The paper gives H(k) in closed form (alpha = k_x a/2, beta = sqrt(3) k_y a/2);
:func:`liu_hk` evaluates it.  The real-space hoppings of the TBModel are that
H(k) sampled on an 8 x 8 grid and Fourier transformed back: exact, because H(k)
contains only lattice harmonics with |R| <= 2a (tests compare the two at
arbitrary k).  With SOC the model has 6 orbitals (spin up 0-2, spin down 3-5),
spin-diagonal, all on the metal site.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

import numpy as np

from ..materials import UnknownMaterialError
from .tbmodel import TBModel

MODELS = ("NN", "TNN")
_SQ3 = np.sqrt(3.0)


@lru_cache(maxsize=1)
def _table():
    return tomllib.loads(resources.files("hpcx.materials").joinpath("tb_liu.toml").read_text("utf-8"))


def liu_materials():
    return sorted(_table())


def liu_parameters(material, model="TNN"):
    """{name: value} (eV; a in Angstrom) of one material and model; missing hoppings are 0."""
    table = _table()
    if material not in table:
        raise UnknownMaterialError(material, "three-band TB material", liu_materials())
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    p = {k: float(v["value"]) for k, v in table[material][model].items()}
    for k in ("r0", "r1", "r2", "r11", "r12", "u0", "u1", "u2", "u11", "u12", "u22"):
        p.setdefault(k, 0.0)
    return p


def liu_hk(p, kx, ky):
    """(n_k, 3, 3) complex eV: Liu et al.'s H(k) without SOC at Cartesian k (1/Angstrom)."""
    a = p["a"]
    al = np.asarray(kx) * a / 2
    be = np.asarray(ky) * a * _SQ3 / 2
    c, s = np.cos, np.sin
    V0 = (p["e1"] + 2 * p["t0"] * (2 * c(al) * c(be) + c(2 * al))
          + 2 * p["r0"] * (2 * c(3 * al) * c(be) + c(2 * be))
          + 2 * p["u0"] * (2 * c(2 * al) * c(2 * be) + c(4 * al)))
    ReV1 = (-2 * _SQ3 * p["t2"] * s(al) * s(be) + 2 * (p["r1"] + p["r2"]) * s(3 * al) * s(be)
            - 2 * _SQ3 * p["u2"] * s(2 * al) * s(2 * be))
    ImV1 = (2 * p["t1"] * s(al) * (2 * c(al) + c(be)) + 2 * (p["r1"] - p["r2"]) * s(3 * al) * c(be)
            + 2 * p["u1"] * s(2 * al) * (2 * c(2 * al) + c(2 * be)))
    ReV2 = (2 * p["t2"] * (c(2 * al) - c(al) * c(be))
            - 2 / _SQ3 * (p["r1"] + p["r2"]) * (c(3 * al) * c(be) - c(2 * be))
            + 2 * p["u2"] * (c(4 * al) - c(2 * al) * c(2 * be)))
    ImV2 = (2 * _SQ3 * p["t1"] * c(al) * s(be) + 2 / _SQ3 * s(be) * (p["r1"] - p["r2"]) * (c(3 * al) + 2 * c(be))
            + 2 * _SQ3 * p["u1"] * c(2 * al) * s(2 * be))
    V11 = (p["e2"] + (p["t11"] + 3 * p["t22"]) * c(al) * c(be) + 2 * p["t11"] * c(2 * al)
           + 4 * p["r11"] * c(3 * al) * c(be) + 2 * (p["r11"] + _SQ3 * p["r12"]) * c(2 * be)
           + (p["u11"] + 3 * p["u22"]) * c(2 * al) * c(2 * be) + 2 * p["u11"] * c(4 * al))
    ReV12 = (_SQ3 * (p["t22"] - p["t11"]) * s(al) * s(be) + 4 * p["r12"] * s(3 * al) * s(be)
             + _SQ3 * (p["u22"] - p["u11"]) * s(2 * al) * s(2 * be))
    ImV12 = 4 * p["t12"] * s(al) * (c(al) - c(be)) + 4 * p["u12"] * s(2 * al) * (c(2 * al) - c(2 * be))
    V22 = (p["e2"] + (3 * p["t11"] + p["t22"]) * c(al) * c(be) + 2 * p["t22"] * c(2 * al)
           + 2 * p["r11"] * (2 * c(3 * al) * c(be) + c(2 * be))
           + 2 / _SQ3 * p["r12"] * (4 * c(3 * al) * c(be) - c(2 * be))
           + (3 * p["u11"] + p["u22"]) * c(2 * al) * c(2 * be) + 2 * p["u22"] * c(4 * al))
    V1, V2, V12 = ReV1 + 1j * ImV1, ReV2 + 1j * ImV2, ReV12 + 1j * ImV12
    H = np.empty(np.shape(V0) + (3, 3), complex)
    H[..., 0, 0], H[..., 0, 1], H[..., 0, 2] = V0, V1, V2
    H[..., 1, 0], H[..., 1, 1], H[..., 1, 2] = V1.conj(), V11, V12
    H[..., 2, 0], H[..., 2, 1], H[..., 2, 2] = V2.conj(), V12.conj(), V22
    return H


def soc_matrix(lam, spin):
    """(3, 3) eV: (lambda/2) L_z s_z for spin = +1 (up) or -1 (down)."""
    L = np.zeros((3, 3), complex)
    L[1, 2], L[2, 1] = 2j, -2j
    return 0.5 * lam * spin * L


def liu_model(material, model="TNN", soc=True, vacuum=20.0):
    """TBModel of the three-band model: 3 orbitals (soc=False) or 6 (spin up, then down)."""
    p = liu_parameters(material, model)
    a = p["a"]
    lattice = np.array([[a, 0, 0], [a / 2, a * _SQ3 / 2, 0], [0, 0, vacuum]])
    n = 8
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    frac = np.column_stack([i.ravel() / n, j.ravel() / n, np.zeros(n * n)])
    k = frac @ (2 * np.pi * np.linalg.inv(lattice).T)
    Hk = liu_hk(p, k[:, 0], k[:, 1]).reshape(n, n, 3, 3)
    # H(k) = sum_R exp(i k.R) H_R  ->  H_R = (1/n^2) sum_k exp(-i k.R) H(k)   (a forward FFT / n^2)
    HR = np.fft.fft2(Hk, axes=(0, 1)) / n**2
    R, H = [], []
    for a1 in range(n):
        for a2 in range(n):
            r = (a1 - n if a1 > n // 2 else a1, a2 - n if a2 > n // 2 else a2, 0)
            if np.abs(HR[a1, a2]).max() > 1e-12:
                R.append(r)
                H.append(HR[a1, a2])
    R, H = np.array(R), np.array(H)
    labels = ("dz2", "dxy", "dx2-y2")
    if not soc:
        return TBModel(lattice, np.zeros((3, 3)), R, H, labels)
    H6 = np.zeros((len(R), 6, 6), complex)
    H6[:, :3, :3] = H
    H6[:, 3:, 3:] = H
    home = np.flatnonzero(np.all(R == 0, axis=1))[0]
    H6[home, :3, :3] += soc_matrix(p["lambda"], +1)
    H6[home, 3:, 3:] += soc_matrix(p["lambda"], -1)
    return TBModel(lattice, np.zeros((6, 3)), R, H6,
                   tuple(f"{o}{s}" for s in ("up", "dn") for o in labels))

