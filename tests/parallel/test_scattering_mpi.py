"""1 rank and 2 ranks give the same scattering tables; a stop on one rank stops all, and the
rerun equals a serial run (run under mpirun -n 2 and -n 3)."""

import numpy as np
import pytest

from hpcx.errors import CheckpointedStop
from hpcx.parallel import SerialComm, broadcast

from helpers import SCATTERING_SMALL as SMALL
from helpers import HpcxLog, assert_ranks_agree, run_with_context, stop_after

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    # bit-identical: overlaps come from row blocks aligned to global indices, rates are summed
    # per row in a fixed order, and the fixed point is iterated on allgathered rows
    assert_ranks_agree(SMALL, comm, tmp_path_factory, required=("rates/cumulative", "rta/diffusion"))


def test_a_stop_on_one_rank_keeps_the_finished_temperatures_on_every_rank(comm, tmp_path_factory):
    # a stop request seen by the last rank only, after the third self-consistent iteration of the
    # second of three RTA temperatures, stops every rank with one checkpoint (the first temperature
    # and that iterate); the rerun on the same ranks equals a serial uninterrupted run
    text = SMALL.replace("temperatures = [30.0, 150.0]", "temperatures = [30.0, 150.0, 300.0]")
    base = broadcast(str(tmp_path_factory.mktemp("stop")) if comm.rank == 0 else None, comm)
    ref = run_with_context(text, f"{base}/ref_{comm.rank}.h5", SerialComm())
    poll = 1 + (ref.iterations[0] - 1) + 1 + 3        # before T0, T0's iterations, before T1, 3 of T1's
    with pytest.raises(CheckpointedStop, match="1 of 3 temperatures done; rta at 150 K after 3"):
        run_with_context(text, f"{base}/run.h5", comm, stop_after(poll, rank=comm.size - 1, comm=comm))
    with HpcxLog() as log:
        out = run_with_context(text, f"{base}/run.h5", comm)
    assert broadcast("1 of 3 temperatures done" in log.text if comm.rank == 0 else None, comm)   # rank 0 logs
    for name in ("temperature", "diffusion", "v2_eff", "tau_eff", "iterations"):
        np.testing.assert_array_equal(np.asarray(getattr(out, name)), np.asarray(getattr(ref, name)), err_msg=name)
    np.testing.assert_array_equal(out.tables.gamma, ref.tables.gamma)


def test_a_self_consistency_failure_is_one_error_of_the_run(comm, tmp_path_factory):
    # every rank iterates the same allgathered Gamma, so every rank fails at the same iteration: the
    # error is marked collective (the CLI prints it once and ends without MPI_Abort) and names the keys
    from hpcx.errors import ConvergenceError
    text = SMALL.replace("[scattering]", "[scattering]\nmax_iter = 1", 1)
    base = broadcast(str(tmp_path_factory.mktemp("sc")) if comm.rank == 0 else None, comm)
    with pytest.raises(ConvergenceError, match=r"no convergence in 1 iterations.*raise scattering.max_iter") as err:
        run_with_context(text, f"{base}/run.h5", comm)
    assert err.value.collective
