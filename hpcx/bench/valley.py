"""Benchmark ``valley``: moment-solver time vs |Q| resolution (seed 002 model, one temperature).

For each cell width dq it builds what the ``valley`` workflow builds for one temperature and
times, on rank 0: ``rates`` (cells, thermal averages, all channels' fluxes and the sparse
rate tables) and ``moments`` (the exact propagation of the (n, a, s) system to --t-end),
plus the number of cells and of rate-table entries.  It also reports the stationary total
diffusion coefficient and D_KK at the end, so the resolution dependence of the physics is
seen next to the cost.

Monte Carlo (``--mc-particles`` > 0): on the cells of the first ``--dq`` at ``--temperature``,
particles started from the Boltzmann distribution are pushed for ``--mc-t`` ps in one call on
rank 0 (one thread unless OMP_NUM_THREADS says otherwise), and the scattering events per
second of CPU time are reported for (1) the weighted valley push ``push_cells`` with radiative
decay (weights, continuous directions, Boltzmann-shape speeds, angle tables), (2) the same
without decay, and (3) the plain transport push ``push`` on a table of the same cells and rows
(one velocity per cell, no weights): the cost of the valley particle state per event.
"""

from __future__ import annotations

import dataclasses
import time

DESCRIPTION = "valley moment solver time vs |Q| cell width; Monte Carlo events/s, weighted vs plain push"


def add_arguments(parser):
    parser.add_argument("--temperature", type=float, default=20.0, help="K (default 20)")
    parser.add_argument("--dq", type=float, nargs="+", default=[0.04, 0.02, 0.01, 0.005],
                        help="|Q| cell widths (1/nm)")
    parser.add_argument("--t-end", type=float, default=150.0, help="simulated time (ps)")
    parser.add_argument("--dt", type=float, default=0.1, help="output spacing (ps)")
    parser.add_argument("--form-factor-radius", type=float, default=None,
                        help="hydrogenic 1s radius (nm) instead of the Wannier form factor (faster setup)")
    parser.add_argument("--mc-particles", type=int, default=100000,
                        help="Monte Carlo particles of the push benchmark (0: skip it)")
    parser.add_argument("--mc-t", type=float, default=20.0, help="Monte Carlo push duration (ps)")


def _model(args):
    from ..materials import environment, tmd
    from ..materials.phonons import phonon_params, valley_couplings
    from ..physics import valley_dynamics as vd
    from ..physics.valley_model import hydrogenic_form_factor, model_from_couplings
    c = valley_couplings("WS2")
    if args.form_factor_radius:
        F = hydrogenic_form_factor(args.form_factor_radius)
    else:
        F, _ = vd.wannier_form_factor(tmd("WS2"), environment("hBN"), c.valleys["KK"].m_e, c.valleys["KK"].m_h)
    return model_from_couplings(c, phonon_params("WS2"), F)


def one(model, args, dq):
    import numpy as np

    from ..physics import valley_dynamics as vd
    from ..physics import valley_moments as vm
    from ..units import NM2_PER_PS_IN_CM2_PER_S
    s = vd.Settings(t_end=args.t_end, dt=args.dt, dq=dq)
    t0 = time.perf_counter()
    st = vd.setup(model, args.temperature, s, dq, 2)
    t_rates = time.perf_counter() - t0
    t0 = time.perf_counter()
    tr = vm.solve_moments(st.segments, st.f, s.pulse.width2, s.times(), st.groups, source_end=st.source_end,
                          log_z=st.tables.thermal.log_z)
    t_mom = time.perf_counter() - t0
    nnz = sum(m.nnz for m in st.tables.intra[:1] + st.tables.inter[:1])
    d_stat = vd.stationary_diffusion(st.tables, st.groups)[len(model.valleys)] * NM2_PER_PS_IN_CM2_PER_S
    return {"dq": dq, "cells": st.cells.n, "entries": nnz, "rates_s": t_rates, "moments_s": t_mom,
            "D_stationary": float(d_stat), "D_KK_end": float(tr.diffusion()[0, -1] * NM2_PER_PS_IN_CM2_PER_S),
            "D_KK_min": float(np.nanmin(tr.diffusion()[0]) * NM2_PER_PS_IN_CM2_PER_S)}


def _timed(push):
    t0 = time.process_time()
    events = push()
    return events, time.process_time() - t0


def monte_carlo(model, args, dq):
    """Events per CPU second of the valley push (with and without decay) and of the plain push."""
    import numpy as np

    from .._kernels import load
    from ..parallel import SerialComm
    from ..physics import mc_table as mt
    from ..physics import valley_dynamics as vd
    from ..physics import valley_mc as vmc
    from ..physics.valley_mc_table import cell_table
    ker = load("mc_push", required=True)
    st = vd.setup(model, args.temperature, vd.Settings(), dq, 2)
    decaying = cell_table(model, st.tables).with_alias(ker)
    p = st.tables.thermal.boltzmann()
    n = args.mc_particles
    settings = vmc.McSettings(n, 1, 1, np.linspace(0.0, 1.0, 2))
    rows = []
    for label, table in (("valley push, weights + decay", decaying),
                         ("valley push, weights, no decay",
                          dataclasses.replace(decaying, decay=np.zeros(decaying.n)))):
        ens = vmc.CellEnsemble(table, settings, SerialComm(), ker)
        ens.place(vmc.initial_source(p, 1.0))
        events, cpu = _timed(lambda: ens.push(args.mc_t))
        rows.append({"push": label, "events": events, "cpu_s": cpu, "events_per_s": events / cpu})
    v = np.stack([decaying.vfac * np.sqrt(st.tables.thermal.mean_kinetic), np.zeros(decaying.n)], axis=1)
    plain = mt.McTable(st.cells.e0, v, decaying.gout, decaying.indptr, decaying.indices, decaying.cumulative,
                       st.cells.valley, model.names)
    packed = plain.alias(ker)
    arr = [np.zeros(n, np.int64), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, np.uint64)]
    ker.initialise(1, 0, 1.0, mt.initial_cdf(plain, "thermal", T=args.temperature), plain.gout, *arr)
    (events, _), cpu = _timed(lambda: ker.push(1, 0, args.mc_t, *arr, plain.vx, plain.vy, plain.gout, plain.decay,
                                               plain.indptr, plain.indices, plain.cumulative, packed, 1))
    rows.append({"push": "plain transport push (same rows)", "events": events, "cpu_s": cpu,
                 "events_per_s": events / cpu})
    return {"cells": decaying.n, "entries": decaying.nnz, "rows": rows}


def run(args, comm):
    from . import print_table
    rows, mc = [], None
    if comm.rank == 0:
        model = _model(args)
        rows = [one(model, args, dq) for dq in args.dq]
        if args.mc_particles > 0:
            mc = monte_carlo(model, args, args.dq[0])
    rows, mc = comm.bcast((rows, mc))
    print_table(rows, ["dq", "cells", "entries", "rates_s", "moments_s", "D_stationary", "D_KK_end", "D_KK_min"],
                comm, title=f"valley moment solver, WS2, {args.temperature:g} K, t_end {args.t_end:g} ps "
                            f"(rank 0; D in cm^2/s)")
    if mc is not None:
        print_table(mc["rows"], ["push", "events", "cpu_s", "events_per_s"], comm,
                    title=f"valley Monte Carlo push, {args.mc_particles} particles for {args.mc_t:g} ps on "
                          f"{mc['cells']} cells ({mc['entries']} entries), dq {args.dq[0]:g} 1/nm (rank 0)")
    return {"temperature": args.temperature, "t_end": args.t_end, "rows": rows, "monte_carlo": mc}
