"""Restart files of long runs: ``<output>.checkpoint/<name>.h5`` (``RunContext.checkpoint_dir``).

A checkpoint holds attributes (numbers, strings) and trees (nested dicts of arrays
and string tuples), plus the ``fingerprint`` of the parameters that produced it and, for
``hpcx show``, what it holds (``hpcx_checkpoint``, the text of its log line) and when it was
written (``written``, UTC).  The fingerprint (:func:`fingerprint`) covers the parameters
and, for a workflow that reads run files of earlier runs, the identity of those files'
content (:func:`hpcx.io.identity.run_file_identity`): the parameters hold only their paths.
Rank 0 of the communicator writes it (:func:`hpcx.io.save_hdf5`: an in-memory image
written to ``<name>.h5.tmp`` and renamed over the old one), so a checkpoint on disk is
always complete; a write error (disk full, a checkpoint directory that cannot be created)
reaches every rank as one :class:`~hpcx.errors.OutputWriteError` naming the path and errno.
Reading it back (:meth:`Checkpoint.load`) checks the fingerprint and, with ``validate``,
what the checkpoint holds: a checkpoint of other parameters or inputs (foreign), one that
cannot be read (truncated, not HDF5) or one whose content the workflow refuses (fields
missing, shapes, indices or counters that do not fit: corrupt) is logged by name, moved
aside to ``<output>.checkpoint-<name>.h5.foreign-<time>`` / ``...corrupt-<time>`` (beside
the directory, so it outlives it), and the run starts afresh.  Rank 0 decides and every
rank gets its answer.  :func:`hpcx.api.run` removes the directory once the run file is
finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..errors import OutputWriteError
from ..parallel import all_or_none, barrier, on_root
from . import _now, os_error_text, save_hdf5
from .identity import run_file_identity

__all__ = ["Checkpoint", "fingerprint", "remove", "write_tree", "read_tree", "BOOKKEEPING"]

BOOKKEEPING = ("fingerprint", "hpcx_checkpoint", "written")      # attributes that are not the workflow's


def fingerprint(params, inputs=(), comm=None):
    """SHA-256 (hex) of ``repr(params)`` (a frozen dataclass of plain values) and of the content
    identity (:func:`~hpcx.io.identity.run_file_identity`) of every run file in ``inputs`` (paths
    the run reads, in a fixed order; None entries are skipped): equal parameters and inputs,
    equal print.  Without inputs it is the digest of ``repr(params)`` alone.  With ``comm`` the
    files are read on its rank 0 only and every rank gets the digest (collective); an
    unreadable file is an InputError naming it (on every rank of ``comm``)."""
    paths = [str(path) for path in inputs if path is not None]
    if comm is not None and paths:
        return on_root(fingerprint, comm, params, paths)
    digest = hashlib.sha256(repr(params).encode("utf-8"))
    for path in paths:
        digest.update(f"\ninput {run_file_identity(path)}".encode())     # the paths are in the parameters
    return digest.hexdigest()


def write_tree(group, tree):
    """Write a nested dict of arrays, numbers, strings and string tuples into an h5py group."""
    for key, value in tree.items():
        if isinstance(value, dict):
            write_tree(group.create_group(key), value)
        elif isinstance(value, str):
            group.create_dataset(key, data=value.encode("utf-8"))
        elif isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
            group.create_dataset(key, data=np.char.encode(np.asarray(value), "utf-8"))
        else:
            group.create_dataset(key, data=np.asarray(value))


def read_tree(group):
    """The nested dict :func:`write_tree` wrote (strings back as str, string tuples as tuples of str)."""
    import h5py
    out = {}
    for key, obj in group.items():
        if isinstance(obj, h5py.Group):
            out[key] = read_tree(obj)
        else:
            data = obj[()]
            if isinstance(data, np.ndarray) and data.dtype.kind == "S":
                data = tuple(np.char.decode(data, "utf-8").tolist())
            elif isinstance(data, bytes):
                data = data.decode("utf-8")
            out[key] = data
    return out


class Checkpoint:
    """The restart file ``directory/<name>.h5`` of one piece of work, owned by rank 0 of ``comm``."""

    def __init__(self, directory, name, fingerprint, comm, log):
        self.path = Path(directory) / f"{name}.h5"
        self.fingerprint, self.comm, self.log = fingerprint, comm, log

    def load(self, validate=None):
        """None (nothing usable, see the module docstring) or {"attrs": {...}, tree name: tree}.

        ``validate(state)``, if given, checks what a checkpoint of the right fingerprint holds
        before it is used; a ValueError, KeyError, TypeError or IndexError it raises marks the
        checkpoint corrupt (moved aside, None returned).  Collective: rank 0 reads and decides."""
        return on_root(self._load, self.comm, validate)

    def _load(self, validate=None):
        if not self.path.exists():
            return None
        import h5py
        try:
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("fingerprint", "") != self.fingerprint:
                    return self._set_aside("foreign", "it belongs to other parameters or input files")
                state = {"attrs": {k: v for k, v in f.attrs.items() if k not in BOOKKEEPING}}
                for name in f:
                    state[name] = read_tree(f[name])
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            return self._set_aside("corrupt", f"it cannot be read ({type(exc).__name__}: {exc})")
        if validate is not None:
            try:
                validate(state)
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                what = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
                return self._set_aside("corrupt", f"its content is damaged ({what})")
        return state

    def _set_aside(self, kind, why):
        # next to the checkpoint directory, which is removed when the run finishes
        aside = self.path.parent.with_name(
            f"{self.path.parent.name}-{self.path.name}.{kind}-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            raise OutputWriteError(f"{self.path}: cannot move the unusable checkpoint aside to {aside.name} "
                                   f"({why}): {os_error_text(exc)}") from None
        self.log.warning("checkpoint %s not used: %s; moved to %s, starting afresh", self.path, why, aside)
        return None

    def save(self, attrs, trees, what=""):
        """Write ``attrs`` and ``trees`` (rank 0; collective, errors on every rank); logs one line."""
        with all_or_none(self.comm):
            if self.comm.rank == 0:
                self._write(attrs, trees, what)
        self.log.info("checkpoint written: %s%s", self.path, f" ({what})" if what else "")

    def _write(self, attrs, trees, what):
        def fill(f):
            f.attrs["fingerprint"] = self.fingerprint
            f.attrs["hpcx_checkpoint"] = what
            f.attrs["written"] = _now()
            for key, value in attrs.items():
                f.attrs[key] = value
            for name, tree in trees.items():
                write_tree(f.create_group(name), tree)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:          # no inodes, read-only, a file of that name: as a failed write
            raise OutputWriteError(f"{self.path.parent}: cannot create the checkpoint directory: "
                                   f"{os_error_text(exc)}") from None
        try:
            save_hdf5(self.path, fill)
        except OutputWriteError:
            with contextlib.suppress(OSError):      # a directory left empty would look like a stopped run
                self.path.parent.rmdir()
            raise


def remove(directory, comm):
    """Remove a checkpoint directory once every rank of ``comm`` is done with it.  Collective."""
    barrier(comm)
    with all_or_none(comm):
        if comm.rank == 0 and directory is not None and Path(directory).exists():
            shutil.rmtree(directory, ignore_errors=True)
