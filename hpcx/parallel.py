"""Every MPI call of hpcx: communicators, block decomposition, collectives, error handling.

This is the only module that imports mpi4py.  Every public entry point of hpcx
takes ``comm`` (default: ``MPI.COMM_WORLD`` when mpi4py is importable, else a
:class:`SerialComm`); library code calls the collectives below instead of the
mpi4py methods, so it runs unchanged on one rank without MPI.  Nothing else in
the package touches ``COMM_WORLD``.
"""

from __future__ import annotations

import contextlib
import pickle

import numpy as np

from .errors import HpcxError

try:  # mpi4py is optional: without it hpcx runs serially
    from mpi4py import MPI
except ImportError:  # pragma: no cover - exercised only without mpi4py
    MPI = None


class SerialComm:
    """A one-rank stand-in with the subset of the mpi4py interface hpcx uses."""

    rank = 0
    size = 1

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def bcast(self, obj, root=0):
        return obj

    def gather(self, obj, root=0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def allreduce(self, obj, op=None):
        return obj

    def Allreduce(self, sendbuf, recvbuf, op=None):
        recvbuf[...] = sendbuf

    def Barrier(self):
        pass

    def Split(self, color=0, key=0):
        return self

    def Abort(self, errorcode=1):
        raise SystemExit(errorcode)


def get_comm(comm=None):
    """Return ``comm``, or COMM_WORLD, or a serial stand-in without mpi4py."""
    if comm is not None:
        return comm
    if MPI is not None:
        return MPI.COMM_WORLD
    return SerialComm()


def mpi_available():
    return MPI is not None


def block_range(n, size, rank):
    """[start, stop) of ``rank``'s block when ``n`` items are split over ``size``.

    The first ``n % size`` ranks get one item more, as PETSc's default layout.
    """
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def local_items(items, comm):
    """The contiguous block of ``items`` this rank owns, with its global offset."""
    start, stop = block_range(len(items), comm.size, comm.rank)
    return start, list(items)[start:stop]


# -- collectives ---------------------------------------------------------------
# Each is a no-op (or a copy) on one rank, so serial runs never need mpi4py.

def _op(name):
    return getattr(MPI, name) if MPI is not None else None


def allgather_blocks(local, comm):
    """Concatenate per-rank Python lists in rank order (global item order)."""
    out = []
    for part in comm.allgather(local):
        out.extend(part)
    return out


def allgather_concat(local, comm, axis=0):
    """Concatenate per-rank NumPy arrays along ``axis`` in rank order (every rank gets the whole)."""
    local = np.asarray(local)
    if comm.size == 1:
        return local
    return np.concatenate(comm.allgather(local), axis=axis)


def gather_to_root(obj, comm, root=0):
    """List of every rank's ``obj`` on ``root`` (rank order), None elsewhere."""
    return comm.gather(obj, root=root)


def broadcast(obj, comm, root=0):
    """``root``'s ``obj`` on every rank."""
    return comm.bcast(obj, root=root)


def allreduce_sum(value, comm):
    """Sum of a Python number or NumPy array over ranks (pickle-based, any shape or dtype)."""
    if comm.size == 1:
        return value
    return comm.allreduce(value, op=_op("SUM"))


def max_over_ranks(value, comm):
    """Largest ``value`` over ranks (numbers, or arrays elementwise)."""
    if comm.size == 1:
        return value
    return comm.allreduce(value, op=_op("MAX"))


def min_over_ranks(value, comm):
    """Smallest ``value`` over ranks (numbers, or arrays elementwise)."""
    if comm.size == 1:
        return value
    return comm.allreduce(value, op=_op("MIN"))


def sum_over_ranks(array, comm):
    """Elementwise sum of a NumPy array over ranks (same shape on each rank; buffer-based)."""
    array = np.ascontiguousarray(array)
    if comm.size == 1:
        return array.copy()
    out = np.empty_like(array)
    comm.Allreduce(array, out, op=_op("SUM"))
    return out


def alltoallv(send, send_counts, send_displs, recv, recv_counts, recv_displs, comm):
    """Complex128 all-to-all with per-rank counts and displacements (in elements)."""
    if comm.size == 1:
        n = int(send_counts[0])
        recv[int(recv_displs[0]):int(recv_displs[0]) + n] = send[int(send_displs[0]):int(send_displs[0]) + n]
        return recv
    comm.Alltoallv([send, (send_counts, send_displs), MPI.C_DOUBLE_COMPLEX],
                   [recv, (recv_counts, recv_displs), MPI.C_DOUBLE_COMPLEX])
    return recv


class Pending:
    """A started non-blocking exchange: ``test()`` lets MPI move data (True when finished),
    ``wait()`` finishes it and returns the receive buffer.  Call ``test()`` between pieces of
    computation to overlap them with the transfer (MPI progresses inside its calls)."""

    def __init__(self, request, recv):
        self._request = request
        self.recv = recv

    def test(self):
        if self._request is None:
            return True
        done = self._request.Test()
        if done:
            self._request = None
        return done

    def wait(self):
        if self._request is not None:
            self._request.Wait()
            self._request = None
        return self.recv


_MPI_COMPLEX = {np.dtype(np.complex128): "C_DOUBLE_COMPLEX", np.dtype(np.complex64): "C_FLOAT_COMPLEX",
                np.dtype(np.float64): "DOUBLE", np.dtype(np.float32): "FLOAT"}


def ialltoallv(send, send_counts, send_displs, recv, recv_counts, recv_displs, comm):
    """Non-blocking all-to-all with per-rank counts and displacements (in elements) of complex128,
    complex64, float64 or float32 buffers (``send`` and ``recv`` of one dtype, contiguous): a
    :class:`Pending` whose ``wait()`` returns ``recv``.  Neither buffer may be touched before then."""
    send_counts, send_displs, recv_counts, recv_displs = (np.asarray(a, dtype=np.int64).tolist() for a in
                                                          (send_counts, send_displs, recv_counts, recv_displs))
    if comm.size == 1:
        n = int(send_counts[0])
        recv[recv_displs[0]:recv_displs[0] + n] = send[send_displs[0]:send_displs[0] + n]
        return Pending(None, recv)
    if send.dtype != recv.dtype or send.dtype not in _MPI_COMPLEX:
        raise TypeError(f"ialltoallv: buffers of {send.dtype} / {recv.dtype}; one of "
                        f"{sorted(str(d) for d in _MPI_COMPLEX)} expected")
    kind = getattr(MPI, _MPI_COMPLEX[send.dtype])
    request = comm.Ialltoallv([send, (send_counts, send_displs), kind], [recv, (recv_counts, recv_displs), kind])
    return Pending(request, recv)


def split(comm, color, key=None):
    """Sub-communicator of the ranks with the same ``color`` (ordered by ``key``, default rank)."""
    if comm.size == 1:
        return comm
    return comm.Split(color, comm.rank if key is None else key)


def barrier(comm):
    comm.Barrier()


def abort(comm, code):
    """End every rank of ``comm`` with exit ``code`` (for errors raised on some ranks only)."""
    comm.Abort(code)


def mpi_library():
    """(library version line, 'major.minor' of the MPI standard) or None without mpi4py."""
    if MPI is None:
        return None
    return MPI.Get_library_version().strip().splitlines()[0], "%d.%d" % MPI.Get_version()


class RemoteError(HpcxError):
    """Raised on ranks that did not fail themselves when another rank failed."""


def _portable(exc):
    try:
        pickle.loads(pickle.dumps(exc))  # must survive the round trip to other ranks
        return exc
    except Exception:
        return RemoteError(f"{type(exc).__name__}: {exc}")


@contextlib.contextmanager
def all_or_none(comm):
    """Run a block on every rank; if any rank raises, every rank raises.

    The lowest failing rank's exception is re-raised everywhere (marked
    ``collective``), so no rank waits forever in a later collective call.
    Use it around work that may fail on some ranks only (file I/O on rank 0,
    per-rank computations); every rank must reach the end of the block.
    """
    error = None
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - we re-raise below
        error = exc
    if comm.size == 1:
        if error is not None:
            raise error
        return
    errors = comm.allgather(None if error is None else _portable(error))
    failed = [(rank, e) for rank, e in enumerate(errors) if e is not None]
    if not failed:
        return
    rank, first = failed[0]
    exc = error if error is not None and rank == comm.rank else first
    if not isinstance(exc, HpcxError):
        exc = RemoteError(f"rank {rank}: {type(first).__name__}: {first}")
    exc.collective = True
    if exc is error:
        raise exc
    raise exc from None


def on_root(func, comm, *args, root=0, **kwargs):
    """Call ``func`` on ``root`` only, broadcast its result; errors reach all ranks."""
    result = None
    with all_or_none(comm):
        if comm.rank == root:
            result = func(*args, **kwargs)
    return comm.bcast(result, root=root)
