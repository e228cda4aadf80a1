"""Benchmark ``kinetics``: time per sweep point vs the number of momentum shells, and sweep efficiency.

For each shell energy step (``--steps``, meV; smaller = more shells N per species) one
(T, Delta E) point of the ``kinetics`` workflow is timed by phase: ``tables`` (the radial
tables, once per run and substrate), ``rates`` (pair-rate rows by the ``kinetics_rates``
kernel, block-distributed over the ranks, gathered) and ``ode`` (detailed balance, generator
and the exponential integrator, on every rank); ``point`` = rates + ode.
The exponent p of point time ~ N^p is a least-squares fit over the steps.  ``--sweep K``
then times a sweep of K points distributed over the ranks (whole points per rank) and, under
mpirun, the same K points on rank 0 alone (the other ranks wait); the parallel efficiency is
t(sweep on 1 rank) / (t(sweep on all ranks) ranks).  The points differ in Delta E (10 meV
apart), so one point's time is not a reference for the sweep.
"""

from __future__ import annotations

import math
import time

import numpy as np

DESCRIPTION = "kinetics: time per (T, Delta E) point vs number of shells, sweep efficiency over ranks"


def add_arguments(parser):
    parser.add_argument("--steps", type=float, nargs="+", default=[4.0, 2.0, 1.0, 0.5],
                        help="shell energy steps in meV (default 4 2 1 0.5)")
    parser.add_argument("--temperature", type=float, default=77.0, help="K (default 77)")
    parser.add_argument("--window", type=float, default=150.0, help="energy window, meV (default 150)")
    parser.add_argument("--t-end", type=float, default=60.0, help="simulated time, ps (default 60)")
    parser.add_argument("--sweep", type=int, default=0, help="points of a timed sweep (0: no sweep)")


def _params(args, step):
    from hpcx import api
    cfg = {"run": {"workflow": "kinetics"}, "structure": {"layers": ["MoSe2", "WSe2"]},
           "kinetics": {"temperature": args.temperature, "energy_step": step, "energy_window": args.window,
                        "t_end": args.t_end, "n_times": 601}}
    from hpcx.parallel import SerialComm
    return api.validate(cfg, comm=SerialComm())[1]


def one_point(args, step, comm):
    """Seconds of the one-off radial tables and of the per-point phases (max over ranks)."""
    from hpcx.parallel import max_over_ranks
    from hpcx.physics.kinetics import dynamics, setup
    from hpcx.workflows.kinetics.run import model_at, rate_tables

    p = _params(args, step)
    comm.Barrier()
    t0 = time.perf_counter()
    tables = setup.radial_tables(p.species)
    t1 = time.perf_counter()
    model = model_at(p, p.delta_e, tables)
    G, gP = rate_tables(p, model, args.temperature, comm)
    t2 = time.perf_counter()
    dynamics.simulate(model, G, gP, p.pulse, p.t_end, p.n_times, p.pump_step)
    t3 = time.perf_counter()
    return {"step": step, "N": model.n_states, "tables": max_over_ranks(t1 - t0, comm),
            "rates": max_over_ranks(t2 - t1, comm), "ode": max_over_ranks(t3 - t2, comm),
            "point": max_over_ranks(t3 - t1, comm)}


def sweep_efficiency(args, comm):
    """Wall times of a K-point sweep of whole points over the ranks (radial tables once per rank,
    as the workflow) and of the same sweep on rank 0 alone; their parallel efficiency."""
    from hpcx.parallel import SerialComm, max_over_ranks, sum_over_ranks
    from hpcx.physics.kinetics import setup
    from hpcx.workflows.kinetics.run import solve_point

    p = _params(args, args.steps[-1])
    points = [(args.temperature, p.delta_e + 10.0 * k) for k in range(args.sweep)]
    tables = setup.radial_tables(p.species)

    def timed(mine):
        comm.Barrier()
        t0 = time.perf_counter()
        for T, d in mine:
            solve_point(p, T, d, SerialComm(), tables)
        own = time.perf_counter() - t0
        return max_over_ranks(own, comm), float(sum_over_ranks(np.array([own]), comm)[0])

    wall, busy = timed(points[comm.rank::comm.size])           # cyclic, as the workflow's sweep
    serial = wall if comm.size == 1 else timed(points if comm.rank == 0 else [])[0]
    # efficiency = balance (busy / (ranks wall)) x concurrency (serial / busy: what running side by side costs)
    return {"points": args.sweep, "wall": wall, "wall_1rank": serial, "efficiency": serial / (wall * comm.size),
            "balance": busy / (wall * comm.size), "concurrency": serial / busy}


def run(args, comm):
    from . import print_table

    rows = [one_point(args, s, comm) for s in args.steps]
    N, t = np.log([r["N"] for r in rows]), np.log([r["point"] for r in rows])
    p = float(np.polyfit(N, t, 1)[0]) if len(rows) > 1 else math.nan
    print_table(rows, ["step", "N", "tables", "rates", "ode", "point"], comm,
                title=f"kinetics point, {args.temperature:g} K, {comm.size} rank(s); seconds")
    out = {"rows": rows, "exponent": p, "ranks": comm.size}
    if comm.rank == 0:
        print(f"exponent p (time ~ N^p): {p:.2f}")
    if args.sweep:
        out["sweep"] = sweep_efficiency(args, comm)
        if comm.rank == 0:
            print("sweep: {points} points, {wall:.2f} s on {ranks} rank(s), {wall_1rank:.2f} s on 1 rank, "
                  "efficiency {efficiency:.2f} (load balance {balance:.2f} x side-by-side {concurrency:.2f})"
                  .format(ranks=comm.size, **out["sweep"]))
    return out
