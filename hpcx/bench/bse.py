"""BSE assembly and eigensolver: time vs N, ZGEMM efficiency, SLEPc time, memory, 2-rank efficiency.

Cases:
- ``fixture``: monolayer WSe2 from the Wannier90 fixture, 2 valence + 2 conduction
  bands on the 9 x 9 grid (N = 324; target < 0.2 s on one rank);
- ``monolayer``: the three-band WSe2 model (TNN + SOC, 1 v + 2 c) on growing k-grids
  (N = 2 n^2): many tiny k-pair contractions (3 x 3 GEMMs, hand-written loops);
- ``supercell``: the three-band model tiled m x m (3 m^2 orbitals, m^2 sites) with
  n_v = n_c = 8 on a 3 x 3 grid (N = 576): k-pair GEMMs of inner dimension m^2 that
  go to ZGEMM, the regime of moire supercells.

For each: assembly time of this rank's rows (max over ranks), matrix elements per
second, the GEMM flop rate of the assembly as a fraction of the machine's ZGEMM rate
(best numpy n x n product, measured in the same run, max over ranks), SLEPc time for
the lowest ``--nev`` pairs, peak RSS per rank; with >1 rank also the same assembly on
one rank alone (efficiency).

Useful flops (real; a complex multiply-add is 8), only the GEMMs the algorithm needs:
per k-pair of the direct term 8 (n_s^2 min(n_v, n_c)^2 + n_s n_v^2 n_c^2) (the cheaper
order of the two contractions), for the exchange term 8 (R n_s^2 + R N n_s) for R rows.
The site products (n_orb (n_v^2 + n_c^2) per pair), the scatter into the rows and the
first touch of the row memory are timed but not counted.
"""

from __future__ import annotations

from pathlib import Path

DESCRIPTION = ("BSE: assembly time vs N, ZGEMM fraction, SLEPc time for 10 pairs, memory, rank efficiency; "
               "--matrix-free: product/eigensolve time vs N to 1e5, memory per rank")


def add_arguments(parser):
    """All options of ``hpcx bench bse``; --matrix-free runs hpcx/bench/_bse_matfree.py instead."""
    from . import _bse_matfree
    parser.add_argument("--matrix-free", action="store_true",
                        help="benchmark the matrix-free operator (hpcx.bse.matfree) on monolayer grids "
                             f"(default --grids {' '.join(map(str, _bse_matfree.GRIDS))}) "
                             "instead of the dense assembly")
    parser.add_argument("--grids", type=int, nargs="+", default=None,
                        help="k-grids n (n x n) of the monolayer case (default 9 15 21 27; with --matrix-free "
                             "30 60 120 160 225)")
    parser.add_argument("--tiles", type=int, nargs="+", default=[4, 8, 12, 16],
                        help="m of the m x m supercell case (3 m^2 orbitals, m^2 sites)")
    parser.add_argument("--supercell-bands", type=int, default=8,
                        help="valence = conduction bands of the supercell case")
    parser.add_argument("--supercell-grid", type=int, nargs="+", default=[3],
                        help="k-grid(s) of the supercell case (N = grid^2 bands^2)")
    parser.add_argument("--nev", type=int, default=10, help="eigenpairs for the SLEPc timing")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many assemblies")
    parser.add_argument("--fixture", default=str(Path(__file__).resolve().parents[2] / "examples" / "data"
                                                 / "wse2-wannier90"),
                        help="Wannier90 WSe2 directory (skipped if missing)")
    parser.add_argument("--no-slepc", action="store_true", help="skip the eigensolver timings")
    _bse_matfree.add_arguments(parser)


def zgemm_rate(sizes=(256, 512, 1024), repeat=5):
    """The machine's ZGEMM rate: best GFLOP/s of complex n x n products through numpy's BLAS
    (8 n^3 real flops) over a few sizes."""
    import numpy as np

    from . import best_time
    rng = np.random.default_rng(0)
    best = 0.0
    for n in sizes:
        a = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
        b = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
        best = max(best, 8.0 * n ** 3 / best_time(lambda: a @ b, repeat) / 1e9)
    return best


def useful_flops(n_s, nv, nc, n_k, start, stop, n):
    """Real flops of the GEMMs needed for rows [start, stop) of the N = n x n Hamiltonian:
    direct 8 (n_s^2 min(nv, nc)^2 + n_s nv^2 nc^2) per k-pair (all k-blocks the rows touch),
    exchange 8 (R n_s^2 + R N n_s) for R = stop - start rows."""
    if stop <= start:
        return 0.0
    nb = nv * nc
    k_blocks = -(-stop // nb) - start // nb
    direct = 8.0 * (n_s ** 2 * min(nv, nc) ** 2 + n_s * nb ** 2) * n_k * k_blocks
    rows = stop - start
    return direct + 8.0 * (rows * n_s ** 2 + rows * n * n_s)


def _peak_rss_mib():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _case(name, model, grid, n_occ, nv, nc, comm, args, rate, V):
    from ..bse import bands as bb
    from ..bse import hamiltonian as hh
    from ..bse import interaction as it
    from ..bse import solver as sv
    from ..bse.operator import DenseRows, ownership
    from ..bse.tbmodel import monkhorst_pack
    from ..parallel import allreduce_sum, barrier, broadcast, max_over_ranks
    from . import best_time

    k = monkhorst_pack(grid, grid)
    E, C = bb.bands_on_grid(model, k, comm)
    w = bb.band_window(E, C, k, n_occ, nv, nc)
    sites = it.group_sites(model.positions)
    inter = it.build_interaction(model.lattice, (grid, grid), sites, V, it.coulomb(1.0, 3.3))
    n = w.size
    start, stop = ownership(n, comm)
    rows = {}

    def assemble():
        rows["H"] = hh.assemble_rows(w, inter, start, stop, exchange_factor=2.0)

    t = best_time(assemble, args.repeat, comm)
    flops = allreduce_sum(useful_flops(sites.n_site, nv, nc, w.n_k, start, stop, n), comm)
    gflops = flops / (t * comm.size) / 1e9                   # per rank; t is the slowest rank's
    row = {"case": name, "N": n, "n_orb": model.n_orb, "n_site": sites.n_site, "grid": grid,
           "ranks": comm.size, "assembly_s": t, "elements_per_s": n * n / t,
           "gemm_gflops": gflops, "zgemm_fraction": gflops / rate}
    if comm.size > 1:
        serial = None
        barrier(comm)
        if comm.rank == 0:                    # same code path, all rows on one rank
            serial = best_time(lambda: hh.assemble_rows(w, inter, 0, n, exchange_factor=2.0), args.repeat)
        serial = broadcast(serial, comm)
        row["assembly_1rank_s"] = serial
        row["efficiency"] = serial / (comm.size * t)
    if not args.no_slepc and sv.slepc_available() and n > args.nev:
        op = DenseRows(rows["H"], start, comm)
        res = {}
        ts = best_time(lambda: res.update(r=sv.solve(op, args.nev, sv.SolverOptions(backend="slepc"))), 1, comm)
        row["slepc_s"] = ts
        row["slepc_its"] = res["r"].iterations
    row["peak_rss_mib"] = max_over_ranks(_peak_rss_mib(), comm)
    rows.clear()
    return row


def run(args, comm):
    if args.matrix_free:
        from . import _bse_matfree
        return _bse_matfree.run(args, comm)
    import numpy as np

    from ..bse import interaction as it
    from ..bse.liu import liu_model
    from ..bse.supercell import fold
    from ..parallel import max_over_ranks
    from . import print_table

    rate = max_over_ranks(zgemm_rate(), comm)              # ranks measure at the same time
    V = it.keldysh(45.09, 1.0, 3.32)
    rows = []
    fixture = Path(args.fixture)
    if fixture.is_dir():
        from ..formats.wannier90 import load_wannier90
        model, _ = load_wannier90(fixture, "WSe2")
        rows.append(_case("fixture", model, 9, 7, 2, 2, comm, args, rate, V))
    liu = liu_model("WSe2", "TNN", soc=True)
    for g in args.grids or [9, 15, 21, 27]:
        rows.append(_case("monolayer", liu, g, 2, 1, 2, comm, args, rate, V))
    plain = liu_model("WSe2", "TNN", soc=False)
    for g in args.supercell_grid:
        for m in args.tiles:
            nb = min(args.supercell_bands, m * m)
            tiled = fold(plain, np.diag([m, m]))[0].to_tbmodel()
            rows.append(_case(f"supercell{m}x{m}", tiled, g, m * m, nb, nb, comm, args, rate, V))
    cols = ["case", "N", "n_site", "grid", "ranks", "assembly_s", "elements_per_s", "gemm_gflops", "zgemm_fraction",
            "slepc_s", "slepc_its", "peak_rss_mib"]
    if comm.size > 1:
        cols += ["assembly_1rank_s", "efficiency"]
    print_table(rows, cols, comm, title=f"hpcx bench bse (ZGEMM rate {rate:.2f} GFLOP/s: best numpy n x n product; "
                "gemm_gflops: 8 (n_s^2 min(nv,nc)^2 + n_s nv^2 nc^2) per k-pair + 8 (R n_s^2 + R N n_s) "
                "exchange, per rank, over the assembly time)")
    return {"zgemm_gflops": rate, "rows": rows}
