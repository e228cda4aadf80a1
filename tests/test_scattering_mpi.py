"""1 rank and 2 ranks give the same scattering tables (run under mpirun -n 2)."""

import pytest

from conftest import assert_ranks_agree
from test_scattering import SMALL

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    # floats to 1e-13: the allgathered fixed-point iteration sums rows in rank blocks
    assert_ranks_agree(SMALL, comm, tmp_path_factory, required=("rates/cumulative", "rta/diffusion"),
                       rtol=1e-13)
