"""Phases of the ``wannier`` workflow: independent (species, |m|) eigenproblems over ranks, observables."""

from __future__ import annotations

import numpy as np

from ...parallel import allgather_blocks, local_items
from ...physics import wannier as wannier_physics
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
    """{(species index, |m|): AngularSolution}, problems block-distributed, gathered on every rank."""
    offset, mine = local_items(problems, ctx.comm)
    progress = ctx.progress(len(mine), "eigenproblems (rank 0)", unit="problems")
    solved = []
    for i, m, k in mine:
        sp = p.species[i]
        solved.append(((i, m), wannier_physics.solve_angular_momentum(
            m, sp.reduced_mass, _screened(p.stack, sp), k, p.basis)))
        progress.update()
    return dict(allgather_blocks(solved, ctx.comm))


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
