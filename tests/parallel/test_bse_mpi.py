"""1 and 2 ranks give the same BSE eigenvalues (run under mpirun -n 2)."""

import h5py
import numpy as np
import pytest

from hpcx.parallel import SerialComm

from helpers import BSE_WSE2 as WSE2
from helpers import run_config

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    assert comm.size >= 2
    base = comm.bcast(str(tmp_path_factory.mktemp("bse")) if comm.rank == 0 else None)
    text = WSE2.replace("n_eig = 12", "n_eig = 10\nsolver = 'auto'")
    two = run_config(text, f"{base}/two.h5", comm)
    one = run_config(text, f"{base}/one_{comm.rank}.h5", SerialComm())
    comm.Barrier()
    with h5py.File(two) as p, h5py.File(one) as s:
        assert p.attrs["mpi_size"] == comm.size and s.attrs["mpi_size"] == 1
        np.testing.assert_allclose(p["results/eigenvalues"][()], s["results/eigenvalues"][()], rtol=0, atol=1e-10)
        for name in ("transitions", "transition_energy", "qp_gap", "k_points"):
            np.testing.assert_array_equal(p[f"results/{name}"][()], s[f"results/{name}"][()])
        # eigenvectors: each rank wrote its slab; the projector on the 10 states is the same
        Vp, Vs = p["results/eigenvectors"][()], s["results/eigenvectors"][()]
        np.testing.assert_allclose(Vp.T @ Vp.conj(), Vs.T @ Vs.conj(), atol=1e-8)
        np.testing.assert_allclose(p["results/spectrum/sigma"][()], s["results/spectrum/sigma"][()],
                                   rtol=1e-7, atol=1e-9)
