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
