"""Workflow ``bse_moire``: BSE of one layer of a twisted heterobilayer in its moiré supercell (seed 004).

Config -> three-band model of the layer (Liu et al. 2013) -> commensurate
twisted cell (seed 004 SI Table A) -> supercell with the stacking-dependent
modulation of the on-site energies (hpcx/materials/moire_modulation.toml,
ASSUMED parameters) -> the bands nearest the gap by shift-and-invert, MPI
over k -> memory estimate (dense vs matrix-free) and refusal -> the BSE
operator (matrix-free PETSc MatShell, or the dense rows for small N) ->
lowest eigenpairs (SLEPc Krylov-Schur or Davidson) -> absorption by
Lanczos-Haydock recursion (or from the eigenpairs), independent-particle
spectrum, peak positions -> /results.  Units: eV, Angstrom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Field, Schema, Section
from ..errors import ConfigError, ConvergenceError, InputError
from ..log import get_logger

OPERATORS = ("auto", "dense", "matrix-free")

MOIRE = Section("bse_moire", (
    Field("source", str, "twisted", "single-particle supercell: 'twisted' builds the commensurate cell of the "
          "three-band model with the stacking modulation (the keys below up to modulation_scale); "
          "'wannier90' reads a supercell's Wannier90 files (e.g. a relaxed layer from DFT, as in seed 004)",
          choices=("twisted", "wannier90")),
    Field("wannier90_dir", str, "", "source = 'wannier90': directory of SEED_hr.dat, SEED.win, SEED.wout "
          "(and SEED_wsvec.dat with use_ws_distance), relative to the config file"),
    Field("seedname", str, "wannier90", "source = 'wannier90': the Wannier90 seedname"),
    Field("use_ws_distance", bool, True, "source = 'wannier90': apply the SEED_wsvec.dat shifts"),
    Field("n_occupied", int, 0, "source = 'wannier90': occupied Wannier bands of the supercell (required)",
          minimum=0),
    Field("hopping_cutoff", float, 0.0, "source = 'wannier90': drop the hr file's elements with "
          "|H_mn(R)|/ndegen(R) at or below this while streaming it (DFT Wannier Hamiltonians have no exact "
          "zeros; a supercell's H(k) and memory stay sparse only with a cutoff, e.g. 1e-4 eV; 0 keeps every "
          "element)", unit="eV", minimum=0.0),
    Field("mid_gap", float, (), "source = 'wannier90': an energy inside the gap, the shift of the "
          "shift-and-invert band solver, e.g. [0.4]; empty: from dense eigenvalues at the grid's k-points "
          "(up to 2000 orbitals)", unit="eV", list_of=True),
    Field("modulation_data", str, "WSe2/WS2", "entry of hpcx/materials/moire_modulation.toml: the layer "
          "(three-band model material), the other layer, lattice constants and the stacking-resolved on-site "
          "shifts (ASSUMED values, see docs/theory/bse_moire.md)"),
    Field("model", str, "TNN", "three-band model range of Liu et al. PRB 88, 085433 (2013)", choices=("NN", "TNN")),
    Field("soc", bool, False, "on-site spin-orbit coupling of the three-band model; without it the basis is "
          "spinless and singlet excitons carry the spin factor 2"),
    Field("soc_basis", str, "auto", "with soc: 'full' = 6 spin orbitals per site (4x the operator cost); "
          "'auto' = the spin-up block alone (3 orbitals, spin factor 2) when exchange is off — exact, because "
          "the model's SOC is diagonal in s_z and without exchange the up-up and down-down BSE blocks decouple "
          "into time-reversal copies — and 'full' with exchange", choices=("auto", "full")),
    Field("theta", float, -1.0, "twist angle: the primitive commensurate cell closest to it (smallest strain "
          "within 0.05 deg); -1: use cell_m and cell_n", unit="deg", minimum=-1.0, maximum=30.0),
    Field("cell_m", int, (), "commensurate indices (m1, m2) of the supercell vector in the layer "
          "(seed 004 Table A: (2, 2) at 16.1 deg, (8, 2) at 5.68 deg); with cell_n, instead of theta",
          list_of=True),
    Field("cell_n", int, (), "the same supercell vector (n1, n2) in the other layer's lattice", list_of=True),
    Field("max_sites", int, 1500, "largest cell (metal sites of the layer) searched for theta", minimum=1),
    Field("max_strain", float, 0.005, "largest isotropic strain of the other layer that makes the cell "
          "commensurate", minimum=0.0),
    Field("modulation", bool, True, "apply the stacking-dependent on-site modulation (false: the flat layer "
          "in the same supercell)"),
    Field("modulation_scale", float, 1.0, "factor on the modulation amplitudes (sensitivity studies)",
          minimum=0.0),
    Field("k_grid", int, 3, "n of the Gamma-centred n x n grid of the supercell Brillouin zone", minimum=1,
          maximum=64),
    Field("valence_bands", int, 8, "valence bands per k kept in the BSE basis (the highest)", minimum=1),
    Field("conduction_bands", int, 8, "conduction bands per k kept in the BSE basis (the lowest)", minimum=1),
    Field("band_solver", str, "auto", "bands nearest the gap: shift-and-invert (SLEPc sinvert + LU, scipy "
          "eigsh) or dense eigh; auto: dense below 400 orbitals, else SLEPc, else scipy",
          choices=("auto", "dense", "scipy", "slepc")),
    Field("scissor", float, 0.0, "rigid shift of the conduction bands (GW correction of the gap)", unit="eV"),
    Field("r0", float, 82.96, "Keldysh screening length of the heterobilayer: seed 004 uses a length "
          "'determined by the polarizabilities of the two layers'; default r0(WSe2) + r0(WS2) = 45.09 + 37.87 A "
          "(PyMEX values; the small-q limit of two polarizable sheets)", unit="Angstrom", minimum=0.0,
          exclusive=True),
    Field("epsilon", float, 1.0, "mean dielectric constant of the surroundings", minimum=1.0),
    Field("onsite_length", float, 0.0, "a of the on-site regularisation V(0) = U V(a) (0: the layer's "
          "lattice constant, seed 004; required for source = 'wannier90')", unit="Angstrom", minimum=0.0),
    Field("onsite_u", float, 1.0, "U of the on-site regularisation (seed 004: 1)", minimum=0.0),
    Field("exchange", bool, False, "include the bare exchange term (seed 004's main results omit it)"),
    Field("operator", str, "auto", "BSE operator: dense rows (hpcx.bse.hamiltonian) or the matrix-free "
          "MatShell (hpcx.bse.matfree); auto: dense up to dense_max_n transitions if it fits, else matrix-free",
          choices=OPERATORS),
    Field("dense_max_n", int, 3000, "largest N for which operator = 'auto' takes the dense operator",
          minimum=0),
    Field("memory_limit_gib", float, 0.0, "memory limit per rank for the estimate (0: 80 % of the node's "
          "physical memory / ranks)", unit="GiB", minimum=0.0),
    Field("eigensolver", str, "krylovschur", "SLEPc solver on the matrix-free operator: Krylov-Schur or "
          "Davidson (GD, preconditioned by E_c - E_v); the dense operator always uses Krylov-Schur",
          choices=("krylovschur", "gd")),
    Field("n_eig", int, 8, "lowest eigenpairs to compute", minimum=1),
    Field("tol", float, 1e-8, "SLEPc relative tolerance", minimum=0.0, exclusive=True),
    Field("max_it", int, 2000, "SLEPc maximum iterations", minimum=1),
    Field("ncv", int, 0, "SLEPc subspace size (0: SLEPc's default)", minimum=0),
    Field("spectrum", str, "recursion", "absorption from a Lanczos-Haydock recursion on the operator (no "
          "eigenpairs needed) or from the computed eigenpairs only", choices=("recursion", "eigenpairs")),
    Field("n_lanczos", int, 200, "Lanczos steps per polarisation of the recursion spectrum", minimum=1),
    Field("polarization", str, "average", "in-plane polarisations of the recursion spectrum: 'average' runs the "
          "recursion for x and y and averages them; 'x' runs it once (half the cost), exact here because every "
          "cell of this workflow is C3-symmetric (hexagonal supercell, C3-symmetric model, modulation and "
          "k-grid), so sigma_xx = sigma_yy", choices=("average", "x")),
    Field("broadening", float, 0.01, "Gaussian width (standard deviation) of the spectra", unit="eV",
          minimum=0.0, exclusive=True),
    Field("energy_min", float, 0.0, "spectrum start (0: lowest exciton - 0.2 eV)", unit="eV", minimum=0.0),
    Field("energy_max", float, 0.0, "spectrum end (0: quasiparticle gap + 0.2 eV)", unit="eV", minimum=0.0),
    Field("energy_points", int, 1601, "points of the spectrum grid", minimum=2),
    Field("peak_prominence", float, 0.02, "peaks of sigma listed in /results/spectrum/peaks: local maxima "
          "with at least this prominence relative to the largest value", minimum=0.0, maximum=1.0),
    Field("wavefunctions", int, 0, "lowest excitons whose hole-fixed electron density and hole density are "
          "written (seed 004 Figs. 1a, 3); members of a degenerate multiplet (K/K') get the multiplet's average, "
          "which does not depend on the solver's basis.  Gathers the eigenvectors and band coefficients on every "
          "rank",
          minimum=0),
    Field("hole_site", int, -1, "metal site of the fixed hole (-1: the site at r = 0, the AA stacking point)",
          minimum=-1),
    Field("write_amplitudes", bool, False, "write the exciton amplitudes A^S_kvc ([N, n_eig], each rank its "
          "slab of transitions)"),
), doc="Moiré supercell of one layer of a twisted heterobilayer: BSE eigenpairs and absorption.", required=True)

SCHEMA = Schema("bse_moire", (MOIRE,), doc="Tamm-Dancoff BSE of the intralayer excitons of one layer of a "
                                           "twisted heterobilayer (seed 004: the WSe2 layer of WS2/WSe2) in its "
                                           "commensurate moiré supercell, with a stacking-dependent modulation "
                                           "of the on-site energies; matrix-free distributed operator, SLEPc "
                                           "eigenpairs, recursion spectra.")


# ---------------------------------------------------------------------------
# config -> model


def _data(cfg):
    from ..bse.liu import liu_materials
    from ..bse.modulation import modulation_data, modulation_names
    from ..materials import UnknownMaterialError
    b = cfg.bse_moire
    try:
        data = modulation_data(b.modulation_data)
    except UnknownMaterialError:
        raise ConfigError(cfg.source, "bse_moire.modulation_data", f"unknown entry {b.modulation_data!r}; known: "
                          f"{', '.join(modulation_names())} (hpcx/materials/moire_modulation.toml)") from None
    if data.layer not in liu_materials():
        raise ConfigError(cfg.source, "bse_moire.modulation_data", f"layer {data.layer!r} has no three-band model; "
                          f"known: {', '.join(liu_materials())}")
    return data


def spin_block(cfg):
    """True when the run uses the spin-up block of the SOC model (soc, soc_basis 'auto', no exchange)."""
    b = cfg.bse_moire
    return b.soc and b.soc_basis == "auto" and not b.exchange


def unit_model(cfg):
    """The three-band TBModel of the layer (or its spin-up block, see spin_block) and its number of
    occupied bands."""
    from ..bse.liu import liu_model
    from ..bse.tbmodel import TBModel
    b = cfg.bse_moire
    model = liu_model(_data(cfg).layer, b.model, soc=b.soc)
    if not spin_block(cfg):
        return model, (2 if b.soc else 1)
    up = [i for i, lab in enumerate(model.labels) if lab.endswith("up")]
    down = [i for i in range(model.n_orb) if i not in up]
    if np.abs(model.H_Rij[:, up][:, :, down]).max() > 0:        # pragma: no cover - guards the model file
        raise ValueError("the three-band SOC model mixes spins: use soc_basis = 'full'")
    return TBModel(model.lattice, model.positions[up], model.R, model.H_Rij[:, up][:, :, up],
                   tuple(model.labels[i] for i in up)), 1


def twisted_cell(cfg, unit):
    """The commensurate TwistedCell from theta or (cell_m, cell_n); ConfigError otherwise."""
    from ..bse import modulation as md
    b = cfg.bse_moire
    data = _data(cfg)
    a2d = unit.lattice[:2, :2]
    given = bool(b.cell_m) or bool(b.cell_n)
    if given and b.theta >= 0:
        raise ConfigError(cfg.source, "bse_moire.theta", "give either theta or cell_m/cell_n, not both")
    if given:
        for key, v in (("cell_m", b.cell_m), ("cell_n", b.cell_n)):
            if len(v) != 2:
                raise ConfigError(cfg.source, f"bse_moire.{key}", f"needs two integers (i1, i2), got {list(v)}")
        try:
            cell = md.twisted_cell(a2d, tuple(b.cell_m), tuple(b.cell_n), data.a_other)
        except ValueError as exc:
            raise ConfigError(cfg.source, "bse_moire.cell_m", str(exc)) from None
        if abs(cell.strain) > b.max_strain:
            raise ConfigError(cfg.source, "bse_moire.cell_n", f"m = {list(b.cell_m)}, n = {list(b.cell_n)} is "
                              f"commensurate only with {100 * cell.strain:+.2f} % strain of the other layer "
                              f"(max_strain {100 * b.max_strain:.2f} %)")
        return cell
    if b.theta < 0:
        if b.theta != -1.0:
            raise ConfigError(cfg.source, "bse_moire.theta", f"must be in [0, 30] deg (or -1 with cell_m/cell_n), "
                              f"got {b.theta}")
        raise ConfigError(cfg.source, "bse_moire.theta", "set theta (deg) or cell_m and cell_n")
    try:
        cell = md.closest_cell(a2d, data.a_other, b.theta, b.max_sites, b.max_strain)
    except ValueError as exc:
        raise ConfigError(cfg.source, "bse_moire.max_sites", str(exc)) from None
    if abs(abs(cell.theta_deg) - b.theta) > 0.05:
        raise ConfigError(cfg.source, "bse_moire.theta", f"no commensurate cell within 0.05 deg of {b.theta} deg "
                          f"with <= {b.max_sites} sites (closest: {abs(cell.theta_deg):.3f} deg, {cell.n_sites} "
                          "sites); raise max_sites or max_strain, or give cell_m/cell_n")
    return cell


def orbital_classes(labels):
    """'conduction' for d_z2 (the K-valley conduction orbital), 'valence' for d_xy, d_x2-y2."""
    return np.array(["conduction" if lab.startswith("dz2") else "valence" for lab in labels])


def supercell_model(cfg, unit, cell):
    """(SparseTBModel of the supercell with the modulation, on-site shifts (n_orb,) eV, harmonics)."""
    from ..bse.modulation import onsite_shifts
    from ..bse.supercell import fold
    b = cfg.bse_moire
    sc, _ = fold(unit, cell.M)
    harmonics = _data(cfg).harmonics(b.modulation_scale)
    if not b.modulation:
        return sc, np.zeros(sc.n_orb), harmonics
    delta = onsite_shifts(cell, sc.positions, orbital_classes(sc.labels), harmonics)
    return sc.with_onsite(delta), delta, harmonics


@dataclass(frozen=True)
class Problem:
    """The supercell as the BSE sees it, from either source.

    model: SparseTBModel (None when built for check() only); n_occ: occupied bands of the
    supercell; site_of_orbital (n_orb,) and site_pos (n_sites, 3) Angstrom: the interaction
    centres; a0: default on-site length (Angstrom, 0 if unknown); mid_gap: shift of the band
    solver (eV, None: compute); spin_factor: 1 in a spinful basis, 2 for spinless input and the
    SOC spin-up block; twisted source only: unit (three-band TBModel), cell (TwistedCell), delta
    (n_orb,) eV on-site shifts, harmonics.
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


def _wannier_problem(cfg, with_model=True):
    """Problem of a Wannier90 supercell (source = 'wannier90'); ConfigError on bad input.  With
    with_model=False only the metadata are read (no hopping is parsed): enough for check()."""
    from ..bse.wannier90 import load_wannier90_sparse, read_wannier90_meta
    from .bse import locate_wannier90
    b = cfg.bse_moire
    for key, given in (("theta", b.theta != -1.0), ("cell_m", len(b.cell_m) > 0), ("cell_n", len(b.cell_n) > 0)):
        if given:
            raise ConfigError(cfg.source, f"bse_moire.{key}", "selects the twisted cell of source = 'twisted'; a "
                              "Wannier90 supercell brings its own cell (remove the key)")
    d = locate_wannier90(cfg, "bse_moire")
    if b.onsite_length <= 0:
        raise ConfigError(cfg.source, "bse_moire.onsite_length", "required for source = 'wannier90' (seed 004: the "
                          "layer's lattice constant, e.g. 3.32 A for WSe2)")
    if len(b.mid_gap) > 1:
        raise ConfigError(cfg.source, "bse_moire.mid_gap", f"one energy or none, got {list(b.mid_gap)}")
    try:
        meta = read_wannier90_meta(d, b.seedname, centres="atoms")
        model = load_wannier90_sparse(d, b.seedname, use_ws_distance=b.use_ws_distance, cutoff=b.hopping_cutoff,
                                      meta=meta)[0] if with_model else None
    except InputError as exc:
        raise ConfigError(cfg.source, "bse_moire.wannier90_dir", str(exc)) from None
    nw = meta.num_wann
    if not 1 <= b.n_occupied < nw:
        raise ConfigError(cfg.source, "bse_moire.n_occupied", f"must be 1..{nw - 1} for the {nw} "
                          f"Wannier bands, got {b.n_occupied}")
    if not b.mid_gap and nw > 2000:
        raise ConfigError(cfg.source, "bse_moire.mid_gap", f"{nw} orbitals: too many for dense eigenvalues; "
                          "give an energy inside the gap")
    atoms, site_of_orbital = np.unique(meta.info["atom_of_orbital"], return_inverse=True)
    first = np.array([np.flatnonzero(site_of_orbital == s)[0] for s in range(len(atoms))])
    return Problem(model, b.n_occupied, site_of_orbital.ravel(), meta.positions[first], b.onsite_length,
                   b.mid_gap[0] if b.mid_gap else None)


def build_problem(cfg, with_model=True):
    """The Problem of the config (either source); ConfigError on bad input.  with_model=False:
    what check() needs (sizes and sites) without reading a Wannier90 Hamiltonian."""
    if cfg.bse_moire.source == "wannier90":
        return _wannier_problem(cfg, with_model)
    unit, n_occ = unit_model(cfg)
    cell = twisted_cell(cfg, unit)
    sc, delta, harmonics = supercell_model(cfg, unit, cell)
    g_s = 1.0 if cfg.bse_moire.soc and not spin_block(cfg) else 2.0
    return Problem(sc, n_occ * cell.n_sites, np.arange(sc.n_orb) // unit.n_orb, sc.positions[::unit.n_orb],
                   float(np.linalg.norm(unit.lattice[0])), _mid_gap(unit, n_occ), g_s, unit, cell, delta,
                   harmonics)


def _sizes(cfg, prob):
    """(n_orb, n_k, N, valence bands, conduction bands) of the supercell."""
    b = cfg.bse_moire
    n_orb = prob.n_orb
    n_k = b.k_grid ** 2
    return n_orb, n_k, n_k * b.valence_bands * b.conduction_bands, prob.n_occ, n_orb - prob.n_occ


def _ncv(b, N):
    return min(N, b.ncv or max(2 * b.n_eig, b.n_eig + 15))


def choose_operator(cfg, prob, ranks):
    """(operator 'dense'/'matfree', memory Estimate); raises InputError when it cannot fit."""
    from ..bse import memory
    b = cfg.bse_moire
    n_orb, n_k, N, _, _ = _sizes(cfg, prob)
    est = memory.estimate(n_k, n_orb, b.valence_bands, b.conduction_bands, ranks, ncv=_ncv(b, N),
                          limit_gib=b.memory_limit_gib or None)
    if b.operator == "auto":
        op = "dense" if N <= b.dense_max_n and est.dense <= est.limit else "matfree"
    else:
        op = "dense" if b.operator == "dense" else "matfree"
    memory.require_fit(est, op, "bse_moire.operator")
    return op, est


def check(cfg):
    """Cell, band window, solver availability and the memory estimate; raises ConfigError."""
    from ..bse.solver import slepc_available
    from ..parallel import get_comm
    b = cfg.bse_moire
    prob = build_problem(cfg, with_model=False)
    n_orb, n_k, N, n_val, n_con = _sizes(cfg, prob)
    if b.valence_bands >= n_val:
        raise ConfigError(cfg.source, "bse_moire.valence_bands", f"at most {n_val - 1} (the cell has {n_val} "
                          "valence bands; one more is computed to detect split degenerate levels)")
    if b.conduction_bands >= n_con:
        raise ConfigError(cfg.source, "bse_moire.conduction_bands", f"at most {n_con - 1} (the cell has {n_con} "
                          "conduction bands)")
    if b.n_eig > N:
        raise ConfigError(cfg.source, "bse_moire.n_eig", f"at most the BSE dimension N = {N}")
    if b.wavefunctions > b.n_eig:
        raise ConfigError(cfg.source, "bse_moire.wavefunctions", f"at most n_eig = {b.n_eig} (densities are "
                          "computed from the eigenpairs)")
    if b.hole_site >= prob.n_sites:
        raise ConfigError(cfg.source, "bse_moire.hole_site", f"the cell has {prob.n_sites} sites "
                          f"(0 ... {prob.n_sites - 1}, or -1)")
    if b.energy_max and b.energy_max <= b.energy_min:
        raise ConfigError(cfg.source, "bse_moire.energy_max", f"must exceed energy_min = {b.energy_min} eV")
    if b.band_solver == "slepc" and not slepc_available():
        raise ConfigError(cfg.source, "bse_moire.band_solver", "'slepc' needs petsc4py/slepc4py; use 'auto'")
    try:
        op, _ = choose_operator(cfg, prob, get_comm().size)
    except InputError as exc:
        raise ConfigError(cfg.source, "bse_moire.operator", str(exc)) from None
    if op == "matfree" and not slepc_available():
        raise ConfigError(cfg.source, "bse_moire.operator", "the matrix-free operator needs petsc4py/slepc4py "
                          "(complex) for its eigenpairs; use operator = 'dense' for small N")
    if b.operator == "dense" and b.eigensolver != "krylovschur":
        raise ConfigError(cfg.source, "bse_moire.eigensolver", "'gd' is for the matrix-free operator; the dense "
                          "operator uses Krylov-Schur")


# ---------------------------------------------------------------------------
# run


def valleys_on_grid(cell, n):
    """True when the Gamma-centred n x n supercell grid contains the folded K and K' points of the
    layer (the band edges): K = (2/3, 1/3) (a1, a2 at 60 degrees) folds to K M^T mod 1 in the
    supercell basis (the moire Gamma when m1 - m2 is a multiple of 3, else the moire K)."""
    f = (np.array([2 / 3, 1 / 3]) @ np.asarray(cell.M).T) % 1.0
    on = lambda x: np.all(np.abs(x * n - np.round(x * n)) < 1e-9)   # noqa: E731
    return bool(on(f) and on((-f) % 1.0))


def _mid_gap(unit, n_occ):
    """Mid-gap energy of the unmodulated layer (eV): shift of the shift-and-invert band solver."""
    from ..bse.tbmodel import monkhorst_pack
    k = monkhorst_pack(48, 48)                 # contains K = (2/3, 1/3) and K' = (1/3, 2/3)
    E = unit.bands(k)[0]
    return 0.5 * (E[:, n_occ - 1].max() + E[:, n_occ].min())


def _mid_gap_dense(model, n_occ, k_frac, comm):
    """Mid-gap energy (eV) of a supercell from dense eigenvalues at the k-points k_frac (the BSE grid),
    each rank its share of them: the middle between the highest occupied and the lowest empty band."""
    top, bottom = -np.inf, np.inf
    for k in k_frac[comm.rank::comm.size]:
        E = np.linalg.eigvalsh(model.hk(k).toarray())
        top, bottom = max(top, E[n_occ - 1]), min(bottom, E[n_occ])
    if comm.size > 1:
        from mpi4py import MPI
        top, bottom = comm.allreduce(top, op=MPI.MAX), comm.allreduce(bottom, op=MPI.MIN)
    return 0.5 * (top + bottom)


class _Dense:
    """The dense operator on the PETSc row layout [start, stop) of N (small N: bands replicated)."""

    def __init__(self, rows, start, comm):
        self.rows, self.start, self.comm = rows, start, comm
        self.stop = start + rows.shape[0]

    def apply(self, x_local):
        full = np.concatenate(self.comm.allgather(x_local)) if self.comm.size > 1 else x_local
        return self.rows @ full


def _allgather_k(local, comm):
    return np.concatenate(comm.allgather(local)) if comm.size > 1 else local


def multiplet_densities(window, vectors, values, sites, grid, hole, lattice, n_wf, log, tol=1e-6):
    """Hole-fixed electron densities (hpcx.bse.optics.hole_fixed_density) and hole densities
    (hpcx.bse.optics.hole_density) of the lowest ``n_wf`` states, each member of a degenerate
    multiplet (|E - E'| < tol eV) replaced by the multiplet's average (independent of the basis
    the solver picked in it).  vectors [N, n_eig] on every rank.  Returns (density [n_wf, n_R,
    n_site], positions [n_R, n_site, 3] Angstrom, hole density [n_wf, n_site])."""
    from ..bse import optics as op
    dens, pos = op.hole_fixed_density(window, vectors, sites, grid, hole, lattice)
    rho_h = op.hole_density(window, vectors, sites)
    label = np.concatenate([[0], np.cumsum(np.diff(values) > tol)])       # multiplet index per state
    if label[n_wf - 1] == label[-1]:
        log.warning("the last multiplet of the %d wavefunctions may continue beyond the %d computed eigenpairs: "
                    "its average is over the computed members only (raise n_eig)", n_wf, len(values))
    avg = lambda x: np.array([x[label == lab].mean(axis=0) for lab in label])[:n_wf]   # noqa: E731
    return avg(dens), pos, avg(rho_h)


def _sum(x, comm):
    return comm.allreduce(x) if comm.size > 1 else x


def _peaks(energy, sigma, prominence):
    """Energies (parabolic refinement) and heights of the local maxima of sigma."""
    from scipy.signal import find_peaks
    if sigma.max() <= 0:
        return np.zeros(0), np.zeros(0)
    idx, _ = find_peaks(sigma, prominence=prominence * sigma.max())
    e, h = [], []
    for i in idx:
        y0, y1, y2 = sigma[i - 1:i + 2]
        den = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / den if den != 0 else 0.0
        e.append(energy[i] + shift * (energy[1] - energy[0]))
        h.append(y1 - 0.25 * (y0 - y2) * shift)
    return np.array(e), np.array(h)


def run(cfg, writer, comm, timer):
    from ..bse import bands as bb
    from ..bse import interaction as it
    from ..bse import optics as op
    from ..bse.supercell import bands_near_gap_mpi
    from ..bse.tbmodel import monkhorst_pack
    from .bse import wannier_dir

    log = get_logger("bse_moire")
    b = cfg.bse_moire
    n_v, n_c = b.valence_bands, b.conduction_bands
    with timer.phase("model"):
        prob = build_problem(cfg)
        sc, cell = prob.model, prob.cell
        grid = (b.k_grid, b.k_grid)
        n_k = grid[0] * grid[1]
        N = n_k * n_v * n_c
        valleys = None
        if cell is not None:
            log.info("%s on %s: theta = %.3f deg, m = %s, n = %s, %d sites, %d orbitals, strain %+.3f %%, moire "
                     "period %.2f A; modulation %s (scale %g)", _data(cfg).layer, _data(cfg).other_layer,
                     abs(cell.theta_deg), cell.m, cell.n, cell.n_sites, sc.n_orb, 100 * cell.strain, cell.period,
                     "on" if b.modulation else "off", b.modulation_scale)
            valleys = valleys_on_grid(cell, b.k_grid)
            if not valleys:
                log.warning("the %d x %d grid misses the folded K/K' points of this cell (m1 - m2 = %d is not a "
                            "multiple of 3: K folds to the moire K point): the band edges are not sampled; use a "
                            "k_grid divisible by 3", b.k_grid, b.k_grid, cell.m[0] - cell.m[1])
        else:
            log.info("Wannier90 supercell %s/%s: %d orbitals on %d sites, %d occupied bands",
                     wannier_dir(cfg, "bse_moire"), b.seedname, sc.n_orb, prob.n_sites, prob.n_occ)
        operator, est = choose_operator(cfg, prob, comm.size)
        for line in est.lines():
            log.info("memory estimate: %s", line)
        log.info("operator: %s", "dense rows" if operator == "dense" else "matrix-free (PETSc MatShell)")

    with timer.phase("bands"):
        k = monkhorst_pack(*grid)
        sigma0 = prob.mid_gap if prob.mid_gap is not None else _mid_gap_dense(sc, prob.n_occ, k, comm)
        k0, e_loc, c_loc = bands_near_gap_mpi(sc, k, n_v + 1, n_c + 1, sigma0, comm, solver=b.band_solver)
        k1 = k0 + len(e_loc)
        c_loc = bb.fix_phases(c_loc)
        split = int(np.sum(e_loc[:, 1] - e_loc[:, 0] < 1e-6) + np.sum(e_loc[:, -1] - e_loc[:, -2] < 1e-6))
        split = int(_sum(split, comm))
        if split:
            log.warning("the band window splits a degenerate level at %d k-point edge(s); results depend on "
                        "which partner was kept: change valence_bands/conduction_bands by one", split)
        E_v = np.ascontiguousarray(e_loc[:, n_v:0:-1])              # top down
        C_v = np.ascontiguousarray(c_loc[:, :, n_v:0:-1])
        E_c = np.ascontiguousarray(e_loc[:, n_v + 1:n_v + 1 + n_c]) + b.scissor
        C_c = np.ascontiguousarray(c_loc[:, :, n_v + 1:n_v + 1 + n_c])
        gap_loc = float((E_c[:, 0] - E_v[:, 0]).min()) if len(E_v) else np.inf
        qp_gap = comm.allreduce(gap_loc, op=_min()) if comm.size > 1 else gap_loc
        # velocity matrix elements P[k, a, v, c] (eV Angstrom) of this rank's k-points
        P = np.array([[C_v[i].conj().T @ (M @ C_c[i]) for M in sc.velocity(kk)] for i, kk in enumerate(k[k0:k1])])
        P = P.reshape(len(E_v), 2, n_v, n_c)
        log.info("bands: %d + %d per k on %d x %d k-points (N = %d); qp gap %.4f eV", n_v, n_c, *grid, N, qp_gap)

    with timer.phase("operator"):
        a0 = b.onsite_length or prob.a0
        V = it.keldysh(b.r0, b.epsilon, a0, b.onsite_u)
        site_of_orbital, site_pos, n_sites = prob.site_of_orbital, prob.site_pos, prob.n_sites
        g_s = prob.spin_factor
        V_x = None
        if b.exchange:
            V_x = it.coulomb(b.epsilon, a0)(it.site_distances(sc.lattice, grid, site_pos)).sum(axis=(0, 1))
        if operator == "matfree":
            from ..bse.matfree import MatFreeBSE
            H = MatFreeBSE(grid, sc.lattice, sc.positions, E_v, E_c, C_v, C_c, V, V_x=V_x,
                           site_of_orbital=site_of_orbital, exchange_factor=g_s, comm=comm)
            lo, hi = k0 * n_v * n_c, k1 * n_v * n_c
        else:
            from ..bse import hamiltonian as hh
            from ..bse.solver import ownership
            window = bb.BandWindow(k, _allgather_k(E_v, comm), _allgather_k(E_c, comm), _allgather_k(C_v, comm),
                                   _allgather_k(C_c, comm), np.arange(n_v), np.arange(n_c), b.scissor)
            sites = it.Sites(site_of_orbital, site_pos, np.zeros(n_sites, int))
            inter = it.Interaction(sites, np.ascontiguousarray(
                it.lattice_sum(V(it.site_distances(sc.lattice, grid, site_pos))).reshape(-1, n_sites, n_sites),
                dtype=complex), V_x, it.q_index(grid))
            lo, hi = ownership(N, comm)
            H = _Dense(hh.assemble_rows(window, inter, lo, hi, exchange_factor=g_s if b.exchange else 0.0), lo,
                       comm)
        # transition-ordered local arrays on the operator's layout [lo, hi)
        if operator == "matfree":
            P_t = P.transpose(0, 2, 3, 1).reshape(-1, 2)
            omega = (E_c[:, None, :] - E_v[:, :, None]).reshape(-1)
        else:
            P_t = _allgather_k(P, comm).transpose(0, 2, 3, 1).reshape(-1, 2)[lo:hi]
            omega = window.transition_energies()[lo:hi]
        log.info("operator ready: rows/transitions %d:%d of %d on this rank", lo, hi, N)

    with timer.phase("eigenpairs"):
        nev = b.n_eig
        if operator == "matfree":
            from ..bse.matfree import solve
            res = solve(H, nev, method=b.eigensolver, tol=b.tol, max_it=b.max_it, ncv=b.ncv or None)
            values, vectors, residuals, its = res.values, res.vectors, res.residuals, res.iterations
            method = f"matfree-{res.method}"
        else:
            from ..bse import solver as sv
            res = sv.solve(H.rows, lo, N, nev, comm, backend="auto", tol=b.tol, max_it=b.max_it,
                           ncv=b.ncv or None, prefix="bse_moire_")
            values, vectors, residuals, its = res.values, res.vectors[lo:hi], res.residuals, res.iterations
            method = res.backend
        limit = 1e3 * b.tol * max(1.0, float(np.abs(values).max()))
        if residuals.max() > limit:
            raise ConvergenceError(f"{method}: eigenpair {int(residuals.argmax())} has residual "
                                   f"{residuals.max():.2e} eV > {limit:.1e} eV")
        P_S = _sum(vectors.T @ P_t, comm)                                   # [nev, 2]
        f_S = op.oscillator_strength(P_S, values, n_k, g_s)
        log.info("%s: %d eigenpairs, lowest %.4f eV (qp gap - %.4f eV), max residual %.1e eV, %d iterations",
                 method, nev, values[0], qp_gap - values[0], residuals.max(), its)

    wavefunction = None
    if b.wavefunctions:
        with timer.phase("wavefunctions"):
            if operator == "matfree":
                window = bb.BandWindow(k, _allgather_k(E_v, comm), _allgather_k(E_c, comm), _allgather_k(C_v, comm),
                                       _allgather_k(C_c, comm), np.arange(n_v), np.arange(n_c), b.scissor)
                sites = it.Sites(site_of_orbital, site_pos, np.zeros(n_sites, int))
            hole = b.hole_site if b.hole_site >= 0 else int(np.argmin(np.linalg.norm(site_pos[:, :2], axis=1)))
            wavefunction = (hole, site_pos[hole]) + multiplet_densities(
                window, _allgather_k(vectors, comm), values, sites, grid, hole, sc.lattice, b.wavefunctions, log)

    with timer.phase("spectrum"):
        cell_area = float(abs(np.linalg.det(sc.lattice[:2, :2])))
        e_lo = b.energy_min or max(0.05, values[0] - 0.2)
        e_hi = b.energy_max or qp_gap + 0.2
        energy = np.linspace(e_lo, max(e_hi, e_lo + 0.1), b.energy_points)
        pref = np.pi * g_s / (n_k * cell_area)
        steps = []
        if b.spectrum == "recursion":
            from ..bse.recursion import lanczos
            mu = np.zeros(len(energy))
            axes = (0, 1) if b.polarization == "average" else (0,)
            for a in axes:
                rec = lanczos(H.apply, np.conj(P_t[:, a]), min(b.n_lanczos, N), comm)
                mu += rec.gaussian(energy, b.broadening, prefactor=lambda th: 1.0 / th)
                steps.append(rec.steps)
            sigma = pref * mu / len(axes)
            log.info("recursion spectrum: %s Lanczos steps (%s)", steps, ", ".join("xy"[a] for a in axes))
        else:
            sigma = op.conductivity(energy, values, 0.5 * np.sum(np.abs(P_S) ** 2, axis=1), n_k, cell_area,
                                    b.broadening, g_s)
        p2_ip = 0.5 * np.sum(np.abs(P_t) ** 2, axis=1)
        sigma_ip = _sum(op.conductivity(energy, omega, p2_ip, n_k, cell_area, b.broadening, g_s), comm)
        peaks, heights = _peaks(energy, sigma, b.peak_prominence)
        log.info("peaks of sigma: %s eV", ", ".join(f"{p:.4f}" for p in peaks) or "none")

    with timer.phase("write"):
        if cell is not None:
            origin = {"modulation_data": b.modulation_data, "layer": _data(cfg).layer,
                      "other_layer": _data(cfg).other_layer, "model": f"{_data(cfg).layer} {b.model} soc={b.soc}"
                      + (" (spin-up block)" if spin_block(cfg) else ""),
                      "modulation": b.modulation, "modulation_scale": b.modulation_scale, "valleys_on_grid": valleys}
        else:
            origin = {"model": f"Wannier90 {wannier_dir(cfg, 'bse_moire') / b.seedname}",
                      "n_occupied": prob.n_occ, "hopping_cutoff_eV": b.hopping_cutoff, "hoppings": sc.nnz,
                      "use_ws_distance": b.use_ws_distance, "mid_gap_eV": float(sigma0)}
        writer.group("results", attrs={
            "source": b.source, **origin, "k_grid": list(grid), "n_valence": n_v,
            "n_conduction": n_c, "bse_dimension": N, "operator": operator, "solver": method, "iterations": its,
            "spin_factor": g_s, "direct": True, "exchange": b.exchange, "r0_angstrom": b.r0,
            "epsilon": b.epsilon, "onsite_u": b.onsite_u, "onsite_length_angstrom": a0, "scissor_eV": b.scissor,
            "split_degenerate_edges": split,
            "memory_dense_gib_per_rank": est.dense / 2 ** 30, "memory_matfree_gib_per_rank": est.matfree / 2 ** 30,
            "memory_limit_gib_per_rank": est.limit / 2 ** 30, "ranks": comm.size})
        writer.write("results/eigenvalues", values, units="eV",
                     attrs={"order": "ascending", "max_residual_eV": float(residuals.max()),
                            "residuals_eV": residuals.tolist()})
        writer.write("results/oscillator_strength", f_S, units="",
                     attrs={"definition": "g_s 2 m |P_S|^2 / (hbar^2 N_k Omega_S), in-plane average, per supercell"})
        writer.write("results/qp_gap", qp_gap, units="eV", attrs={"definition": "smallest E_c - E_v in the basis "
                                                                                "(scissor applied)"})
        writer.write("results/binding_energy", qp_gap - values[0], units="eV",
                     attrs={"definition": "qp_gap - lowest eigenvalue"})
        writer.write("results/k_points", k, units="", attrs={"definition": "fractional (supercell reciprocal basis)"})
        kv, vv, cv = np.meshgrid(np.arange(k0, k1), np.arange(n_v), np.arange(n_c), indexing="ij")
        tr = np.column_stack([kv.ravel(), vv.ravel(), cv.ravel()])
        writer.write_distributed("results/transitions", tr, k0 * n_v * n_c, (N, 3), units="",
                                 attrs={"columns": ["k", "v", "c"], "definition": "k indexes results/k_points; v "
                                        "counts valence bands down from the top, c conduction bands up from the "
                                        "bottom (0-based)"})
        e_tr = (E_c[:, None, :] - E_v[:, :, None]).reshape(-1)
        writer.write_distributed("results/transition_energy", e_tr, k0 * n_v * n_c, (N,), units="eV",
                                 attrs={"definition": "E_c(k) - E_v(k) (scissor applied)"})
        if wavefunction is not None:
            hole, hole_pos, dens, pos, rho_h = wavefunction
            w = "results/wavefunction"
            writer.group(w, attrs={"hole_site": hole, "hole_position_angstrom": list(hole_pos)})
            writer.write(f"{w}/density", dens, units="", attrs={
                "shape": "[n_wf, n_R, n_site]", "definition": "|Psi_S(r_e = R + tau_s, r_h = tau_hole)|^2 summed over "
                "the orbitals of both sites, normalised per state; degenerate multiplets averaged"})
            writer.write(f"{w}/positions", pos, units="Angstrom", attrs={"shape": "[n_R, n_site, 3]",
                                                                        "definition": "minimum image around the hole"})
            writer.write(f"{w}/hole_density", rho_h, units="", attrs={
                "shape": "[n_wf, n_site]", "definition": "probability of the hole on each site of the cell (its "
                "orbitals summed), electron anywhere; sums to 1 per state; degenerate multiplets averaged"})
        if b.write_amplitudes:
            writer.write_distributed("results/amplitudes", np.ascontiguousarray(vectors), lo, (N, nev), units="",
                                     attrs={"shape": "[n_transitions, n_eig]",
                                            "definition": "A^S_(k v c) (column S), transition order of "
                                                          "results/transitions; phase as returned by the solver"})
        s = "results/spectrum"
        writer.group(s, attrs={"method": b.spectrum, "broadening_eV": b.broadening, "lanczos_steps": steps,
                               "polarization": b.polarization if b.spectrum == "recursion" else "average",
                               "note": "recursion: all excitons in the window (no eigenpairs needed); eigenpairs: "
                                       "complete below the highest computed eigenvalue"
                               if b.spectrum == "recursion" else
                               f"from the {nev} computed eigenpairs only: complete below {values[-1]:.4f} eV"})
        writer.write(f"{s}/energy", energy, units="eV")
        writer.write(f"{s}/sigma", sigma, units="e^2/hbar", attrs={"definition": "Re sigma_xx(E), with e-h "
                                                                                 "interaction (in-plane average)"})
        writer.write(f"{s}/sigma_ip", sigma_ip, units="e^2/hbar",
                     attrs={"definition": "Re sigma_xx(E), independent particles (all N transitions)"})
        writer.write(f"{s}/peaks", peaks, units="eV",
                     attrs={"definition": f"local maxima of sigma with prominence >= {b.peak_prominence} of its "
                                          "maximum (parabolic refinement)"})
        writer.write(f"{s}/peak_height", heights, units="e^2/hbar")
        _write_supercell(writer, prob, site_pos)


def _write_supercell(writer, prob, site_pos):
    """/results/supercell: the cell (both sources) and the twist and modulation (twisted source)."""
    sc, cell = prob.model, prob.cell
    c = "results/supercell"
    writer.group(c, attrs={} if cell is None else {"m": list(cell.m), "n": list(cell.n),
                                                   "n_sites_other": cell.n_sites_other, "primitive": cell.primitive})
    writer.write(f"{c}/n_sites", prob.n_sites, units="", attrs={
        "definition": "metal sites of the layer" if cell is not None else "atoms carrying Wannier functions"})
    writer.write(f"{c}/n_orbitals", sc.n_orb, units="")
    writer.write(f"{c}/lattice", sc.lattice, units="Angstrom", attrs={"shape": "[3 (A1, A2, a3), xyz]"})
    writer.write(f"{c}/site_positions", site_pos, units="Angstrom", attrs={"shape": "[n_sites, 3]"})
    if cell is None:
        return
    writer.write(f"{c}/theta_deg", abs(cell.theta_deg), units="deg",
                 attrs={"definition": "twist of the layer relative to the other layer"})
    writer.write(f"{c}/strain", cell.strain, units="", attrs={"definition": "isotropic strain of the other "
                                                                            "layer that makes the cell commensurate"})
    writer.write(f"{c}/moire_period", cell.moire_period, units="Angstrom")
    n_uo = prob.unit.n_orb
    cls = orbital_classes(prob.unit.labels)
    i_c, i_v = int(np.flatnonzero(cls == "conduction")[0]), int(np.flatnonzero(cls == "valence")[0])
    writer.write(f"{c}/onsite_shift", np.column_stack([prob.delta[i_v::n_uo], prob.delta[i_c::n_uo]]), units="eV",
                 attrs={"shape": "[n_sites, 2 (valence d_xy/d_x2-y2, conduction d_z2)]"})
    writer.write(f"{c}/harmonics", np.array([prob.harmonics["valence"], prob.harmonics["conduction"]]), units="",
                 attrs={"shape": "[2 (valence, conduction), 2 (V eV, phi rad)]",
                        "definition": "Delta(r) = 2 V sum_j cos(G'_j.r + phi), amplitudes times "
                                      "modulation_scale"})


def _min():
    from mpi4py import MPI
    return MPI.MIN


# ---------------------------------------------------------------------------
# plot


def density_panel(ax, tri, values, centre, view, marks=None, cmap="viridis", **kwargs):
    """One density map: ``values`` on the triangulation ``tri`` (Angstrom), framed +-view around
    ``centre``, white circles at ``marks`` (e.g. the AA points); returns the image."""
    image = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap, **kwargs)
    if marks is not None:
        ax.plot(marks[:, 0], marks[:, 1], "o", mfc="none", mec="w", ms=4.5, mew=0.6)
    ax.set_xlim(centre[0] - view, centre[0] + view)
    ax.set_ylim(centre[1] - view, centre[1] + view)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def plot(run, stem):
    """Spectrum (with / without e-h interaction, peaks, exciton sticks), the modulation map and, when
    computed, the hole-fixed electron densities (one panel per degenerate multiplet)."""
    from ..plotting import _pyplot, _save
    plt = _pyplot()
    import matplotlib.tri
    r = lambda name: run.read(f"results/{name}")[0]  # noqa: E731
    out = []
    E, sig, sig_ip = r("spectrum/energy"), r("spectrum/sigma"), r("spectrum/sigma_ip")
    ev, f = r("eigenvalues"), r("oscillator_strength")
    twisted = "results/supercell/theta_deg" in run.file          # source = 'twisted' (else Wannier90)
    A = r("supercell/lattice")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(E, sig, label="BSE (e-h interaction)")
    ax.plot(E, sig_ip, "--", label="independent particles")
    ax.axvline(float(r("qp_gap")), color="0.6", lw=0.8, label="qp gap")
    for p in r("spectrum/peaks"):
        ax.axvline(p, color="C3", lw=0.6, ls=":")
    keep = ev <= E[-1]
    if f[keep].size and f[keep].max() > 0:
        ax.vlines(ev[keep], 0, 0.25 * sig.max() * f[keep] / f[keep].max(), color="k", lw=0.8,
                  label="computed excitons (f)")
    ax.set_xlabel("energy (eV)")
    ax.set_ylabel(r"Re $\sigma_{xx}$ ($e^2/\hbar$)")
    cell_text = f"theta = {float(r('supercell/theta_deg')):.2f} deg, " if twisted else "Wannier90 supercell, "
    ax.set_title(f"{cell_text}{int(r('supercell/n_sites'))} sites", fontsize=9)
    ax.legend(fontsize=8)
    out.append(_save(fig, stem, "spectrum"))
    pos = r("supercell/site_positions")
    if twisted:
        shift = r("supercell/onsite_shift")
        gap = 1e3 * (shift[:, 1] - shift[:, 0])
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
        sc = ax.scatter(pos[:, 0], pos[:, 1], c=gap, s=max(2.0, 3000.0 / len(pos)), cmap="coolwarm")
        fig.colorbar(sc, ax=ax, label="local gap shift (meV)")
        for v in (A[0], A[1]):
            ax.plot([0, v[0]], [0, v[1]], "k-", lw=0.8)
        ax.set_aspect("equal")
        ax.set_xlabel("x (A)")
        ax.set_ylabel("y (A)")
        out.append(_save(fig, stem, "modulation"))
    if "results/wavefunction" in run.file:
        dens, wpos = r("wavefunction/density"), r("wavefunction/positions").reshape(-1, 3)
        hole = np.array(run.file["results/wavefunction"].attrs["hole_position_angstrom"])
        # one panel per multiplet (its members carry the same averaged density), at most 6 per row
        first = [0] + [s for s in range(1, len(dens)) if not np.array_equal(dens[s], dens[s - 1])]
        # zoom to 1.2 moire periods around the hole, or more if 95 % of a density lies further out
        # (small Wannier90 cells); white circles: AA points (lattice points of the cell)
        dist = np.linalg.norm(wpos[:, :2] - hole[:2], axis=1)
        order = np.argsort(dist)
        r95 = max(dist[order][np.searchsorted(np.cumsum(d.ravel()[order]), 0.95)] for d in dens)
        view = max(1.2 * float(r("supercell/moire_period")) if twisted else 0.0, 1.3 * r95)
        n12 = np.arange(-4, 5)
        aa = np.array([i * A[0] + j * A[1] for i in n12 for j in n12])
        tri = matplotlib.tri.Triangulation(wpos[:, 0], wpos[:, 1])
        ncol = min(6, len(first))
        nrow = -(-len(first) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(2.4 * ncol, 2.6 * nrow), squeeze=False)
        for ax in axes.flat[len(first):]:
            ax.axis("off")
        marks = aa if twisted else None
        for j, (s, ax) in enumerate(zip(first, axes.flat)):
            end = first[j + 1] if j + 1 < len(first) else len(dens)
            density_panel(ax, tri, dens[s].ravel(), hole, view, marks)
            ax.plot(hole[0], hole[1], "r+", ms=8)
            ax.set_title(f"S = {s}" + (f"-{end - 1}" if end - 1 > s else "") +
                         f": +{1e3 * (ev[s] - ev[0]):.1f} meV, f = {f[s:end].sum():.3g}", fontsize=7)
        fig.suptitle("electron density, hole fixed (+)", fontsize=9)
        out.append(_save(fig, stem, "wavefunction"))
        if "results/wavefunction/hole_density" in run.file:
            # where the exciton sits: the hole density of each multiplet on the cell and its images
            rho = r("wavefunction/hole_density")
            shifts = np.array([i * A[0] + j * A[1] for i in range(-2, 3) for j in range(-2, 3)])   # cell: [0, 1)^2
            tiled = (pos[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
            tri_h = matplotlib.tri.Triangulation(tiled[:, 0], tiled[:, 1])
            view_h = min(view, 2.0 * float(np.linalg.norm(A[:2, :2], axis=1).min()))   # inside the 5 x 5 images
            fig, axes = plt.subplots(nrow, ncol, figsize=(2.4 * ncol, 2.6 * nrow), squeeze=False)
            for ax in axes.flat[len(first):]:
                ax.axis("off")
            for s, ax in zip(first, axes.flat):
                density_panel(ax, tri_h, np.tile(rho[s], len(shifts)), (0.0, 0.0), view_h, marks, cmap="magma")
                ax.set_title(f"S = {s}: +{1e3 * (ev[s] - ev[0]):.1f} meV", fontsize=7)
            fig.suptitle("hole density (electron anywhere); circles: AA points", fontsize=9)
            out.append(_save(fig, stem, "hole_density"))
    return out
