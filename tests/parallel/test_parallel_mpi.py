"""Collectives and collective error handling (make test runs these under mpirun -n 2 and -n 3)."""

import numpy as np
import pytest

from hpcx.errors import InputError
from hpcx.parallel import (
    RemoteError,
    all_or_none,
    allgather_concat,
    allreduce_sum,
    alltoallv,
    ialltoallv,
    max_over_ranks,
    min_over_ranks,
    on_root,
    shared_array,
    shared_arrays,
    split,
    sum_over_ranks,
)

pytestmark = pytest.mark.mpi


def test_error_on_one_rank_reaches_all(comm):
    assert comm.size >= 2
    with pytest.raises((InputError, RemoteError)) as info:
        with all_or_none(comm):
            if comm.rank == 1:
                raise InputError("only rank 1 failed")
    assert "only rank 1 failed" in str(info.value)
    assert info.value.collective
    comm.Barrier()  # both ranks get here: nobody hangs


def test_on_root_broadcasts(comm):
    assert on_root(lambda: comm.rank + 10, comm) == 10


def test_sum_over_ranks(comm):
    n = comm.size
    total = sum_over_ranks(np.array([comm.rank + 1.0, 2.0]), comm)
    np.testing.assert_array_equal(total, [n * (n + 1) / 2, 2.0 * n])


def test_collectives(comm):
    n = comm.size
    assert allreduce_sum(comm.rank + 1, comm) == n * (n + 1) // 2
    assert max_over_ranks(comm.rank, comm) == n - 1 and min_over_ranks(comm.rank, comm) == 0
    np.testing.assert_array_equal(allgather_concat(np.full(comm.rank + 1, comm.rank), comm),
                                  np.repeat(np.arange(n), np.arange(1, n + 1)))
    # every rank sends (r + 1) values to every rank: rank r receives (s + 1) values from each s
    counts = np.full(n, comm.rank + 1)
    send = np.full(n * (comm.rank + 1), comm.rank + 0.5j)
    rcounts = np.arange(1, n + 1)
    recv = np.empty(rcounts.sum(), complex)
    alltoallv(send, counts, np.arange(n) * (comm.rank + 1), recv, rcounts,
              np.concatenate([[0], np.cumsum(rcounts)[:-1]]), comm)
    np.testing.assert_array_equal(recv, np.repeat(np.arange(n) + 0.5j, rcounts))


# -- the collective stop flag (hpcx.stopping) ------------------------------------------------

def test_a_stop_request_on_one_rank_is_seen_by_all_at_the_same_safe_point(comm):
    from hpcx.parallel import split
    from hpcx.stopping import StopFlag

    class Clock:                 # each rank's own time, drifting apart, advancing per call
        now = 0.0

        def __call__(self):
            self.now += 0.05 * (1 + comm.rank)
            return self.now

    flag = StopFlag(comm, interval=1.0, clock=Clock())
    for step in range(400):
        if comm.rank == comm.size - 1 and step == 37:
            flag.request()       # only the last rank got the signal
        if flag():
            break
    steps = comm.allgather(step)
    assert len(set(steps)) == 1 and 37 <= steps[0] < 400, steps
    # a sub-communicator agrees on its own, independently of the others
    group = split(comm, comm.rank % 2)
    sub = StopFlag(comm, clock=Clock())
    if comm.rank == 0:
        sub.request()
    seen = [sub(group) for _ in range(5)][-1]
    assert seen == (comm.rank % 2 == 0)
    comm.Barrier()


def test_the_last_safe_point_of_a_loop_agrees_whatever_the_stride(comm):
    from hpcx.stopping import StopFlag

    class Clock:                 # fast loop steps: the flag agrees only every few calls
        now = 0.0

        def __call__(self):
            self.now += 0.01
            return self.now

    flag = StopFlag(comm, interval=1.0, clock=Clock())
    seen = [flag() for _ in range(20)]
    assert not any(seen) and flag._agreements[id(comm)].stride > 1
    if comm.rank == 0:
        flag.request()           # a signal during the last item of the loop
    assert flag(final=False) is False or flag._agreements[id(comm)].stride == 1
    assert flag(final=True) is True                    # the loop's last poll never skips the agreement


# -- node-shared arrays (MPI-3 shared-memory windows) ---------------------------------

def test_shared_array_is_one_copy_per_node(comm):
    # the node root allocates and fills the whole array; the other ranks allocate nothing and
    # read the root's values through their mapping of its segment
    values = np.arange(1000.0) ** 0.5
    view, handle = shared_array(values.shape, float, comm, fill=lambda v: v.__setitem__(Ellipsis, values))
    try:
        assert handle.shared and handle.node_size == comm.size       # mpirun on one machine
        np.testing.assert_array_equal(view, values)
        assert not view.flags.writeable and handle.holds(view)
        assert handle.nbytes == values.nbytes
        assert handle.local_bytes == (values.nbytes if comm.rank == 0 else 0)
        assert sum_over_ranks(np.array([handle.local_bytes]), comm)[0] == values.nbytes
    finally:
        handle.free()
    handle.free()                                                   # idempotent


def test_shared_concat_equals_allgather_in_rank_order(comm):
    # rank r contributes r + 1 rows of 3 int64 values: the shared concatenation equals allgather_concat
    local = np.arange(3 * (comm.rank + 1), dtype=np.int64).reshape(-1, 3) + 100 * comm.rank
    with shared_arrays(comm) as arena:
        whole = arena.concat(local)
        np.testing.assert_array_equal(whole, allgather_concat(local, comm))
        assert arena.holds(whole) and not whole.flags.writeable
        copy = arena.copy(np.linspace(0.0, 1.0, 7) if comm.rank == 0 else None)
        np.testing.assert_array_equal(copy, np.linspace(0.0, 1.0, 7))
        assert arena.local_bytes == (whole.nbytes + copy.nbytes if comm.rank == 0 else 0)


def test_shared_arrays_follow_the_communicator_that_uses_them(comm):
    # groups of a split communicator each hold their own copy per node (their own values)
    color = comm.rank % 2
    sub = split(comm, color)
    with shared_arrays(sub) as arena:
        a = arena.array((5,), np.int64, fill=lambda v: v.__setitem__(Ellipsis, color + np.arange(5)))
        np.testing.assert_array_equal(a, color + np.arange(5))
        assert arena.node_size == sub.size
        assert arena.local_bytes == (a.nbytes if sub.rank == 0 else 0)
    comm.Barrier()


def test_failed_fill_raises_everywhere_and_frees(comm):
    # a fill that fails on the node root (a file it cannot read) raises on every rank, the
    # windows are freed by the context manager, and nobody hangs
    def fill(view):
        raise InputError("tables.h5: cannot read")
    with pytest.raises((InputError, RemoteError)) as info:
        with shared_arrays(comm) as arena:
            arena.array((10,), float, fill)
    assert "cannot read" in str(info.value) and info.value.collective
    assert arena._freed
    comm.Barrier()


def test_serial_fallback_is_a_plain_array():
    from hpcx.parallel import SerialComm
    view, handle = shared_array((4,), float, SerialComm(), fill=lambda v: v.__setitem__(Ellipsis, 2.0))
    assert not handle.shared and handle.node_size == 1 and handle.local_bytes == 32
    np.testing.assert_array_equal(view, 2.0)
    handle.free()


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64, np.float32])
def test_ialltoallv_delivers_each_ranks_block(comm, dtype):
    """Rank s sends (s + 1) (r + 1) values s + r/10 to rank r, in reverse destination order in its
    buffer (displacements not in rank order); test() may be called while it runs."""
    n = comm.size
    counts = (comm.rank + 1) * (np.arange(n) + 1)
    displs = np.concatenate([[0], np.cumsum(counts[::-1])[:-1]])[::-1]     # last rank's block first
    send = np.empty(counts.sum(), dtype)
    for r in range(n):
        send[displs[r]:displs[r] + counts[r]] = comm.rank + r / 10
    rcounts = (np.arange(n) + 1) * (comm.rank + 1)
    rdispls = np.concatenate([[0], np.cumsum(rcounts)[:-1]])
    recv = np.full(rcounts.sum(), -1, dtype)
    pending = ialltoallv(send, counts, displs, recv, rcounts, rdispls, comm)
    while not pending.test():
        pass
    out = pending.wait()
    assert out is recv
    expected = np.repeat(np.arange(n) + comm.rank / 10, rcounts).astype(dtype)
    np.testing.assert_array_equal(out, expected)


def test_ialltoallv_refuses_mixed_dtypes(comm):
    if comm.size == 1:
        pytest.skip("one rank copies without MPI")
    with pytest.raises(TypeError, match="ialltoallv"):
        ialltoallv(np.zeros(comm.size, complex), np.ones(comm.size), np.arange(comm.size),
                   np.zeros(comm.size, np.complex64), np.ones(comm.size), np.arange(comm.size), comm)
