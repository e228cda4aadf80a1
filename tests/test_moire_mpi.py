"""1 rank and 2 ranks give identical moire run files (run under mpirun -n 2)."""

import h5py
import numpy as np
import pytest

from hpcx.parallel import SerialComm

from test_moire import SMALL
from test_wannier_workflow import run_config

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    assert comm.size == 2
    base = comm.bcast(str(tmp_path_factory.mktemp("m")) if comm.rank == 0 else None)
    text = SMALL.replace("twist_scan = [2.0, 4.0, 6.0]", "twist_scan = [2.0, 3.0, 4.0, 5.0, 6.0]")
    parallel = run_config(text, f"{base}/two.h5", comm)
    serial = run_config(text, f"{base}/one_{comm.rank}.h5", SerialComm())
    comm.Barrier()
    names = []
    with h5py.File(parallel) as p, h5py.File(serial) as s:
        assert p.attrs["mpi_size"] == 2 and s.attrs["mpi_size"] == 1
        s["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        assert "bands/grid_vectors" in names and "twist_scan/gap" in names
        for name in names:
            np.testing.assert_array_equal(p[f"results/{name}"][()], s[f"results/{name}"][()], err_msg=name)
