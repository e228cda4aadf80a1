"""The run file: one HDF5 file per run, written atomically and collectively.

Layout (see docs/output.md)::

    /            attrs: hpcx_version, format_version, git_commit, workflow,
                 created, finished, mpi_size, hostnames, command_line
    /config      the config text as given (string dataset, attr ``source``)
    /timings     per-phase wall seconds (max over ranks)
    /results/... the workflow's datasets, each with a ``units`` attr

Rank 0 assembles the file in memory (HDF5 on a ``BytesIO``; distributed
arrays are gathered to it) and writes the finished image to
``NAME.h5.partial`` with plain file writes and an ``fsync``; every rank agrees
on the outcome before rank 0 renames it to ``NAME.h5``.  So the HDF5 library
never sees a failing disk, and an ``OSError`` on the one rank that touches
the disk (ENOSPC, EDQUOT, EIO, ...) becomes one :class:`OutputWriteError`
naming the path and the errno on every rank: nobody waits in a collective
call for a rank that failed.  On such an error the incomplete ``.partial`` is
removed and an earlier ``NAME.h5`` is left untouched; on any other error the
image written so far goes to ``.partial`` (``finished`` empty).  A file
without ``.partial`` is always complete.  Run files hold results, not raw
state (megabytes), so building them in rank 0's memory costs little.
"""

from __future__ import annotations

import datetime as _dt
import errno as _errno
import functools
import io
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import InputError, OutputExistsError, OutputWriteError
from ..parallel import all_or_none, max_over_ranks, mpi_available

FORMAT_VERSION = 1
PARTIAL_SUFFIX = ".partial"
_CHUNK = 64 * 2 ** 20          # bytes per write() call of a file image


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
    """Strings become fixed-length bytes (portable to every HDF5 reader, parallel ones included)."""
    arr = np.asarray(data)
    if arr.dtype.kind == "U":
        arr = np.char.encode(arr, "utf-8")
    return arr


# -- output paths and plain file writes ----------------------------------------------

def os_error_text(exc):
    """'[Errno 28 ENOSPC] No space left on device' for an OSError (errno name included)."""
    code = getattr(exc, "errno", None)
    name = _errno.errorcode.get(code, "") if code is not None else ""
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"[Errno {code} {name}] {reason}" if code is not None else reason


def check_output_path(path, overwrite, protect=()):
    """Refuse an output that cannot or must not be written, before any work.

    Refused: a name ending in ``.partial``; an existing file without
    ``overwrite``; a directory (even with ``overwrite``); any file of
    ``protect`` (the config file itself); a missing directory, or one where no file can be created
    (a probe file is made and removed): :class:`OutputExistsError` (exit 2), but
    :class:`OutputWriteError` (exit 74) when the probe fails for full or failing storage (ENOSPC,
    EDQUOT, EIO, EFBIG), which is not the output's fault.
    """
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise OutputExistsError(f"{path}: output name must not end in {PARTIAL_SUFFIX}")
    if path.is_dir():
        raise OutputExistsError(f"{path} is a directory; give a file name for the run file, "
                                f"e.g. {path / 'run.h5'}")
    partial = Path(str(path) + PARTIAL_SUFFIX)
    if partial.is_dir():
        raise OutputExistsError(f"{partial} is a directory, where the unfinished run file goes; move it away")
    for other in protect:
        if other is not None and _same_file(path, other):
            raise OutputExistsError(f"{path} is the config file itself; give another output name")
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} exists; pass --overwrite to replace it (it is left untouched)")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise OutputExistsError(f"{path}: directory {parent} does not exist")
    try:        # a probe, not os.access: that says yes to root on NFS with root squash or on /proc
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:       # the place is right, the storage is not: exit 74
            raise OutputWriteError(f"{path}: cannot create files in {parent}: {os_error_text(exc)}") from None
        raise OutputExistsError(f"{path}: cannot create files in {parent} ({exc.strerror})") from None
    return path


#: errnos of storage that is full or failing (exit 74), not of a wrong or forbidden place (exit 2)
_STORAGE_ERRNOS = {_errno.ENOSPC, _errno.EDQUOT, _errno.EIO, _errno.EFBIG}


def _same_file(a, b):
    a, b = Path(a), Path(b)
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def write_image(handle, path, image, what="the run file"):
    """Write ``image`` (bytes) through the open binary ``handle`` of ``path``, flush and fsync.

    Rank-local.  Refuses early when the file system reports less free space
    than the image needs; any OSError becomes :class:`OutputWriteError`
    naming ``path`` and the errno.
    """
    try:
        free = _free_bytes(Path(path).resolve().parent)
        if free is not None and free < len(image):
            raise OSError(_errno.ENOSPC, f"No space left on device ({len(image)} bytes needed, "
                                         f"{free} free)")
        view = memoryview(image)
        for start in range(0, len(view), _CHUNK):
            handle.write(view[start:start + _CHUNK])
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as exc:
        raise OutputWriteError(f"{path}: cannot write {what}: {os_error_text(exc)}") from None


def save_hdf5(path, fill):
    """Write a small HDF5 file (a checkpoint) atomically: ``fill(h5file)`` builds it in memory.

    Rank-local (call it inside :func:`hpcx.parallel.all_or_none` on the
    writing rank).  The image goes to ``PATH.tmp`` with plain writes and an
    fsync, then replaces ``path``; on any OSError ``path`` is left as it was,
    ``PATH.tmp`` is removed and :class:`OutputWriteError` names the path and
    the errno.  The HDF5 library never writes to the disk itself.
    """
    path = Path(path)
    buffer = io.BytesIO()
    with _h5py().File(buffer, "w") as h5file:
        fill(h5file)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            write_image(handle, tmp, buffer.getbuffer(), what="the file")
        os.replace(tmp, path)
    except OutputWriteError:
        _remove(tmp)
        raise
    except OSError as exc:
        _remove(tmp)
        raise OutputWriteError(f"{path}: cannot write: {os_error_text(exc)}") from None
    return path


def _free_bytes(directory):
    try:
        st = os.statvfs(directory)
    except (OSError, AttributeError):
        return None
    return st.f_bavail * st.f_frsize


def _fsync_directory(directory):
    """Make a rename durable (best effort: some file systems refuse fsync on directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class RunWriter:
    """Collective writer of one run file.  All ranks call every method.

    Rank 0 holds the file in memory; the other ranks only take part in
    gathers and in the agreement of :meth:`finish`.  An error inside a write
    on rank 0 is kept and raised on every rank by :meth:`finish`, so no rank
    is left waiting.  Use as a context manager: on an exception the image
    written so far goes to ``.partial`` (removed again when the error was
    the disk's); the final name is only created by :meth:`finish`.
    """

    parallel = False       # the file is assembled on rank 0 (no mpio): see the module docstring

    def __init__(self, path, comm, *, workflow, config_text, config_source,
                 overwrite=False, command_line=None):
        self.comm = comm
        self.final = Path(path)
        self.partial = Path(str(path) + PARTIAL_SUFFIX)
        self.overwrite = overwrite
        self.file = None
        self.timings = {}
        self._handle = self._buffer = self._error = None
        with all_or_none(comm):
            if comm.rank == 0:
                check_output_path(self.final, overwrite)
                self._open()
        hostnames = sorted(set(comm.allgather(socket.gethostname())))
        self._set_attrs("/", {
            "hpcx_version": __version__, "format_version": FORMAT_VERSION,
            "git_commit": git_commit(), "workflow": workflow, "created": _now(),
            "finished": "", "mpi_size": comm.size, "hostnames": ",".join(hostnames),
            "command_line": " ".join(command_line if command_line is not None else sys.argv),
            "h5py_mpio": False,
        })
        self.write("config", np.bytes_(config_text.encode("utf-8")), units="",
                   attrs={"source": str(config_source)})

    def _open(self):
        """Rank 0: create ``.partial`` (a name and a directory that work, checked now) and the image."""
        try:
            self._handle = open(self.partial, "wb")  # noqa: SIM115 - closed in finish/close
        except OSError as exc:
            raise OutputWriteError(f"{self.partial}: cannot create the run file: "
                                   f"{os_error_text(exc)}") from None
        self._buffer = io.BytesIO()
        self.file = _h5py().File(self._buffer, "w")

    # -- context manager ---------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.close(keep_partial=not isinstance(exc, OutputWriteError))
        return False

    # -- writing -------------------------------------------------------------
    @property
    def _writes(self):
        """True on the rank that holds the file (rank 0) while no write has failed."""
        return self.file is not None and self._error is None

    def _guard(self, func, *args):
        """Run a rank-0 write; keep its error for :meth:`finish` instead of leaving the others waiting."""
        if not self._writes:
            return
        try:
            func(*args)
        except Exception as exc:  # noqa: BLE001 - re-raised on every rank by finish()
            self._error = exc

    def _set_attrs(self, name, attrs):
        def put():
            obj = self.file[name] if name != "/" else self.file
            for key, value in attrs.items():
                obj.attrs[key] = _as_hdf5(value) if isinstance(value, (list, tuple)) else value
        self._guard(put)

    def write(self, name, data, units, attrs=None):
        """Write a dataset whose full value every rank holds (replicated data).

        ``units`` is stored as attr (use "" for dimensionless, "label" for text).
        """
        arr = _as_hdf5(data)
        self._guard(lambda: self.file.create_dataset(name, data=arr))
        self._set_attrs(name, {"units": units, **(attrs or {})})

    def write_distributed(self, name, local, offset, global_shape, units, attrs=None):
        """Write an array split along axis 0: this rank holds rows [offset, offset+len)."""
        local = _as_hdf5(local)
        parts = self.comm.gather((offset, local), root=0)

        def put():
            dset = self.file.create_dataset(name, shape=tuple(global_shape), dtype=local.dtype)
            for off, block in parts:
                dset[off:off + block.shape[0]] = block
        self._guard(put)
        self._set_attrs(name, {"units": units, **(attrs or {})})

    def group(self, name, attrs=None):
        self._guard(lambda: self.file.require_group(name))
        self._set_attrs(name, attrs or {})

    def set_attrs(self, name, **attrs):
        self._set_attrs(name, attrs)

    # -- finishing -----------------------------------------------------------
    def _image(self):
        """Close the in-memory HDF5 file; its bytes (rank 0)."""
        self.file.close()
        self.file = None
        return self._buffer.getbuffer()

    def close(self, keep_partial=True):
        """Release everything (idempotent).  ``keep_partial``: write the image so far to
        ``.partial`` for inspection (best effort); otherwise remove ``.partial``."""
        image = None
        if self.file is not None:
            try:
                image = self._image()
            except Exception:  # noqa: BLE001 - an unusable image is simply not kept
                self.file = image = None
        if self._handle is not None:
            try:
                if keep_partial and image is not None:
                    self._handle.write(image)
                self._handle.close()
            except OSError:
                keep_partial = False
            self._handle = None
            if not keep_partial:
                _remove(self.partial)

    def finish(self, timings):
        """Write per-phase wall times (max over ranks, kept in ``self.timings``), write the
        file, rename ``.partial``; every rank raises if any step failed on any rank.

        ``timings`` is this rank's {phase: seconds}; every rank must pass the
        same phase names.
        """
        self.timings = {phase: max_over_ranks(float(timings[phase]), self.comm)
                        for phase in sorted(timings)}
        for phase, seconds in self.timings.items():
            self.write(f"timings/{phase}", seconds, units="s")
        self._set_attrs("/", {"finished": _now()})
        with all_or_none(self.comm):
            if self.comm.rank == 0:
                self._write_partial()
        with all_or_none(self.comm):
            if self.comm.rank == 0:
                self._rename()
        return self.final

    def _write_partial(self):
        """Rank 0: raise a kept write error, else write the image to ``.partial`` and close it."""
        if self._error is not None:
            raise self._error
        try:
            write_image(self._handle, self.partial, self._image())
            handle, self._handle = self._handle, None
            handle.close()
        except OutputWriteError:
            self.close(keep_partial=False)
            raise
        except OSError as exc:            # close() of a network file system reports late errors
            self.close(keep_partial=False)
            raise OutputWriteError(f"{self.partial}: cannot write the run file: "
                                   f"{os_error_text(exc)}") from None

    def _rename(self):
        if self.final.exists() and not self.overwrite:
            raise OutputExistsError(
                f"{self.final} appeared during the run; result left in {self.partial}")
        try:
            os.replace(self.partial, self.final)
        except OSError as exc:
            raise OutputWriteError(f"{self.final}: cannot rename {self.partial.name} to it: "
                                   f"{os_error_text(exc)}; the finished run is in {self.partial}") from None
        _fsync_directory(self.final.resolve().parent)


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


class RunFile:
    """Read access to a finished run file (``input = "earlier_run.h5"``); ``allow_partial``
    also opens an unfinished one (``NAME.h5.partial``, found as well when ``NAME.h5`` is given
    and only the partial file exists), for inspection only."""

    def __init__(self, path, expect_workflow=None, allow_partial=False):
        path = Path(path)
        if allow_partial and not path.exists() and Path(str(path) + PARTIAL_SUFFIX).exists():
            path = Path(str(path) + PARTIAL_SUFFIX)
        self.path = path
        if not path.exists():
            hint = ""
            if Path(str(path) + PARTIAL_SUFFIX).exists():
                hint = f" (only {path}{PARTIAL_SUFFIX} exists: that run did not finish)"
            raise InputError(f"{path}: no such run file{hint}")
        if path.name.endswith(PARTIAL_SUFFIX) and not allow_partial:
            raise InputError(f"{path}: an unfinished run (.partial) holds no usable result; `hpcx show {path}` "
                             f"describes it")
        if path.is_dir():
            raise InputError(f"{path}: a directory, not a run file")
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
