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

from .errors import HpcxError, error_line, print_line

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


def abort_with(exc, comm, where, code=1):
    """Name ``exc`` on stderr (one line, this rank) and end every rank of ``comm`` with exit
    ``code``: for an error inside a collective computation that cannot be unwound (other ranks
    may be waiting for this one)."""
    print_line(f"{error_line(exc, comm.rank)} ({where}; every rank is stopped)")
    abort(comm, code)


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


def raised_on_every_rank(exc, comm):
    """``exc``, marked ``collective`` if ``comm`` spans the whole run (COMM_WORLD): for an error that
    every rank of ``comm`` raises at the same point, decided on values that are the same on every
    rank (allreduced or allgathered).  The CLI then reports it once and ends every rank without
    MPI_Abort; raised on a smaller communicator it stays an error of some ranks (abort)."""
    if comm is not None and comm.size == get_comm().size:
        exc.collective = True
    return exc


def on_root(func, comm, *args, root=0, **kwargs):
    """Call ``func`` on ``root`` only, broadcast its result; errors reach all ranks."""
    result = None
    with all_or_none(comm):
        if comm.rank == root:
            result = func(*args, **kwargs)
    return comm.bcast(result, root=root)


# -- node-shared memory ---------------------------------------------------------

_BCAST_CHUNK = 2 ** 27          # elements per broadcast message (MPI counts are C ints)


class SharedArrays:
    """Read-only arrays held once per node: MPI-3 shared-memory windows of ``comm``'s ranks.

    Create it with :func:`shared_arrays` (collective over ``comm``).  The node communicator is
    ``comm.Split_type(COMM_TYPE_SHARED)``: the ranks *of comm* that share a node's memory, so
    every communicator that uses its own arrays (e.g. a group of ranks of a sweep) has its own
    copy per node.  For each array the lowest rank of ``comm`` on the node (the node root)
    allocates the whole array (``Win.Allocate_shared``), the other ranks allocate 0 bytes and
    map the root's segment (``Win.Shared_query``); the NumPy views are read-only once filled
    (``array``/``arrays`` on the node root, ``copy``, ``concat``).  Without MPI or on a
    one-rank communicator the arrays are plain NumPy arrays (``shared`` is False).

    ``free()`` (collective over ``comm``) releases every window; the views must not be used
    afterwards.  As a context manager the arrays are freed when the block ends, normally or
    by an exception raised on every rank (marked ``collective``, as :func:`all_or_none`
    raises).  An exception raised on some ranks only leaves the windows to the end of the
    process (the CLI aborts the communicator), so that no rank waits in a collective free.
    """

    def __init__(self, comm):
        self.comm = comm
        self.shared = MPI is not None and not isinstance(comm, SerialComm) and comm.size > 1
        self.node = self.leaders = None
        if self.shared:
            self.node = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.rank)
            # the node roots: comm rank 0 is the root of its node and leader 0
            self.leaders = comm.Split(0 if self.node.rank == 0 else MPI.UNDEFINED, comm.rank)
        self._windows, self._views, self._freed = [], [], False
        self.nbytes = 0             # bytes of the arrays (one copy per node)
        self.local_bytes = 0        # bytes this rank allocated for them

    @property
    def node_size(self):
        """Ranks of ``comm`` on this node (1 without shared memory)."""
        return self.node.size if self.shared else 1

    @property
    def node_root(self):
        """True on the rank that holds (and fills) the node's copy."""
        return not self.shared or self.node.rank == 0

    def holds(self, array):
        """True when ``array`` lies in memory of these shared arrays (a view of a window)."""
        return any(np.may_share_memory(array, view) for view in self._views)

    def _allocate(self, specs):
        """{name: writable view on the node root, read-only elsewhere} of {name: (shape, dtype)}."""
        if self._freed:
            raise RuntimeError("SharedArrays used after free()")
        views = {}
        for name, (shape, dtype) in specs.items():
            shape, dtype = tuple(int(s) for s in np.atleast_1d(shape)), np.dtype(dtype)
            count = int(np.prod(shape, dtype=np.int64))
            size = count * dtype.itemsize
            self.nbytes += size
            if not self.shared:
                views[name] = np.zeros(shape, dtype)
                self.local_bytes += size
                continue
            mine = size if self.node.rank == 0 else 0
            win = MPI.Win.Allocate_shared(mine, dtype.itemsize, comm=self.node)
            self._windows.append(win)
            self.local_bytes += mine
            view = np.frombuffer(win.Shared_query(0)[0], dtype=dtype, count=count).reshape(shape)
            view.flags.writeable = self.node.rank == 0
            views[name] = view
        self._views.extend(views.values())
        return views

    def _epoch(self):
        """Open/close an access epoch on every window (memory ordering between the node's ranks)."""
        for win in self._windows:
            win.Fence()

    def _seal(self, views):
        for view in views.values():
            view.flags.writeable = False

    def arrays(self, specs, fill=None):
        """{name: read-only array} of {name: (shape, dtype)}; ``fill(views)`` writes the node's copy
        on each node root.  Collective; an error in ``fill`` is raised on every rank of ``comm``."""
        views = self._allocate(specs)
        error = None
        self._epoch()
        if self.node_root and fill is not None:
            try:
                fill(views)
            except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
                error = exc
        self._epoch()
        self._seal(views)
        with all_or_none(self.comm):
            if error is not None:
                raise error
        return views

    def array(self, shape, dtype, fill=None):
        """One read-only array; ``fill(view)`` writes it on each node root.  Collective."""
        return self.arrays({"a": (shape, dtype)}, None if fill is None else lambda v: fill(v["a"]))["a"]

    def copy(self, array, dtype=None):
        """Node-shared copy of the node root's ``array`` (``dtype`` default: its own; other ranks
        may pass None).  Collective."""
        meta = None
        if self.node_root:
            array = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
            meta = array.shape, array.dtype
        shape, dtype = self.node.bcast(meta, root=0) if self.shared else meta

        def fill(view):
            view[...] = array
        return self.array(shape, dtype, fill)

    def concat(self, local, dtype=None):
        """Concatenation along axis 0 of every rank's ``local`` array in rank order (as
        :func:`allgather_concat`), in node-shared memory: gathered into comm rank 0's copy and
        broadcast to the other nodes' roots, never held whole by the other ranks.  Collective."""
        local = np.ascontiguousarray(local, dtype=dtype)
        if not self.shared:         # the whole already: no copy on one rank
            self.nbytes += local.nbytes
            self.local_bytes += local.nbytes
            return local
        counts = np.array(self.comm.allgather(local.shape[0]), dtype=np.int64)
        inner = int(np.prod(local.shape[1:], dtype=np.int64))
        views = self._allocate({"a": ((int(counts.sum()),) + local.shape[1:], local.dtype)})
        flat = views["a"].reshape(-1)
        self._epoch()
        sizes = counts * inner
        displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        recv = [flat, (sizes.tolist(), displs.tolist())] if self.comm.rank == 0 else None
        self.comm.Gatherv(local.reshape(-1), recv, root=0)
        if self.leaders != MPI.COMM_NULL and self.leaders.size > 1:
            for start in range(0, flat.size, _BCAST_CHUNK):
                self.leaders.Bcast(flat[start:start + _BCAST_CHUNK], root=0)
        self._epoch()
        self._seal(views)
        return views["a"]

    def free(self):
        """Release every window and the node communicators (collective; idempotent)."""
        if self._freed:
            return
        self._freed = True
        self._views = []
        for win in self._windows:
            win.Free()
        self._windows = []
        if self.shared:
            if self.leaders != MPI.COMM_NULL:
                self.leaders.Free()
            self.node.Free()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or getattr(exc, "collective", False):
            self.free()
        return False


def shared_arrays(comm):
    """A :class:`SharedArrays` of ``comm`` (collective): arrays stored once per node."""
    return SharedArrays(comm)


def shared_array(shape, dtype, comm, fill=None):
    """(read-only array stored once per node, its :class:`SharedArrays` handle).

    ``fill(view)`` writes the array on the node root (each node's lowest rank of ``comm``);
    ``handle.free()`` (collective) releases it.  A plain NumPy array on one rank.
    """
    handle = shared_arrays(comm)
    try:
        return handle.array(shape, dtype, fill), handle
    except Exception as exc:
        if getattr(exc, "collective", False):
            handle.free()
        raise
