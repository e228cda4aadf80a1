"""Phase ``monte_carlo`` of the ``valley`` workflow: the weighted Monte Carlo on the moment solver's
cells and rates, per temperature, its particle batches spread over all ranks (results independent
of the rank count).

Checkpoint: ``<output>.checkpoint/valley_monte_carlo.h5`` holds every finished temperature (written
after each); a rerun of the same config takes those from it and computes the others, with the same
numbers as an uninterrupted run.  A stop request (SIGTERM, SIGINT, SIGUSR1), agreed by all ranks at
the next output time, ends the run there (exit 75); the temperature in progress is recomputed by the
rerun.  Without an output path there is nothing to resume into: the run ends at once
(``ctx.interrupt()``, exit 128 + signal)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ...io import checkpoint as ck
from ...physics import valley_dynamics as vd
from ...physics import valley_mc as vmc
from ...physics.valley_mc_table import cell_table
from .checkpoints import load_temperatures, temperature_tree

NAME = "valley_monte_carlo"


def monte_carlo(model, p, s, ctx):
    """{T: (McTrace, events [samples])} for the temperatures of ``p.mc`` (groups: valleys, total, PL)."""
    mc = p.mc
    times = mc.times(p.times_end)
    settings = vmc.McSettings(mc.particles, mc.batches, mc.seed, np.linspace(0.0, mc.r_max, mc.r_bins + 1))
    store = ctx.checkpoint(NAME, ck.fingerprint(p))
    out = _load(store, mc.temperatures, ctx)
    todo = [T for T in mc.temperatures if T not in out]
    progress = ctx.progress(len(todo) * len(times), "Monte Carlo samples", unit="samples")
    for T in todo:
        def on_sample(k, T=T):
            progress.update()
            if ctx.stop_requested():
                _stop(store, len(out), len(mc.temperatures), f"at T = {T:.1f} K, sample {k}", ctx)
        out[T] = _temperature(model, T, s, mc.speeds, settings, times, ctx, on_sample)
        if store is not None:
            store.save({}, _tree(out), f"{len(out)} of {len(mc.temperatures)} temperatures")
    if ctx.stop_requested(final=True):          # the last safe point: every temperature is kept
        _stop(store, len(out), len(mc.temperatures), "after the last temperature", ctx)
    return out


def _temperature(model, T, s, speeds, settings, times, ctx, on_sample):
    """(McTrace, events [samples]) of the Monte Carlo at temperature T (K)."""
    st = vd.setup(model, T, s, s.dq, 2)
    table = cell_table(model, st.tables, speeds=speeds)
    source = vmc.pulse_source(st.tables.formation, st.f, st.source_end, s.pulse.width2)
    start = time.perf_counter()
    rec = vmc.simulate(table, source, settings, times, st.groups, ctx.comm, on_sample=on_sample)
    wall = time.perf_counter() - start
    ctx.log.info("T = %5.1f K: Monte Carlo of %d particles on %d cells (%d table entries): %d scattering "
                 "events in %.1f s (%.3g events/s on %d rank(s))", T, settings.particles, table.n, table.nnz,
                 rec.events[-1], wall, rec.events[-1] / max(wall, 1e-9), ctx.comm.size)
    return vmc.observables(rec, s.pulse.width2, settings.r_edges), rec.events


def _stop(store, done, total, where, ctx):
    """End the run on every rank after an agreed stop request (:meth:`RunContext.end_after_stop`)."""
    ctx.end_after_stop(store, f"valley Monte Carlo ({where})", f"{done} of {total} temperatures kept")


def _tree(out):
    """Checkpoint tree of the finished temperatures: ``temperatures/<i>/`` with T, events, McTrace fields."""
    return temperature_tree(out, lambda value: {"events": value[1], **dataclasses.asdict(value[0])})


def _load(store, temperatures, ctx):
    """{T: (McTrace, events)} of the checkpoint (the temperatures of this config only), or {}."""
    names = [f.name for f in dataclasses.fields(vmc.McTrace)]
    return load_temperatures(store, temperatures, lambda e: (vmc.McTrace(**{k: e[k] for k in names}),
                                                            np.asarray(e["events"])), ctx.log, "Monte Carlo")
