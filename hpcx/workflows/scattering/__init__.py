"""Workflow ``scattering``: exciton-phonon scattering tensors, Monte Carlo tables, RTA diffusion.

Config -> states (moiré bands of hpcx.physics.moire, in-process or from a ``moire`` run
file; or the WS2 multi-valley parabolic model) and phonon modes with Wannier form
factors (:mod:`.schema`, :mod:`hpcx.physics.scattering_states`) -> coupling terms of the
local rows (initial states block-distributed over ranks) -> self-consistent dephasing
(SI Eq. 24) per temperature -> RTA D(T), and CSR sampling tables at the table
temperature (:mod:`.run`, :mod:`hpcx.physics.scattering_tables`) ->
/results/{rates, rta} (:mod:`.result`); figures in :mod:`.plot`.
"""

from .memory import estimate_memory
from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("scattering.grid", "scattering.n_bands", "scattering.k_points")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS", "input_files"]


def input_files(p):
    """[(config key, path, workflow)] of the run files a run reads."""
    return [("scattering.input", p.bands_input, "moire")] if p.bands_input is not None else []
