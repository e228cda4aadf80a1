"""The ``valley`` workflow gives identical results on any number of ranks (temperatures and
profile chunks are distributed in fixed blocks)."""

import pytest

from helpers import VALLEY_SMALL, assert_ranks_agree

pytestmark = pytest.mark.mpi


def test_valley_ranks_agree(comm, tmp_path_factory):
    assert_ranks_agree(VALLEY_SMALL, comm, tmp_path_factory,
                       required=("density", "width2", "diffusion", "diffusion_scattering", "total/diffusion",
                                 "pl/diffusion", "pl/profile"))
