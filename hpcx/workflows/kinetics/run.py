"""Phases of the ``kinetics`` workflow: rate tables (rows over ranks), rate equations, PL, sweep (points over ranks)."""

from __future__ import annotations

import numpy as np

from ...errors import CheckpointedStop
from ...parallel import SerialComm, allgather_blocks, allgather_concat, block_range, local_items
from ...physics.kinetics import dynamics, setup, states
from .result import PointResult, Result, SweepResult


def model_at(p, delta_e):
    """The KineticsModel of ``p`` (a :class:`~.schema.Params`) at band offset ``delta_e`` (meV)."""
    shells = states.QShells(np.arange(p.n_shells(delta_e) + 1) * p.q2_step())
    return setup.build_model(p.species, p.gap_shifts(delta_e), shells, p.layer_phonons, p.tunnelling,
                             p.radiative, p.broadening, p.broadening_shape, p.angles)


def rate_tables(p, model, T, comm):
    """(G, Gamma_P) at temperature T; rows of the pair table block-distributed over ``comm``."""
    lo, hi = block_range(model.n_states, comm.size, comm.rank)
    rows = allgather_concat(dynamics.pair_rate_rows(model, T, range(lo, hi)), comm)
    G = dynamics.generator(model, rows, T, radiative=p.radiative_decay)
    return G, dynamics.polarization_rates(model, T)


def solve_point(p, T, delta_e, comm):
    """(model, trajectory, formation time in ps) of one (T, Delta E) point."""
    model = model_at(p, delta_e)
    G, gamma_P = rate_tables(p, model, T, comm)
    traj = dynamics.simulate(model, G, gamma_P, p.pulse, p.t_end, p.n_times, p.rtol)
    return model, traj, dynamics.formation_time(traj, 1, p.pulse.center, model.shells.n)


def run(p, ctx):
    """Main point (time traces, occupations, PL) and, if configured, the tau(T, Delta E) sweep."""
    with ctx.phase("main point"):
        ctx.log.info("T = %g K, Delta E = %g meV: %s", p.temperature, p.delta_e, ", ".join(
            f"{s.name} {e / 1e3:.4f} eV (E_b {s.binding:.1f} meV)" for s, e in zip(p.species, p.energies(p.delta_e))))
        model, traj, tau = solve_point(p, p.temperature, p.delta_e, ctx.comm)
        ctx.log.info("%d shells per species (Q_max %.3f 1/nm), formation time %.4f ps", model.shells.n,
                     model.shells.q[-1], tau)
    with ctx.phase("luminescence"):
        point = PointResult.from_trajectory(p, model, traj, tau)
        ctx.log.info("PL crossover %.3f ps; equilibrium crossover temperature %.1f K",
                     point.crossover_time, point.crossover_temperature)
    sweep = None
    if p.points:
        with ctx.phase("sweep"):
            sweep = _sweep(p, ctx)
    return Result(point, sweep)


def _sweep(p, ctx):
    """Formation times of every sweep point: whole points distributed over ranks."""
    offset, mine = local_items(list(enumerate(p.points)), ctx.comm)
    progress = ctx.progress(len(mine), "sweep points (rank 0)", unit="points")
    done = []
    solo = SerialComm()
    for index, (T, d) in mine:
        if ctx.stop_requested():
            break
        done.append((index, solve_point(p, T, d, solo)[2]))
        progress.update()
    taus = dict(allgather_blocks(done, ctx.comm))
    if len(taus) < len(p.points):
        raise CheckpointedStop("kinetics sweep stopped on request before all points were done; rerun to repeat it")
    grid = np.array([taus[i] for i in range(len(p.points))]).reshape(len(p.sweep_temperatures), len(p.sweep_delta_e))
    return SweepResult(np.array(p.sweep_temperatures), np.array(p.sweep_delta_e), grid)
