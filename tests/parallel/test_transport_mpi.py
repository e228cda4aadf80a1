"""1 rank and several ranks give bit-identical Monte Carlo moments; a stop request on one rank
stops every rank with a checkpoint (run under mpirun -n 2 and -n 3)."""

import numpy as np
import pytest

from hpcx.errors import CheckpointedStop
from hpcx.parallel import SerialComm, broadcast

from helpers import SCATTERING_SMALL as SCAT
from helpers import TRANSPORT_SMALL as SMALL
from helpers import assert_ranks_agree, run_config, run_with_context, stop_after

pytestmark = pytest.mark.mpi

REQUIRED = ("variance", "msd", "diffusion/stationary", "occupation", "profiles", "sweep/diffusion")


def test_particles_over_ranks_equal_one_rank(comm, tmp_path_factory):
    # (d) one sweep point, its particles (batches) split over the ranks, tables read from a
    # scattering run file: every dataset identical, checkpoints (gathered particles) included
    path = None
    if comm.rank == 0:
        path = str(run_config(SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0"),
                              tmp_path_factory.mktemp("scat") / "s.h5", SerialComm()))
    path = broadcast(path, comm)
    text = SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{path}"').replace(
        "checkpoint_every = 0", "checkpoint_every = 7")
    assert_ranks_agree(text, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_sweep_points_over_groups_of_ranks_equal_one_rank(comm, tmp_path_factory):
    # two sweep points on two groups of ranks (in-process tables) = the serial sweep
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 300.0]")
    assert_ranks_agree(text, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_in_process_tables_over_ranks(comm, tmp_path_factory):
    # one point, tables and particles both split over the ranks: the tables are bit-identical
    # on any rank layout (tests/test_scattering_mpi.py), so the moments are too
    assert_ranks_agree(SMALL, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_stop_on_one_rank_stops_all_and_resumes_bit_identical(comm, tmp_path_factory):
    # a stop request seen by the last rank only (a signal delivered late elsewhere) stops every rank
    # at the same sample with one checkpoint per point; the rerun on the same ranks equals a serial
    # uninterrupted run; two sweep points, so with 3 ranks the groups differ in size
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 300.0]")
    base = broadcast(str(tmp_path_factory.mktemp("stop")) if comm.rank == 0 else None, comm)
    with pytest.raises(CheckpointedStop):
        run_with_context(text, f"{base}/run.h5", comm, stop_after(7, rank=comm.size - 1, comm=comm))
    out = run_with_context(text, f"{base}/run.h5", comm)
    ref = run_with_context(text, f"{base}/ref_{comm.rank}.h5", SerialComm())
    for name, value in ref.observables.items():
        np.testing.assert_array_equal(out.observables[name], value, err_msg=name)
    np.testing.assert_array_equal(out.occupation, ref.occupation)
