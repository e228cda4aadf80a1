"""1 rank and 2 ranks give identical Wannier results (run under mpirun -n 2)."""

import h5py
import numpy as np
import pytest

from hpcx.parallel import SerialComm

from test_wannier_workflow import QUICKSTART, run_config

pytestmark = pytest.mark.mpi


def test_two_ranks_equal_one_rank(comm, tmp_path_factory):
    assert comm.size == 2
    base = comm.bcast(str(tmp_path_factory.mktemp("w")) if comm.rank == 0 else None)
    parallel = run_config(QUICKSTART, f"{base}/two.h5", comm)
    serial = run_config(QUICKSTART, f"{base}/one_{comm.rank}.h5", SerialComm())
    comm.Barrier()
    with h5py.File(parallel) as p, h5py.File(serial) as s:
        assert p.attrs["mpi_size"] == 2 and s.attrs["mpi_size"] == 1
        for name in s["results/excitons"]:
            for key in ("binding_energy", "rms_radius", "form_factor", "phi_r"):
                a = p[f"results/excitons/{name}/{key}"][()]
                b = s[f"results/excitons/{name}/{key}"][()]
                np.testing.assert_array_equal(a, b, err_msg=f"{name}/{key}")
