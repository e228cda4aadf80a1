"""The ``valley`` workflow gives identical results on any number of ranks (temperatures and profile
chunks dealt cyclically in rounds, Monte Carlo batches in blocks)."""

import pytest

from helpers import VALLEY_MC_SMALL, VALLEY_SMALL, assert_ranks_agree

pytestmark = pytest.mark.mpi


def test_valley_ranks_agree(comm, tmp_path_factory):
    assert_ranks_agree(VALLEY_SMALL, comm, tmp_path_factory,
                       required=("density", "width2", "diffusion", "diffusion_scattering", "total/diffusion",
                                 "pl/diffusion", "pl/profile"))


def test_valley_monte_carlo_ranks_agree(comm, tmp_path_factory):
    """The Monte Carlo's batches are spread over the ranks; every sum is formed per batch in particle
    order and combined in batch order: bit-identical datasets on 1, 2 and 3 ranks."""
    assert_ranks_agree(VALLEY_MC_SMALL, comm, tmp_path_factory,
                       required=("monte_carlo/width2", "monte_carlo/width2_error", "monte_carlo/diffusion",
                                 "monte_carlo/density", "monte_carlo/profile", "monte_carlo/events"))
