"""Collective writes (make test runs these under mpirun -n 2 and -n 3)."""

import h5py
import numpy as np
import pytest

from hpcx.io import RunWriter, h5py_has_mpi

pytestmark = pytest.mark.mpi


def test_distributed_rows_land_in_order(comm, tmp_path_factory):
    assert h5py_has_mpi(), "Debian's h5py-mpi must be selected under mpirun"
    base = comm.bcast(str(tmp_path_factory.mktemp("io")) if comm.rank == 0 else None)
    path = f"{base}/dist.h5"
    sizes = [3 + (r % 2) for r in range(comm.size)]       # uneven blocks
    offset, rows, n = sum(sizes[:comm.rank]), sizes[comm.rank], sum(sizes)
    local = np.arange(offset, offset + rows, dtype=float)[:, None] * np.ones((1, 4))
    with RunWriter(path, comm, workflow="wannier", config_text="x", config_source="x") as w:
        assert w.parallel
        w.write_distributed("results/rows", local, offset, (n, 4), units="eV")
        w.write("results/replicated", np.array([1.0, 2.0]), units="meV")
        final = w.finish({"phase": 0.1 * (comm.rank + 1)})
    comm.Barrier()
    with h5py.File(final, "r") as f:
        np.testing.assert_array_equal(f["results/rows"][:, 0], np.arange(float(n)))
        assert f["timings/phase"][()] == pytest.approx(0.1 * comm.size)  # max over ranks
        assert f.attrs["mpi_size"] == comm.size
