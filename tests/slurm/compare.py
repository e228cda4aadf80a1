"""Bit-for-bit comparison of run files for the SLURM job-script test (tests/slurm/run.sh).

    python tests/slurm/compare.py same RUN.h5 REFERENCE.h5
        every dataset under /results identical (NaN equal to NaN), same names
    python tests/slurm/compare.py point SWEEP.h5 INDEX POINT.h5
        the /results/sweep entries of POINT.h5 (a one-point run) equal entry
        INDEX of SWEEP.h5 (the whole sweep in one run)

Prints one line (OK, or what differs) and exits 1 on any difference.
"""

from __future__ import annotations

import sys

import h5py
import numpy as np


def _datasets(group):
    names = []
    group.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def _equal(x, y):
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.dtype.kind != y.dtype.kind:
        return False
    if x.dtype.kind in "fc":
        return bool(np.array_equal(x, y, equal_nan=True))
    return bool(np.array_equal(x, y))


def same(run, reference):
    """Names of the /results datasets that differ between two run files (empty: identical)."""
    with h5py.File(run, "r") as a, h5py.File(reference, "r") as b:
        na, nb = _datasets(a["results"]), _datasets(b["results"])
        problems = [f"only in {run}: {n}" for n in sorted(set(na) - set(nb))]
        problems += [f"only in {reference}: {n}" for n in sorted(set(nb) - set(na))]
        problems += [n for n in sorted(set(na) & set(nb))
                     if not _equal(a["results"][n][()], b["results"][n][()])]
    return problems


def point(sweep, index, one):
    """Names of /results/sweep datasets whose entry ``index`` differs from the point file's only entry."""
    with h5py.File(sweep, "r") as a, h5py.File(one, "r") as b:
        names = _datasets(a["results/sweep"])
        if not names:
            return [f"{sweep} has no /results/sweep datasets"]
        problems = []
        for n in names:
            full, single = a["results/sweep"][n][()], b["results/sweep"][n][()]
            if np.shape(single)[:1] != (1,) or not _equal(full[index], single[0]):
                problems.append(n)
    return problems


def main(argv):
    if len(argv) == 3 and argv[0] == "same":
        problems, what = same(argv[1], argv[2]), f"{argv[1]} vs {argv[2]}"
    elif len(argv) == 4 and argv[0] == "point":
        problems, what = point(argv[1], int(argv[2]), argv[3]), f"{argv[3]} vs {argv[1]}[{argv[2]}]"
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"{what}: " + ("OK (bit-identical)" if not problems else "DIFFERS: " + ", ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
