"""Workflow ``wannier``: exciton Wannier equation with (hetero)bilayer screening.

Config -> dielectric stack and exciton species (:mod:`.schema`) -> independent
(species, |m|) eigenproblems distributed over MPI ranks (:mod:`.run`) ->
/results/excitons/<name>/... (:mod:`.result`); figures in :mod:`.plot`.
"""

from .memory import MEMORY_KEYS, estimate_memory
from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS"]
