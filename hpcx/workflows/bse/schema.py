"""Config schema of the ``bse`` workflow and its translation into typed parameters."""

from __future__ import annotations

import dataclasses

from ...bse.liu import liu_materials, liu_model
from ...bse.solver import SolverOptions, slepc_available, slepc_option_problem
from ...bse.tbmodel import TBModel
from ...config import Field, Schema, Section
from ...errors import ConfigError, InputError
from ...formats import wannier90

SOURCES = ("wannier90", "liu")

BSE = Section("bse", (
    Field("source", str, "wannier90", "single-particle input: Wannier90 files or the built-in three-band "
          "model of Liu et al. PRB 88, 085433 (2013)", choices=SOURCES),
    Field("wannier90_dir", str, "", "directory of the Wannier90 files (relative to the config file)"),
    Field("seedname", str, "wannier90", "Wannier90 seedname: SEED_hr.dat, SEED_wsvec.dat, SEED.win, SEED.wout"),
    Field("use_ws_distance", bool, True, "apply the SEED_wsvec.dat shifts (as Wannier90 did)"),
    Field("centres", str, "atoms", "interaction centres: 'atoms' (each Wannier function on its nearest atom, "
          "seed 004) or 'wannier' (final centres of SEED.wout)", choices=("atoms", "wannier")),
    Field("material", str, "WSe2", "three-band model material (hpcx/materials/tb_liu.toml)"),
    Field("model", str, "TNN", "three-band model range: NN or TNN (GGA fits)", choices=("NN", "TNN")),
    Field("soc", bool, True, "three-band model with on-site spin-orbit coupling (6 spin orbitals)"),
    Field("n_occupied", int, 0, "occupied bands of the Wannier90 model (required there; the three-band "
          "model sets it)", minimum=0),
    Field("k_grid", int, 0, "n of the n x n Gamma-centred k-grid (0: mp_grid of the .win file; 9 for "
          "the three-band model)", minimum=0, maximum=400),
    Field("valence_bands", int, 2, "valence bands in the BSE basis (from the top)", minimum=1),
    Field("conduction_bands", int, 2, "conduction bands in the BSE basis (from the bottom)", minimum=1),
    Field("scissor", float, 0.0, "rigid shift of the conduction bands (GW correction of the gap)", unit="eV"),
    Field("r0", float, 45.09, "Keldysh screening length rho0 (WSe2: 45.09 A, seed 004 / PyMEX)", unit="Angstrom",
          minimum=0.0, exclusive=True),
    Field("epsilon", float, 1.0, "mean dielectric constant of the surroundings (1: free-standing)",
          minimum=1.0),
    Field("onsite_length", float, 0.0, "a of the on-site regularisation V(0) = U V(a) (0: |a1| of the "
          "lattice, seed 004)", unit="Angstrom", minimum=0.0),
    Field("onsite_u", float, 1.0, "U of the on-site regularisation (seed 004: 1)", minimum=0.0),
    Field("interlayer_distance", float, 0.0, "d of the interlayer Keldysh form r0 -> r0 + d (sites in "
          "different layers)", unit="Angstrom", minimum=0.0),
    Field("direct", bool, True, "include the screened direct term K^d"),
    Field("exchange", bool, True, "include the bare exchange term K^x (seed 004's main results omit it)"),
    Field("n_eig", int, 10, "lowest eigenpairs to compute (0: all, dense solver)", minimum=0),
    Field("solver", str, "auto", "eigensolver: SLEPc EPS, scipy dense eigh, or SLEPc when available",
          choices=("auto", "slepc", "dense")),
    Field("tol", float, 1e-10, "SLEPc relative tolerance", minimum=0.0, exclusive=True),
    Field("max_it", int, 1000, "SLEPc maximum iterations", minimum=1),
    Field("eps_type", str, "krylovschur", "SLEPc EPS type", choices=("krylovschur", "lanczos", "arnoldi",
                                                                    "lobpcg", "lapack")),
    Field("ncv", int, 0, "SLEPc subspace size (0: SLEPc's default)", minimum=0),
    Field("slepc_options", str, (), "extra SLEPc options 'name=value' set as -bse_name value (e.g. "
          "'eps_lanczos_reorthog=local')", list_of=True),
    Field("broadening", float, 0.03, "Gaussian width of the spectra", unit="eV", minimum=0.0, exclusive=True),
    Field("energy_min", float, 0.0, "spectrum start (0: lowest exciton - 0.3 eV)", unit="eV", minimum=0.0),
    Field("energy_max", float, 0.0, "spectrum end (0: highest computed exciton + 3 broadenings); when both "
          "are given it must exceed energy_min", unit="eV", minimum=0.0),
    Field("energy_points", int, 1500, "points of the spectrum grid", minimum=2),
    Field("wavefunctions", int, 2, "lowest excitons whose hole-fixed density is written", minimum=0),
    Field("hole_site", int, -1, "site of the fixed hole (-1: the site with the largest top-valence weight)",
          minimum=-1),
), doc="Bethe-Salpeter equation in a Wannier basis: lowest excitons, spectra, wavefunctions.", required=True)

SCHEMA = Schema("bse", (BSE,), doc="Tamm-Dancoff BSE at zero exciton momentum in a Wannier / tight-binding "
                                   "basis with Keldysh screening (seed 004); SLEPc eigenpairs, optical "
                                   "conductivity, exciton wavefunctions.")


@dataclasses.dataclass(frozen=True)
class Interaction:
    """Keldysh direct term (r0, interlayer_distance, onsite_length Angstrom; 0 = |a1|) and the bare
    exchange term, each switchable."""

    r0: float
    epsilon: float
    onsite_length: float
    onsite_u: float
    interlayer_distance: float
    direct: bool
    exchange: bool


@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Gaussian width and grid of sigma(E) (eV; 0 = from the eigenvalues)."""

    broadening: float
    energy_min: float
    energy_max: float
    energy_points: int


@dataclasses.dataclass(frozen=True)
class Params:
    """Everything a ``bse`` run needs, resolved and checked.

    ``model`` is the single-particle TBModel (read on every rank), ``model_label`` what the
    run file records about it; ``grid`` the (n, n) k-grid; ``spinful``: a spin-explicit basis
    (spin factor 1) or a spinless one (2); ``n_eig`` the computed eigenpairs (all for the dense
    solver); ``hole_site`` -1 picks the site with the largest top-valence weight.
    """

    source: str
    model: TBModel
    model_label: str
    n_occupied: int
    grid: tuple
    spinful: bool
    valence_bands: int
    conduction_bands: int
    scissor: float
    interaction: Interaction
    n_eig: int
    solver: SolverOptions
    spectrum: Spectrum
    wavefunctions: int
    hole_site: int

    @property
    def size(self):
        """N = n_k n_v n_c transitions."""
        return self.grid[0] * self.grid[1] * self.valence_bands * self.conduction_bands


def _slepc_options(cfg):
    out = {}
    for i, item in enumerate(cfg.bse.slepc_options):
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(cfg.source, f"bse.slepc_options[{i}]", f"{item!r} is not of the form name=value")
        k, v = (s.strip() for s in item.split("=", 1))
        out[k.lstrip("-").removeprefix("bse_")] = v
    problem = slepc_option_problem(out)
    if problem:
        raise ConfigError(cfg.source, "bse.slepc_options", f"SLEPc refuses {out}: {problem}")
    return out


def wannier90_directory(cfg):
    """The Wannier90 directory of [bse] with every file the reader needs (relative paths from the
    config file's directory); ConfigError naming the key otherwise."""
    b = cfg.bse
    if not b.wannier90_dir:
        raise ConfigError(cfg.source, "bse.wannier90_dir", "required for source = 'wannier90'")
    d = cfg.path(b.wannier90_dir).resolve()
    problem = wannier90.directory_problem(d, b.seedname, b.use_ws_distance)
    if problem and problem[0] == "directory":
        raise ConfigError(cfg.source, "bse.wannier90_dir", f"{b.wannier90_dir!r} -> {problem[1]} "
                          "(relative paths start at the config file's directory)")
    if problem:
        raise ConfigError(cfg.source, "bse.seedname", problem[1])
    return d


def _model(cfg):
    """(TBModel, label, n_occupied, grid, spinful); ConfigError on bad input."""
    b = cfg.bse
    if b.source == "liu":
        if b.material not in liu_materials():
            raise ConfigError(cfg.source, "bse.material", f"unknown three-band TB material {b.material!r}; "
                              f"known: {', '.join(liu_materials())}")
        n = b.k_grid or 9
        return (liu_model(b.material, b.model, soc=b.soc), f"{b.material} {b.model} soc={b.soc}",
                2 if b.soc else 1, (n, n), b.soc)
    d = wannier90_directory(cfg)
    try:
        model, info = wannier90.load_wannier90(d, b.seedname, centres=b.centres, use_ws_distance=b.use_ws_distance)
    except InputError as exc:
        raise ConfigError(cfg.source, "bse.wannier90_dir", str(exc)) from None
    if b.n_occupied < 1 or b.n_occupied >= model.n_orb:
        raise ConfigError(cfg.source, "bse.n_occupied", f"must be 1..{model.n_orb - 1} for the {model.n_orb} "
                          f"Wannier bands, got {b.n_occupied}")
    grid = (b.k_grid, b.k_grid) if b.k_grid else tuple(info["mp_grid"][:2])
    return model, str(d), b.n_occupied, grid, False


def _solver(cfg):
    b = cfg.bse
    if b.solver == "slepc" and not slepc_available():
        raise ConfigError(cfg.source, "bse.solver", "'slepc' needs petsc4py/slepc4py (complex); use 'auto' or 'dense'")
    return SolverOptions(backend="dense" if b.n_eig == 0 else b.solver, method=b.eps_type, tol=b.tol,
                         max_it=b.max_it, ncv=b.ncv or None, options=_slepc_options(cfg), prefix="bse_",
                         hint="raise bse.max_it or bse.ncv")


def params(cfg, comm_size=1):
    """Typed parameters of a validated ``bse`` config: input files read and consistent, band
    window inside the bands, solver available; raises ConfigError."""
    b = cfg.bse
    model, label, n_occ, grid, spinful = _model(cfg)
    if b.valence_bands > n_occ:
        raise ConfigError(cfg.source, "bse.valence_bands", f"at most the {n_occ} occupied bands")
    if b.conduction_bands > model.n_orb - n_occ:
        raise ConfigError(cfg.source, "bse.conduction_bands", f"at most the {model.n_orb - n_occ} empty bands")
    n = grid[0] * grid[1] * b.valence_bands * b.conduction_bands
    if b.n_eig > n:
        raise ConfigError(cfg.source, "bse.n_eig", f"at most the BSE dimension {n}")
    if b.wavefunctions > (b.n_eig or n):
        raise ConfigError(cfg.source, "bse.wavefunctions", f"{b.wavefunctions}: at most the {b.n_eig or n} computed "
                          f"excitons (bse.n_eig)")
    if b.energy_min and b.energy_max and b.energy_max <= b.energy_min:
        raise ConfigError(cfg.source, "bse.energy_max", f"{b.energy_max} eV must exceed energy_min = "
                          f"{b.energy_min} eV (or be 0: from the eigenvalues)")
    if b.hole_site >= 0:
        from ...bse.interaction import group_sites
        n_site = group_sites(model.positions).n_site
        if b.hole_site >= n_site:
            raise ConfigError(cfg.source, "bse.hole_site", f"the model has {n_site} sites "
                              f"(0 ... {n_site - 1}, or -1)")
    return Params(source=b.source, model=model, model_label=label, n_occupied=n_occ, grid=grid, spinful=spinful,
                  valence_bands=b.valence_bands, conduction_bands=b.conduction_bands, scissor=b.scissor,
                  interaction=Interaction(b.r0, b.epsilon, b.onsite_length, b.onsite_u, b.interlayer_distance,
                                          b.direct, b.exchange),
                  n_eig=b.n_eig or n, solver=_solver(cfg),
                  spectrum=Spectrum(b.broadening, b.energy_min, b.energy_max, b.energy_points),
                  wavefunctions=b.wavefunctions, hole_site=b.hole_site)


def estimate_memory(p, comm_size):
    """Peak bytes per rank of the run (hpcx.bse.memory.dense_run_bytes), from the sizes alone."""
    from ...bse.interaction import group_sites
    from ...bse.memory import dense_run_bytes
    return int(dense_run_bytes(p.grid[0] * p.grid[1], p.model.n_orb, group_sites(p.model.positions).n_site,
                               p.valence_bands, p.conduction_bands, p.n_eig, comm_size, p.spectrum.energy_points,
                               p.wavefunctions, dense_solver=p.solver.backend == "dense"))
