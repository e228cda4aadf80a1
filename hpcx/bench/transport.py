"""Benchmark ``transport``: Monte Carlo scattering events per second per core, Cython vs NumPy,
and the 2-rank parallel efficiency of the ensemble loop.

The table (default): the real 3° MoSe2-WSe2/hBN tables of examples/scattering.toml (``--grid``
x ``--grid`` mini-BZ grid, ``--bands`` bands, at ``--temperature``), computed in-process
with the scattering workflow, then refined ``--refine`` times per axis to a finer
Monkhorst-Pack grid of (grid x refine)^2 x bands states (>= 1e4 by default): every fine
state carries the moiré energy and group velocity of the fine grid, its parent's out-rate,
and its parent's final-state distribution with the momentum transfer kept (fine state
(parent, offset) -> (final parent, same offset)), so rows keep their length and the table
its CSR structure at 10^4 states.  ``--input RUN.h5`` takes the tables of a finished
``scattering`` run instead (e.g. a fine grid computed on a cluster).

Measured: (1) ``push`` of the Cython kernel, one rank, one thread: ``--particles``
particles over ``--t-push`` ps in one call (many events per particle, so per-event
cost dominates), events/s, for both samplers; (2) the NumPy reference
(hpcx/_kernels/reference/mc_push.py) on ``--numpy-particles`` particles, same table, and the
ratio; (3) the ensemble loop (push + sampling + reductions at ``--samples`` times) of
``--particles`` particles on rank 0 alone (the other ranks wait) and on all ranks:
efficiency = t_1 / (size t_size) in wall time, and efficiency_cpu = cpu_1 / (size max cpu_size)
in CPU time of the busiest rank (MPI waits spin, so a rank waiting for a descheduled partner
counts), and efficiency_work = work_1 / (size max work_size) with the CPU time spent inside
the kernels only (push and sampling: the load balance, without communication and waits).
The development VM has 2 cores shared with other work, so the wall and CPU efficiencies
there measure the machine's load as much as the code.  Best of ``--repeat`` runs each.

Memory (always; ``--memory-only`` skips the timings and runs the ensemble loop once): the
table is held once per node in shared memory (``--tables shared``, the workflow's layout:
the node's first rank builds it and the others map it) or privately by every rank
(``--tables private``, every rank builds its own).  Per rank, from /proc/self: the bytes it
allocated for the tables, and the growth of its private memory (RssAnon), of the shared
memory it maps (RssShmem) and of its proportional set size (Pss: shared pages split over the
processes mapping them) from before the table to after the table and to after the ensemble
loop, and its peak RSS (VmHWM, which counts mapped shared pages in full).  The node's table
memory is the sum of the ranks' Pss growth.
"""

from __future__ import annotations

import time
from pathlib import Path

DESCRIPTION = "Monte Carlo push: events/s/core of the Cython kernel vs NumPy on a >= 1e4-state 3° table; " \
              "parallel efficiency"


def add_arguments(parser):
    parser.add_argument("--input", default=None, help="a finished scattering run file (default: build the table)")
    parser.add_argument("--theta", type=float, default=3.0, help="twist angle (deg), default 3")
    parser.add_argument("--grid", type=int, default=9, help="grid of the computed table (default 9)")
    parser.add_argument("--bands", type=int, default=3, help="moiré bands (default 3)")
    parser.add_argument("--refine", type=int, default=7, help="refinement per axis (default 7: 11907 states)")
    parser.add_argument("--temperature", type=float, default=10.0, help="K (default 10)")
    parser.add_argument("--particles", type=int, default=200000, help="particles of the Cython runs")
    parser.add_argument("--t-push", type=float, default=40.0, help="ps pushed in one kernel call (default 40)")
    parser.add_argument("--numpy-particles", type=int, default=20000, help="particles of the NumPy run")
    parser.add_argument("--numpy-time", type=float, default=4.0, help="ps pushed by NumPy (default 4)")
    parser.add_argument("--samples", type=int, default=20, help="sampling times of the ensemble loop")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    parser.add_argument("--tables", choices=("shared", "private"), default="shared",
                        help="tables once per node in shared memory (default) or a copy on every rank")
    parser.add_argument("--memory-only", action="store_true",
                        help="measure memory only: no timings, the ensemble loop once")


def _coarse_rows(args, comm):
    """(model, states, CSR rows (total, indptr, indices, cumulative) of every row) of the computed grid."""
    from ..parallel import block_range
    from ..physics import scattering_states as ss
    from ..physics import scattering_tables as st
    from .scattering import _defaults

    d = _defaults()
    model = ss.moire_model(d["system"], d["environment"], d["shells"], args.bands, args.grid, d["coupling_cut"])
    settings = st.TableSettings(d["beta"], d["width_min"], d["tol"], d["max_iter"], d["mixing"],
                                d["detailed_balance"], d["threshold"])
    states, _ = ss.build_states(model, args.theta)
    start, stop = block_range(states.n, comm.size, comm.rank)
    W = st.local_table(states.energy, states.terms(start, stop), args.temperature, settings, comm).W
    rows = st.csr_rows(W, settings.threshold, comm)
    total, idx, cum, _ = rows.gather(comm)
    return model, states, (total, rows.indptr, idx, cum)


def _computed_table(args, model, states, rows):
    """(McTable, label) of the computed grid refined ``args.refine`` times per axis (serial)."""
    import numpy as np

    from ..physics import mc_table as mt
    from ..physics import scattering_states as ss

    total, indptr_c, idx, cum = rows
    counts = np.diff(indptr_c)
    n, m, nb = args.grid, args.refine, args.bands
    names = [f"band{b}" for b in range(nb)]
    if m == 1:
        return mt.McTable(states.energy, states.velocity, total, indptr_c, idx, cum, states.group, names,
                          states.weight, states.k), f"{n}x{n}x{nb} computed"
    # fine Monkhorst-Pack grid (n m)^2: fine point (A, B) has parent (A // m, B // m), offset (A % m, B % m)
    nf = n * m
    bands = ss.solve_moire_bands(model.system, args.theta, model.shells, nf, nb, model.potential_at(args.theta))
    A, B = np.divmod(np.arange(nf * nf), nf)
    eta = np.tile(np.arange(nb), nf * nf)
    A, B = np.repeat(A, nb), np.repeat(B, nb)
    parent = ((A // m) * n + B // m) * nb + eta
    lens = counts[parent]
    indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    fine_rows = np.repeat(np.arange(len(parent)), lens)
    entry = indptr_c[parent[fine_rows]] + (np.arange(indptr[-1]) - indptr[fine_rows])
    c = idx[entry]
    cq, ceta = np.divmod(c, nb)
    ca, cb = np.divmod(cq, n)
    fine = ((ca * m + A[fine_rows] % m) * nf + (cb * m + B[fine_rows] % m)) * nb + ceta
    table = mt.McTable(bands.energy.reshape(-1), bands.velocity.reshape(-1, 2), total[parent], indptr, fine,
                       cum[entry], eta, names, None, np.repeat(bands.Q, nb, axis=0))
    return table, f"{n}x{n}x{nb} computed at {args.temperature:g} K, refined x{m} to {nf}x{nf}x{nb}"


def _file_table(path):
    from ..io.tables import read_scattering_tables
    from ..physics import mc_table as mt
    d = read_scattering_tables(path)
    table = mt.McTable(d["energy"], d["velocity"], d["total_rate"], d["indptr"], d["indices"], d["cumulative"],
                       d["group"], d["group_names"], d["weight"], d["k"])
    return table, f"{Path(path).name}"


def _table(args, comm, arena, ker, coarse):
    """(McTable with its alias tables, label): built by every rank (``private``) or by each node's
    root and placed once per node in ``arena`` (``shared``); ``coarse``: :func:`_coarse_rows`."""
    from ..parallel import broadcast
    from ..physics import mc_table as mt

    build = (lambda: _file_table(args.input)) if args.input else (lambda: _computed_table(args, *coarse))
    if args.tables == "private":
        table, label = build()
        table.alias(ker)
        return table, label
    table, label = build() if arena.node_root else (None, None)
    names, label = broadcast((table.group_names, label) if comm.rank == 0 else None, comm)
    table = mt.share_table(table, arena, names)           # the root's private copy is dropped on return
    return table.share_alias(arena, ker), label


_MEMORY_KEYS = {"status": ("VmHWM", "RssAnon", "RssShmem"), "smaps_rollup": ("Pss",)}


def _memory():
    """{key: bytes} of this process from /proc/self (Linux), empty elsewhere."""
    out = {}
    for name, keys in _MEMORY_KEYS.items():
        try:
            with open(f"/proc/self/{name}", encoding="utf-8") as fh:
                for line in fh:
                    key, _, value = line.partition(":")
                    if key in keys:
                        out[key] = 1024 * int(value.split()[0])
        except OSError:
            pass
    return out


def _memory_rows(before, tables, loop, allocated, comm):
    """Per-rank rows (MiB): table bytes allocated, growth of RssAnon/RssShmem/Pss after the tables and
    after the ensemble loop, peak RSS; and the node's table memory (sum of the Pss growth)."""
    from ..parallel import allgather_blocks
    mib = 2.0 ** -20
    grow = lambda after, key: (after.get(key, 0) - before.get(key, 0)) * mib  # noqa: E731
    row = {"rank": comm.rank, "allocated": allocated * mib,
           "anon": grow(tables, "RssAnon"), "shmem": grow(tables, "RssShmem"), "pss": grow(tables, "Pss"),
           "anon_loop": grow(loop, "RssAnon"), "shmem_loop": grow(loop, "RssShmem"), "pss_loop": grow(loop, "Pss"),
           "peak_rss": loop.get("VmHWM", 0) * mib}
    rows = allgather_blocks([row], comm)
    return rows, {"pss": sum(r["pss"] for r in rows), "pss_loop": sum(r["pss_loop"] for r in rows),
                  "allocated": sum(r["allocated"] for r in rows)}


def _cpu(fn, repeat):
    """Smallest CPU seconds (this process) of ``repeat`` calls: insensitive to other load on the
    machine; MPI waits spin, so time lost waiting for other ranks is included."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        c0 = time.process_time()
        fn()
        best = min(best, time.process_time() - c0)
    return best


class _TimedKernel:
    """The kernel module with the CPU time of its calls added up (compute without MPI waits)."""

    def __init__(self, kernel):
        self.kernel, self.cpu = kernel, 0.0

    def __getattr__(self, name):
        fn = getattr(self.kernel, name)
        if not callable(fn):
            return fn

        def timed(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.cpu += time.process_time() - c0
        return timed


def _particles(n):
    import numpy as np
    return dict(state=np.zeros(n, np.int64), x=np.zeros(n), y=np.zeros(n), t=np.zeros(n), tn=np.zeros(n),
                ctr=np.zeros(n, np.uint64))


def _push_rate(mod, table, n, t_push, sampler, repeat):
    """Best events/s of one push call of n particles over t_push (fresh particles each run)."""
    from ..physics import mc_table as mt
    cdf = mt.initial_cdf(table, "uniform", e0=60.0)
    packed = table.alias()
    best, events = 0.0, 0
    for r in range(max(1, repeat)):
        arr = _particles(n)
        mod.initialise(1 + r, 0, 1000.0, cdf, table.gout, *arr.values())
        t0 = time.perf_counter()
        ev, _ = mod.push(1 + r, 0, t_push, *arr.values(), table.vx, table.vy, table.gout, table.decay,
                         table.indptr, table.indices, table.cumulative, packed, sampler)
        dt = time.perf_counter() - t0
        if ev / dt > best:
            best, events = ev / dt, ev
    return best, events


def run(args, comm):
    from .._kernels import load
    from ..parallel import shared_arrays
    from ..physics import mc_engine, mc_table  # noqa: F401 - imported before the memory baseline

    ker = load("mc_push", required=True)
    t0 = time.perf_counter()
    coarse = None if args.input else _coarse_rows(args, comm)
    before = _memory()
    with shared_arrays(comm) as arena:
        table, label = _table(args, comm, arena, ker, coarse)
        table_s = time.perf_counter() - t0
        tables = _memory()
        allocated = arena.local_bytes if args.tables == "shared" else _private_bytes(table)
        out = _measure(args, comm, table, ker)
        rows, node = _memory_rows(before, tables, _memory(), allocated, comm)
        out.update(table=label, states=table.n, nnz=table.nnz, temperature=args.temperature, theta=args.theta,
                   tables=args.tables, table_seconds=table_s,
                   memory={"ranks": rows, "node": node, "ranks_per_node": arena.node_size})
    rpp = table.nnz / table.n
    if "push" in out:
        from . import print_table
        print_table(out["push"], ["sampler", "cython_events_per_s", "numpy_events_per_s", "ratio", "cython_events"],
                    comm, title=f"push, 1 rank x 1 thread: table {label}: {table.n} states, {table.nnz} entries "
                                f"({rpp:.0f}/row); built in {table_s:.1f} s")
        print_table([out["loop"]], ["ranks", "particles", "samples", "t_1", "t_n", "events_per_s_per_core",
                                    "efficiency", "cpu_1", "cpu_n", "efficiency_cpu", "efficiency_work"],
                    comm, title="ensemble loop (push + sampling + reductions), seconds")
    _print_memory(out, comm)
    return out


def _private_bytes(table):
    from ..physics import mc_table as mt
    arrays = [getattr(table, name) for name in mt.SHARED_FIELDS] + [table.decay, table.alias()]
    return sum(a.nbytes for a in arrays)


def _print_memory(out, comm):
    from . import print_table
    mem = out["memory"]
    print_table(mem["ranks"], ["rank", "allocated", "anon", "shmem", "pss", "anon_loop", "shmem_loop", "pss_loop",
                               "peak_rss"], comm,
                title=f"memory (MiB), tables {out['tables']}: {out['states']} states, {out['nnz']} entries; growth "
                      f"from before the table to after it and to after the ensemble loop")
    if comm.rank == 0:
        print(f"node: tables allocated {mem['node']['allocated']:.1f} MiB, Pss growth {mem['node']['pss']:.1f} MiB "
              f"(after the loop {mem['node']['pss_loop']:.1f} MiB), {mem['ranks_per_node']} rank(s) per node")


def _measure(args, comm, table, ker):
    """{"push": rows, "loop": ensemble loop} timings, or the ensemble loop once (``--memory-only``)."""
    import numpy as np

    from .._kernels import twin
    from ..parallel import allgather_blocks, broadcast, split
    from ..physics import mc_engine as me
    from ..physics import mc_table as mt
    from . import best_time

    times = np.linspace(0.0, args.t_push, args.samples + 1)
    cdf = mt.initial_cdf(table, "uniform", e0=60.0)
    params = me.McParams(args.particles, max(16, comm.size), 1, 1000.0, "alias",
                         np.linspace(-4000.0, 4000.0, 122))
    if args.memory_only:
        rec = me.simulate(table, params, times, cdf, comm, kernel=ker)
        return {"loop_events": int(rec.events[-1])}
    ref = twin("mc_push")
    rows = []
    if comm.rank == 0:
        for name, code in (("alias", ker.SAMPLER_ALIAS), ("search", ker.SAMPLER_SEARCH)):
            rate, ev = _push_rate(ker, table, args.particles, args.t_push, code, args.repeat)
            nrate, nev = _push_rate(ref, table, args.numpy_particles, args.numpy_time, code, 1)
            rows.append({"sampler": name, "cython_events_per_s": rate, "cython_events": ev,
                         "numpy_events_per_s": nrate, "numpy_events": nev, "ratio": rate / nrate})
    rows = broadcast(rows, comm)

    # ensemble loop: rank 0 alone, then all ranks (strong scaling, same particles)
    solo = split(comm, 0 if comm.rank == 0 else 1)
    t1 = cpu1 = None
    if comm.rank == 0:
        t1 = best_time(lambda: me.simulate(table, params, times, cdf, solo), args.repeat)
        cpu1 = _cpu(lambda: me.simulate(table, params, times, cdf, solo), args.repeat)
    t1, cpu1 = broadcast((t1, cpu1), comm)
    tn = best_time(lambda: me.simulate(table, params, times, cdf, comm), args.repeat, comm)
    cpun = max(allgather_blocks([_cpu(lambda: me.simulate(table, params, times, cdf, comm), args.repeat)], comm))
    k1 = _TimedKernel(ker)
    if comm.rank == 0:
        me.simulate(table, params, times, cdf, solo, kernel=k1)
    work1 = broadcast(k1.cpu, comm)
    kn = _TimedKernel(ker)
    me.simulate(table, params, times, cdf, comm, kernel=kn)
    workn = max(allgather_blocks([kn.cpu], comm))
    rec = me.simulate(table, params, times, cdf, comm)
    loop = {"ranks": comm.size, "particles": args.particles, "samples": args.samples, "t_1": t1, "t_n": tn,
            "cpu_1": cpu1, "cpu_n": cpun, "work_1": work1, "work_n": workn, "events": int(rec.events[-1]),
            "events_per_s_per_core": rec.events[-1] / (tn * comm.size),
            "efficiency": t1 / (comm.size * tn), "efficiency_cpu": cpu1 / (comm.size * cpun),
            "efficiency_work": work1 / (comm.size * workn)}
    return {"push": rows, "loop": loop}
