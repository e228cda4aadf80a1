"""1 rank and 2 ranks give the same scattering tables (run under mpirun -n 2)."""

import pytest

from helpers import SCATTERING_SMALL as SMALL
from helpers import assert_ranks_agree

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    # bit-identical: overlaps come from row blocks aligned to global indices, rates are summed
    # per row in a fixed order, and the fixed point is iterated on allgathered rows
    assert_ranks_agree(SMALL, comm, tmp_path_factory, required=("rates/cumulative", "rta/diffusion"))
