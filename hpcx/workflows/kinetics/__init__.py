"""Workflow ``kinetics``: interlayer exciton formation and photoluminescence (seed 001).

Config -> 1s exciton species from the Wannier equation (:mod:`.schema`) -> rate tables
(rows over ranks) and the luminescence Bloch equations, PL, and a tau(T, Delta E)
sweep (points over ranks) (:mod:`.run`) -> /results/... (:mod:`.result`); figures in :mod:`.plot`.
"""

from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params


def estimate_memory(p, comm_size=1):
    """Peak bytes per rank: the dense pair table and generator (N x N, N = species x shells, a few
    copies during assembly and detailed balance), the sparse LU, the outputs; plus the interpreter."""
    n_states = len(p.species) * max(p.n_shells(d) for d in (p.delta_e, *p.sweep_delta_e))
    tables = 8 * n_states * n_states * 6
    outputs = 8 * (n_states * (p.n_times + p.snapshots) + p.snapshots * p.pl_points)
    return int(tables + outputs + 250e6)


def sweep_overrides(p):
    """One single-point config per (substrate, T, Delta E) of the sweep (its main point is that point)."""
    return [{"structure": {"substrate": p.sweep_substrates[k]}, "kinetics": {"temperature": T, "delta_e": d},
             "sweep": {"temperatures": [], "delta_e": [], "substrates": []}} for k, T, d in p.points]


__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "sweep_overrides"]
