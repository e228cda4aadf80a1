"""1 rank and 2 ranks give bit-identical Monte Carlo moments (run under mpirun -n 2)."""

import pytest

from helpers import SCATTERING_SMALL as SCAT
from helpers import TRANSPORT_SMALL as SMALL
from helpers import assert_ranks_agree, run_config

pytestmark = pytest.mark.mpi

REQUIRED = ("variance", "msd", "diffusion/stationary", "occupation", "profiles", "sweep/diffusion")


def test_particles_over_two_ranks_equal_one_rank(comm, tmp_path_factory):
    # (d) one sweep point, its particles (batches) split over 2 ranks, tables read from a
    # scattering run file: every dataset identical, checkpoints (gathered particles) included
    from hpcx.parallel import SerialComm
    path = None
    if comm.rank == 0:
        path = str(run_config(SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0"),
                              tmp_path_factory.mktemp("scat") / "s.h5", SerialComm()))
    path = comm.bcast(path)
    text = SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{path}"').replace(
        "checkpoint_every = 0", "checkpoint_every = 7")
    assert_ranks_agree(text, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_sweep_points_over_two_ranks_equal_one_rank(comm, tmp_path_factory):
    # two sweep points on two groups of one rank each (in-process tables) = the serial sweep
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 300.0]")
    assert_ranks_agree(text, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_in_process_tables_over_two_ranks(comm, tmp_path_factory):
    # one point, tables and particles both split over 2 ranks: the tables are bit-identical
    # on any rank layout (tests/test_scattering_mpi.py), so the moments are too
    assert_ranks_agree(SMALL, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)
