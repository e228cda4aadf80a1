"""Restart file of a ``wannier`` run: the (species, |m|) eigenproblems solved so far.

A run asked to stop (``ctx.stop_requested()``) writes ``<output>.checkpoint/solved.h5``
and raises :class:`~hpcx.errors.CheckpointedStop`; the same command run again
loads it and solves only the missing problems, so the result is bit-identical
to an uninterrupted run (each problem is solved by the same code, wherever).
The file carries a fingerprint of what determines the solutions (species,
masses, basis, states and eps(q) of each species at probe momenta); a file
of another config, or an unreadable one, is moved aside with a log line and
the run starts afresh.  The directory is removed when the solve phase ends.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np

from ...io import save_hdf5
from ...physics import wannier as wannier_physics

FILE = "solved.h5"
_PROBE_Q = np.geomspace(1e-3, 1e3, 13)      # 1/nm, where eps(q) of each species is fingerprinted


def fingerprint(p):
    """sha256 of everything the eigenproblems depend on (:class:`.schema.Params` ``p``)."""
    digest = hashlib.sha256(repr((p.species, p.basis, p.states)).encode())
    for sp in p.species:
        digest.update(np.ascontiguousarray(p.stack.epsilon(_PROBE_Q, sp.electron_layer, sp.hole_layer),
                                           dtype=float).tobytes())
    return digest.hexdigest()


def save(directory, p, solved):
    """Write ``solved`` ({(species index, |m|): AngularSolution}) to ``directory/solved.h5`` (one rank)."""
    def fill(f):
        f.attrs["fingerprint"] = fingerprint(p)
        for (i, m), sol in solved.items():
            g = f.create_group(f"{i}_{m}")
            g["energies_meV"], g["coefficients"], g["exponents"] = sol.energies_meV, sol.coefficients, sol.exponents
            g.attrs["species"], g.attrs["m"] = i, m
    directory.mkdir(parents=True, exist_ok=True)
    return save_hdf5(directory / FILE, fill)


def load(directory, p, log):
    """The solutions of a matching restart file ({} if none); a foreign or broken one is moved aside."""
    path = directory / FILE if directory is not None else None
    if path is None or not path.exists():
        return {}
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("fingerprint") != fingerprint(p):
                return _set_aside(path, "belongs to another config", log)
            return {(int(g.attrs["species"]), int(g.attrs["m"])): wannier_physics.AngularSolution(
                int(g.attrs["m"]), g["exponents"][()], g["energies_meV"][()], g["coefficients"][()])
                for g in f.values()}
    except (OSError, KeyError, ValueError) as exc:
        return _set_aside(path, f"is unreadable ({type(exc).__name__}: {exc})", log)


def _set_aside(path, why, log):
    aside = path.with_name(path.name + ".rejected")
    path.replace(aside)
    log.warning("restart file %s %s: moved to %s, starting afresh", path, why, aside)
    return {}


def remove(directory):
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
