"""Phase ``monte_carlo`` of the ``valley`` workflow: the weighted Monte Carlo on the moment solver's
cells and rates, per temperature, its particle batches spread over all ranks (results independent
of the rank count).

The phase keeps no checkpoint: a stop request (SIGTERM, SIGINT, SIGUSR1), agreed by all ranks at
the next output time, ends the run there (``ctx.interrupt()``: exit 128 +
signal), not after the remaining samples; a rerun starts from scratch."""

from __future__ import annotations

import time

import numpy as np

from ...physics import valley_dynamics as vd
from ...physics import valley_mc as vmc
from ...physics.valley_mc_table import cell_table


def monte_carlo(model, p, s, ctx):
    """{T: McTrace} for the temperatures of ``p.mc`` (groups: valleys, total, PL)."""
    mc = p.mc
    times = mc.times(p.times_end)
    settings = vmc.McSettings(mc.particles, mc.batches, mc.seed, np.linspace(0.0, mc.r_max, mc.r_bins + 1))
    progress = ctx.progress(len(mc.temperatures) * len(times), "Monte Carlo samples", unit="samples")
    out = {}
    for T in mc.temperatures:
        st = vd.setup(model, T, s, s.dq, 2)
        table = cell_table(model, st.tables, speeds=mc.speeds)
        source = vmc.pulse_source(st.tables.formation, st.f, st.source_end, s.pulse.width2)
        start = time.perf_counter()

        def on_sample(k):
            progress.update()
            if ctx.stop_requested():
                ctx.log.warning("stop requested at T = %.1f K, sample %d: the valley Monte Carlo keeps no "
                                "checkpoint; stopping now (a rerun starts from scratch)", T, k)
                ctx.interrupt()
        rec = vmc.simulate(table, source, settings, times, st.groups, ctx.comm, on_sample=on_sample)
        wall = time.perf_counter() - start
        ctx.log.info("T = %5.1f K: Monte Carlo of %d particles on %d cells (%d table entries): %d scattering "
                     "events in %.1f s (%.3g events/s on %d rank(s))", T, mc.particles, table.n, table.nnz,
                     rec.events[-1], wall, rec.events[-1] / max(wall, 1e-9), ctx.comm.size)
        out[T] = (vmc.observables(rec, s.pulse.width2, settings.r_edges), rec.events)
    return out
