"""Several ranks and 1 rank give identical biexciton run files (run under mpirun -n 2 and -n 3)."""

import pytest

from helpers import BIEXCITON_SMALL as SMALL
from helpers import assert_ranks_agree

pytestmark = pytest.mark.mpi


def test_many_ranks_equal_one_rank(comm, tmp_path_factory):
    # every sweep item (eps_r x theta, biexciton state, dipole scale, T_eff x filling) is computed
    # whole on one rank and allgathered in order: bitwise equal results
    text = SMALL.replace("twist_scan = [0.5, 1.0]", "twist_scan = [0.5, 0.75, 1.0]").replace(
        "fillings = [0.5, 1.5]", "fillings = [0.25, 0.5, 1.5]")
    assert_ranks_agree(text, comm, tmp_path_factory,
                       required=("repulsion/delta_xx", "biexciton/decay_levels", "pl/intensity",
                                 "lifetime_ratio/zeta", "single/energy"))
