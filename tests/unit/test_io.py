import h5py
import numpy as np
import pytest

from hpcx.errors import InputError, OutputExistsError
from hpcx.io import RunFile, RunWriter
from hpcx.parallel import SerialComm


def _write(path, comm=None, overwrite=False, fail=False):
    comm = comm or SerialComm()
    with RunWriter(path, comm, workflow="wannier", config_text="[run]\nworkflow='wannier'\n",
                   config_source="x.toml", overwrite=overwrite) as w:
        w.group("results/excitons/A", attrs={"electron_layer": 0})
        w.write("results/excitons/A/binding_energy", np.array([200.0, 50.0]), units="meV")
        w.write("results/excitons/A/states", ["1s", "2s"], units="label")
        w.write_distributed("results/rows", np.arange(6.0).reshape(3, 2), 0, (3, 2), units="eV")
        if fail:
            raise RuntimeError("crash in the middle of a run")
        return w.finish({"solve": 1.5})


def test_complete_file_layout(tmp_path):
    out = _write(tmp_path / "run.h5")
    assert out.exists() and not (tmp_path / "run.h5.partial").exists()
    with h5py.File(out) as f:
        for key in ("hpcx_version", "git_commit", "workflow", "created", "finished",
                    "mpi_size", "hostnames", "command_line", "format_version"):
            assert key in f.attrs
        assert f.attrs["finished"] != ""
        assert f["config"][()].decode().startswith("[run]")
        assert f["timings/solve"][()] == 1.5

        def has_units(name, obj):
            if isinstance(obj, h5py.Dataset):
                assert "units" in obj.attrs, name
        f.visititems(has_units)
    with RunFile(out, expect_workflow="wannier") as run:
        data, units = run.read("results/excitons/A/states")
        assert list(data) == ["1s", "2s"] and units == "label"
        assert run.read("results/excitons/A/binding_energy")[1] == "meV"


def test_refuses_existing_output_and_leaves_it_untouched(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"earlier result")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        _write(out)
    assert out.read_bytes() == b"earlier result"
    assert not (tmp_path / "run.h5.partial").exists()
    _write(out, overwrite=True)
    assert h5py.is_hdf5(out)


def test_crash_leaves_only_partial_and_keeps_earlier_output(tmp_path):
    out = tmp_path / "run.h5"
    out.write_bytes(b"earlier result")
    with pytest.raises(RuntimeError):
        _write(out, overwrite=True, fail=True)
    assert out.read_bytes() == b"earlier result"
    assert (tmp_path / "run.h5.partial").exists()


def test_reader_rejects_partial_foreign_and_wrong_workflow(tmp_path):
    with pytest.raises(RuntimeError):
        _write(tmp_path / "a.h5", fail=True)
    with pytest.raises(InputError, match="did not finish"):
        RunFile(tmp_path / "a.h5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(InputError, match="not an hpcx run file"):
        RunFile(tmp_path / "foreign.h5")
    _write(tmp_path / "b.h5")
    with pytest.raises(InputError, match="'transport' run is needed"):
        RunFile(tmp_path / "b.h5", expect_workflow="transport")
