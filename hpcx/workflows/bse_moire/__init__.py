"""Workflow ``bse_moire``: BSE of one layer of a twisted heterobilayer in its moiré supercell (seed 004).

Config -> three-band model of the layer (Liu et al. 2013) and the commensurate
twisted cell (seed 004 SI Table A) with the stacking-dependent modulation of the
on-site energies (hpcx/materials/moire_modulation.toml, ASSUMED parameters), or
a supercell's Wannier90 files; memory estimate (dense vs matrix-free) and
refusal (:mod:`.schema`) -> the bands nearest the gap by shift-and-invert, MPI
over k -> the BSE operator (matrix-free PETSc MatShell, or the dense rows for
small N; hpcx.bse.operator) -> lowest eigenpairs (hpcx.bse.solver) ->
absorption by Lanczos-Haydock recursion (or from the eigenpairs),
independent-particle spectrum, peak positions (:mod:`.run`) -> /results
(:mod:`.result`); figures in :mod:`.plot`.  Units: eV, Angstrom.
"""

from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, estimate_memory, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("bse_moire.max_sites", "bse_moire.k_grid", "bse_moire.valence_bands", "bse_moire.conduction_bands")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS"]
