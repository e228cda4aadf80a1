"""1 rank and several ranks give identical kinetics results: rate rows and sweep points over ranks."""

import pytest

from helpers import assert_ranks_agree, kinetics_config

pytestmark = pytest.mark.mpi


def test_ranks_agree_main_point_and_sweep(comm, tmp_path_factory):
    assert_ranks_agree(kinetics_config(sweep=True), comm, tmp_path_factory,
                       required=["density", "occupation", "formation_time", "pl/intensity", "sweep/formation_time"])
