"""Several ranks and 1 rank give identical moire run files (run under mpirun -n 2 and -n 3)."""

import pytest

from helpers import MOIRE_SMALL as SMALL
from helpers import assert_ranks_agree

pytestmark = pytest.mark.mpi


def test_many_ranks_equal_one_rank(comm, tmp_path_factory):
    text = SMALL.replace("twist_scan = [2.0, 4.0, 6.0]", "twist_scan = [2.0, 3.0, 4.0, 5.0, 6.0]")
    assert_ranks_agree(text, comm, tmp_path_factory, required=("bands/grid_vectors", "twist_scan/gap"))
