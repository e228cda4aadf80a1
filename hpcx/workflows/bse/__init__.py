"""Workflow ``bse``: Bethe-Salpeter equation in a Wannier / tight-binding basis (seed 004).

Config -> TBModel (Wannier90 files or the three-band model of Liu et al.) and the
settings (:mod:`.schema`) -> bands and coefficients on the k-grid (MPI over k) ->
band window, scissor -> W_ij(q) lattice sums (Keldysh, on-site regularised) and
bare V^x -> the rows of H this rank owns (PETSc layout; Cython direct term,
low-rank exchange) -> lowest eigenpairs (hpcx.bse.solver) -> velocities,
oscillator strengths, sigma(E) with and without the electron-hole interaction,
hole-fixed exciton densities (:mod:`.run`) -> /results (:mod:`.result`);
figures in :mod:`.plot`.
"""

from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, estimate_memory, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("bse.k_grid", "bse.valence_bands", "bse.conduction_bands", "bse.n_eig")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS"]
