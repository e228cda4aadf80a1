"""What ``hpcx info`` reports: versions, MPI, PETSc/SLEPc, parallel HDF5, kernels."""

from __future__ import annotations

import importlib
import platform


def plain(value):
    """``value`` as one line of printable text: NUL bytes (MPI libraries end their version
    strings with one) and other control characters are dropped, so logs stay text for grep."""
    text = " ".join(str(value).split())
    return "".join(ch for ch in text if ch.isprintable())


def _version(module):
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return f"not available ({exc})"
    return getattr(mod, "__version__", "unknown version")


def collect_info(comm):
    """[(label, value)] in display order.  Collective (MPI queries)."""
    from . import __version__
    from ._kernels import available
    from .io import git_commit, h5py_has_mpi
    from .parallel import mpi_library

    items = [("hpcx", f"{__version__} (git {git_commit()})"),
             ("python", f"{platform.python_version()} ({platform.python_implementation()}, "
                        f"{importlib.import_module('sys').executable})")]
    for module in ("numpy", "scipy", "mpi4py", "h5py", "petsc4py", "slepc4py", "matplotlib"):
        items.append((module, _version(module)))
    mpi = mpi_library()
    if mpi is not None:
        items.append(("MPI library", mpi[0]))
        items.append(("MPI standard", mpi[1]))
    else:
        items.append(("MPI library", "none (mpi4py missing: serial stand-in)"))
    items.append(("MPI world size", str(comm.size)))
    items.append(("h5py MPI (mpio)", str(h5py_has_mpi())))
    try:
        from petsc4py import PETSc
        scalar = "complex" if PETSc.ScalarType().dtype.kind == "c" else "real"
        major, minor, sub = PETSc.Sys.getVersion()
        items.append(("PETSc", f"{major}.{minor}.{sub}, {scalar} scalars "
                               f"({PETSc.ScalarType().dtype}), PETSC_DIR={_petsc_dir()}"))
    except ImportError as exc:
        items.append(("PETSc", f"not available ({exc})"))
    try:
        from slepc4py import SLEPc
        major, minor, sub = SLEPc.Sys.getVersion()
        items.append(("SLEPc", f"{major}.{minor}.{sub} present"))
    except ImportError as exc:
        items.append(("SLEPc", f"not available ({exc})"))
    for name, status in available().items():
        items.append((f"kernel {name}", "compiled, importable" if status is True else f"MISSING: {status}"))
    return items


def _petsc_dir():
    import os
    return os.environ.get("PETSC_DIR", "(unset)")
