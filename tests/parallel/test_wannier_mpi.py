"""1 rank and 2 ranks give identical Wannier results (run under mpirun -n 2)."""

import pytest

from helpers import QUICKSTART, assert_ranks_agree

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    required = [f"excitons/{name}/{key}" for name in ("MoSe2", "WSe2", "MoSe2-WSe2")
                for key in ("binding_energy", "rms_radius", "form_factor", "phi_r")]
    assert_ranks_agree(QUICKSTART, comm, tmp_path_factory, required=required)
