"""The run file: one HDF5 file per run, written atomically.

Layout (see docs/output.md)::

    /            attrs: hpcx_version, format_version, git_commit, workflow,
                 created, finished, mpi_size, hostnames, command_line
    /config      the config text as given (string dataset, attr ``source``)
    /timings     per-phase wall seconds (max over ranks)
    /results/... the workflow's datasets, each with a ``units`` attr

A run writes ``NAME.h5.partial`` and renames it to ``NAME.h5`` only after
everything is written, so a file without ``.partial`` is always complete.
With h5py built against MPI the file is written collectively (``mpio``);
otherwise rank 0 writes and distributed arrays are gathered to it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError, OutputExistsError
from ..parallel import all_or_none, max_over_ranks, mpi_available

FORMAT_VERSION = 1
PARTIAL_SUFFIX = ".partial"


def _h5py():
    # Debian's h5py picks its MPI build only under mpirun unless told otherwise.
    if mpi_available():
        os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")
    import h5py  # imported late: Debian picks its MPI build from the environment
    return h5py


def h5py_has_mpi():
    try:
        return bool(_h5py().get_config().mpi)
    except ImportError:
        return False


@functools.lru_cache(maxsize=1)
def git_commit():
    """Commit of the hpcx source tree, or 'unknown' outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _now():
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _as_hdf5(data):
    """Strings become fixed-length bytes: parallel HDF5 cannot write vlen data."""
    arr = np.asarray(data)
    if arr.dtype.kind == "U":
        arr = np.char.encode(arr, "utf-8")
    return arr


def check_output_path(path, overwrite):
    """Refuse an existing complete output unless ``overwrite``; check the directory."""
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise OutputExistsError(f"{path}: output name must not end in {PARTIAL_SUFFIX}")
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} exists; pass --overwrite to replace it (it is left untouched)")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise OutputExistsError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputExistsError(f"{path}: directory {parent} is not writable")
    return path


class RunWriter:
    """Collective writer of one run file.  All ranks call every method.

    Use as a context manager: on an exception the ``.partial`` file is closed
    and left in place; the final name is only created by :meth:`finish`.
    """

    def __init__(self, path, comm, *, workflow, config_text, config_source,
                 overwrite=False, command_line=None):
        self.comm = comm
        self.final = Path(path)
        self.partial = Path(str(path) + PARTIAL_SUFFIX)
        self.overwrite = overwrite
        self.parallel = comm.size > 1 and h5py_has_mpi()
        self.file = None
        self.timings = {}
        with all_or_none(comm):
            if comm.rank == 0:
                check_output_path(self.final, overwrite)
        hostnames = sorted(set(comm.allgather(socket.gethostname())))
        with all_or_none(comm):
            h5py = _h5py()
            if self.parallel:
                self.file = h5py.File(self.partial, "w", driver="mpio", comm=comm)
            elif comm.rank == 0:
                self.file = h5py.File(self.partial, "w")
        self._set_attrs("/", {
            "hpcx_version": __version__, "format_version": FORMAT_VERSION,
            "git_commit": git_commit(), "workflow": workflow, "created": _now(),
            "finished": "", "mpi_size": comm.size, "hostnames": ",".join(hostnames),
            "command_line": " ".join(command_line if command_line is not None else sys.argv),
            "h5py_mpio": self.parallel,
        })
        self.write("config", np.bytes_(config_text.encode("utf-8")), units="",
                   attrs={"source": str(config_source)})

    # -- context manager ---------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.close()
        return False

    # -- writing -------------------------------------------------------------
    @property
    def _writes(self):
        """True on the ranks that hold an open file handle."""
        return self.file is not None

    def _set_attrs(self, name, attrs):
        if self._writes:
            obj = self.file[name] if name != "/" else self.file
            for key, value in attrs.items():
                obj.attrs[key] = _as_hdf5(value) if isinstance(value, (list, tuple)) else value

    def write(self, name, data, units, attrs=None):
        """Write a dataset whose full value every rank holds (replicated data).

        ``units`` is stored as attr (use "" for dimensionless, "label" for text).
        """
        arr = _as_hdf5(data)
        if self._writes:
            dset = self.file.create_dataset(name, shape=arr.shape, dtype=arr.dtype)
            if not self.parallel or self.comm.rank == 0:
                dset[...] = arr
        self._set_attrs(name, {"units": units, **(attrs or {})})

    def write_distributed(self, name, local, offset, global_shape, units, attrs=None):
        """Write an array split along axis 0: this rank holds rows [offset, offset+len)."""
        local = _as_hdf5(local)
        if self.parallel:
            dset = self.file.create_dataset(name, shape=tuple(global_shape), dtype=local.dtype)
            with dset.collective:
                dset[offset:offset + local.shape[0]] = local
        else:
            parts = self.comm.gather((offset, local), root=0)
            if self._writes:
                dset = self.file.create_dataset(name, shape=tuple(global_shape), dtype=local.dtype)
                for off, block in parts:
                    dset[off:off + block.shape[0]] = block
        self._set_attrs(name, {"units": units, **(attrs or {})})

    def group(self, name, attrs=None):
        if self._writes:
            self.file.require_group(name)
        self._set_attrs(name, attrs or {})

    def set_attrs(self, name, **attrs):
        self._set_attrs(name, attrs)

    # -- finishing -----------------------------------------------------------
    def close(self):
        if self.file is not None:
            try:
                self.file.close()
            finally:
                self.file = None

    def finish(self, timings):
        """Write per-phase wall times (max over ranks, kept in ``self.timings``), close, rename ``.partial``.

        ``timings`` is this rank's {phase: seconds}; every rank must pass the
        same phase names.
        """
        self.timings = {phase: max_over_ranks(float(timings[phase]), self.comm)
                        for phase in sorted(timings)}
        for phase, seconds in self.timings.items():
            self.write(f"timings/{phase}", seconds, units="s")
        self._set_attrs("/", {"finished": _now()})
        self.close()
        self.comm.Barrier()
        with all_or_none(self.comm):
            if self.comm.rank == 0:
                if self.final.exists() and not self.overwrite:
                    raise OutputExistsError(
                        f"{self.final} appeared during the run; result left in {self.partial}")
                os.replace(self.partial, self.final)
        return self.final


class RunFile:
    """Read access to a finished run file (``input = "earlier_run.h5"``)."""

    def __init__(self, path, expect_workflow=None):
        path = Path(path)
        self.path = path
        if not path.exists():
            hint = ""
            if Path(str(path) + PARTIAL_SUFFIX).exists():
                hint = f" (only {path}{PARTIAL_SUFFIX} exists: that run did not finish)"
            raise InputError(f"{path}: no such run file{hint}")
        if path.name.endswith(PARTIAL_SUFFIX):
            raise InputError(f"{path}: an unfinished run (.partial) cannot be used as input")
        h5py = _h5py()
        try:
            self.file = h5py.File(path, "r")
        except OSError as exc:
            raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
        attrs = self.file.attrs
        if "hpcx_version" not in attrs or "workflow" not in attrs:
            self.close()
            raise InputError(f"{path}: not an hpcx run file (no hpcx_version/workflow attrs)")
        if int(attrs.get("format_version", 0)) > FORMAT_VERSION:
            self.close()
            raise InputError(f"{path}: format_version {attrs['format_version']} is newer "
                             f"than this hpcx understands ({FORMAT_VERSION})")
        self.workflow = str(attrs["workflow"])
        if expect_workflow is not None and self.workflow != expect_workflow:
            self.close()
            raise InputError(f"{path}: holds a '{self.workflow}' run, "
                             f"a '{expect_workflow}' run is needed here")

    @property
    def attrs(self):
        return dict(self.file.attrs)

    @property
    def config_text(self):
        return self.file["config"][()].decode("utf-8")

    def read(self, name):
        """(array, units) of a dataset; strings come back as str arrays."""
        if name not in self.file:
            raise InputError(f"{self.path}: has no dataset '{name}'")
        dset = self.file[name]
        data = dset[()]
        if isinstance(data, np.ndarray) and data.dtype.kind == "S":
            data = np.char.decode(data, "utf-8")
        elif isinstance(data, bytes):
            data = data.decode("utf-8")
        return data, str(dset.attrs.get("units", ""))

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
