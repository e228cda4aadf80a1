"""Collective writes and their faults (make test runs these under mpirun -n 2 and -n 3)."""

import errno
import time

import h5py
import numpy as np
import pytest

import hpcx.io as hpcx_io
from hpcx.errors import OutputWriteError
from hpcx.io import RunWriter

pytestmark = pytest.mark.mpi


def _base(comm, tmp_path_factory):
    return comm.bcast(str(tmp_path_factory.mktemp("io")) if comm.rank == 0 else None)


def test_distributed_rows_land_in_order(comm, tmp_path_factory):
    path = f"{_base(comm, tmp_path_factory)}/dist.h5"
    sizes = [3 + (r % 2) for r in range(comm.size)]       # uneven blocks
    offset, rows, n = sum(sizes[:comm.rank]), sizes[comm.rank], sum(sizes)
    local = np.arange(offset, offset + rows, dtype=float)[:, None] * np.ones((1, 4))
    with RunWriter(path, comm, workflow="wannier", config_text="x", config_source="x") as w:
        w.write_distributed("results/rows", local, offset, (n, 4), units="eV")
        w.write("results/replicated", np.array([1.0, 2.0]), units="meV")
        final = w.finish({"phase": 0.1 * (comm.rank + 1)})
    comm.Barrier()
    with h5py.File(final, "r") as f:
        np.testing.assert_array_equal(f["results/rows"][:, 0], np.arange(float(n)))
        assert f["timings/phase"][()] == pytest.approx(0.1 * comm.size)  # max over ranks
        assert f.attrs["mpi_size"] == comm.size


def test_a_disk_error_on_rank_0_reaches_every_rank_at_once(comm, tmp_path_factory, monkeypatch):
    path = f"{_base(comm, tmp_path_factory)}/full.h5"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(hpcx_io.os, "fsync", full)
    start = time.monotonic()
    with pytest.raises(OutputWriteError, match=r"full.h5.partial: .*Errno 28 ENOSPC") as info:
        with RunWriter(path, comm, workflow="wannier", config_text="x", config_source="x") as w:
            w.write("results/x", np.arange(10.0), units="eV")
            w.finish({"phase": 1.0})
    assert info.value.collective, "raised on every rank, reported once"
    assert time.monotonic() - start < 10.0
    comm.Barrier()
    if comm.rank == 0:
        assert not hpcx_io.Path(path + ".partial").exists() and not hpcx_io.Path(path).exists()


def test_an_error_in_a_rank_0_write_is_raised_on_every_rank_at_finish(comm, tmp_path_factory):
    path = f"{_base(comm, tmp_path_factory)}/bad.h5"
    with pytest.raises(Exception) as info:
        with RunWriter(path, comm, workflow="wannier", config_text="x", config_source="x") as w:
            w.write("results/bad", np.array([object()]), units="")
            local = np.full((2, 3), float(comm.rank))
            w.write_distributed("results/rows", local, 2 * comm.rank, (2 * comm.size, 3), units="")
            w.finish({"phase": 1.0})
    assert info.value.collective
