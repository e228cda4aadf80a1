"""Collective error handling on 2 ranks (run by make test under mpirun -n 2)."""

import numpy as np
import pytest

from hpcx.errors import InputError
from hpcx.parallel import RemoteError, all_or_none, on_root, sum_over_ranks

pytestmark = pytest.mark.mpi


def test_error_on_one_rank_reaches_all(comm):
    assert comm.size == 2
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
    total = sum_over_ranks(np.array([comm.rank + 1.0, 2.0]), comm)
    np.testing.assert_array_equal(total, [3.0, 4.0])
