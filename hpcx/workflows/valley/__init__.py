"""Workflow ``valley``: valley-resolved spatiotemporal exciton dynamics of a monolayer (seed 002).

Config -> valley model of the material with its phonon couplings (:mod:`.schema`) -> rates on
continuous |Q|, the spatial-moment solver per temperature (:mod:`.moments`, checkpointed in
``<output>.checkpoint/valley_moments.h5``) and the radial-profile
solver per (temperature, wavenumber chunk) (:mod:`.profiles`, checkpointed in
``<output>.checkpoint/valley_profiles.h5``), distributed over ranks, optionally the weighted
Monte Carlo on the same cells and rates (:mod:`.monte_carlo`, checkpointed per temperature in
``<output>.checkpoint/valley_monte_carlo.h5``) -> /results/... (:mod:`.result`); figures in
:mod:`.plot`.  Physics: docs/theory/valley.md.
"""

from .plot import plot
from .result import Result
from .run import run
from .schema import SCHEMA, Params, params

#: the config keys the memory estimate depends on (named when a run is refused)
MEMORY_KEYS = ("valley.profile_dq", "valley.profile_chunk", "valley.dq")

__all__ = ["SCHEMA", "Params", "params", "run", "Result", "plot", "estimate_memory", "MEMORY_KEYS", "sweep_overrides"]


def estimate_memory(p, comm_size=1):
    """Peak bytes per rank: the largest of the setup (1s form factor and rate quadratures, both
    evaluated in bounded blocks), the moment solver and the profile solver (each holds one block of
    its source propagator u [block, dim] and its output [dim, times]), the Monte Carlo; plus the
    results.  dim: cells x 3 moments, or cells x harmonics x wavenumber chunk for the profiles."""
    import numpy as np

    from ...physics.valley_propagate import block_points
    from ...physics.valley_rates import QUADRATURE_BLOCK_BYTES
    from ...physics.wannier import FORM_FACTOR_BLOCK_BYTES

    def propagator(dim, n_out):         # the output, and expm_multiply's result with ~2 work copies
        return 8 * dim * (n_out + 3 * max(block_points(dim), n_out))

    setup = 4 * FORM_FACTOR_BLOCK_BYTES + QUADRATURE_BLOCK_BYTES
    cells = 3 * int(np.ceil(3.0 / p.profile_dq)) if p.profiles else 0
    profile = propagator(cells * p.profile_harmonics * p.profile_chunk, p.n_profile_times) if p.profiles else 0
    moments = propagator(3 * 3 * int(np.ceil(3.0 / p.dq)), p.n_times)
    results = 8 * len(p.temperatures) * (len(p.valleys) * 6 * p.n_times
                                         + 3 * len(p.valleys) * p.n_profile_times * p.profile_r_points)
    return int(1.3 * (max(setup, profile, moments, _monte_carlo(p, comm_size)) + results))


def _monte_carlo(p, comm_size):
    """The Monte Carlo's peak: the rank's particles (11 arrays) and the sampling temporaries
    (about 12 more per particle), the cell tables (per entry: 33 angle quantiles, the alias slot
    and the row) and the record (sums per sample, batch and group)."""
    if p.mc is None:
        return 0
    import numpy as np
    local = int(np.ceil(p.mc.batches / comm_size)) * int(np.ceil(p.mc.particles / p.mc.batches))
    cells = 3 * int(np.ceil(3.0 / p.dq))
    entries = cells * (2 * int(np.ceil(0.08 / p.dq)) + 8)
    samples = int(round(p.times_end / p.mc.dt)) + 1
    groups = len(p.valleys) + 2
    record = 8 * samples * groups * (4 * p.mc.batches + p.mc.r_bins) + 8 * p.mc.batches * groups * p.mc.r_bins
    return 8 * 23 * local + 8 * 45 * entries + record


def sweep_overrides(p):
    """One sweep point per temperature."""
    return [{"valley": {"temperatures": [T]}} for T in p.temperatures]
