"""Workflow ``moire``: moiré exciton bands of a twisted heterobilayer.

Config -> geometry, continuum potential, plane-wave basis -> bands on the
path gamma-kappa-m-gamma and on a Monkhorst-Pack grid (Q-points split over
MPI ranks), velocities, DOS, twist scan (angles split over ranks), potential
map -> /results/{geometry,potential,basis,bands,dos,twist_scan}.
"""

from __future__ import annotations

import numpy as np

from ..config import Field, Schema, Section
from ..errors import ConfigError
from ..log import get_logger
from ..materials import UnknownMaterialError
from ..materials.moire import moire_names, moire_system
from ..parallel import allgather_blocks, block_range, local_items
from ..physics import moire as mp

MOIRE = Section("moire", (
    Field("system", str, "MoSe2-WSe2/hBN", "heterobilayer and interlayer exciton (hpcx/materials/moire.toml)"),
    Field("twist_deg", float, 3.0, "twist angle of the band-structure calculation", unit="deg",
          minimum=0.0, maximum=30.0),
    Field("shells", int, 10, "plane-wave cutoff g_cut: moiré reciprocal vectors in shells 0..shells "
          "(shell 0 = {0}; 10 shells = 85 plane waves)", minimum=1, maximum=60),
    Field("n_bands", int, 6, "number of lowest bands kept", minimum=2),
    Field("path_points", int, 121, "points on the path gamma-kappa-m-gamma (spread by segment length)",
          minimum=4),
    Field("grid", int, 24, "n of the Gamma-centred n x n Monkhorst-Pack grid on the mini-BZ", minimum=3,
          maximum=300),
    Field("twist_scan", float, (), "twist angles of the bandwidth/gap scan (empty: no scan)", unit="deg",
          list_of=True, minimum=0.0),
    Field("scan_grid", int, 12, "n of the n x n grid (plus the path) used for the scan's band extrema",
          minimum=3, maximum=300),
    Field("include_mismatch", bool, True, "use both layers' lattice constants (false: both = electron "
          "layer's, as seed 003)"),
    Field("A", float, None, "override of the cosine amplitude A (default: material data)", unit="meV"),
    Field("B", float, None, "override of the sine amplitude B (default: material data)", unit="meV"),
    Field("exciton_mass", float, None, "override of the exciton mass (default: material data)", unit="m0",
          minimum=0.0, exclusive=True),
    Field("dos_sigma", float, 1.0, "Gaussian broadening of the density of states", unit="meV",
          minimum=0.0, exclusive=True),
    Field("dos_points", int, 400, "energies of the DOS grid", minimum=2),
    Field("map_points", int, 121, "n of the n x n real-space potential map", minimum=2, maximum=2000),
    Field("map_cells", float, 2.0, "side of the potential map in moiré periods", minimum=0.0, exclusive=True),
    Field("write_vectors", bool, True, "write the grid eigenvectors omega_g(Q) (needed by `scattering`)"),
), doc="Moiré superlattice, continuum potential and zone-folded bands.", required=True)

SCHEMA = Schema("moire", (MOIRE,),
                doc="Moiré exciton bands, velocities, DOS and twist scan (seed 000 SI Eqs. 4-9, Figs. S1, S2; "
                    "seed 003 App. II).")


def _system(cfg):
    try:
        return moire_system(cfg.moire.system)
    except UnknownMaterialError:
        raise ConfigError(cfg.source, "moire.system", f"unknown moire system {cfg.moire.system!r}; "
                          f"known: {', '.join(moire_names())}") from None


def check(cfg):
    """Semantic checks needing the material data; raises ConfigError."""
    m = cfg.moire
    system = _system(cfg)
    n_g = len(mp.plane_wave_basis(mp.MoireGeometry(1.0, 1.0, 0.1), m.shells)[0])
    if m.n_bands > n_g:
        raise ConfigError(cfg.source, "moire.n_bands", f"{m.n_bands} bands need more plane waves than "
                          f"the {n_g} of {m.shells} shells; raise moire.shells")
    for key, angles in (("moire.twist_deg", [m.twist_deg]), ("moire.twist_scan", m.twist_scan)):
        for theta in angles:
            try:
                _ = _geometry(system, m, theta).g
            except ValueError as exc:
                raise ConfigError(cfg.source, key, f"{theta} deg: {exc}") from None
    if len(set(m.twist_scan)) != len(m.twist_scan):
        raise ConfigError(cfg.source, "moire.twist_scan", "angles must be distinct")


def _geometry(system, m, theta_deg):
    a2 = system.a_hole_nm if m.include_mismatch else system.a_electron_nm
    return mp.MoireGeometry.from_degrees(system.a_electron_nm, a2, theta_deg)


def _model(cfg):
    """(system, potential, mass) with config overrides applied."""
    m = cfg.moire
    system = _system(cfg)
    a = system.A_meV if m.A is None else m.A
    b = system.B_meV if m.B is None else m.B
    mass = system.exciton_mass if m.exciton_mass is None else m.exciton_mass
    return system, mp.MoirePotential.from_ab(a, b), mass


def _solve_split(ham, Q, n_bands, comm):
    """Bands at Q split over ranks; returns (offset, local Bands)."""
    start, stop = block_range(len(Q), comm.size, comm.rank)
    return start, ham.solve(Q[start:stop], n_bands)


def _gather(array, comm):
    return np.concatenate([a for a in comm.allgather(array)], axis=0)


def scan_point(system, potential, mass, m, theta_deg):
    """Bandwidth, gap, direct gap, period and hbar omega0 at one twist angle."""
    geo = _geometry(system, m, theta_deg)
    ham = mp.MoireHamiltonian(geo, potential, mass, m.shells)
    grid_q, _ = geo.monkhorst_pack(m.scan_grid)
    path_q = geo.path(31)[0]
    bands = ham.solve(np.concatenate([grid_q, path_q]), 2)
    width, gap, direct = mp.band_summary(bands.energy)
    return width, gap, direct, geo.period_nm, mp.harmonic_frequency_meV(geo, potential, mass)


def run(cfg, writer, comm, timer):
    log = get_logger("moire")
    m = cfg.moire
    with timer.phase("setup"):
        system, potential, mass = _model(cfg)
        geo = _geometry(system, m, m.twist_deg)
        ham = mp.MoireHamiltonian(geo, potential, mass, m.shells)
        log.info("%s at %.3f deg: a_M = %.3f nm, A = %g meV, B = %g meV, M = %g m0, %d plane waves "
                 "(%d shells)", system.name, m.twist_deg, geo.period_nm, potential.a_meV, potential.b_meV,
                 mass, ham.n_g, m.shells)

    with timer.phase("path"):
        path_q, path_x, ticks, labels = geo.path(m.path_points)
        _, local = _solve_split(ham, path_q, m.n_bands, comm)
        path_energy = _gather(local.energy, comm)
        path_velocity = _gather(local.velocity, comm)

    with timer.phase("grid"):
        grid_q, grid_frac = geo.monkhorst_pack(m.grid)
        grid_offset, grid = _solve_split(ham, grid_q, m.n_bands, comm)
        grid_energy = _gather(grid.energy, comm)
        width, gap, direct = mp.band_summary(grid_energy)
        log.info("%d grid points on %d rank(s): bandwidth %.3f meV, gap %.3f meV (direct %.3f meV)",
                 len(grid_q), comm.size, width, gap, direct)

    with timer.phase("dos"):
        sigma = m.dos_sigma
        e_grid = np.linspace(grid_energy.min() - 5 * sigma, grid_energy.max() + 5 * sigma, m.dos_points)
        dos_cell, dos_area = mp.density_of_states(grid_energy, e_grid, sigma, geo.cell_area_nm2)

    scan = None
    if m.twist_scan:
        with timer.phase("twist_scan"):
            _, mine = local_items(m.twist_scan, comm)
            rows = allgather_blocks([scan_point(system, potential, mass, m, t) for t in mine], comm)
            scan = np.array(rows)
            for t, row in zip(m.twist_scan, rows):
                log.info("scan %.3f deg: bandwidth %.3f meV, gap %.3f meV", t, row[0], row[1])

    with timer.phase("map"):
        x, y, vmap = mp.potential_map(geo, potential, m.map_points, m.map_cells)

    with timer.phase("write"):
        _write(writer, cfg, system, potential, mass, geo, ham, (path_q, path_x, ticks, labels, path_energy,
               path_velocity), (grid_q, grid_frac, grid_offset, grid, grid_energy, width, gap, direct),
               (e_grid, dos_cell, dos_area), scan, (x, y, vmap))


def _write(writer, cfg, system, potential, mass, geo, ham, path, grid, dos, scan, pmap):
    m = cfg.moire
    zero = "energies relative to the free interlayer exciton at Q = 0 (no moiré potential)"
    writer.group("results", attrs={"system": system.name, "exciton_mass_m0": mass,
                                   "electron_layer": system.electron_layer, "hole_layer": system.hole_layer,
                                   "energy_zero": zero})
    g = "results/geometry"
    writer.group(g)
    writer.write(f"{g}/theta_deg", m.twist_deg, units="deg")
    writer.write(f"{g}/lattice_constants", [geo.a1_nm, geo.a2_nm], units="nm",
                 attrs={"layers": [system.electron_layer, system.hole_layer]})
    writer.write(f"{g}/period", geo.period_nm, units="nm", attrs={"definition": "a_M = 4 pi/(sqrt3 |g|)"})
    writer.write(f"{g}/cell_area", geo.cell_area_nm2, units="nm^2")
    writer.write(f"{g}/lattice_vectors", geo.lattice_vectors, units="nm", attrs={"shape": "[2 (L1, L2), xy]"})
    writer.write(f"{g}/reciprocal_vectors", geo.g, units="1/nm",
                 attrs={"definition": "g_n = C3^n (G_hole_layer - G_electron_layer), n = 0, 1, 2"})
    pts = geo.high_symmetry_points()
    writer.write(f"{g}/high_symmetry_points", np.array(list(pts.values())), units="1/nm")
    writer.write(f"{g}/high_symmetry_labels", list(pts), units="label")

    p = "results/potential"
    writer.group(p)
    writer.write(f"{p}/A", potential.a_meV, units="meV", attrs={"source": system.sources["A"]})
    writer.write(f"{p}/B", potential.b_meV, units="meV", attrs={"source": system.sources["B"]})
    writer.write(f"{p}/depth", potential.depth_meV(), units="meV", attrs={"definition": "U0 = -min M(r)"})
    writer.write(f"{p}/harmonic_energy", mp.harmonic_frequency_meV(geo, potential, mass), units="meV",
                 attrs={"definition": "hbar omega0 = hbar (2 pi/a_M) sqrt(2 U0/(3 M)), seed 003 Eq. 22"})
    x, y, vmap = pmap
    writer.write(f"{p}/x", x, units="nm")
    writer.write(f"{p}/y", y, units="nm")
    writer.write(f"{p}/map", vmap, units="meV", attrs={"shape": "[y, x]", "definition": "M(r)"})

    writer.group("results/basis", attrs={"shells": m.shells, "n_g": ham.n_g})
    writer.write("results/basis/g", ham.g, units="1/nm", attrs={"shape": "[n_g, xy]"})
    writer.write("results/basis/s", ham.s, units="", attrs={"definition": "g = s1 g_0 + s2 g_1"})

    b = "results/bands"
    writer.group(b)
    path_q, path_x, ticks, labels, path_energy, path_velocity = path
    writer.write(f"{b}/path_Q", path_q, units="1/nm")
    writer.write(f"{b}/path_x", path_x, units="1/nm", attrs={"definition": "arc length along the path"})
    writer.write(f"{b}/path_ticks", ticks, units="1/nm")
    writer.write(f"{b}/path_labels", labels, units="label")
    writer.write(f"{b}/path_energy", path_energy, units="meV", attrs={"shape": "[n_path, n_bands]",
                                                                        "energy_zero": zero})
    writer.write(f"{b}/path_velocity", path_velocity, units="nm/ps", attrs={"shape": "[n_path, n_bands, xy]"})
    grid_q, grid_frac, offset, local, grid_energy, width, gap, direct = grid
    n_q = len(grid_q)
    writer.write(f"{b}/grid_Q", grid_q, units="1/nm", attrs={"grid": m.grid})
    writer.write(f"{b}/grid_fraction", grid_frac, units="", attrs={
        "definition": "Q = f1 g_0 + f2 g_1 folded into the mBZ"})
    writer.write(f"{b}/grid_energy", grid_energy, units="meV", attrs={"shape": "[n_Q, n_bands]",
                                                                        "energy_zero": zero})
    writer.write_distributed(f"{b}/grid_velocity", local.velocity, offset, (n_q, m.n_bands, 2),
                             units="nm/ps", attrs={"shape": "[n_Q, n_bands, xy]",
                                                   "definition": "Hellmann-Feynman (1/hbar) <dH/dQ>"})
    if m.write_vectors:
        writer.write_distributed(f"{b}/grid_vectors", local.vectors, offset, (n_q, m.n_bands, ham.n_g),
                                 units="", attrs={"shape": "[n_Q, n_bands, n_g]",
                                                  "definition": "omega_g(Q): |eta Q> = sum_g omega_g |Q+g>, "
                                                                "g = results/basis/g; largest component real > 0"})
    writer.write(f"{b}/bandwidth", width, units="meV", attrs={"definition": "max E_0 - min E_0 on the grid"})
    writer.write(f"{b}/gap", gap, units="meV", attrs={"definition": "min E_1 - max E_0 on the grid"})
    writer.write(f"{b}/direct_gap", direct, units="meV", attrs={"definition": "min_Q (E_1 - E_0) on the grid"})

    e_grid, dos_cell, dos_area = dos
    writer.group("results/dos", attrs={"sigma_meV": m.dos_sigma, "n_bands": m.n_bands})
    writer.write("results/dos/energy", e_grid, units="meV")
    writer.write("results/dos/dos_per_cell", dos_cell, units="1/meV",
                 attrs={"definition": "states per meV and moiré cell, of the n_bands bands kept"})
    writer.write("results/dos/dos_per_area", dos_area, units="1/(meV nm^2)")

    if scan is not None:
        s = "results/twist_scan"
        writer.group(s, attrs={"scan_grid": m.scan_grid})
        writer.write(f"{s}/theta_deg", np.array(m.twist_scan, dtype=float), units="deg")
        writer.write(f"{s}/bandwidth", scan[:, 0], units="meV", attrs={"definition": "max E_0 - min E_0"})
        writer.write(f"{s}/gap", scan[:, 1], units="meV", attrs={"definition": "min E_1 - max E_0"})
        writer.write(f"{s}/direct_gap", scan[:, 2], units="meV", attrs={"definition": "min_Q (E_1 - E_0)"})
        writer.write(f"{s}/period", scan[:, 3], units="nm")
        writer.write(f"{s}/harmonic_energy", scan[:, 4], units="meV")
