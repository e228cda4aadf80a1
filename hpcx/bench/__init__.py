"""Benchmarks (``hpcx bench NAME``): performance measured, never asserted.

Every module in this package is a benchmark named after the module.  It
defines ``DESCRIPTION`` (one line), ``add_arguments(parser)`` and
``run(args, comm) -> dict`` (the measurements, JSON-serialisable, equal on
all ranks).  ``hpcx bench NAME`` prints a table from rank 0 and, with
``--json FILE``, writes the dict together with the machine description, so
numbers quoted in docs/performance.md can be traced to a command and a
machine.  Adding a benchmark means adding one module.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import time

from ..parallel import max_over_ranks

BENCH_MODULES = {
    info.name: f"{__name__}.{info.name}"
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)
    if not info.name.startswith("_")
}


def load(name):
    return importlib.import_module(BENCH_MODULES[name])


def machine(comm):
    """Where a benchmark ran: CPU model, cores, memory, ranks, threads, versions."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        pass
    import numpy

    from .. import __version__
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "mpi_ranks": comm.size, "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
        "hostname": platform.node(), "python": platform.python_version(), "numpy": numpy.__version__,
        "hpcx": __version__, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def best_time(fn, repeat=3, comm=None):
    """Smallest wall time (s) of ``repeat`` calls of ``fn()``; with ``comm`` the max over ranks
    of each call (ranks start together after a barrier)."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        if comm is not None:
            comm.Barrier()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if comm is not None:
            dt = max_over_ranks(dt, comm)
        best = min(best, dt)
    return best


def write_json(path, name, result, comm):
    """Write ``{"benchmark", "machine", "result"}`` as JSON from rank 0."""
    payload = {"benchmark": name, "machine": machine(comm), "result": result}
    if comm.rank == 0:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, default=float)
            fh.write("\n")
    return payload


def print_table(rows, columns, comm, title=None):
    """Print ``rows`` (list of dicts) as an aligned text table from rank 0."""
    if comm.rank != 0:
        return
    if title:
        print(title)
    cells = [[_fmt(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
