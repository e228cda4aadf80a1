"""Phases of the ``bse`` workflow: bands, interaction, the rows of H, eigenpairs, optics."""

from __future__ import annotations

import numpy as np

from ...bse import bands as bb
from ...bse import hamiltonian as hh
from ...bse import interaction as it
from ...bse import optics as op
from ...bse.operator import DenseRows, ownership
from ...bse.solver import solve
from ...bse.tbmodel import monkhorst_pack
from ...log import ONCE
from .result import Result


def run(p, ctx):
    """Lowest excitons, spectra and wavefunctions of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("model"):
        window = _bands(p, ctx)
    with ctx.phase("interaction"):
        sites, inter = _interaction(p, window, ctx)
    with ctx.phase("assembly"):
        operator = _assemble(p, window, inter, ctx)
    with ctx.phase("solve"):
        pairs = _eigenpairs(p, operator, window, ctx)
    with ctx.phase("optics"):
        return _optics(p, window, sites, pairs, ctx)


def spin_factor(p):
    """1 in a spin-explicit basis, 2 for singlet excitons of a spinless one."""
    return 1.0 if p.spinful else 2.0


def _bands(p, ctx):
    """The band window on the k-grid (each rank diagonalises its block of k, gathered)."""
    k = monkhorst_pack(*p.grid)
    E, C = bb.bands_on_grid(p.model, k, ctx.comm)
    window = bb.band_window(E, C, k, p.n_occupied, p.valence_bands, p.conduction_bands, p.scissor)
    ctx.log.info("%s model: %d orbitals, %d x %d k-points, %d valence + %d conduction bands -> N = %d; "
                 "qp gap %.4f eV (scissor %.3f eV)", p.source, p.model.n_orb, *p.grid, window.n_v, window.n_c,
                 window.size, window.qp_gap, p.scissor)
    return window


def _interaction(p, window, ctx):
    """(Sites, Interaction): W_ij(q) of the layered Keldysh potential and the bare exchange V^x."""
    x = p.interaction
    sites = it.group_sites(p.model.positions)
    a0 = x.onsite_length or float(np.linalg.norm(p.model.lattice[0]))
    direct = it.layered_keldysh(x.r0, x.epsilon, a0, x.onsite_u, x.interlayer_distance)
    exchange = it.coulomb(x.epsilon, a0) if x.exchange else None
    inter = it.build_interaction(p.model.lattice, p.grid, sites, direct, exchange)
    ctx.log.info("%d interaction sites in %d layer(s); W_ij(q) on %d q-points", sites.n_site,
                 sites.layer.max() + 1, inter.W.shape[0])
    return sites, inter


def _assemble(p, window, inter, ctx):
    """The rows of H this rank owns (PETSc layout) as a DenseRows operator."""
    n = window.size
    start, stop = ownership(n, ctx.comm)
    progress = ctx.progress(stop - start, "BSE assembly (rank 0's rows)", unit="rows")
    rows = hh.assemble_rows(window, inter, start, stop,
                            exchange_factor=spin_factor(p) if p.interaction.exchange else 0.0,
                            direct=p.interaction.direct, progress=progress)
    ctx.log.info("rank rows %d:%d of %d assembled (%.1f MB per rank)", start, stop, n, rows.nbytes / 2**20)
    return DenseRows(rows, start, ctx.comm)


def _eigenpairs(p, operator, window, ctx):
    progress = ctx.progress(p.solver.max_it, "eigensolver iterations (ETA to max_it)", unit="it")
    pairs = solve(operator, p.n_eig, p.solver, progress=progress)
    ctx.log.info("%s: %d eigenpairs, lowest %.4f eV (binding %.4f eV), max residual %.2e eV",
                 pairs.method, p.n_eig, pairs.values[0], window.qp_gap - pairs.values[0], pairs.residuals.max())
    return pairs


def spectrum_grid(s, values, log):
    """Energies (eV) of the spectrum: [energy_min, energy_max], 0 meaning lowest exciton - 0.3 eV
    and highest computed exciton + 3 broadenings; an automatic end below a given start is
    replaced by start + 1 eV (logged)."""
    e_lo = s.energy_min or max(0.05, values[0] - 0.3)
    e_hi = s.energy_max or values[-1] + 3 * s.broadening
    if e_hi <= e_lo:
        log.warning("spectrum: energy_min = %.3f eV lies above the computed excitons (end %.3f eV): "
                    "the spectrum ends at energy_min + 1 eV; set energy_max", e_lo, e_hi, extra=ONCE)
        e_hi = e_lo + 1.0
    return np.linspace(e_lo, e_hi, s.energy_points)


def _optics(p, window, sites, pairs, ctx):
    """Velocities, oscillator strengths, sigma(E) with and without interaction, densities."""
    vectors = pairs.gather()
    model, s, g_s = p.model, p.spectrum, spin_factor(p)
    P = op.velocity_matrix(model, window.k_frac, window.C_v, window.C_c)
    P_S = op.exciton_amplitudes(P, vectors)
    cell = float(abs(np.linalg.det(model.lattice[:2, :2])))
    omega_ip = window.transition_energies()
    p2_ip = 0.5 * np.sum(np.abs(P.transpose(0, 2, 3, 1).reshape(-1, 2)) ** 2, axis=1)
    p2_S = 0.5 * np.sum(np.abs(P_S) ** 2, axis=1)
    energy = spectrum_grid(s, pairs.values, ctx.log)
    hole = p.hole_site if p.hole_site >= 0 else op.brightest_hole_site(window, sites)
    n_wf = min(p.wavefunctions, len(pairs.values))
    dens, pos = op.hole_fixed_density(window, vectors[:, :n_wf], sites, p.grid, hole, model.lattice)
    return Result(
        source=p.source, model_label=p.model_label, grid=tuple(p.grid), n_valence=window.n_v,
        n_conduction=window.n_c, solver=pairs.method, iterations=pairs.iterations, spin_factor=g_s,
        direct=p.interaction.direct, exchange=p.interaction.exchange, r0=p.interaction.r0,
        epsilon=p.interaction.epsilon, onsite_u=p.interaction.onsite_u, scissor=p.scissor,
        eigenvalues=pairs.values, eigenvectors=vectors, residuals=pairs.residuals,
        transitions=window.transitions(), k_points=window.k_frac, transition_energy=omega_ip,
        qp_gap=window.qp_gap, oscillator_strength=op.oscillator_strength(P_S, pairs.values, window.n_k, g_s),
        broadening=s.broadening, energy=energy,
        sigma=op.conductivity(energy, pairs.values, p2_S, window.n_k, cell, s.broadening, g_s),
        sigma_ip=op.conductivity(energy, omega_ip, p2_ip, window.n_k, cell, s.broadening, g_s),
        hole_site=hole, hole_position=sites.positions[hole], density=dens, positions=pos,
        site_positions=sites.positions, site_layer=sites.layer, site_of_orbital=sites.site_of_orbital,
        lattice=model.lattice)

