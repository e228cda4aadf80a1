"""1 rank and 2 ranks give the same scattering tables (run under mpirun -n 2)."""

import h5py
import numpy as np
import pytest

from hpcx.parallel import SerialComm

from test_scattering import SMALL
from test_wannier_workflow import run_config

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    assert comm.size == 2
    base = comm.bcast(str(tmp_path_factory.mktemp("s")) if comm.rank == 0 else None)
    parallel = run_config(SMALL, f"{base}/two.h5", comm)
    serial = run_config(SMALL, f"{base}/one_{comm.rank}.h5", SerialComm())
    comm.Barrier()
    names = []
    with h5py.File(parallel) as p, h5py.File(serial) as s:
        assert p.attrs["mpi_size"] == 2 and s.attrs["mpi_size"] == 1
        s["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert "rates/cumulative" in names and "rta/diffusion" in names
        for name in names:
            a, b = p[f"results/{name}"][()], s[f"results/{name}"][()]
            if a.dtype.kind in "iub":
                np.testing.assert_array_equal(a, b, err_msg=name)
            else:
                np.testing.assert_allclose(a, b, rtol=1e-13, atol=0, err_msg=name)
