"""``hpcx bench bse --matrix-free``: the matrix-free BSE (hpcx.bse.matfree), time per product and
per eigensolve vs N, memory, ranks.  (A private module: hpcx/bench/bse.py delegates here.)

Case: monolayer WSe2, three-band model of Liu et al. (TNN, no SOC: 3 orbitals,
1 valence + 2 conduction bands) on n x n grids, N = 2 n^2, Keldysh interaction
with the seed 004 parameters (rho0 = 45.09 A, eps = 1, on-site V(0) = V(a)).
For each grid: the per-rank memory estimate (dense vs matrix-free), the set-up
time of the operator, the time of one product y = H x in double and single
precision (best of --repeat, max over ranks; also its CPU time, the proxy for an
idle core when the machine is shared), the eigensolve for the lowest
--nev pairs with its product count (the final double-precision residual check
of every pair included) and largest residual, optionally a Lanczos spectrum
(--lanczos steps), and the peak RSS of every rank.  Under mpirun the 1-rank
product time is also measured (every rank alone on the whole problem at the
same time) for grids up to --serial-max-grid, for the parallel efficiency.

Eigensolvers (--method): ``davidson`` (default) solves the --start-grid grid
first (SLEPc Krylov-Schur, 12 pairs) and refines its eigenvectors, prolonged to
the n x n grid (hpcx.bse.coarse_start), by block Davidson (basis of 2 blocks
of nev + 2 vectors unless --ncv); grids not larger than --start-grid are solved
by Krylov-Schur directly.  ``krylovschur``,
``gd``, ``jd``: SLEPc on the MatShell from a random vector.
Options (added to ``hpcx bench bse`` by :func:`add_arguments`): ``--grids`` (default
below), ``--nev``, ``--method``, ``--tol``, ``--start-grid``, ``--ncv``, ``--repeat``,
``--lanczos``, ``--no-solve``, ``--serial-max-grid``, ``--chunks``.
"""

from __future__ import annotations

GRIDS = [30, 60, 120, 160, 225]       # N = 2 n^2 (225 -> N = 101250)


def add_arguments(parser):
    """The options only the matrix-free variant has (--grids, --nev, --repeat are shared)."""
    parser.add_argument("--method", default="davidson", choices=("davidson", "krylovschur", "gd", "jd"),
                        help="--matrix-free: eigensolver (davidson: from the --start-grid eigenvectors; "
                             "else SLEPc on the MatShell)")
    parser.add_argument("--tol", type=float, default=5e-9,
                        help="--matrix-free: tolerance (davidson: absolute residual in eV; SLEPc: relative)")
    parser.add_argument("--start-grid", type=int, default=120,
                        help="--matrix-free, davidson: the coarse grid whose eigenvectors start the solve")
    parser.add_argument("--ncv", type=int, default=None,
                        help="--matrix-free: basis size (davidson: default 2 blocks of nev + 2; SLEPc: its default)")
    parser.add_argument("--serial-max-grid", type=int, default=1000,
                        help="--matrix-free: measure the 1-rank product (efficiency) only up to this grid")
    parser.add_argument("--chunks", type=int, default=None,
                        help="--matrix-free: pieces of each exchange of the product (default automatic)")
    parser.add_argument("--lanczos", type=int, default=0,
                        help="--matrix-free: Lanczos steps of a recursion spectrum (0: none)")
    parser.add_argument("--no-solve", action="store_true", help="--matrix-free: products only")


def _peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(n, comm, model=None, chunks=None):
    """The matrix-free operator of the monolayer case on the n x n grid (this rank's k-block)."""
    import numpy as np

    from ..bse import interaction as it
    from ..bse.liu import liu_model
    from ..bse.matfree import MatFreeBSE
    from ..bse.tbmodel import monkhorst_pack
    from ..parallel import block_range
    model = model or liu_model("WSe2", soc=False)
    k = monkhorst_pack(n, n)
    k0, k1 = block_range(len(k), comm.size, comm.rank)
    E, C = model.bands(k[k0:k1])
    E_v, C_v = E[:, [0]], C[:, :, [0]]                       # d-band valence (K-valley top), top down
    E_c, C_c = E[:, 1:3], C[:, :, 1:3]
    a = float(np.linalg.norm(model.lattice[0]))
    V = it.keldysh(45.09, 1.0, onsite_length=a, onsite_u=1.0)
    return MatFreeBSE((n, n), model.lattice, model.positions, E_v, E_c, C_v, C_c, V, comm=comm, chunks=chunks)


def _product_time(op, repeat, comm, cpu=None):
    """Best wall time of one product (max over ranks); ``cpu`` (a list) gets the best CPU time of
    this process per product (time.process_time: the wall time on an idle core, a proxy when the
    machine is shared)."""
    import time

    import numpy as np

    from . import best_time
    x = np.random.default_rng(op.comm.rank).normal(size=op.n_local) + 0j

    def product():
        c0 = time.process_time()
        op.apply(x)
        if cpu is not None:
            cpu.append(time.process_time() - c0)
    return best_time(product, repeat, comm)


def _solve(op, n, args, comm, model):
    """(EigenPairs, levels [dict], products) of the operator ``op`` of the n x n grid with the
    method of ``args`` (coarse grids built here)."""
    from ..bse.coarse_start import solve_from_coarse
    from ..bse.solver import SolverOptions, solve
    # from start vectors a basis of two blocks suffices (the fewest vectors per rank)
    fine = SolverOptions(backend="davidson", tol=args.tol, ncv=args.ncv or 2 * (args.nev + 2), max_it=500)
    if args.method != "davidson":
        res = solve(op, args.nev, SolverOptions(backend="slepc", method=args.method, tol=args.tol, max_it=2000,
                                                ncv=args.ncv))
        return res, [], res.products
    grids = [args.start_grid, n] if args.start_grid and n > args.start_grid else [n]
    res, levels = solve_from_coarse(lambda g: op if g == n else build(g, comm, model, args.chunks), grids,
                                    args.nev, fine=fine, coarse=SolverOptions(backend="slepc", tol=1e-8, max_it=2000))
    return res, [{"grid": lv.n, "N": lv.N, "products": lv.products, "method": lv.method,
                  "seconds": lv.seconds, "E_eV": [float(e) for e in lv.values[:args.nev]],
                  "max_residual_eV": lv.max_residual} for lv in levels], levels[-1].products


def _products(op, row, args, comm, model):
    """Product times (double and single precision) and, for small grids under mpirun, the 1-rank time."""
    from ..parallel import SerialComm, max_over_ranks
    cpu, cpu_single = [], []
    row["t_product_s"] = _product_time(op, args.repeat, comm, cpu)
    op.precision = "single"
    row["t_product_single_s"] = _product_time(op, args.repeat, comm, cpu_single)
    op.precision = "double"
    row["t_product_cpu_s"] = max_over_ranks(min(cpu), comm)
    row["t_product_single_cpu_s"] = max_over_ranks(min(cpu_single), comm)
    if comm.size > 1 and row["grid"] <= args.serial_max_grid:
        serial = build(row["grid"], SerialComm(), model, args.chunks)
        t1 = max_over_ranks(_product_time(serial, args.repeat, None), comm)
        row["t_product_1rank_s"] = t1
        row["efficiency"] = t1 / (comm.size * row["t_product_s"])


def run(args, comm):
    import time

    import numpy as np

    from ..bse.liu import liu_model
    from ..bse.memory import estimate
    from ..bse.recursion import lanczos
    from ..parallel import allgather_blocks, barrier, max_over_ranks
    from . import print_table
    model = liu_model("WSe2", soc=False)
    rows = []
    for n in args.grids or GRIDS:
        # Davidson: basis and products (2 x 2 blocks), corrections, start vectors, 4 more: 6 blocks
        est = estimate(n * n, model.n_orb, 1, 2, comm.size, ncv=6 * (args.nev + 2) - 4)
        barrier(comm)
        t0, c0 = time.perf_counter(), time.process_time()
        op = build(n, comm, model, args.chunks)
        row = {"grid": n, "N": op.N, "ranks": comm.size, "t_setup_s": max_over_ranks(time.perf_counter() - t0, comm),
               "t_setup_cpu_s": max_over_ranks(time.process_time() - c0, comm),
               "dense_GiB_rank": est.dense / 2**30, "matfree_GiB_rank_est": est.matfree / 2**30}
        _products(op, row, args, comm, model)
        if not args.no_solve:
            barrier(comm)
            t0 = time.perf_counter()
            res, levels, products = _solve(op, n, args, comm, model)
            row["t_solve_s"] = max_over_ranks(time.perf_counter() - t0, comm)
            row["method"] = res.method
            row["products"] = products
            row["E0_eV"] = float(res.values[0])
            row["E_eV"] = [float(e) for e in res.values]
            row["max_residual_eV"] = float(res.residuals.max())
            if levels:
                row["levels"] = levels
                row["start_grid_dE_eV"] = float(np.abs(np.array(levels[0]["E_eV"]) - res.values).max())
            del res
        if args.lanczos:
            d = np.ones(op.n_local, complex)
            barrier(comm)
            t0 = time.perf_counter()
            lanczos(op, d, args.lanczos)
            row["t_lanczos_s"] = max_over_ranks(time.perf_counter() - t0, comm)
        del op
        rss = [r for r in allgather_blocks([_peak_rss_mib()], comm)]
        row["peak_rss_MiB_rank"] = max(rss)
        row["peak_rss_MiB_ranks"] = rss
        rows.append(row)
        print_table([row], [c for c in row if c not in ("levels", "E_eV")], comm)
    cols = ["grid", "N", "ranks", "t_setup_s", "t_setup_cpu_s", "t_product_s", "t_product_single_s", "t_product_cpu_s",
            "t_product_single_cpu_s", "t_product_1rank_s", "efficiency",
            "method", "t_solve_s", "products", "max_residual_eV", "start_grid_dE_eV", "t_lanczos_s", "dense_GiB_rank",
            "matfree_GiB_rank_est", "peak_rss_MiB_rank"]
    print_table(rows, [c for c in cols if any(c in r for r in rows)], comm, title="matrix-free BSE (monolayer WSe2)")
    return {"case": "monolayer WSe2, Liu TNN no SOC, 1v+2c, Keldysh rho0=45.09 A", "rows": rows}
