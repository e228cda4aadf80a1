"""Workflow ``kinetics``: interlayer exciton formation and photoluminescence (seed 001).

Config -> 1s exciton species from the Wannier equation (:mod:`.schema`) -> rate tables
(rows over ranks) and the luminescence Bloch equations, PL, and a tau(T, Delta E)
sweep (points over ranks) (:mod:`.run`) -> /results/... (:mod:`.result`); figures in :mod:`.plot`.
"""

from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("kinetics.energy_window", "kinetics.energy_step", "kinetics.n_times")


def estimate_memory(p, comm_size=1):
    """Peak bytes per rank.  With N = species x shells of the largest point: 16 dense (N + 4)^2
    arrays at the peak (pair table, detailed balance and generator, and the work arrays of the
    scaling-and-squaring matrix exponential of the augmented generator), the densities and their
    interpolation at every output time (2 N n_times).
    Every rank solves whole points, so the estimate does not fall with comm_size."""
    n_states = p.max_states()
    return int(8 * (16 * (n_states + 4) ** 2 + 2 * n_states * p.n_times))


def sweep_overrides(p):
    """One single-point config per (substrate, T, Delta E) of the sweep (its main point is that point)."""
    return [{"structure": {"substrate": p.sweep_substrates[k]}, "kinetics": {"temperature": T, "delta_e": d},
             "sweep": {"temperatures": [], "delta_e": [], "substrates": []}} for k, T, d in p.points]


__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS", "sweep_overrides"]
