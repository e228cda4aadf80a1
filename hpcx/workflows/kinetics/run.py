"""Phases of the ``kinetics`` workflow: rate tables (rows over ranks), rate equations, PL, sweep (points over ranks)."""

from __future__ import annotations

import hashlib

import numpy as np

from ...log import ONCE
from ...parallel import SerialComm, allgather_concat, block_range
from ...physics.kinetics import dynamics, setup, states
from ...rounds import solve_in_rounds
from .result import PointResult, Result, SweepResult


def model_at(p, delta_e, tables=None, species=None):
    """The KineticsModel of ``p`` (a :class:`~.schema.Params`) at band offset ``delta_e`` (meV) for
    ``species`` (default p.species); ``tables``: their radial tables, if already computed."""
    species = p.species if species is None else species
    shells = states.QShells(np.arange(p.n_shells(delta_e, species) + 1) * p.q2_step(species))
    return setup.build_model(species, p.gap_shifts(delta_e, species), shells, p.layer_phonons, p.tunnelling,
                             p.radiative, p.broadening, p.broadening_shape, p.angles, tables)


def rate_tables(p, model, T, comm):
    """(G, Gamma_P) at temperature T; rows of the pair table block-distributed over ``comm``."""
    lo, hi = block_range(model.n_states, comm.size, comm.rank)
    rows = allgather_concat(dynamics.pair_rate_rows(model, T, range(lo, hi)), comm)
    G = dynamics.generator(model, rows, T, radiative=p.radiative_decay)
    return G, dynamics.polarization_rates(model, T)


def solve_point(p, T, delta_e, comm, tables=None, species=None):
    """(model, trajectory, formation time in ps) of one (T, Delta E) point."""
    model = model_at(p, delta_e, tables, species)
    G, gamma_P = rate_tables(p, model, T, comm)
    traj = dynamics.simulate(model, G, gamma_P, p.pulse, p.t_end, p.n_times, p.pump_step)
    return model, traj, dynamics.formation_time(traj, 1, p.pulse.center)


def run(p, ctx):
    """Main point (time traces, occupations, PL) and, if configured, the tau(substrate, T, Delta E) sweep."""
    if p.energy_step > p.broadening:
        ctx.log.warning("energy_step %g meV exceeds the broadening %g meV: the shells under-resolve energy "
                        "conservation (rates ripple by several %%); use energy_step <= broadening",
                        p.energy_step, p.broadening, extra=ONCE)
    with ctx.phase("main point"):
        ctx.log.info("%s on %s, T = %g K, Delta E = %g meV: %s", p.hetero_name, p.substrate, p.temperature,
                     p.delta_e, ", ".join(f"{s.name} {e / 1e3:.4f} eV (E_b {s.binding:.1f} meV)"
                                          for s, e in zip(p.species, p.energies(p.delta_e))))
        tables = setup.radial_tables(p.species)
        model, traj, tau = solve_point(p, p.temperature, p.delta_e, ctx.comm, tables)
        ctx.log.info("%d shells per species (Q_max %.3f 1/nm), formation time %.4f ps", model.shells.n,
                     model.shells.q[-1], tau)
        if np.isnan(tau):
            ctx.log.warning("formation time undefined: the interlayer density never reaches 1 - 1/e of its "
                            "maximum after the pump maximum on the output grid (spacing %g ps); resolve the "
                            "formation with more kinetics.n_times or a shorter kinetics.t_end",
                            p.t_end / (p.n_times - 1))
    with ctx.phase("luminescence"):
        point = PointResult.from_trajectory(p, model, traj, tau)
        ctx.log.info("PL crossover %.3f ps; equilibrium crossover temperature %.1f K",
                     point.crossover_time, point.crossover_temperature)
    sweep = None
    if p.points:
        with ctx.phase("sweep"):
            sweep = _sweep(p, ctx, {k: tables for k, sp in enumerate(p.sweep_species) if sp is p.species})
    return Result(point, sweep)


def sweep_fingerprint(p):
    """Digest of everything a sweep point depends on (the checkpoint of finished points is kept only
    for equal fingerprints)."""
    h = hashlib.sha256()
    for sp in p.sweep_species:
        for s in sp:
            h.update(repr((s.name, s.electron_layer, s.hole_layer, s.m_e, s.m_h, s.gap, s.binding)).encode())
            h.update(np.ascontiguousarray(s.r).tobytes() + np.ascontiguousarray(s.phi_r).tobytes())
    h.update(repr((p.layer_phonons, p.tunnelling, p.radiative, p.pulse, p.energy_step, p.energy_window, p.broadening,
                   p.broadening_shape, p.angles, p.t_end, p.n_times, p.pump_step, p.radiative_decay, p.points,
                   p.sweep_substrates)).encode())
    return h.hexdigest()


def _sweep(p, ctx, tables):
    """Formation times of every sweep point: whole points distributed over ranks, in rounds of one point
    per rank; after each round the finished points go to a checkpoint, and a stop request ends the
    sweep there (a rerun computes only the missing points)."""
    store = ctx.checkpoint("kinetics_sweep", sweep_fingerprint(p))
    state = store.load() if store is not None else None
    done = {} if state is None else dict(zip(state["points"]["index"].tolist(), state["points"]["tau"].tolist()))
    if done:
        ctx.log.info("sweep: %d of %d points taken from the checkpoint %s", len(done), len(p.points), store.path)
    # cyclic (solve_in_rounds): the cost grows along Delta E (innermost), so blocks of neighbours would
    # overload one rank
    todo = [i for i in range(len(p.points)) if i not in done]
    solve_in_rounds(todo, lambda i: _sweep_point(p, i, tables), done, ctx, store=store, tree=_sweep_tree,
                    name="kinetics sweep", unit="points")
    shape = (len(p.sweep_substrates), len(p.sweep_temperatures), len(p.sweep_delta_e))
    grid = np.array([done[i] for i in range(len(p.points))]).reshape(shape)
    energies = np.array([[p.energies(d, sp) for d in p.sweep_delta_e] for sp in p.sweep_species]) / 1e3
    binding = np.array([[s.binding for s in sp] for sp in p.sweep_species])
    return SweepResult(list(p.sweep_substrates), np.array(p.sweep_temperatures), np.array(p.sweep_delta_e), grid,
                       energies, binding)


def _sweep_tree(done):
    """Checkpoint tree of the finished sweep points (index order)."""
    index = np.array(sorted(done), dtype=np.int64)
    return {"points": {"index": index, "tau": np.array([done[i] for i in index])}}


def _sweep_point(p, index, tables):
    """(index, formation time) of sweep point ``index`` on this rank alone; radial tables cached per substrate."""
    k, T, d = p.points[index]
    species = p.sweep_species[k]
    if k not in tables:
        tables[k] = setup.radial_tables(species)
    return index, solve_point(p, T, d, SerialComm(), tables[k], species)[2]
