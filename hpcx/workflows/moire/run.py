"""Phases of the ``moire`` workflow: bands on the path and the grid (momenta split over ranks),
DOS, twist scan (angles split over ranks), potential map."""

from __future__ import annotations

import numpy as np

from ...parallel import allgather_blocks, allgather_concat, block_range, local_items
from ...physics import moire as mp
from ...physics import scattering_states as ss
from .result import Dos, Geometry, GridBands, PathBands, Potential, Result, TwistScan
from .schema import SCAN_PATH_POINTS


def run(p, ctx):
    """Bands, DOS, twist scan and potential map of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("setup"):
        geo = p.geometry
        exciton = ss.moire_exciton(p.system) if p.potential.needs_form_factor else None
        form_factor = exciton.form_factor if exciton is not None else None
        potential = p.potential.at(geo, form_factor)
        ham = mp.MoireHamiltonian(geo, potential, p.mass, p.shells)
        ctx.log.info("%s at %.3f deg: a_M = %.3f nm, %s potential A = %.4g meV, B = %.4g meV, M = %g m0, "
                     "%d plane waves (%d shells)", p.system.name, p.theta_deg, geo.period_nm, p.potential.kind,
                     potential.a_meV, potential.b_meV, p.mass, ham.n_g, p.shells)
    with ctx.phase("path"):
        path = _path(p, ham, ctx)
    with ctx.phase("grid"):
        grid = _grid(p, ham, ctx)
    with ctx.phase("dos"):
        e_grid = mp.dos_energy_grid(grid.energy, p.dos_sigma, p.dos_points)
        per_cell, per_area = mp.density_of_states(grid.energy, e_grid, p.dos_sigma, geo.cell_area_nm2)
        dos = Dos(p.dos_sigma, p.n_bands, e_grid, per_cell, per_area)
    scan = None
    if p.twist_scan:
        with ctx.phase("twist_scan"):
            scan = _twist_scan(p, form_factor, ctx)
    with ctx.phase("map"):
        pot = _potential(p, potential, exciton)
    return Result(system=p.system.name, exciton_mass=p.mass, electron_layer=p.system.electron_layer,
                  hole_layer=p.system.hole_layer, geometry=_geometry(p), potential=pot,
                  shells=p.shells, g=ham.g, s=ham.s, path=path, grid=grid, dos=dos, scan=scan)


def _local_count(n, comm):
    start, stop = block_range(n, comm.size, comm.rank)
    return stop - start


def _path(p, ham, ctx):
    path_q, path_x, ticks, labels = p.geometry.path(p.path_points)
    progress = ctx.progress(_local_count(len(path_q), ctx.comm), "path (rank 0)", unit="Q")
    _, local = mp.solve_block(ham, path_q, p.n_bands, ctx.comm, progress=progress)
    return PathBands(path_q, path_x, ticks, labels, allgather_concat(local.energy, ctx.comm),
                     allgather_concat(local.velocity, ctx.comm))


def _grid(p, ham, ctx):
    grid_q, grid_frac = p.geometry.monkhorst_pack(p.grid)
    progress = ctx.progress(_local_count(len(grid_q), ctx.comm), "grid (rank 0)", unit="Q")
    offset, local = mp.solve_block(ham, grid_q, p.n_bands, ctx.comm, progress=progress)
    energy = allgather_concat(local.energy, ctx.comm)
    width, gap, direct = mp.band_summary(energy)
    ctx.log.info("%d grid points on %d rank(s): bandwidth %.3f meV, gap %.3f meV (direct %.3f meV)",
                 len(grid_q), ctx.comm.size, width, gap, direct)
    return GridBands(p.grid, grid_q, grid_frac, energy, local.velocity,
                     local.vectors if p.write_vectors else None, offset, width, gap, direct)


def _twist_scan(p, form_factor, ctx):
    """One :class:`~hpcx.physics.moire.TwistPoint` per angle, angles block-distributed over ranks,
    each with its own potential (the form factors depend on the angle)."""
    _, mine = local_items(p.twist_scan, ctx.comm)
    progress = ctx.progress(len(mine), "twist scan (rank 0)", unit="angles")
    local = []
    for theta in mine:
        geo = p.geometry_at(theta)
        pot = p.potential.at(geo, form_factor)
        point = mp.twist_point(geo, pot, p.mass, p.shells, p.scan_grid, SCAN_PATH_POINTS)
        local.append(point.as_tuple() + (pot.a_meV, pot.b_meV))
        progress.update()
    rows = allgather_blocks(local, ctx.comm)
    for theta, row in zip(p.twist_scan, rows):
        ctx.log.info("scan %.3f deg: B_eff %.3f meV, bandwidth %.3f meV, gap %.3f meV", theta, row[-1], row[0],
                     row[1])
    scan = np.array(rows)
    return TwistScan(p.scan_grid, np.array(p.twist_scan, dtype=float), *scan.T)


def _geometry(p):
    geo = p.geometry
    points = geo.high_symmetry_points()
    return Geometry(p.theta_deg, np.array([geo.a1_nm, geo.a2_nm]), geo.period_nm, geo.cell_area_nm2,
                    geo.lattice_vectors, geo.g, np.array(list(points.values())), list(points))


def _potential(p, potential, exciton):
    """The potential at the run's angle with its provenance (docs/output.md)."""
    x, y, vmap = mp.potential_map(p.geometry, potential, p.map_points, p.map_cells)
    F_e, F_h = p.potential.form_factors(p.geometry, exciton.form_factor if exciton is not None else None)
    pp = p.potential.point_particle
    attrs = {"potential": p.potential.kind, "conduction_fraction": p.potential.conduction_fraction,
             "A_point_particle_meV": pp.a_meV, "B_point_particle_meV": pp.b_meV, "form_factor_electron": F_e,
             "form_factor_hole": F_h, "A_eff_meV": potential.a_meV, "B_eff_meV": potential.b_meV,
             "binding_energy_1s_meV": exciton.binding_energy if exciton is not None else float("nan"),
             "source_A": p.system.sources["A"], "source_B": p.system.sources["B"]}
    return Potential(potential.a_meV, potential.b_meV, attrs, potential.depth_meV(),
                     mp.harmonic_frequency_meV(p.geometry, potential, p.mass), x, y, vmap)
