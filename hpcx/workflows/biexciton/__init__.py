"""Workflow ``biexciton``: moiré-trapped single excitons and repulsive biexcitons (seed 003).

Config -> moiré system (hpcx/materials/moire.toml), dipole length and eps_r
(hpcx/materials/biexciton.toml) (:mod:`.schema`) -> harmonic trap from the
moiré potential -> relative motion with the dipolar repulsion (basis
convergence checked) -> sweeps over MPI ranks (:mod:`.run`) ->
/results/{trap,single,biexciton,repulsion,pl,lifetime_ratio} (:mod:`.result`);
figures in :mod:`.plot`, memory estimate in :mod:`.memory`.
"""

from .memory import estimate_memory
from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("biexciton.pl_points", "biexciton.window", "biexciton.n_radial")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS"]
