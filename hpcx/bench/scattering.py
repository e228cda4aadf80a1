"""Benchmark ``scattering``: build time of the moiré exciton-phonon tables vs number of states.

For each grid n (n x n mini-BZ points, ``--bands`` bands: N = n^2 x bands states) it
does what the ``scattering`` workflow does for one temperature, timed by phase:
``states`` (moiré bands and Wannier form factor, redundant on every rank), ``terms``
(coupling terms of the local rows, SI Eq. 11), ``gamma`` (self-consistent dephasing,
SI Eq. 24, one allgather of Gamma per iteration), ``rates`` (forward and reverse tables
of the local rows, detailed balance) and ``csr`` (sampling tables, row pointers
gathered).  Phase times are the max over ranks; ``imbalance`` is max/mean over ranks
of the local work time (terms + gamma + rates + csr) and of the local term count;
``cpu_max`` is the largest per-rank CPU time of that work (process_time: what the
rank computed, insensitive to other load on a shared machine).  ``speedup`` compares
total wall times, ``speedup_work`` the work phases, ``speedup_cpu`` the cpu_max values
(the speed-up a quiet machine with free cores would show, up to memory contention).
The exponent p of time ~ N^p is a least-squares fit over the grids with N >= --fit-min.
With ``--compare ONE_RANK.json`` (a ``--json`` file of a 1-rank run) the table gets the
speed-up of each grid.
"""

from __future__ import annotations

import json
import time

DESCRIPTION = "moiré exciton-phonon table build time vs number of states (terms, Gamma, rates, CSR)"

PHASES = ("states", "terms", "gamma", "rates", "csr")


def add_arguments(parser):
    parser.add_argument("--theta", type=float, default=4.0, help="twist angle (deg), default 4")
    parser.add_argument("--grids", type=int, nargs="+", default=[6, 9, 12, 15, 18, 21, 24],
                        help="grid sizes n (n x n mini-BZ points)")
    parser.add_argument("--bands", type=int, default=3, help="moiré bands kept (default 3)")
    parser.add_argument("--shells", type=int, default=6, help="plane-wave shells (default 6)")
    parser.add_argument("--temperature", type=float, default=10.0, help="K (default 10)")
    parser.add_argument("--numpy", action="store_true", help="NumPy reference rates instead of the kernel")
    parser.add_argument("--fit-min", type=int, default=400, help="smallest N in the exponent fit")
    parser.add_argument("--compare", default=None, help="JSON of a 1-rank run: add speed-up columns")


def _timed(comm, fn, cpu=None):
    """(result, local seconds, max seconds over ranks); ranks start together.  ``cpu``: dict
    to which this rank's CPU seconds of the call are added under key "cpu"."""
    from ..parallel import barrier, max_over_ranks
    barrier(comm)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    dt = time.perf_counter() - t0
    if cpu is not None:
        cpu["cpu"] = cpu.get("cpu", 0.0) + time.process_time() - c0
    return out, dt, max_over_ranks(dt, comm)


def _defaults():
    """The ``scattering`` workflow's defaults of its [scattering] keys (its public SCHEMA)."""
    from .. import workflows
    return {f.name: f.default for f in workflows.load("scattering").SCHEMA.section("scattering").fields}


def one_grid(args, n, comm):
    import numpy as np

    from .._kernels import twin
    from ..parallel import allgather_blocks, block_range
    from ..physics import scattering as sc
    from ..physics import scattering_states as ss

    d, T = _defaults(), args.temperature
    model = ss.moire_model(d["system"], d["environment"], args.shells, args.bands, n, d["coupling_cut"])
    kernel = twin("scattering_rates") if args.numpy else None
    row = {"grid": n}
    local = {}
    (st, _), local["states"], row["states"] = _timed(comm, lambda: ss.build_states(model, args.theta))
    E = st.energy
    start, stop = block_range(len(E), comm.size, comm.rank)
    cpu = {}
    terms, local["terms"], row["terms"] = _timed(comm, lambda: st.terms(start, stop), cpu)
    (gamma, it, _), local["gamma"], row["gamma"] = _timed(comm, lambda: sc.self_consistent_gamma(
        E, terms, T, d["beta"], d["width_min"], d["tol"], d["max_iter"], d["mixing"], comm, kernel=kernel), cpu)

    def table():
        W, Wb = sc.rates(E, terms, T, gamma, d["beta"], d["width_min"], reverse=True, kernel=kernel)
        return sc.detailed_balance(W, Wb, E, start, T)

    W, local["rates"], row["rates"] = _timed(comm, table, cpu)

    def csr():
        tab = sc.sampling_table(W, d["threshold"])
        counts = allgather_blocks([tab["counts"]], comm)
        return tab, np.concatenate([[0], np.cumsum(np.concatenate(counts))])

    (_, indptr), local["csr"], row["csr"] = _timed(comm, csr, cpu)
    n_terms = allgather_blocks([terms.n_terms], comm)
    cpus = allgather_blocks([cpu["cpu"]], comm)
    work = allgather_blocks([sum(local[p] for p in PHASES[1:])], comm)
    row.update(N=len(E), n_terms=int(sum(n_terms)), nnz=int(indptr[-1]), iterations=it,
               total=sum(row[p] for p in PHASES), cpu_max=max(cpus), cpu_sum=sum(cpus),
               imbalance=max(work) / (sum(work) / len(work)),
               terms_imbalance=max(n_terms) / (sum(n_terms) / len(n_terms)))
    return row


def fit_exponent(rows, key, n_min):
    """Least-squares slope of log(time) vs log(N) over rows with N >= n_min (None if < 2)."""
    import numpy as np
    pts = [(r["N"], r[key]) for r in rows if r["N"] >= n_min and r[key] > 0]
    if len(pts) < 2:
        return None
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


def run(args, comm):
    from .._kernels import available
    from . import print_table

    rows = [one_grid(args, n, comm) for n in args.grids]
    fits = {k: fit_exponent(rows, k, args.fit_min) for k in ("total", "cpu_max", "terms", "gamma", "rates", "csr")}
    cols = ["grid", "N", "n_terms", "iterations", *PHASES, "total", "cpu_max", "imbalance", "terms_imbalance"]
    if args.compare:
        with open(args.compare, encoding="utf-8") as fh:
            ref = {r["grid"]: r for r in json.load(fh)["result"]["rows"]}
        for r in rows:
            if r["grid"] in ref:
                r["speedup"] = ref[r["grid"]]["total"] / r["total"]
                r["speedup_work"] = sum(ref[r["grid"]][p] for p in PHASES[1:]) / sum(r[p] for p in PHASES[1:])
                if "cpu_max" in ref[r["grid"]]:
                    r["speedup_cpu"] = ref[r["grid"]]["cpu_max"] / r["cpu_max"]
        cols += ["speedup", "speedup_work", "speedup_cpu"]
    built = available().get("scattering_rates") is True
    kernel = "numpy" if args.numpy else ("kernel" if built else "numpy (kernel not built)")
    print_table(rows, cols, comm, title=f"scattering tables, {args.theta:g} deg, {args.bands} bands, "
                f"{args.temperature:g} K, {comm.size} rank(s), rates: {kernel}; seconds")
    if comm.rank == 0:
        print("exponent p (time ~ N^p, N >= %d): " % args.fit_min
              + ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} -" for k, v in fits.items()))
    return {"rows": rows, "exponent": fits, "theta": args.theta, "bands": args.bands,
            "temperature": args.temperature, "rates": kernel, "ranks": comm.size}
