"""Config schema of the ``bse_moire`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...bse import memory
from ...bse import moire_cell as mc
from ...bse.liu import liu_materials
from ...bse.modulation import closest_cell, modulation_data, modulation_names, search_candidates, twisted_cell
from ...bse.solver import SolverOptions, slepc_available
from ...config import Field, Schema, Section
from ...errors import ConfigError, InputError
from ...formats import wannier90
from ...materials import UnknownMaterialError

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


@dataclasses.dataclass(frozen=True)
class Wannier90Input:
    """Where a Wannier90 supercell is read from, and how (hopping cutoff eV)."""

    directory: object
    seedname: str
    use_ws_distance: bool
    hopping_cutoff: float
    meta: object                 # hpcx.formats.wannier90.Wannier90Meta


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """sigma(E): 'recursion' (n_lanczos steps per polarisation, 'average' or 'x') or 'eigenpairs';
    Gaussian width and grid (eV; 0 = automatic), peak prominence (fraction of the maximum)."""

    method: str
    n_lanczos: int
    polarization: str
    broadening: float
    energy_min: float
    energy_max: float
    energy_points: int
    peak_prominence: float


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``bse_moire`` run needs, resolved and checked.

    ``problem``: the supercell (hpcx.bse.moire_cell.Problem; its model is None for a Wannier90
    supercell, read by the run from ``wannier90``); ``data``: the modulation entry (twisted
    cells); ``model_label`` what the run file records about the model; ``operator`` 'dense' or
    'matfree' and ``memory`` its estimate; ``onsite_length`` resolved (Angstrom).
    """

    source: str
    problem: mc.Problem
    wannier90: Wannier90Input | None
    data: object
    model_label: str
    modulation: bool
    modulation_scale: float
    grid: tuple
    valence_bands: int
    conduction_bands: int
    band_solver: str
    scissor: float
    r0: float
    epsilon: float
    onsite_length: float
    onsite_u: float
    exchange: bool
    operator: str
    memory: memory.Estimate
    n_eig: int
    solver: SolverOptions
    spectrum: Spectrum
    wavefunctions: int
    hole_site: int
    write_amplitudes: bool
    search_candidates: int = 0

    @property
    def size(self):
        """N = n_k n_v n_c transitions."""
        return self.grid[0] * self.grid[1] * self.valence_bands * self.conduction_bands


def _data(cfg):
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


def _given_cell(cfg, a2d, data):
    b = cfg.bse_moire
    if b.theta >= 0:
        raise ConfigError(cfg.source, "bse_moire.theta", "give either theta or cell_m/cell_n, not both")
    for key, v in (("cell_m", b.cell_m), ("cell_n", b.cell_n)):
        if len(v) != 2:
            raise ConfigError(cfg.source, f"bse_moire.{key}", f"needs two integers (i1, i2), got {list(v)}")
    try:
        cell = twisted_cell(a2d, tuple(b.cell_m), tuple(b.cell_n), data.a_other)
    except ValueError as exc:
        raise ConfigError(cfg.source, "bse_moire.cell_m", str(exc)) from None
    if abs(cell.strain) > b.max_strain:
        raise ConfigError(cfg.source, "bse_moire.cell_n", f"m = {list(b.cell_m)}, n = {list(b.cell_n)} is "
                          f"commensurate only with {100 * cell.strain:+.2f} % strain of the other layer "
                          f"(max_strain {100 * b.max_strain:.2f} %)")
    return cell


def _searched_cell(cfg, a2d, data, comm_size):
    """The cell closest to theta; the search's memory is checked before it runs."""
    b = cfg.bse_moire
    if b.theta != -1.0 and b.theta < 0:
        raise ConfigError(cfg.source, "bse_moire.theta", f"must be in [0, 30] deg (or -1 with cell_m/cell_n), "
                          f"got {b.theta}")
    if b.theta < 0:
        raise ConfigError(cfg.source, "bse_moire.theta", "set theta (deg) or cell_m and cell_n")
    n = search_candidates(float(np.linalg.norm(a2d[0])), data.a_other, b.max_sites, b.max_strain)
    need = memory.cell_search_bytes(n)
    limit, source = memory.physical_limit(comm_size, b.memory_limit_gib or None)
    if need > limit:
        raise ConfigError(cfg.source, "bse_moire.max_sites", f"the commensurate-cell search up to {b.max_sites} "
                          f"sites compares {n:.3g} vector pairs and needs {need / 2 ** 30:.2f} GiB per rank, the "
                          f"limit is {limit / 2 ** 30:.2f} GiB ({source}); lower max_sites or give cell_m/cell_n")
    try:
        cell = closest_cell(a2d, data.a_other, b.theta, b.max_sites, b.max_strain)
    except ValueError as exc:
        raise ConfigError(cfg.source, "bse_moire.max_sites", str(exc)) from None
    if abs(abs(cell.theta_deg) - b.theta) > 0.05:
        raise ConfigError(cfg.source, "bse_moire.theta", f"no commensurate cell within 0.05 deg of {b.theta} deg "
                          f"with <= {b.max_sites} sites (closest: {abs(cell.theta_deg):.3f} deg, {cell.n_sites} "
                          "sites); raise max_sites or max_strain, or give cell_m/cell_n")
    return cell, n


def _twisted(cfg, comm_size):
    """(Problem, modulation data, model label, search candidates) of a twisted cell."""
    b = cfg.bse_moire
    data = _data(cfg)
    unit, n_occ = mc.unit_model(data.layer, b.model, soc=b.soc, spin_block=spin_block(cfg))
    a2d = unit.lattice[:2, :2]
    if b.cell_m or b.cell_n:
        cell, n = _given_cell(cfg, a2d, data), 0
    else:
        cell, n = _searched_cell(cfg, a2d, data, comm_size)
    g_s = 1.0 if b.soc and not spin_block(cfg) else 2.0
    problem = mc.twisted_problem(unit, n_occ, cell, data.harmonics(b.modulation_scale), b.modulation, g_s)
    label = f"{data.layer} {b.model} soc={b.soc}" + (" (spin-up block)" if spin_block(cfg) else "")
    return problem, data, label, n


def _wannier90(cfg):
    """(Problem without its model, Wannier90Input) of a Wannier90 supercell; ConfigError on bad input."""
    b = cfg.bse_moire
    for key, given in (("theta", b.theta != -1.0), ("cell_m", len(b.cell_m) > 0), ("cell_n", len(b.cell_n) > 0)):
        if given:
            raise ConfigError(cfg.source, f"bse_moire.{key}", "selects the twisted cell of source = 'twisted'; a "
                              "Wannier90 supercell brings its own cell (remove the key)")
    if not b.wannier90_dir:
        raise ConfigError(cfg.source, "bse_moire.wannier90_dir", "required for source = 'wannier90'")
    d = cfg.path(b.wannier90_dir).resolve()
    problem = wannier90.directory_problem(d, b.seedname, b.use_ws_distance)
    if problem:
        key = "wannier90_dir" if problem[0] == "directory" else "seedname"
        raise ConfigError(cfg.source, f"bse_moire.{key}", problem[1] if key == "seedname" else
                          f"{b.wannier90_dir!r} -> {problem[1]} (relative paths start at the config file's directory)")
    if b.onsite_length <= 0:
        raise ConfigError(cfg.source, "bse_moire.onsite_length", "required for source = 'wannier90' (seed 004: the "
                          "layer's lattice constant, e.g. 3.32 A for WSe2)")
    if len(b.mid_gap) > 1:
        raise ConfigError(cfg.source, "bse_moire.mid_gap", f"one energy or none, got {list(b.mid_gap)}")
    try:
        meta = wannier90.read_wannier90_meta(d, b.seedname, centres="atoms")
    except InputError as exc:
        raise ConfigError(cfg.source, "bse_moire.wannier90_dir", str(exc)) from None
    nw = meta.num_wann
    if not 1 <= b.n_occupied < nw:
        raise ConfigError(cfg.source, "bse_moire.n_occupied", f"must be 1..{nw - 1} for the {nw} "
                          f"Wannier bands, got {b.n_occupied}")
    if not b.mid_gap and nw > 2000:
        raise ConfigError(cfg.source, "bse_moire.mid_gap", f"{nw} orbitals: too many for dense eigenvalues; "
                          "give an energy inside the gap")
    return (mc.wannier90_problem(meta, b.n_occupied, b.onsite_length, b.mid_gap[0] if b.mid_gap else None),
            Wannier90Input(d, b.seedname, b.use_ws_distance, b.hopping_cutoff, meta))


def _ncv(b, N):
    return min(N, b.ncv or max(2 * b.n_eig, b.n_eig + 15))


def _operator(cfg, problem, comm_size):
    """(operator 'dense'/'matfree', memory Estimate); ConfigError when it cannot fit or run."""
    b = cfg.bse_moire
    n_k = b.k_grid ** 2
    N = n_k * b.valence_bands * b.conduction_bands
    est = memory.estimate(n_k, problem.n_orb, b.valence_bands, b.conduction_bands, comm_size, ncv=_ncv(b, N),
                          limit_gib=b.memory_limit_gib or None)
    if b.operator == "auto":
        op = "dense" if N <= b.dense_max_n and est.dense <= est.limit else "matfree"
    else:
        op = "dense" if b.operator == "dense" else "matfree"
    try:
        memory.require_fit(est, op, "bse_moire.operator")
    except InputError as exc:
        raise ConfigError(cfg.source, "bse_moire.operator", str(exc)) from None
    if op == "matfree" and not slepc_available():
        raise ConfigError(cfg.source, "bse_moire.operator", "the matrix-free operator needs petsc4py/slepc4py "
                          "(complex) for its eigenpairs; use operator = 'dense' for small N")
    if b.operator == "dense" and b.eigensolver != "krylovschur":
        raise ConfigError(cfg.source, "bse_moire.eigensolver", "'gd' is for the matrix-free operator; the dense "
                          "operator uses Krylov-Schur")
    return op, est


def _check_sizes(cfg, problem):
    b = cfg.bse_moire
    n_val, n_con = problem.n_occ, problem.n_orb - problem.n_occ
    N = b.k_grid ** 2 * b.valence_bands * b.conduction_bands
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
    if b.hole_site >= problem.n_sites:
        raise ConfigError(cfg.source, "bse_moire.hole_site", f"the cell has {problem.n_sites} sites "
                          f"(0 ... {problem.n_sites - 1}, or -1)")
    if b.energy_max and b.energy_max <= b.energy_min:
        raise ConfigError(cfg.source, "bse_moire.energy_max", f"must exceed energy_min = {b.energy_min} eV")
    if b.band_solver == "slepc" and not slepc_available():
        raise ConfigError(cfg.source, "bse_moire.band_solver", "'slepc' needs petsc4py/slepc4py; use 'auto'")


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``bse_moire`` config: the cell (searched or given) or the
    Wannier90 supercell's metadata, the band window, solver availability and the memory
    estimate (and refusal); raises ConfigError."""
    b = cfg.bse_moire
    data, w90, n_search = None, None, 0
    if b.source == "wannier90":
        problem, w90 = _wannier90(cfg)
        label = f"Wannier90 {w90.directory / b.seedname}"
    else:
        problem, data, label, n_search = _twisted(cfg, comm_size)
    _check_sizes(cfg, problem)
    operator, est = _operator(cfg, problem, comm_size)
    N = b.k_grid ** 2 * b.valence_bands * b.conduction_bands
    solver = SolverOptions(backend="auto" if operator == "dense" else "slepc",
                           method=b.eigensolver if operator == "matfree" else "krylovschur", tol=b.tol,
                           max_it=b.max_it, ncv=b.ncv or None, prefix="bse_moire_",
                           hint="raise bse_moire.max_it or bse_moire.ncv")
    return Params(source=b.source, problem=problem, wannier90=w90, data=data, model_label=label,
                  modulation=b.modulation, modulation_scale=b.modulation_scale, grid=(b.k_grid, b.k_grid),
                  valence_bands=b.valence_bands, conduction_bands=b.conduction_bands, band_solver=b.band_solver,
                  scissor=b.scissor, r0=b.r0, epsilon=b.epsilon, onsite_length=b.onsite_length or problem.a0,
                  onsite_u=b.onsite_u, exchange=b.exchange, operator=operator, memory=est, n_eig=min(b.n_eig, N),
                  solver=solver, spectrum=Spectrum(b.spectrum, b.n_lanczos, b.polarization, b.broadening,
                                                   b.energy_min, b.energy_max, b.energy_points, b.peak_prominence),
                  wavefunctions=b.wavefunctions, hole_site=b.hole_site, write_amplitudes=b.write_amplitudes,
                  search_candidates=n_search)


def estimate_memory(p, comm_size):
    """Peak bytes per rank (hpcx.bse.memory.moire_run_bytes), the cell search included."""
    n_hop = p.problem.model.nnz if p.problem.model is not None else p.problem.n_orb * 64
    est = memory.estimate(p.grid[0] * p.grid[1], p.problem.n_orb, p.valence_bands, p.conduction_bands, comm_size,
                          ncv=min(p.size, p.solver.ncv or max(2 * p.n_eig, p.n_eig + 15)))
    return int(memory.moire_run_bytes(est, p.operator, p.grid[0] * p.grid[1], p.problem.n_orb, p.problem.n_sites,
                                      n_hop, p.valence_bands, p.conduction_bands, p.n_eig, comm_size,
                                      p.spectrum.energy_points, p.wavefunctions, p.search_candidates))
