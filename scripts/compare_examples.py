#!/usr/bin/env python3
"""Run every example config and compare its /results with reference run files.

    python scripts/compare_examples.py REFERENCE_DIR [--output DIR] [--rtol 1e-12] [EXAMPLE ...]

REFERENCE_DIR holds ``<example>.h5`` run files made by another version of hpcx
(e.g. the commit before a refactoring: check it out, run
``hpcx run examples/X.toml -o REF/X.h5`` for every example).  Each example is
run here through ``hpcx.api.run`` (serially, or on the ranks this script is
started with under mpirun) and every dataset under /results is compared:
integers, strings and booleans must be identical, floating-point data equal
to ``rtol`` relative to the dataset's largest magnitude.  Exits 1 on any
difference and prints one line per example.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def datasets(f):
    names = []
    f["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(names)


def compare(new, ref, rtol):
    """List of differences between the /results of two run files (empty if equal)."""
    problems = []
    with h5py.File(new) as a, h5py.File(ref) as b:
        na, nb = datasets(a), datasets(b)
        if na != nb:
            problems.append(f"dataset names differ: only new {sorted(set(na) - set(nb))}, "
                            f"only reference {sorted(set(nb) - set(na))}")
        for name in sorted(set(na) & set(nb)):
            x, y = a[f"results/{name}"][()], b[f"results/{name}"][()]
            if np.shape(x) != np.shape(y):
                problems.append(f"{name}: shape {np.shape(x)} vs {np.shape(y)}")
            elif np.asarray(y).dtype.kind in "fc":
                scale = float(np.nanmax(np.abs(y))) if np.size(y) and np.isfinite(y).any() else 0.0
                diff = np.abs(np.asarray(x) - np.asarray(y))
                same_nan = np.array_equal(np.isnan(x), np.isnan(y))
                worst = float(np.nanmax(diff)) if np.size(diff) and not np.all(np.isnan(diff)) else 0.0
                if not same_nan or worst > rtol * scale:
                    problems.append(f"{name}: max |diff| {worst:.3g} vs scale {scale:.3g}")
            elif not np.array_equal(x, y):
                problems.append(f"{name}: values differ")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("examples", nargs="*", help="example names (default: every examples/*.toml)")
    parser.add_argument("--output", type=Path, help="where to write the new run files (default: a temp dir)")
    parser.add_argument("--rtol", type=float, default=1e-12)
    args = parser.parse_args(argv)

    from hpcx import api
    from hpcx.parallel import broadcast, get_comm
    comm = get_comm()
    out = args.output or Path(broadcast(tempfile.mkdtemp() if comm.rank == 0 else None, comm))
    names = args.examples or sorted(p.stem for p in (ROOT / "examples").glob("*.toml"))
    failed = 0
    for name in names:
        path = api.run(ROOT / "examples" / f"{name}.toml", out / f"{name}.h5", comm=comm, overwrite=True)
        if comm.rank != 0:
            continue
        problems = compare(path, args.reference / f"{name}.h5", args.rtol)
        failed += bool(problems)
        print(f"{name:28s} {'OK' if not problems else 'DIFFERS'}", flush=True)
        for line in problems[:20]:
            print(f"    {line}")
    return 1 if broadcast(failed, comm) else 0


if __name__ == "__main__":
    sys.exit(main())
