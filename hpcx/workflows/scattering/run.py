"""Phases of the ``scattering`` workflow: states and coupling terms (rows over ranks), RTA curve, tables.

The RTA curve and the tables are checkpointed (:class:`Kept`): every finished temperature goes to
``<output>.checkpoint/rta.h5``, and a stop request is agreed before each temperature, before the
tables and after every self-consistent iteration (whose iterate is then saved), so a stopped
run (exit 75) recomputes the coupling terms and then continues where it stopped, bit for bit.
"""

from __future__ import annotations

import numpy as np

from ...io import checkpoint as ck
from ...io.tables import read_moire_bands
from ...parallel import allgather_concat, allreduce_sum, block_range, on_root
from ...physics import scattering_states as ss
from ...physics import scattering_tables as st
from .result import Result, Tables


def run(p, ctx):
    """Tables and RTA curve of ``p`` (a :class:`~.schema.Params`)."""
    with ctx.phase("terms"):
        states, terms, potential = build_terms(p.model, p.twist_deg, p.bands_input, ctx)
    kept = Kept(p, states.n, ctx)
    with ctx.phase("rta"):
        rta = _rta_curve(p, kept, states, terms, ctx)
    with ctx.phase("table"):
        tables = _tables(p, kept, states, terms, ctx)
    D, v2, tau, iterations = (list(col) for col in zip(*rta))
    return Result(states.model, states.binding_energy, states.modes, states.energy, states.velocity,
                  states.weight, states.group, states.group_names, states.k, tables, list(p.temperatures),
                  D, v2, tau, iterations, potential)


def build_terms(model, twist_deg, bands_input, ctx):
    """(States, Terms of this rank's rows, potential attrs): bands from ``bands_input`` (a moire run
    file) or solved with the model's potential; one Wannier solution for the potential and the vertex."""
    log, comm = ctx.log, ctx.comm
    exciton = model.exciton()
    potential = {}
    if isinstance(model, ss.MoireModel):
        potential = {"acoustic_scale": model.acoustic_scale, "potential": f"bands of {bands_input}"}
        if bands_input is None:
            potential = model.potential_attrs(twist_deg, exciton)
            log.info("%s potential at %.3f deg: A_eff = %.4g meV, B_eff = %.4g meV (F_e = %.4f, F_h = %.4f, "
                     "s = %g); acoustic couplings x %.4g", potential["potential"], twist_deg, potential["A_eff_meV"],
                     potential["B_eff_meV"], potential["form_factor_electron"], potential["form_factor_hole"],
                     potential["conduction_fraction"], model.acoustic_scale)
    bands = None
    if bands_input is not None:
        bands = ss.MoireBands.from_arrays(on_root(read_moire_bands, comm, bands_input))
        log.info("bands from %s: %s at %.3f deg, %d Q x %d bands", bands_input, model.system.name,
                 bands.theta_deg, *bands.energy.shape)
    states, bands_used = ss.build_states(model, twist_deg, bands, exciton)
    if bands is None and bands_used is not None:
        log.info("%s at %.3f deg: a_M = %.3f nm, %d Q x %d bands, %d plane waves", model.system.name, twist_deg,
                 bands_used.period, len(bands_used.Q), bands_used.energy.shape[1], bands_used.n_g)
    start, stop = block_range(states.n, comm.size, comm.rank)
    terms = states.terms(start, stop, ctx.progress(stop - start, "coupling terms (rows of rank 0)", unit="rows"))
    n_terms = allreduce_sum(terms.n_terms, comm)
    log.info("%s model: %d states, rows split over %d rank(s), %d coupling terms; modes %s",
             states.model, states.n, comm.size, n_terms, ", ".join(states.modes))
    return states, terms, potential


def local_table(states, terms, T, settings, ctx, kept=None, phase=""):
    """:class:`~hpcx.physics.scattering_tables.LocalTable` at T (K), logged.  With ``kept`` (the
    run's :class:`Kept`) a stop request is agreed after every self-consistent iteration (the
    iterate is saved and the run ends) and a saved iterate of ``phase`` at T is continued."""
    resume = kept.resume(phase, T) if kept is not None else None
    after = kept.stop_hook(phase, T, ctx) if kept is not None else None
    progress = ctx.progress(settings.max_iter - (resume[1] if resume else 0),
                            f"self-consistent dephasing at {T:g} K (at most)", unit="iterations")
    tab = st.local_table(states.energy, terms, T, settings, ctx.comm, progress, resume, after)
    ctx.log.info("T = %6.1f K: self-consistent dephasing in %d iterations, residual %.2e, Gamma %.3f..%.3f meV",
                 T, tab.iterations, tab.residual, tab.gamma.min(), tab.gamma.max())
    return tab


class Kept:
    """What ``<output>.checkpoint/rta.h5`` keeps of a stopped run: the finished RTA temperatures
    ``done`` {T: (D, v2_eff, tau_eff, iterations)} and the self-consistent ``iterate`` of the
    temperature under way ({phase, temperature, gamma, iteration}, or None).  ``store`` is None
    without an output path (nothing is kept)."""

    def __init__(self, p, n_states, ctx):
        self.total = len(p.temperatures)
        self.store = ctx.checkpoint("rta", ck.fingerprint(p, inputs=(p.bands_input,), comm=ctx.comm))
        saved = self.store.load(_kept_check(p, n_states)) if self.store is not None else None
        rows = zip(saved["rta"]["temperature"], saved["rta"]["values"]) if saved else ()
        self.done = {float(T): (float(d), float(v2), float(tau), int(it)) for T, (d, v2, tau, it) in rows}
        self.iterate = saved.get("iterate") if saved else None

    def status(self):
        return f"{len(self.done)} of {self.total} temperatures done"

    def save(self, status):
        """Write ``done`` and ``iterate`` (if any) to the checkpoint, logged with ``status``."""
        if self.store is not None:
            trees = {"rta": {"temperature": list(self.done), "values": list(self.done.values())}}
            self.store.save({}, {**trees, **({"iterate": self.iterate} if self.iterate else {})}, status)

    def end(self, ctx, what, status):
        """After an agreed stop request: save, then end the run (:meth:`RunContext.end_after_stop`)."""
        self.save(status)
        ctx.end_after_stop(self.store, what, status)

    def resume(self, phase, T):
        """(gamma, iterations) saved for ``phase`` at T, or None."""
        it = self.iterate
        if it is None or str(it["phase"]) != phase or float(it["temperature"]) != T:
            return None
        return it["gamma"], int(it["iteration"])

    def stop_hook(self, phase, T, ctx):
        """The ``after(gamma, iterations)`` hook: on an agreed stop request the iterate is saved and
        the run ends (every rank iterates the same allgathered Gamma, so all call it alike)."""
        def after(gamma, iteration):
            if ctx.stop_requested():
                status = f"{self.status()}; {phase} at {T:g} K after {iteration} self-consistent iterations"
                self.iterate = {"phase": phase, "temperature": T, "gamma": gamma, "iteration": iteration}
                self.end(ctx, "scattering", status)
        return after


def _kept_check(p, n_states):
    """The ``validate`` of the checkpoint's load: ValueError (KeyError for a missing field) unless
    it holds RTA rows of temperatures of ``p`` and, if any, an iterate of ``n_states`` dephasings
    of a temperature of ``p`` stopped before ``max_iter``."""
    def check(state):
        temps, values = np.asarray(state["rta"]["temperature"]), np.asarray(state["rta"]["values"])
        if (len(temps) and values.shape != (len(temps), 4)) or not set(temps.tolist()) <= set(p.temperatures):
            raise ValueError(f"RTA rows of shape {values.shape} at {temps.tolist()} K")
        it = state.get("iterate")
        if it is None:
            return
        allowed = {"rta": p.temperatures, "table": (p.table_temperature,)}.get(str(it["phase"]), ())
        gamma = np.asarray(it["gamma"])
        if float(it["temperature"]) not in allowed or not 1 <= int(it["iteration"]) < p.settings.max_iter or \
                gamma.shape != (n_states,) or not np.all(np.isfinite(gamma)):
            raise ValueError(f"iterate of {it['phase']} at {it['temperature']} K, iteration {it['iteration']}, "
                             f"{gamma.shape} dephasings")
    return check


def _rta_curve(p, kept, states, terms, ctx):
    """[(D, v2_eff, tau_eff, iterations)] per temperature of ``p``, with a checkpoint after each."""
    if kept.done or kept.iterate is not None:
        it = kept.iterate
        ctx.log.info("resuming from %s: %s%s", kept.store.path, kept.status(), "" if it is None else
                     f"; {it['phase']} at {float(it['temperature']):g} K from iteration {int(it['iteration'])}")
    todo = [T for T in p.temperatures if T not in kept.done]
    for n in range(len(todo) + 1):          # a safe point before each temperature and after the last
        if ctx.stop_requested(final=n == len(todo)):
            kept.end(ctx, "RTA curve", kept.status())
        if n == len(todo):
            break
        kept.done[todo[n]] = _rta_point(p, kept, states, terms, todo[n], ctx)
        kept.iterate = None                 # a saved iterate was of this temperature (the first to do)
        kept.save(kept.status())
    return [kept.done[T] for T in p.temperatures]


def _rta_point(p, kept, states, terms, T, ctx):
    tab = local_table(states, terms, T, p.settings, ctx, kept, "rta")
    d, a, b = st.rta_of_rows(states.energy, states.velocity, states.weight, tab.W, T, ctx.comm)
    ctx.log.info("T = %6.1f K: D_RTA = %.4g cm^2/s, v2_eff = %.4g nm^2/ps^2, tau_eff = %.4g ps", T, d, a, b)
    return d, a, b, tab.iterations


def _tables(p, kept, states, terms, ctx):
    T, s = p.table_temperature, p.settings
    if ctx.stop_requested(final=True):      # the RTA curve is kept
        kept.end(ctx, "scattering", f"{kept.status()}, tables not started")
    tab = local_table(states, terms, T, s, ctx, kept, "table")
    rows = st.csr_rows(tab.W, s.threshold, ctx.comm)
    dropped = allgather_concat(rows.local["dropped"], ctx.comm)
    ctx.log.info("tables at %.1f K: %d entries (%.1f per state), dropped rate fraction max %.2e mean %.2e",
                 T, rows.nnz, rows.nnz / states.n, dropped.max(), dropped.mean())
    attrs = {"temperature_K": T, "beta": s.beta, "width_min_meV": p.width_min, "width_floor_meV": s.width,
             "detailed_balance": s.detailed_balance, "threshold": s.threshold, "iterations": tab.iterations,
             "residual": tab.residual, "n_states": states.n, "nnz": rows.nnz}
    loc = rows.local
    return Tables(attrs, loc["total_rate"], loc["dropped"], rows.indptr, loc["indices"], loc["cumulative"],
                  tab.gamma, terms.start, rows.offset)
