"""One layer of a twisted heterobilayer in its commensurate moiré supercell, as the BSE sees it.

Builds what the ``bse_moire`` workflow computes on, from plain values: the
three-band model of the layer (or its spin-up block), the modulated supercell
(:mod:`hpcx.bse.modulation`, :mod:`hpcx.bse.supercell`), the interaction sites
and the shift of the band solver; or the same :class:`Problem` from a supercell
read from Wannier90 files.  Units: eV, Angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..parallel import max_over_ranks, min_over_ranks
from .liu import liu_model
from .modulation import onsite_shifts
from .supercell import fold
from .tbmodel import TBModel, monkhorst_pack


def orbital_classes(labels):
    """'conduction' for d_z2 (the K-valley conduction orbital), 'valence' for d_xy, d_x2-y2."""
    return np.array(["conduction" if lab.startswith("dz2") else "valence" for lab in labels])


def spin_up_block(model):
    """The spin-up orbitals ('...up' labels) of a spin-diagonal TBModel as a TBModel of their own.

    Exact for the BSE without exchange: the up-up and down-down blocks decouple into
    time-reversal copies.  ValueError if the model couples the spins.
    """
    up = [i for i, lab in enumerate(model.labels) if lab.endswith("up")]
    down = [i for i in range(model.n_orb) if i not in up]
    if np.abs(model.H_Rij[:, up][:, :, down]).max() > 0:
        raise ValueError("the model mixes spins: its spin-up block is not exact (use the full basis)")
    return TBModel(model.lattice, model.positions[up], model.R, model.H_Rij[:, up][:, :, up],
                   tuple(model.labels[i] for i in up))


def unit_model(material, model_range="TNN", soc=False, spin_block=False):
    """(three-band TBModel of the layer, occupied bands): spinless, spinful (soc), or the spin-up
    block of the spinful model (soc and spin_block)."""
    model = liu_model(material, model_range, soc=soc)
    if not (soc and spin_block):
        return model, (2 if soc else 1)
    return spin_up_block(model), 1


def supercell_model(unit, cell, harmonics, modulated=True):
    """(SparseTBModel of the twisted cell ``cell`` of ``unit``, on-site shifts (n_orb,) eV): the
    stacking-dependent first-harmonic shifts ``harmonics`` {class: (V eV, phi rad)} applied to the
    d_z2 ('conduction') and d_xy/d_x2-y2 ('valence') orbitals (zero shifts when not modulated)."""
    sc, _ = fold(unit, cell.M)
    if not modulated:
        return sc, np.zeros(sc.n_orb)
    delta = onsite_shifts(cell, sc.positions, orbital_classes(sc.labels), harmonics)
    return sc.with_onsite(delta), delta


def valleys_on_grid(cell, n):
    """True when the Gamma-centred n x n supercell grid contains the folded K and K' points of the
    layer (the band edges): K = (2/3, 1/3) (a1, a2 at 60 degrees) folds to K M^T mod 1 in the
    supercell basis (the moire Gamma when m1 - m2 is a multiple of 3, else the moire K)."""
    f = (np.array([2 / 3, 1 / 3]) @ np.asarray(cell.M).T) % 1.0
    on = lambda x: np.all(np.abs(x * n - np.round(x * n)) < 1e-9)   # noqa: E731
    return bool(on(f) and on((-f) % 1.0))


def mid_gap_unit(unit, n_occ):
    """Mid-gap energy of the unmodulated layer (eV), from a 48 x 48 grid (holds K and K')."""
    E = unit.bands(monkhorst_pack(48, 48))[0]
    return 0.5 * (E[:, n_occ - 1].max() + E[:, n_occ].min())


def mid_gap_dense(model, n_occ, k_frac, comm):
    """Mid-gap energy (eV) of a supercell from dense eigenvalues at the k-points k_frac, each rank
    its share of them: the middle between the highest occupied and the lowest empty band."""
    top, bottom = -np.inf, np.inf
    for k in k_frac[comm.rank::comm.size]:
        E = np.linalg.eigvalsh(model.hk(k).toarray())
        top, bottom = max(top, E[n_occ - 1]), min(bottom, E[n_occ])
    return 0.5 * (max_over_ranks(top, comm) + min_over_ranks(bottom, comm))


@dataclass(frozen=True)
class Problem:
    """The supercell as the BSE sees it, from either source.

    model: SparseTBModel (None until read, for a Wannier90 supercell); n_occ: occupied bands of
    the supercell; site_of_orbital (n_orb,) and site_pos (n_sites, 3) Angstrom: the interaction
    centres; a0: default on-site length (Angstrom, 0 if unknown); mid_gap: shift of the band
    solver (eV, None: compute from the grid); spin_factor: 1 in a spinful basis, 2 for a
    spinless one and the SOC spin-up block; twisted cells only: unit (three-band TBModel), cell
    (TwistedCell), delta (n_orb,) eV on-site shifts, harmonics {class: (V, phi)}.
    """

    model: object
    n_occ: int
    site_of_orbital: np.ndarray
    site_pos: np.ndarray
    a0: float
    mid_gap: float | None
    spin_factor: float = 2.0
    unit: object = None
    cell: object = None
    delta: np.ndarray | None = None
    harmonics: dict | None = None

    @property
    def n_orb(self):
        return len(self.site_of_orbital)

    @property
    def n_sites(self):
        return len(self.site_pos)

    def with_model(self, model):
        """The same problem with its supercell model."""
        return replace(self, model=model)

    def onsite_shift_table(self):
        """[n_sites, 2] eV: the on-site shift of the valence (d_xy/d_x2-y2) and conduction (d_z2)
        orbitals of each site (twisted cells)."""
        n_uo = self.unit.n_orb
        cls = orbital_classes(self.unit.labels)
        i_c, i_v = int(np.flatnonzero(cls == "conduction")[0]), int(np.flatnonzero(cls == "valence")[0])
        return np.column_stack([self.delta[i_v::n_uo], self.delta[i_c::n_uo]])


def twisted_problem(unit, n_occ, cell, harmonics, modulated=True, spin_factor=2.0):
    """The Problem of the twisted cell ``cell`` of the layer model ``unit`` (n_occ occupied bands
    per site), modulated by ``harmonics``."""
    sc, delta = supercell_model(unit, cell, harmonics, modulated)
    return Problem(sc, n_occ * cell.n_sites, np.arange(sc.n_orb) // unit.n_orb, sc.positions[::unit.n_orb],
                   float(np.linalg.norm(unit.lattice[0])), mid_gap_unit(unit, n_occ), spin_factor, unit, cell,
                   delta, harmonics)


def wannier90_problem(meta, n_occ, onsite_length, mid_gap=None, model=None):
    """The Problem of a supercell read from Wannier90 files (``meta``: the reader's
    Wannier90Meta): one interaction site per atom that carries Wannier functions."""
    atoms, site_of_orbital = np.unique(meta.info["atom_of_orbital"], return_inverse=True)
    first = np.array([np.flatnonzero(site_of_orbital == s)[0] for s in range(len(atoms))])
    return Problem(model, n_occ, site_of_orbital.ravel(), meta.positions[first], onsite_length, mid_gap)
