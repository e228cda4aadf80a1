"""Supercell bands with k-points split over 2 ranks equal the serial ones (mpirun -n 2)."""

import numpy as np
import pytest

from hpcx.bse.supercell import bands_near_gap, bands_near_gap_mpi, fold, hexagonal_supercell_matrix
from hpcx.bse.tbmodel import monkhorst_pack
from hpcx.parallel import block_range

from helpers import graphene_like as _graphene_like

pytestmark = pytest.mark.mpi


def test_bands_split_over_ranks(comm):
    assert comm.size >= 2
    sc, _ = fold(_graphene_like(), hexagonal_supercell_matrix(4, 1))
    sc = sc.with_onsite(0.03 * np.cos(np.arange(sc.n_orb)))
    k = monkhorst_pack(3, 3)
    start, e_loc, c_loc = bands_near_gap_mpi(sc, k, 3, 3, 0.0, comm, solver="scipy")
    e_all = np.concatenate(comm.allgather(e_loc))
    starts = comm.allgather(start)
    assert starts == [block_range(9, comm.size, r)[0] for r in range(comm.size)]   # PETSc layout
    e_ref, _ = bands_near_gap(sc, k, 3, 3, 0.0, solver="dense")
    np.testing.assert_allclose(e_all, e_ref, atol=1e-10)
