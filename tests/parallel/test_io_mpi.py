"""Collective writes on 2 ranks (run by make test under mpirun -n 2)."""

import h5py
import numpy as np
import pytest

from hpcx.io import RunWriter, h5py_has_mpi

pytestmark = pytest.mark.mpi


def test_distributed_rows_land_in_order(comm, tmp_path_factory):
    assert h5py_has_mpi(), "Debian's h5py-mpi must be selected under mpirun"
    base = comm.bcast(str(tmp_path_factory.mktemp("io")) if comm.rank == 0 else None)
    path = f"{base}/dist.h5"
    offset = [0, 3][comm.rank]
    rows = [3, 2][comm.rank]
    local = np.arange(offset, offset + rows, dtype=float)[:, None] * np.ones((1, 4))
    with RunWriter(path, comm, workflow="wannier", config_text="x", config_source="x") as w:
        assert w.parallel
        w.write_distributed("results/rows", local, offset, (5, 4), units="eV")
        w.write("results/replicated", np.array([1.0, 2.0]), units="meV")
        final = w.finish({"phase": 0.1 * (comm.rank + 1)})
    comm.Barrier()
    with h5py.File(final, "r") as f:
        np.testing.assert_array_equal(f["results/rows"][:, 0], np.arange(5.0))
        assert f["timings/phase"][()] == pytest.approx(0.2)  # max over ranks
        assert f.attrs["mpi_size"] == 2
