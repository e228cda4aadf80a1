"""Workflow ``moire``: moiré exciton bands of a twisted heterobilayer.

Config -> geometry, continuum potential, plane-wave basis (:mod:`.schema`) ->
bands on the path gamma-kappa-m-gamma and on a Monkhorst-Pack grid (momenta
split over MPI ranks), velocities, DOS, twist scan (angles split over ranks),
potential map (:mod:`.run`) -> /results/{geometry,potential,basis,bands,dos,twist_scan}
(:mod:`.result`); figures in :mod:`.plot`, memory estimate in :mod:`.memory`.
"""

from .memory import estimate_memory
from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("moire.grid", "moire.shells", "moire.n_bands", "moire.dos_points")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS"]
