"""Phases of the ``wannier`` workflow: independent (species, |m|) eigenproblems over ranks, observables."""

from __future__ import annotations

import numpy as np

from ...checks import numerical_errors
from ...errors import CheckpointedStop
from ...parallel import allgather_blocks, local_items
from ...physics import wannier as wannier_physics
from . import restart
from .memory import form_factor_chunk
from .result import Result, SpeciesResult


def run(p, ctx):
    """Solve the Wannier equation of every species of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("setup"):
        need = wannier_physics.angular_problems(p.states)
        problems = [(i, m, k) for i in range(len(p.species)) for m, k in sorted(need.items())]
        ctx.log.info("%d species x %d angular momenta = %d eigenproblems on %d rank(s), basis of %d Gaussians",
                     len(p.species), len(need), len(problems), ctx.comm.size, p.basis.n)
    with ctx.phase("solve"):
        solutions = _solve(p, problems, ctx)
    with ctx.phase("observables"):
        return _observables(p, need, solutions, ctx)


def _screened(stack, species):
    """eps(q) of the electron-hole interaction of ``species`` in ``stack``."""
    return lambda q: stack.epsilon(q, species.electron_layer, species.hole_layer)


def _solve(p, problems, ctx):
    """{(species index, |m|): AngularSolution}, problems block-distributed, gathered on every rank.

    Problems in a restart file are not solved again.  Before each problem and
    after the last every rank polls ``ctx.stop_requested()`` (as often as the
    rank with the most problems); on a stop the problems solved so far go to
    the restart file.
    """
    store = restart.checkpoint(p, ctx)
    done = restart.load(store)
    if done:
        ctx.log.info("resuming from %s: %d of %d eigenproblems already solved", store.path, len(done),
                     len(problems))
    todo = [problem for problem in problems if problem[:2] not in done]
    _, mine = local_items(todo, ctx.comm)
    rounds = -(-len(todo) // ctx.comm.size)
    progress = ctx.progress(len(mine), "eigenproblems (rank 0)", unit="problems")
    solved = []
    for step in range(rounds + 1):          # a safe point before each problem and after the last
        if ctx.checkpoint_dir is not None and ctx.stop_requested(final=step == rounds):
            _stop(store, done, solved, len(problems), ctx)
        if step < len(mine):
            i, m, k = mine[step]
            sp = p.species[i]
            with numerical_errors(f"Wannier equation of {sp.name}, |m| = {m}"):
                solved.append(((i, m), wannier_physics.solve_angular_momentum(
                    m, sp.reduced_mass, _screened(p.stack, sp), k, p.basis)))
            progress.update()
    return {**done, **dict(allgather_blocks(solved, ctx.comm))}


def _stop(store, done, solved, total, ctx):
    """Write the problems solved so far (all ranks) to the restart file, then stop the run."""
    everything = {**done, **dict(allgather_blocks(solved, ctx.comm))}
    path = restart.save(store, everything, f"{len(everything)} of {total} eigenproblems")
    raise CheckpointedStop(f"{len(everything)} of {total} eigenproblems solved, checkpoint {path}; "
                           f"run the same command again to continue")


def _observables(p, need, solutions, ctx):
    r, k, q = (np.linspace(0.0, g.end, g.n) for g in (p.r, p.k, p.q))
    chunks = -(-q.size // form_factor_chunk(p.basis.n)) if "1s" in p.states else 0
    progress = ctx.progress(len(p.species) * (1 + chunks), "observables", unit="blocks")
    out = []
    for i, (sp, gap) in enumerate(zip(p.species, p.gaps_eV)):
        res = wannier_physics.result_from_solutions(p.states, {m: solutions[(i, m)] for m in need})
        ctx.log.info("%-14s mu=%.3f m0  " + "  ".join(f"{s}: {e:7.1f} meV" for s, e in
                                                       zip(p.states, res.binding_energy_meV)),
                     sp.name, sp.reduced_mass)
        states = list(res.states)
        out.append(SpeciesResult(
            species=sp, electron_material=p.layers[sp.electron_layer].name,
            hole_material=p.layers[sp.hole_layer].name, states=states,
            binding_energy=res.binding_energy_meV, band_gap=gap, rms_radius=res.rms_radius_nm,
            r=r, phi_r=np.array([res.phi_r(s, r) for s in states]),
            k=k, phi_k=np.array([res.phi_k(s, k) for s in states]),
            q=q, form_factor=_form_factor(res, q, p.basis.n, progress) if chunks else np.full_like(q, np.nan),
            epsilon=p.stack.epsilon(np.maximum(q, 1e-6), sp.electron_layer, sp.hole_layer)))
        progress.update()
    return Result(out)


def _form_factor(res, q, n_basis, progress):
    """1s form factor on ``q``, in chunks of q so that its [q, n, n] kernel stays small."""
    chunk = form_factor_chunk(n_basis)
    parts = []
    for start in range(0, q.size, chunk):
        parts.append(res.form_factor("1s", q[start:start + chunk]))
        progress.update()
    return np.concatenate(parts)
