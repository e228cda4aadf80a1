"""Phases of the ``biexciton`` workflow.

Sweeps are distributed over MPI ranks item by item (each item computed whole
on one rank and gathered in order), so results do not depend on the number of
ranks: repulsion over (eps_r, theta), decay over the biexciton states, the
lifetime ratio over dipole scales, the PL over (T_eff, filling).
"""

from __future__ import annotations

import numpy as np

from ...parallel import all_or_none, allgather_blocks, local_items
from ...physics import biexciton as bx
from ...physics import moire as mp
from .result import PL, Biexciton, Lifetime, Repulsion, Result, Single, Trap


def run(p, ctx):
    """Trap, states, repulsion scan, decay, lifetime ratio and PL of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("trap"):
        geo, trap = p.trap_at(p.theta_deg)
        ctx.log.info("%s at %.3f deg: a_M = %.3f nm, U0 = %.3f meV, hbar omega0 = %.3f meV (Eq. 22: %.3f meV), "
                     "d = %.4g nm, eps_r = %g", p.name, p.theta_deg, geo.period_nm, trap.u0, trap.hbar_omega0,
                     mp.harmonic_frequency_meV(geo, p.potential, p.mass), p.d_nm, p.eps_r)
    with ctx.phase("relative"):
        rel, dxx, change = _relative(p, trap, ctx)
        singles = bx.single_states(trap, p.window)
        strength = bx.single_strengths(trap, singles)
        states = bx.biexciton_states(trap, rel, p.window)
    with ctx.phase("repulsion"):
        repulsion = _repulsion(p, ctx)
    with ctx.phase("decay"):
        decay = _decay(p, trap, rel, states, ctx)
        zeta = bx.lifetime_ratio(strength[0], decay[0])
        ctx.log.info("%d biexciton states within %d hbar omega0; zeta = tau_xx/tau_x = %.4f", len(states),
                     p.window, zeta)
    with ctx.phase("lifetime"):
        lifetime = _lifetime(p, trap, ctx)
    with ctx.phase("pl"):
        pl = _pl(p, trap, singles, strength, states, decay, ctx)
    r, parts, psi, psi0 = bx.relative_profile(trap, rel, p.d_nm, p.eps_r)
    l_keep = sorted(rel.energies)
    k = min(min(len(v) for v in rel.energies.values()), 8)
    biexciton = Biexciton(
        p.n_radial, p.window, states.energy, states.n_c, states.l_c, states.nu_r, states.l_r, dxx, change,
        decay.sum(axis=2), decay.sum(axis=1), zeta, np.array(l_keep),
        np.array([rel.energies[l][:k] for l in l_keep]), r, parts, np.array([psi, psi0]))
    return Result(
        system=p.name, twist_deg=p.theta_deg, epsilon_r=p.eps_r, dipole_length=p.d_nm, exciton_mass=p.mass,
        source_eps_r=p.source_eps_r, source_dipole_length=p.source_dipole_length,
        trap=Trap(trap.hbar_omega0, mp.harmonic_frequency_meV(geo, p.potential, p.mass), trap.u0, trap.kappa,
                  geo.period_nm, trap.minimum, trap.light),
        single=Single(p.window, singles.energy, singles.n, singles.l, singles.quanta, strength,
                      np.array(bx.SIGMAS)),
        biexciton=biexciton, repulsion=repulsion, pl=pl, lifetime=lifetime)


def _relative(p, trap, ctx):
    """Relative motion of every even |l_r| <= window; Delta_xx and its basis change (checked)."""
    rel = bx.solve_relative(trap, p.d_nm, p.eps_r, p.n_radial, list(range(0, p.window + 1, 2)))
    dxx = float(rel.energies[0][0] - trap.hbar_omega0)
    change = dxx - bx.delta_xx(trap, p.d_nm, p.eps_r, p.n_radial // 2)
    _check_converged([change], p, f"{p.theta_deg} deg", "biexciton.n_radial", ctx)
    ctx.log.info("Delta_xx = %.4f meV = %.4f hbar omega0 (n_radial %d; change from n_radial/2: %.2g meV)",
                 dxx, dxx / trap.hbar_omega0, p.n_radial, change)
    return rel, dxx, change


def _check_converged(changes, p, what, key, ctx):
    """:func:`~hpcx.physics.biexciton.check_basis_converged` on every rank together (the changes are
    replicated), so that a failed check is one error of the run, not one per rank."""
    with all_or_none(ctx.comm):
        bx.check_basis_converged(changes, p.convergence_tol, what, f"raise {key}")


def _sweep(items, compute, label, unit, ctx):
    """``compute(item)`` for this rank's block of ``items``, gathered on every rank in item order."""
    _, mine = local_items(items, ctx.comm)
    progress = ctx.progress(len(mine), f"{label} (rank 0)", unit=unit)
    local = []
    for item in mine:
        local.append(compute(item))
        progress.update()
    return allgather_blocks(local, ctx.comm)


def _repulsion(p, ctx):
    def point(item):
        eps, theta = item
        geo, trap = p.trap_at(theta)
        full, change = bx.delta_xx_and_change(trap, p.d_nm, eps, p.n_radial)
        return trap.hbar_omega0, trap.u0, geo.period_nm, full, change

    items = [(e, t) for e in p.eps_scan for t in p.twist_scan]
    rows = np.array(_sweep(items, point, "repulsion scan", "points", ctx))
    rows = rows.reshape(len(p.eps_scan), len(p.twist_scan), 5)
    _check_converged(rows[..., 4], p, "repulsion scan", "biexciton.n_radial", ctx)
    for i, eps in enumerate(p.eps_scan):
        ctx.log.info("eps_r = %g: Delta_xx = %s meV at theta = %s deg", eps, np.round(rows[i, :, 3], 3),
                     list(p.twist_scan))
    return Repulsion(p.n_radial, np.array(p.twist_scan, dtype=float), np.array(p.eps_scan, dtype=float),
                     rows[0, :, 0], rows[0, :, 1], rows[0, :, 2], rows[:, :, 3], rows[:, :, 4])


def _decay(p, trap, rel, states, ctx):
    """Decay amplitudes [n_biexciton, 2 (sigma), n_levels] per final level, states over ranks."""
    bright = bx.fock_brightness(trap, bx.brightness_grid_size(p.window, p.window, p.n_radial))
    rows = _sweep(range(len(states)), lambda i: bx.state_decay(states, i, rel, bright), "decay", "states", ctx)
    return bx.trim_levels(np.array(rows))


def _lifetime(p, trap, ctx):
    def point(scale):
        return bx.lifetime_point(trap, scale * p.d_nm, p.eps_r, p.lifetime_n_radial)

    points = _sweep(p.dipole_scales, point, "lifetime ratio", "dipoles", ctx)
    life = np.array([(q.delta_xx, q.change, q.zeta) for q in points]).reshape(-1, 3)
    _check_converged(life[:, 1], p, "lifetime-ratio scan", "biexciton.lifetime_n_radial", ctx)
    scales = np.array(p.dipole_scales, dtype=float)
    return Lifetime(scales, scales * p.d_nm, life[:, 0], life[:, 1], life[:, 0] / trap.hbar_omega0, life[:, 2])


def _pl(p, trap, singles, strength, states, decay, ctx):
    energy = -trap.u0 + trap.hbar_omega0 * np.linspace(p.pl_min, p.pl_max, p.pl_points)
    groups = bx.line_groups(singles, strength, states, decay)

    def point(item):
        return bx.pl_point(*item, singles, states, groups, trap, energy, p.linewidth)

    items = [(t, f) for t in p.temperatures for f in p.fillings]
    points = _sweep(items, point, "PL", "points", ctx)
    top_weight = float(max(q.top_shell for q in points))
    ctx.log.info("PL at %d (T_eff, filling) points; largest probability in the top shell N = %d: %.2g",
                 len(items), p.window, top_weight)
    shape = (len(p.temperatures), len(p.fillings))
    return PL(p.linewidth, top_weight, energy, np.array(p.fillings, dtype=float),
              np.array(p.temperatures, dtype=float),
              np.array([q.single for q in points]).reshape(shape + (-1,)),
              np.array([q.biexciton for q in points]).reshape(shape + (-1,)),
              np.array([q.mu for q in points]).reshape(shape),
              np.array([q.probability for q in points]).reshape(shape + (3,)))
