"""Phase ``moments`` of the ``valley`` workflow: the moment solution of every temperature, the
temperatures dealt cyclically over ranks in rounds of one per rank (:func:`hpcx.rounds.solve_in_rounds`).

Checkpoint: after every round the finished temperatures go to
``<output>.checkpoint/valley_moments.h5``; a stop request ends the run with exit 75 and the rerun
solves only the missing temperatures.  Every temperature is solved on one rank alone, so the numbers
do not depend on the rank count or on a restart."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...io import checkpoint as ck
from ...physics import valley_dynamics as vd
from ...physics.valley_moments import MomentTrace
from ...rounds import solve_in_rounds
from ...units import KB_MEV_PER_K, NM2_PER_PS_IN_CM2_PER_S
from .checkpoints import load_temperatures, temperature_tree

NAME = "valley_moments"


def moment_solutions(model, p, s, ctx):
    """{T: (MomentTrace, stationary D per group with / without intervalley, formation rate)}."""
    store = ctx.checkpoint(NAME, ck.fingerprint(p))
    temperatures = list(p.temperatures)
    done = _load(store, temperatures, ctx)
    todo = [T for T in temperatures if T not in done]
    done = solve_in_rounds(todo, lambda T: (T, _solve(model, p, s, T, ctx.log)), done, ctx, store=store,
                           tree=_tree, name="valley moment", unit="temperatures")
    return {T: done[T] for T in temperatures}


def _solve(model, p, s, T, log):
    trace, st = vd.solve_moments_at(model, T, s)
    d_on = vd.stationary_diffusion(st.tables, st.groups, True)
    d_off = vd.stationary_diffusion(st.tables, st.groups, False)
    log.info("T = %5.1f K: %d cells, formation rate %.2f 1/ps, stationary D %.3f cm^2/s (kT = %.2f meV)",
             T, st.cells.n, st.decay_rate, d_on[len(p.valleys)] * NM2_PER_PS_IN_CM2_PER_S, KB_MEV_PER_K * T)
    return trace, d_on, d_off, st.decay_rate


def _tree(done):
    return temperature_tree(done, lambda value: {"d_on": value[1], "d_off": value[2], "decay_rate": value[3],
                                                 **dataclasses.asdict(value[0])})


def _load(store, temperatures, ctx):
    """{T: solution} of the checkpoint's temperatures that belong to ``temperatures``, or {}."""
    names = [f.name for f in dataclasses.fields(MomentTrace)]

    def restore(e):
        return (MomentTrace(**{k: np.asarray(e[k]) for k in names}), np.asarray(e["d_on"]), np.asarray(e["d_off"]),
                float(e["decay_rate"]))
    return load_temperatures(store, temperatures, restore, ctx.log, "moments")
