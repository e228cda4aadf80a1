"""Workflow ``transport``: ensemble Monte Carlo of the exciton Boltzmann equation (seeds 000, 002).

Config -> sweep points (twist angle x temperature; or the one point of a finished
``scattering`` run file) (:mod:`.schema`) -> per point the sampling tables, computed
in-process (:mod:`hpcx.physics.scattering_states`, :mod:`hpcx.physics.scattering_tables`)
or read (:mod:`hpcx.io.tables`) -> particles over the ranks of a sub-communicator (sweep
points are spread over groups of ranks; :mod:`hpcx.physics.mc_engine`) -> moments,
occupations and profiles at the sampling times -> variances, transient and stationary D
with batch errors (:mod:`hpcx.physics.transport`) (:mod:`.run`) -> /results
(:mod:`.result`, docs/output.md ``## transport``); figures in :mod:`.plot`.
Checkpoints: ``<output>.checkpoint/point_NNNN.h5`` (:mod:`hpcx.io.checkpoint`); rerunning
the same config resumes from them.  Job arrays: :func:`sweep_overrides` (``hpcx sweep``).
"""

from .memory import estimate_memory
from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params, sweep_overrides

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("transport.particles", "scattering.grid", "scattering.n_bands")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS", "sweep_overrides",
           "input_files"]


def input_files(p):
    """[(config key, path, workflow)] of the run files a run reads."""
    out = [("transport.input", p.input, "scattering")] if p.input is not None else []
    if p.bands_input is not None:
        out.append(("scattering.input", p.bands_input, "moire"))
    return out
