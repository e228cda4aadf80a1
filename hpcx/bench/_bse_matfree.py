"""``hpcx bench bse --matrix-free``: the matrix-free BSE (hpcx.bse.matfree), time per product and
per eigensolve vs N, memory, ranks.  (A private module: hpcx/bench/bse.py delegates here.)

Case: monolayer WSe2, three-band model of Liu et al. (TNN, no SOC: 3 orbitals,
1 valence + 2 conduction bands) on n x n grids, N = 2 n^2, Keldysh interaction
with the seed 004 parameters (rho0 = 45.09 A, eps = 1, on-site V(0) = V(a)).
For each grid: the per-rank memory estimate (dense vs matrix-free), the time
of one product y = H x (best of --repeat, max over ranks), the SLEPc
Krylov-Schur time and product count for the lowest --nev pairs with their
largest residual, optionally a Lanczos spectrum (--lanczos steps), and the
peak RSS per rank.  Under mpirun the 1-rank product time is also measured
(every rank alone on the whole problem, the largest grid excluded when its
serial memory would not fit) for the parallel efficiency.
Options (added to ``hpcx bench bse`` by :func:`add_arguments`): ``--grids`` (default
below), ``--nev``, ``--method``, ``--tol``, ``--repeat``, ``--lanczos``, ``--no-solve``.
"""

from __future__ import annotations

GRIDS = [30, 60, 120, 160, 225]       # N = 2 n^2 (225 -> N = 101250)


def add_arguments(parser):
    """The options only the matrix-free variant has (--grids, --nev, --repeat are shared)."""
    parser.add_argument("--method", default="krylovschur", choices=("krylovschur", "gd", "jd"),
                        help="--matrix-free: SLEPc eigensolver on the MatShell")
    parser.add_argument("--tol", type=float, default=1e-8, help="--matrix-free: SLEPc tolerance")
    parser.add_argument("--lanczos", type=int, default=0,
                        help="--matrix-free: Lanczos steps of a recursion spectrum (0: none)")
    parser.add_argument("--no-solve", action="store_true", help="--matrix-free: products only")


def _peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(n, comm, model=None):
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
    return MatFreeBSE((n, n), model.lattice, model.positions, E_v, E_c, C_v, C_c, V, comm=comm)


def _product_time(op, repeat, comm):
    import numpy as np

    from . import best_time
    x = np.random.default_rng(op.comm.rank).normal(size=op.n_local) + 0j
    return best_time(lambda: op.apply(x), repeat, comm)


def run(args, comm):
    import time

    import numpy as np

    from ..bse.liu import liu_model
    from ..bse.memory import estimate
    from ..bse.recursion import lanczos
    from ..bse.solver import SolverOptions, solve
    from ..parallel import SerialComm, barrier, max_over_ranks
    from . import print_table
    model = liu_model("WSe2", soc=False)
    rows = []
    for n in args.grids or GRIDS:
        op = build(n, comm, model)
        est = estimate(n * n, model.n_orb, 1, 2, comm.size)
        row = {"grid": n, "N": op.N, "ranks": comm.size,
               "dense_GiB_rank": est.dense / 2**30, "matfree_GiB_rank_est": est.matfree / 2**30,
               "t_product_s": _product_time(op, args.repeat, comm)}
        if comm.size > 1:
            serial = build(n, SerialComm(), model)
            t1 = _product_time(serial, args.repeat, None)
            t1 = max_over_ranks(t1, comm)
            row["t_product_1rank_s"] = t1
            row["efficiency"] = t1 / (comm.size * row["t_product_s"])
            del serial
        if not args.no_solve:
            barrier(comm)
            t0 = time.perf_counter()
            res = solve(op, args.nev, SolverOptions(backend="slepc", method=args.method, tol=args.tol, max_it=2000))
            row["t_solve_s"] = max_over_ranks(time.perf_counter() - t0, comm)
            row["products"] = res.products
            row["E0_eV"] = float(res.values[0])
            row["max_residual_eV"] = float(res.residuals.max())
        if args.lanczos:
            d = np.ones(op.n_local, complex)
            barrier(comm)
            t0 = time.perf_counter()
            lanczos(op, d, args.lanczos)
            row["t_lanczos_s"] = max_over_ranks(time.perf_counter() - t0, comm)
        row["peak_rss_MiB_rank"] = max_over_ranks(_peak_rss_mib(), comm)
        rows.append(row)
        print_table([row], list(row), comm)
    cols = ["grid", "N", "ranks", "t_product_s", "t_product_1rank_s", "efficiency", "t_solve_s", "products",
            "max_residual_eV", "t_lanczos_s", "dense_GiB_rank", "matfree_GiB_rank_est", "peak_rss_MiB_rank"]
    print_table(rows, [c for c in cols if any(c in r for r in rows)], comm, title="matrix-free BSE (monolayer WSe2)")
    return {"case": "monolayer WSe2, Liu TNN no SOC, 1v+2c, Keldysh rho0=45.09 A", "rows": rows}
