"""Benchmark ``valley``: moment-solver time vs |Q| resolution (seed 002 model, one temperature).

For each cell width dq it builds what the ``valley`` workflow builds for one temperature and
times, on rank 0: ``rates`` (cells, thermal averages, all channels' fluxes and the sparse
rate tables) and ``moments`` (the exact propagation of the (n, a, s) system to --t-end),
plus the number of cells and of rate-table entries.  It also reports the stationary total
diffusion coefficient and D_KK at the end, so the resolution dependence of the physics is
seen next to the cost.  The Monte Carlo cross-check is not part of this benchmark.
"""

from __future__ import annotations

import time

DESCRIPTION = "valley moment solver: rates and propagation time vs |Q| cell width"


def add_arguments(parser):
    parser.add_argument("--temperature", type=float, default=20.0, help="K (default 20)")
    parser.add_argument("--dq", type=float, nargs="+", default=[0.04, 0.02, 0.01, 0.005],
                        help="|Q| cell widths (1/nm)")
    parser.add_argument("--t-end", type=float, default=150.0, help="simulated time (ps)")
    parser.add_argument("--dt", type=float, default=0.1, help="output spacing (ps)")
    parser.add_argument("--form-factor-radius", type=float, default=None,
                        help="hydrogenic 1s radius (nm) instead of the Wannier form factor (faster setup)")


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


def run(args, comm):
    from . import print_table
    rows = []
    if comm.rank == 0:
        model = _model(args)
        rows = [one(model, args, dq) for dq in args.dq]
    rows = comm.bcast(rows)
    print_table(rows, ["dq", "cells", "entries", "rates_s", "moments_s", "D_stationary", "D_KK_end", "D_KK_min"],
                comm, title=f"valley moment solver, WS2, {args.temperature:g} K, t_end {args.t_end:g} ps "
                            f"(rank 0; D in cm^2/s)")
    return {"temperature": args.temperature, "t_end": args.t_end, "rows": rows}
