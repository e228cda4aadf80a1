"""Phases of the ``bse_moire`` workflow: supercell, bands, operator, eigenpairs, wavefunctions, spectrum."""

from __future__ import annotations

import numpy as np

from ...bse import bands as bb
from ...bse import interaction as it
from ...bse import moire_cell as mc
from ...bse import optics as op
from ...bse.operator import from_bands, on_layout
from ...bse.recursion import lanczos
from ...bse.solver import solve
from ...bse.supercell import bands_near_gap_mpi
from ...bse.tbmodel import monkhorst_pack
from ...formats.wannier90 import load_wannier90_sparse
from ...log import ONCE
from ...parallel import allreduce_sum, min_over_ranks
from .result import Result, Spectrum, Wavefunctions


def run(p, ctx):
    """Lowest excitons and the absorption of the supercell of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("model"):
        problem, valleys = _model(p, ctx)
    with ctx.phase("bands"):
        bands, qp_gap, P, split, mid_gap = _bands(p, problem, ctx)
    with ctx.phase("operator"):
        H, P_t, omega = _operator(p, problem, bands, P, ctx)
    with ctx.phase("eigenpairs"):
        pairs, f_S = _eigenpairs(p, H, P_t, qp_gap, ctx)
    wavefunctions = None
    if p.wavefunctions:
        with ctx.phase("wavefunctions"):
            wavefunctions = _wavefunctions(p, problem, bands, pairs, ctx)
    with ctx.phase("spectrum"):
        spectrum = _spectrum(p, problem, H, pairs, P_t, omega, qp_gap, ctx)
    return Result.of_run(p, problem, bands, pairs, f_S, qp_gap, spectrum, wavefunctions, split, valleys,
                         mid_gap, ctx.comm.size)


def _model(p, ctx):
    """(Problem with its supercell model, valleys_on_grid or None); logs the cell and the memory."""
    problem = p.problem
    valleys = None
    if p.wannier90 is not None:
        w = p.wannier90
        model, _ = load_wannier90_sparse(w.directory, w.seedname, use_ws_distance=w.use_ws_distance,
                                         cutoff=w.hopping_cutoff, meta=w.meta)
        problem = problem.with_model(model)
        ctx.log.info("Wannier90 supercell %s/%s: %d orbitals on %d sites, %d occupied bands", w.directory,
                     w.seedname, model.n_orb, problem.n_sites, problem.n_occ)
    else:
        cell = problem.cell
        ctx.log.info("%s on %s: theta = %.3f deg, m = %s, n = %s, %d sites, %d orbitals, strain %+.3f %%, moire "
                     "period %.2f A; modulation %s (scale %g)", p.data.layer, p.data.other_layer,
                     abs(cell.theta_deg), cell.m, cell.n, cell.n_sites, problem.n_orb, 100 * cell.strain, cell.period,
                     "on" if p.modulation else "off", p.modulation_scale)
        valleys = mc.valleys_on_grid(cell, p.grid[0])
        if not valleys:
            ctx.log.warning("the %d x %d grid misses the folded K/K' points of this cell (m1 - m2 = %d is not a "
                            "multiple of 3: K folds to the moire K point): the band edges are not sampled; use a "
                            "k_grid divisible by 3", *p.grid, cell.m[0] - cell.m[1], extra=ONCE)
    for line in p.memory.lines():
        ctx.log.info("memory estimate: %s", line)
    ctx.log.info("operator: %s", "dense rows" if p.operator == "dense" else "matrix-free (PETSc MatShell)")
    return problem, valleys


def _bands(p, problem, ctx):
    """(LocalBands, qp gap eV, velocity elements P [n_kl, 2, n_v, n_c], split edges, mid-gap eV)."""
    comm, sc = ctx.comm, problem.model
    n_v, n_c = p.valence_bands, p.conduction_bands
    k = monkhorst_pack(*p.grid)
    mid_gap = problem.mid_gap if problem.mid_gap is not None else mc.mid_gap_dense(sc, problem.n_occ, k, comm)
    progress = ctx.progress(-(-len(k) // comm.size), "supercell bands (rank 0's k-points)", unit="k")
    k0, e_loc, c_loc = bands_near_gap_mpi(sc, k, n_v + 1, n_c + 1, mid_gap, comm, solver=p.band_solver,
                                          progress=progress)
    bands, split = bb.near_gap_window(p.grid, k, k0, e_loc, c_loc, n_v, n_c, p.scissor)
    split = int(allreduce_sum(split, comm))
    if split:
        ctx.log.warning("the band window splits a degenerate level at %d k-point edge(s); results depend on "
                        "which partner was kept: change valence_bands/conduction_bands by one", split, extra=ONCE)
    gap_loc = float((bands.E_c[:, 0] - bands.E_v[:, 0]).min()) if len(bands.E_v) else np.inf
    qp_gap = min_over_ranks(gap_loc, comm)
    P = op.velocity_matrix_sparse(sc, k[k0:k0 + len(e_loc)], bands.C_v, bands.C_c)
    ctx.log.info("bands: %d + %d per k on %d x %d k-points (N = %d); qp gap %.4f eV", n_v, n_c, *p.grid, p.size,
                 qp_gap)
    return bands, qp_gap, P, split, mid_gap


def sites(problem):
    """The interaction sites of the supercell (one layer)."""
    return it.Sites(problem.site_of_orbital, problem.site_pos, np.zeros(problem.n_sites, int))


def _operator(p, problem, bands, P, ctx):
    """(operator, P_t [n_local, 2], omega [n_local]): transition-ordered arrays on its layout."""
    sc = problem.model
    V = it.keldysh(p.r0, p.epsilon, p.onsite_length, p.onsite_u)
    V_x = None
    if p.exchange:
        V_x = it.coulomb(p.epsilon, p.onsite_length)(it.site_distances(sc.lattice, p.grid, problem.site_pos)) \
            .sum(axis=(0, 1))
    progress = ctx.progress(-(-p.size // ctx.comm.size), "BSE assembly (rank 0's rows)", unit="rows")
    H = from_bands(p.operator, bands, sc.lattice, sc.positions, sites(problem), V, V_x,
                   exchange_factor=problem.spin_factor, comm=ctx.comm, progress=progress)
    nb = p.valence_bands * p.conduction_bands
    P_t = on_layout(P.transpose(0, 2, 3, 1).reshape(-1, 2), bands.k_start, nb, H.local_range, ctx.comm)
    omega = on_layout(bands.transition_energies(), bands.k_start, nb, H.local_range, ctx.comm)
    ctx.log.info("operator ready: rows/transitions %d:%d of %d on this rank", *H.local_range, p.size)
    return H, P_t, omega


def _eigenpairs(p, H, P_t, qp_gap, ctx):
    """(EigenPairs, oscillator strengths) of the lowest n_eig excitons."""
    progress = ctx.progress(p.solver.max_it, "eigensolver iterations (ETA to max_it)", unit="it")
    pairs = solve(H, p.n_eig, p.solver, progress=progress)
    P_S = allreduce_sum(pairs.vectors.T @ P_t, ctx.comm)                       # [n_eig, 2]
    f_S = op.oscillator_strength(P_S, pairs.values, p.grid[0] * p.grid[1], p.problem.spin_factor)
    ctx.log.info("%s: %d eigenpairs, lowest %.4f eV (qp gap - %.4f eV), max residual %.1e eV, %d iterations",
                 pairs.method, p.n_eig, pairs.values[0], qp_gap - pairs.values[0], pairs.residuals.max(),
                 pairs.iterations)
    return pairs, f_S


def _wavefunctions(p, problem, bands, pairs, ctx):
    """Multiplet-averaged hole-fixed electron densities and hole densities (vectors gathered)."""
    hole = p.hole_site if p.hole_site >= 0 else op.site_nearest_origin(problem.site_pos)
    dens, pos, rho_h, complete = op.multiplet_densities(bands.gather(ctx.comm), pairs.gather(), pairs.values,
                                                        sites(problem), p.grid, hole, problem.model.lattice,
                                                        p.wavefunctions)
    if not complete:
        ctx.log.warning("the last multiplet of the %d wavefunctions may continue beyond the %d computed eigenpairs: "
                        "its average is over the computed members only (raise n_eig)", p.wavefunctions,
                        len(pairs.values), extra=ONCE)
    return Wavefunctions(hole, problem.site_pos[hole], dens, pos, rho_h)


def _spectrum(p, problem, H, pairs, P_t, omega, qp_gap, ctx):
    """sigma(E) by recursion (or from the eigenpairs), sigma_ip of all transitions, peaks."""
    s, g_s, n_k = p.spectrum, problem.spin_factor, p.grid[0] * p.grid[1]
    cell_area = float(abs(np.linalg.det(problem.model.lattice[:2, :2])))
    e_lo = s.energy_min or max(0.05, pairs.values[0] - 0.2)
    e_hi = s.energy_max or qp_gap + 0.2
    energy = np.linspace(e_lo, max(e_hi, e_lo + 0.1), s.energy_points)
    steps = []
    if s.method == "recursion":
        mu = np.zeros(len(energy))
        axes = (0, 1) if s.polarization == "average" else (0,)
        progress = ctx.progress(len(axes) * min(s.n_lanczos, p.size), "Lanczos steps", unit="steps")
        for a in axes:
            rec = lanczos(H, np.conj(P_t[:, a]), min(s.n_lanczos, p.size), progress=progress)
            mu += rec.gaussian(energy, s.broadening, prefactor=lambda th: 1.0 / th)
            steps.append(rec.steps)
        sigma = np.pi * g_s / (n_k * cell_area) * mu / len(axes)
        ctx.log.info("recursion spectrum: %s Lanczos steps (%s)", steps, ", ".join("xy"[a] for a in axes))
    else:
        P_S = allreduce_sum(pairs.vectors.T @ P_t, ctx.comm)
        sigma = op.conductivity(energy, pairs.values, 0.5 * np.sum(np.abs(P_S) ** 2, axis=1), n_k, cell_area,
                                s.broadening, g_s)
    p2_ip = 0.5 * np.sum(np.abs(P_t) ** 2, axis=1)
    sigma_ip = allreduce_sum(op.conductivity(energy, omega, p2_ip, n_k, cell_area, s.broadening, g_s), ctx.comm)
    peaks, heights = op.peaks(energy, sigma, s.peak_prominence)
    ctx.log.info("peaks of sigma: %s eV", ", ".join(f"{e:.4f}" for e in peaks) or "none")
    return Spectrum(s.method, s.broadening, steps, s.polarization if s.method == "recursion" else "average",
                    energy, sigma, sigma_ip, peaks, heights, s.peak_prominence)
