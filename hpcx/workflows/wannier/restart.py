"""Restart file of a ``wannier`` run: the (species, |m|) eigenproblems solved so far.

A run asked to stop (``ctx.stop_requested()``) writes ``<output>.checkpoint/solved.h5``
(:class:`hpcx.io.checkpoint.Checkpoint`) and raises :class:`~hpcx.errors.CheckpointedStop`;
the same command run again loads it and solves only the missing problems, so the result
is bit-identical to an uninterrupted run (each problem is solved by the same code,
wherever).  The fingerprint covers what determines the solutions (species, masses,
basis, states and eps(q) of each species at probe momenta); a file of another config,
or an unreadable one, is moved aside with a log line and the run starts afresh.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ...physics import wannier as wannier_physics

NAME = "solved"
_PROBE_Q = np.geomspace(1e-3, 1e3, 13)      # 1/nm, where eps(q) of each species is fingerprinted


def fingerprint(p):
    """sha256 of everything the eigenproblems depend on (:class:`.schema.Params` ``p``)."""
    digest = hashlib.sha256(repr((p.species, p.basis, p.states)).encode())
    for sp in p.species:
        digest.update(np.ascontiguousarray(p.stack.epsilon(_PROBE_Q, sp.electron_layer, sp.hole_layer),
                                           dtype=float).tobytes())
    return digest.hexdigest()


def checkpoint(p, ctx):
    """The run's restart file (None when the run has no output path)."""
    return ctx.checkpoint(NAME, fingerprint(p))


def save(store, solved, what):
    """Write ``solved`` ({(species index, |m|): AngularSolution}) to the restart file (collective)."""
    tree = {f"{i}_{m}": {"species": i, "m": m, "energies_meV": sol.energies_meV,
                         "coefficients": sol.coefficients, "exponents": sol.exponents}
            for (i, m), sol in solved.items()}
    store.save({}, {"solved": tree}, what)
    return store.path


def load(store):
    """The solutions of a matching restart file ({} if none or unusable; collective)."""
    state = store.load() if store is not None else None
    if state is None:
        return {}
    return {(int(g["species"]), int(g["m"])): wannier_physics.AngularSolution(
        int(g["m"]), g["exponents"], g["energies_meV"], g["coefficients"])
        for g in state.get("solved", {}).values()}
