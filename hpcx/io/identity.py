"""Identity of an input run file's content: what a checkpoint fingerprint records of the run files it used.

A checkpoint made with one input must not be resumed with another (the particles of a
Monte Carlo index the states of the tables they were made on), so the fingerprint of a
workflow that reads a run file includes :func:`run_file_identity` of that file
(:func:`hpcx.io.checkpoint.fingerprint`).

The identity is the SHA-256 of the file's root attributes (sorted by name), its
``/config`` text and its size in bytes.  :class:`hpcx.io.RunWriter` writes a run file once
and never changes it, and the root attributes name the run that wrote it: ``created`` and
``finished`` (UTC, to the second), ``git_commit``, ``hpcx_version``, ``mpi_size``,
``hostnames`` and ``command_line``; with the config text they differ between any two
runs except reruns of one config by one code in the same second, whose tables are the same
(to the round-off of the thread count: docs/reliability.md, reproducibility).  Another
file put in its place (another grid, another coupling, an older run) therefore has another
identity.  Reading them costs one small HDF5 read whatever the size of the tables; a hash
of the whole file would read the tables a second time, gigabytes for fine grids (minutes
at the start of every rerun on a parallel file system).  Neither the modification time
nor the inode enter, so a copy of the same file (staged to node-local disk, moved to
another directory) keeps its identity and its checkpoints.  A file edited in place,
keeping its size and attributes, keeps its identity too; hpcx itself never does that.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["run_file_identity"]


def _plain(value):
    """Bytes that stand for an attribute value (numbers by dtype, shape and raw bytes; text as UTF-8)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind in "OUS":
        return repr(arr.tolist()).encode("utf-8")
    return f"{arr.dtype.str}{arr.shape}".encode() + np.ascontiguousarray(arr).tobytes()


def run_file_identity(path):
    """SHA-256 (hex) of the root attributes, ``/config`` text and size (bytes) of the hpcx run file
    ``path`` (see the module docstring); InputError naming the file when it cannot be read."""
    import h5py
    path = Path(path)
    digest = hashlib.sha256()
    try:
        digest.update(b"size %d\n" % os.stat(path).st_size)
        with h5py.File(path, "r") as f:
            for key in sorted(f.attrs):
                digest.update(key.encode("utf-8") + b"=" + _plain(f.attrs[key]) + b"\n")
            if "config" in f:
                digest.update(b"config=" + _plain(f["config"][()]))
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: cannot read the run file's identity ({type(exc).__name__}: {exc})") from None
    return digest.hexdigest()
