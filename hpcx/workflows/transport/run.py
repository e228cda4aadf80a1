"""Phases of the ``transport`` workflow: tables per sweep point, Monte Carlo over ranks, analysis.

Sweep points are spread round robin over groups of consecutive ranks (one
sub-communicator per group); inside a group the particles' batches are spread
over its ranks.  The group's tables are held once per node, in shared memory of
the group's ranks on that node (:class:`hpcx.parallel.SharedArrays`), and freed
when the Monte Carlo ends.  Every point checkpoints to ``<output>.checkpoint/point_NNNN.h5``
(every ``checkpoint_every`` samples, when it is finished, and when the run is
asked to stop); rerunning the same config resumes from them.  Their fingerprint covers the
parameters and the content of the input files (``transport.input``, ``scattering.input``),
and what a checkpoint holds is checked against the parameters and the tables' size before
it is used (:func:`_check_saved`): a checkpoint of another input, or a damaged one, is moved
aside and the point starts afresh.
"""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

from ...errors import CheckpointedStop, HpcxError, InputError
from ...io import checkpoint as ck
from ...io.tables import read_moire_bands, read_scattering_tables, scattering_tables_layout
from ...log import ONCE
from ...parallel import all_or_none, allgather_blocks, block_range, max_over_ranks, on_root, shared_arrays, split
from ...physics import mc_engine as me
from ...physics import mc_table as mt
from ...physics import scattering_states as ss
from ...physics import scattering_tables as st
from ...physics import transport as tr
from .memory import table_sizes
from .result import STACKED, STATES, Result


class _Stop(Exception):
    """The group wrote its checkpoint after a stop request (internal)."""


def run(p, ctx):
    """Monte Carlo of every sweep point of ``p`` (a :class:`~.schema.Params`)."""
    times = np.linspace(0.0, p.mc.t_max, p.mc.samples + 1)
    n_groups, color, sub = _groups(ctx.comm, len(p.points))
    mine = list(range(color, len(p.points), n_groups))      # round robin: sweeps are sorted by cost (T)
    ctx.log.info("transport: %d sweep point(s) on %d group(s) of ranks, %d particles in %d batches, %d samples "
                 "to %.4g ps", len(p.points), n_groups, p.mc.particles, p.mc.batches, p.mc.samples, p.mc.t_max)
    ckpts = _checkpoints(p, mine, sub, ctx)
    with _raised_on_every_group(sub, ctx.comm):         # e.g. a checkpoint that cannot be moved aside
        sizes = functools.cache(lambda: table_sizes(p))     # read once, on rank 0, if a checkpoint is there
        saved = {i: (ckpts[i].load(_check_saved(p, i, times, sizes)) if ckpts[i] else None) for i in mine}
    todo = [i for i in mine if not (saved[i] and saved[i]["attrs"]["done"])]
    with shared_arrays(sub) as arena:                       # the tables, once per node: freed at the end
        with ctx.phase("tables"):
            with all_or_none(sub):
                tables = _file_tables(p, todo, arena) if p.input is not None else _tables(p, todo, arena, ctx)
                for table, _ in tables.values():
                    if p.mc.sampler == "alias":
                        table.share_alias(arena)
            _log_memory(arena, ctx)
        with ctx.phase("monte_carlo"):
            results = _monte_carlo(p, mine, todo, tables, times, sub, ckpts, saved, ctx)
        del tables                                          # views of the windows, freed as the block ends
    with ctx.phase("analysis"):
        result = _analyse(p, times, results, ctx)
    return result


def _groups(comm, n_points):
    """(number of groups, my group, sub-communicator): consecutive ranks form a group."""
    n_groups = max(1, min(comm.size, n_points))
    if n_groups == 1 or comm.size == 1:
        return 1, 0, comm
    color = next(g for g in range(n_groups) if block_range(comm.size, n_groups, g)[0] <= comm.rank
                 < block_range(comm.size, n_groups, g)[1])
    return n_groups, color, split(comm, color)


def _checkpoints(p, mine, sub, ctx):
    """{point: Checkpoint or None (no output path: nothing to resume into)}; the fingerprint covers
    ``p`` and the content of its input run files (read on rank 0).  Collective over ``ctx.comm``."""
    print_ = ck.fingerprint(p, inputs=(p.input, p.bands_input), comm=ctx.comm)
    return {i: ctx.checkpoint(f"point_{i:04d}", print_, sub) for i in mine}


def _check_saved(p, i, times, sizes):
    """The ``validate`` of :meth:`~hpcx.io.checkpoint.Checkpoint.load` for point ``i``'s checkpoint:
    raises ValueError (KeyError for a missing field) unless it fits ``p``, the sampling ``times``
    (ps) and the size of the point's table (``sizes()``: :func:`~.memory.table_sizes`): a finished point's
    result, or the record and particles to resume from, with consistent counters."""
    def check(state):
        n_states, _, groups = sizes()
        mc, attrs = p.mc, state["attrs"]
        if not isinstance(attrs["done"], (bool, np.bool_)):
            raise ValueError(f"attribute done is {attrs['done']!r}")
        if attrs["done"]:
            _check_result(state["result"], p, i, times, n_states, groups)
            return
        start = int(attrs["next_sample"])
        if not 1 <= start < len(times):
            raise ValueError(f"next_sample {start} outside 1..{len(times) - 1}")
        if me.check_record(state["record"], times, mc.batches, mc.particles, n_states, mc.profile_bins,
                           start) != groups:
            raise ValueError(f"record of other than {groups} groups")
        events, decays = state["record"]["events"][start - 1], state["record"]["decays"][start - 1]
        if "events" in attrs:           # taken between the pieces of the interval before times[start]
            events, decays = _counts_after(attrs, events, decays, mc.particles)
        me.check_particles(state["particles"], mc.particles, n_states, times[start - 1], times[start])
        if np.count_nonzero(np.asarray(state["particles"]["state"]) >= 0) != mc.particles - decays:
            raise ValueError(f"{mc.particles - decays} live particles counted, other states held")
    return check


def _counts_after(attrs, events, decays, particles):
    """(events, decays) of a checkpoint between pieces; ValueError unless they continue the record's."""
    new = int(attrs["events"]), int(attrs["decays"])
    if not (events <= new[0] and decays <= new[1] <= particles):
        raise ValueError(f"counts {new} do not continue the record's ({events}, {decays})")
    return new


def _check_result(r, p, i, times, n_states, groups):
    """ValueError unless ``r`` is the result dict of point ``i`` (:func:`_simulate_point`) of a table of
    ``n_states`` states in ``groups`` groups, sampled at ``times``."""
    theta, T = p.points[i]
    if int(r["index"]) != i or float(r["T"]) != T or not np.array_equal([float(r["theta"])], [theta], equal_nan=True):
        raise ValueError(f"result of point {r['index']} ({r['theta']} deg, {r['T']} K), not of point {i}")
    for key in ("D_rta", "D_exact"):
        if np.ndim(r[key]) != 0:
            raise ValueError(f"result {key} is not a number")
    names = r["group_names"]
    if not isinstance(names, tuple) or len(names) != groups:
        raise ValueError(f"result group_names {names!r}, expected {groups} names")
    for key, _ in STATES:
        a = np.asarray(r["states"][key])
        shape = (n_states, 2) if key in ("velocity", "k") else (n_states,)
        if a.shape != shape or a.dtype.kind not in "iuf" or not np.all(np.isfinite(a)):
            raise ValueError(f"result states/{key} of shape {a.shape}, expected {shape} finite numbers")
    if me.check_record(r["record"], times, p.mc.batches, p.mc.particles, n_states, p.mc.profile_bins,
                       len(times)) != groups:
        raise ValueError(f"result record of other than {groups} groups")


def _file_tables(p, todo, arena):
    """{point: (McTable, D_RTA cm^2/s)} of the tables of a scattering run file, read by each node's
    root straight into the node-shared ``arena``; InputError naming the file and ``transport.input``
    when they cannot be read or do not hold a usable table (:meth:`McTable.check_values`)."""
    if not todo:
        return {}
    try:
        layout, names = on_root(scattering_tables_layout, arena.comm, p.input)
        arrays = arena.arrays(layout, lambda out: read_scattering_tables(p.input, out))
        table = mt.McTable(group_names=names, **arrays).check_values()
    except (HpcxError, OSError, ValueError) as exc:     # an error of another rank arrives as RemoteError
        detail = str(exc).removeprefix(f"{p.input}: ")
        raise InputError(f"{p.input}: transport.input: the scattering tables cannot be used: {detail}") from None
    rta = lambda T: st.sc.rta_curve(table.energy, table.velocity, 1.0 / table.total_rate, T, table.weight)[0]  # noqa: E731
    return {i: (table, rta(p.points[i][1])) for i in todo}


def _log_memory(arena, ctx):
    if not arena.shared:
        ctx.log.info("tables: %.1f MiB (one rank in the group)", arena.nbytes / 2 ** 20)
        return
    ctx.log.info("tables: %.1f MiB, one copy per node in shared memory (%d ranks of the group on this node; "
                 "%.1f MiB allocated by this rank)", arena.nbytes / 2 ** 20, arena.node_size,
                 arena.local_bytes / 2 ** 20)


def _tables(p, todo, arena, ctx):
    """{point: (McTable, D_RTA cm^2/s)} computed in-process, states built once per twist angle; the
    tables gathered into the node-shared ``arena``."""
    comm, out, by_theta = arena.comm, {}, {}
    for i in todo:
        by_theta.setdefault(p.points[i][0], []).append(i)
    bands = None
    if p.bands_input is not None:
        bands = ss.MoireBands.from_arrays(on_root(read_moire_bands, comm, p.bands_input))
    for theta, group in by_theta.items():
        states, _ = ss.build_states(p.model, None if np.isnan(theta) else theta, bands)
        start, stop = block_range(states.n, comm.size, comm.rank)
        terms = states.terms(start, stop, ctx.progress(stop - start, "coupling terms (rows of rank 0)",
                                                       unit="rows"))
        for i in group:
            T = p.points[i][1]
            progress = ctx.progress(p.settings.max_iter, f"self-consistent dephasing at {T:g} K (at most)",
                                    unit="iterations")
            tab = st.local_table(states.energy, terms, T, p.settings, comm, progress)
            ctx.log.info("T = %6.1f K: self-consistent dephasing in %d iterations, residual %.2e, "
                         "Gamma %.3f..%.3f meV", T, tab.iterations, tab.residual, tab.gamma.min(), tab.gamma.max())
            table = st.mc_table(states, tab.W, p.settings.threshold, comm, arena)
            D_rta = st.sc.rta_curve(states.energy, states.velocity, 1.0 / table.total_rate, T, states.weight)[0]
            ctx.log.info("point %d (%s, %.1f K): %d states, %d table entries, D_RTA = %.4g cm^2/s", i,
                         f"{theta:.3g} deg" if not np.isnan(theta) else states.model, T, table.n, table.nnz, D_rta)
            out[i] = (table, D_rta)
    return out


def _monte_carlo(p, mine, todo, tables, times, sub, ckpts, saved, ctx):
    """Results of every point of every group (sorted by point), after a collective stop check."""
    progress = ctx.progress(len(todo) * p.mc.particles * p.mc.samples, "Monte Carlo (points of rank 0's group)",
                            unit="particle-samples")
    results, stopped = [], False
    with _raised_on_every_group(sub, ctx.comm):
        for i in mine:
            if i not in todo:
                ctx.log.info("point %d: finished in %s, not recomputed", i, ckpts[i].path)
                results.append(saved[i]["result"])
                continue
            try:
                results.append(_simulate_point(p, i, tables[i], times, sub, ckpts[i], saved[i], ctx, progress))
            except _Stop:
                stopped = True
                break
        if not stopped:     # the last safe point of the loop: a request during the last samples still checkpoints
            stopped = ctx.stop_requested(sub, final=True)
    if max_over_ranks(int(stopped), ctx.comm):
        with _raised_on_every_group(sub, ctx.comm):
            _save_finished(p, results, todo, ckpts)
        stop = CheckpointedStop(f"stopped on request; checkpoints in {ctx.checkpoint_dir}: rerun the same "
                                f"command to continue")
        stop.collective = True          # raised on every rank at the same point
        raise stop
    every = allgather_blocks(results if sub.rank == 0 else [], ctx.comm)      # waits for the other groups
    return sorted(every, key=lambda r: int(r["index"]))


@contextlib.contextmanager
def _raised_on_every_group(sub, comm):
    """Run a block of one group's work (collectives on ``sub`` only) and raise an error that every
    rank of the group raised and a user can act on (:class:`~hpcx.errors.HpcxError`: a checkpoint
    that cannot be written) on every rank of ``comm`` at the block's end, once the other groups
    get there (:func:`~hpcx.parallel.all_or_none`): one error line and exit code for the run.  Any
    other error leaves at once (the CLI names it and ends every rank)."""
    error = None
    try:
        yield
    except HpcxError as exc:
        if sub.size > 1 and not exc.collective:
            raise
        error = exc
    with all_or_none(comm):
        if error is not None:
            raise error


def _save_finished(p, results, todo, ckpts):
    """Checkpoint the points finished in this run that are not checkpointed yet (checkpoint_every = 0)."""
    for r in results:
        i = int(r["index"])
        if i in todo and not p.mc.checkpoint_every and ckpts[i] is not None:
            ckpts[i].save({"done": True, "next_sample": -1}, {"result": r}, f"point {i} finished")


def _mc_params(mc):
    edges = np.linspace(-mc.profile_half_width, mc.profile_half_width, mc.profile_bins + 1)
    return me.McParams(mc.particles, mc.batches, mc.seed, mc.spot_sigma, mc.sampler, edges)


def _resume(saved, i, ckpt, times, ctx):
    """(record, first sample, particle arrays, (events, decays) or None) to continue from, or a
    fresh start; a checkpoint taken between the pieces of a long interval holds the counts so far."""
    if not saved or saved["attrs"]["done"] or saved.get("record") is None:
        return None, 0, None, None
    attrs = saved["attrs"]
    start = int(attrs["next_sample"])
    counts = (int(attrs["events"]), int(attrs["decays"])) if "events" in attrs else None
    ctx.log.info("point %d: resuming from %s at sample %d (t = %.4g ps)%s", i, ckpt.path, start, times[start],
                 ", inside the interval before it" if counts else "")
    return me.Record(**saved["record"]), start, saved["particles"], counts


def _simulate_point(p, i, table_rta, times, comm, ckpt, saved, ctx, progress):
    """The result dict of point ``i`` (record, states, reference values); raises _Stop on a stop request."""
    mc, (theta, T) = p.mc, p.points[i]
    table, D_rta = table_rta
    if mc.radiative_rate > 0:
        table = table.with_decay(mc.radiative_rate, mc.light_cone)
    cdf = mt.initial_cdf(table, mc.initial, T=T, e0=mc.e0, state=mc.initial_state)
    record, start, particles, counts = _resume(saved, i, ckpt, times, ctx)
    clock = (time.perf_counter(), counts[0] if counts else int(record.events[start - 1]) if start else 0)
    reported = [0]                      # particles of the current interval counted by the progress reporter

    def save(attrs, rec, ens, events, where):
        state = ens.gather_state()
        if ckpt is not None:
            rate = (events - clock[1]) / max(time.perf_counter() - clock[0], 1e-9)
            ckpt.save({"done": False, **attrs}, {"record": rec.as_dict(), "particles": state},
                      f"point {i}, {where}; {rate:.3g} scattering events/s")

    def on_piece(k, rec, ens, pushed, counts):
        progress.update(pushed - reported[0])
        reported[0] = pushed
        if ctx.stop_requested(comm):     # agreed in the group; groups agree after their points
            events, decays = counts
            save({"next_sample": k, "events": events, "decays": decays}, rec, ens, events,
                 f"between {times[k - 1]:.4g} and {times[k]:.4g} ps, stop requested")
            raise _Stop

    def on_sample(k, rec, ens):
        if k > 0:
            progress.update(mc.particles - reported[0])
        reported[0] = 0
        if k + 1 >= len(times):
            return
        where = f"t = {times[k]:.4g} ps"
        periodic = mc.checkpoint_every and (k + 1) % mc.checkpoint_every == 0
        if periodic:
            save({"next_sample": k + 1}, rec, ens, rec.events[k], f"{where}, periodic")
        if ctx.stop_requested(comm):
            if not periodic:
                save({"next_sample": k + 1}, rec, ens, rec.events[k], f"{where}, stop requested")
            raise _Stop

    record = me.simulate(table, _mc_params(mc), times, cdf, comm, record, start, particles, on_sample,
                         counts=counts, on_piece=on_piece)
    ctx.log.info("point %d (%.3g deg, %.1f K): %d scattering events, %d decays", i, theta, T,
                 record.events[-1], record.decays[-1])
    # the exact t -> infinity limit of the same tables (a sparse solve, on the group's root)
    D_exact = on_root(lambda: tr.green_kubo_diffusion(table.total_rate, table.indptr, table.indices,
                                                      table.cumulative, table.velocity)[0], comm)
    result = {"index": i, "theta": theta, "T": T, "D_rta": D_rta, "D_exact": D_exact,
              "group_names": table.group_names,      # private copies: the shared tables are freed after the run
              "states": {key: np.array(getattr(table, key)) for key, _ in STATES},
              "record": record.as_dict()}
    if mc.checkpoint_every and ckpt is not None:
        ckpt.save({"done": True, "next_sample": -1}, {"result": result}, f"point {i} finished")
    return result


def _analyse(p, times, results, ctx):
    """:class:`~.result.Result` of the points' records (identical on every rank), logged per point."""
    mc = p.mc
    emax = mc.energy_max or max(float(np.ptp(r["states"]["energy"])) for r in results) or 1.0
    eedges = np.linspace(0.0, emax, mc.energy_bins + 1)
    pedges = np.linspace(-mc.profile_half_width, mc.profile_half_width, mc.profile_bins + 1)
    t_fit = mc.fit_from * mc.t_max
    an = [tr.analyse_point(times, r["record"], r["states"], r["T"], mc.particles, t_fit, pedges, eedges)
          for r in results]
    for r, a in zip(results, an):
        ctx.log.info("point %d (%.3g deg, %.1f K): D = %.4g +- %.2g cm^2/s (stationary, t >= %.4g ps, %.3g "
                     "events per particle); equilibrium limit of the tables %.4g, RTA %.4g cm^2/s", r["index"],
                     r["theta"], r["T"], a["stationary"], a["stationary_error"], t_fit, a["fit_events"],
                     r["D_exact"], r["D_rta"])
        if a["fit_events"] < 20:
            ctx.log.warning("point %d: only %.3g scattering events per particle in the fit window: the motion "
                            "is not diffusive yet, D is not stationary (increase t_max)", r["index"],
                            a["fit_events"], extra=ONCE)
    names = tuple(results[0]["group_names"])
    attrs = {"model": "moire" if names[0].startswith("band") else "multivalley", "groups": list(names),
             "particles": mc.particles, "batches": mc.batches, "seed": mc.seed, "initial": mc.initial,
             "e0_meV": mc.e0, "spot_sigma_nm": mc.spot_sigma, "sampler": mc.sampler, "n_points": len(results),
             "input": p.input_text}
    column = lambda key: np.array([r[key] for r in results])  # noqa: E731
    record = lambda key: np.stack([r["record"][key] for r in results])  # noqa: E731
    return Result(attrs, t_fit, times, pedges, eedges, {name: np.stack([a[name] for a in an]) for name in STACKED},
                  record("occupation").astype(np.int64), record("events"), record("decays"),
                  {key: np.stack([r["states"][key] for r in results]) for key, _ in STATES},
                  column("T"), column("theta"), column("D_rta"), column("D_exact"),
                  _potential_columns(p, column("theta")))


def _potential_columns(p, thetas):
    """The moiré potential of each sweep point ({name: [n_point]} and scalars; docs/output.md), {} without it."""
    if not isinstance(p.model, ss.MoireModel):
        return {}
    if p.bands_input is not None:
        return {"potential": f"bands of {p.bands_input}", "acoustic_scale": p.model.acoustic_scale}
    exciton = p.model.exciton()
    rows = [p.model.potential_attrs(theta, exciton) for theta in thetas]
    out = {key: np.array([r[key] for r in rows]) for key in ss.POTENTIAL_COLUMNS}
    return {**{key: value for key, value in rows[0].items() if key not in ss.POTENTIAL_COLUMNS}, **out}
