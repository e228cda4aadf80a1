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
