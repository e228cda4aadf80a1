import errno
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import hpcx.io as hpcx_io
from hpcx.errors import InputError, OutputExistsError, OutputWriteError
from hpcx.io import RunFile, RunWriter, check_output_path
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


# -- faults: every write error is one OutputWriteError naming the path and the errno -------------

def _fail(exc):
    def raiser(*args, **kwargs):
        raise exc
    return raiser


@pytest.mark.parametrize("code, name", [(errno.ENOSPC, "ENOSPC"), (errno.EDQUOT, "EDQUOT"),
                                        (errno.EIO, "EIO")])
def test_write_error_names_path_and_errno_and_keeps_earlier_output(tmp_path, monkeypatch, code, name):
    out = tmp_path / "run.h5"
    _write(out)
    before = out.read_bytes()
    monkeypatch.setattr(hpcx_io.os, "fsync", _fail(OSError(code, os.strerror(code))))
    with pytest.raises(OutputWriteError) as info:
        _write(out, overwrite=True)
    message = str(info.value)
    assert f"{out}.partial" in message and f"Errno {code} {name}" in message and "\n" not in message
    assert out.read_bytes() == before, "the earlier complete output must stay untouched"
    assert not (tmp_path / "run.h5.partial").exists(), "an incomplete .partial is removed"


def test_free_space_is_checked_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(hpcx_io, "_free_bytes", lambda directory: 1000)
    with pytest.raises(OutputWriteError, match=r"Errno 28 ENOSPC.*bytes needed, 1000 free"):
        _write(tmp_path / "run.h5")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_partial_is_refused_at_creation(tmp_path, monkeypatch):
    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith(".partial"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(OutputWriteError, match="cannot create the run file: .Errno 13 EACCES"):
        _write(tmp_path / "run.h5")


def test_failed_rename_keeps_the_finished_partial(tmp_path, monkeypatch):
    monkeypatch.setattr(hpcx_io.os, "replace", _fail(OSError(errno.EXDEV, "Invalid cross-device link")))
    with pytest.raises(OutputWriteError, match="EXDEV.*finished run is in"):
        _write(tmp_path / "run.h5")
    partial = tmp_path / "run.h5.partial"
    with h5py.File(partial) as f:
        assert f.attrs["finished"] != ""


def test_a_bad_dataset_fails_at_finish_and_leaves_the_image_so_far(tmp_path):
    with pytest.raises(TypeError):
        with RunWriter(tmp_path / "run.h5", SerialComm(), workflow="wannier", config_text="x",
                       config_source="x.toml") as w:
            w.write("results/good", np.arange(3.0), units="eV")
            w.write("results/bad", np.array([object()]), units="")     # HDF5 cannot store objects
            w.write("results/after", np.arange(2.0), units="eV")       # skipped after the error
            w.finish({"solve": 1.0})
    assert not (tmp_path / "run.h5").exists()
    with h5py.File(tmp_path / "run.h5.partial") as f:
        assert f.attrs["finished"] == "" and "results/good" in f and "results/after" not in f


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_guards_refuse_a_directory_and_the_config_itself(tmp_path, overwrite):
    (tmp_path / "outdir").mkdir()
    config = tmp_path / "c.toml"
    config.write_text("[run]\n")
    with pytest.raises(OutputExistsError, match="is a directory"):
        check_output_path(tmp_path / "outdir", overwrite)
    with pytest.raises(OutputExistsError, match="is the config file itself"):
        check_output_path(tmp_path / "." / "c.toml", overwrite, protect=(config,))
    assert config.read_text() == "[run]\n"


def test_output_guard_names_a_missing_directory(tmp_path):
    with pytest.raises(OutputExistsError, match="does not exist"):
        check_output_path(tmp_path / "nowhere" / "run.h5", False)


def test_output_guard_tries_to_create_a_file_before_any_work(tmp_path):
    """/proc passes os.access for root, yet no file can be created there: refused before the run
    (it used to fail after the whole computation, at writing); the probe leaves nothing behind."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    with pytest.raises(OutputExistsError, match=r"/proc/run.h5: cannot create files in /proc"):
        check_output_path("/proc/run.h5", False)
    assert check_output_path(tmp_path / "run.h5", False) == tmp_path / "run.h5"
    assert list(tmp_path.iterdir()) == []


def test_save_hdf5_replaces_atomically_or_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "point_0000.h5"
    hpcx_io.save_hdf5(path, lambda f: f.create_dataset("x", data=np.arange(4)))
    before = path.read_bytes()
    monkeypatch.setattr(hpcx_io.os, "fsync", _fail(OSError(errno.EDQUOT, "Disk quota exceeded")))
    with pytest.raises(OutputWriteError, match=r"point_0000.h5.tmp: .*Errno 122 EDQUOT"):
        hpcx_io.save_hdf5(path, lambda f: f.create_dataset("x", data=np.arange(8)))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["point_0000.h5"]
    with h5py.File(path) as f:
        assert list(f["x"][()]) == [0, 1, 2, 3]


# -- checkpoints (hpcx.io.checkpoint) ------------------------------------------------------

def _checkpoint(directory, fingerprint="f0"):
    import logging

    from hpcx.io.checkpoint import Checkpoint
    return Checkpoint(directory, "point_0000", fingerprint, SerialComm(), logging.getLogger("hpcx.test"))


def test_run_file_identity_follows_the_content_not_the_path_or_mtime(tmp_path):
    # a copy elsewhere (staged input) keeps the identity, another run of the same config (written
    # later), a run of another config and a file of another size do not; the fingerprint with the
    # identity of its inputs differs exactly then, and without inputs it is that of repr(params)
    import hashlib
    import shutil
    import time

    from hpcx.io.checkpoint import fingerprint
    from hpcx.io.identity import run_file_identity
    first = _write(tmp_path / "a.h5")
    copy = tmp_path / "staged" / "a.h5"
    copy.parent.mkdir()
    shutil.copyfile(first, copy)
    os.utime(copy, (0, 0))
    time.sleep(1.1)                         # `created`/`finished` are written to the second
    again = _write(tmp_path / "b.h5")
    with RunWriter(tmp_path / "c.h5", SerialComm(), workflow="wannier", config_text="[run]\nworkflow='other'\n",
                   config_source="x.toml") as w:
        w.finish({})
    ident = run_file_identity(first)
    assert run_file_identity(copy) == ident
    assert len({ident, run_file_identity(again), run_file_identity(tmp_path / "c.h5")}) == 3
    with open(copy, "ab") as grown:
        grown.write(b"\0")
    assert run_file_identity(copy) != ident
    params = ("params", 1.0)
    assert fingerprint(params) == hashlib.sha256(repr(params).encode()).hexdigest()
    assert fingerprint(params, (first, None)) == fingerprint(params, (tmp_path / "a.h5",), comm=SerialComm())
    assert fingerprint(params, (first,)) not in (fingerprint(params), fingerprint(params, (again,)))
    with pytest.raises(InputError, match="nothing.h5: cannot read the run file's identity"):
        run_file_identity(tmp_path / "nothing.h5")


def test_a_checkpoint_refused_by_its_validation_is_moved_aside(tmp_path):
    # a readable checkpoint of the right fingerprint whose content the workflow refuses (KeyError:
    # a field missing; ValueError: a value out of range) is set aside as corrupt and not returned;
    # one that passes is returned as written
    from helpers import HpcxLog

    def validate(state):
        if state["tree"]["state"].max() >= 10:
            raise ValueError("state index out of range")
        state["tree"]["ctr"]
    for tree, why in (({"state": np.arange(3), "ctr": np.zeros(3)}, None),
                      ({"state": np.array([0, 10**9])}, "ValueError: state index out of range"),
                      ({"state": np.arange(3)}, "missing field 'ctr'")):
        ck = _checkpoint(tmp_path / "run.h5.checkpoint")
        ck.save({"done": False}, {"tree": tree})
        with HpcxLog() as log:
            state = ck.load(validate)
        aside = sorted(tmp_path.glob("run.h5.checkpoint-point_0000.h5.corrupt-*"))
        if why is None:
            assert state["attrs"] == {"done": False} and list(state["tree"]["state"]) == [0, 1, 2]
            assert not aside
            continue
        assert state is None and not ck.path.exists() and aside
        assert f"its content is damaged ({why})" in log.text and str(ck.path) in log.text
        for path in aside:
            path.unlink()


def test_a_checkpoint_directory_that_cannot_be_created_is_an_output_write_error(tmp_path):
    # a name taken by a file (as a full inode table or a read-only remount): one OutputWriteError
    # naming the directory and the errno, exit 74, as for a failing write
    (tmp_path / "run.h5.checkpoint").write_text("")
    with pytest.raises(OutputWriteError, match=r"run.h5.checkpoint: cannot create the checkpoint directory: "
                                               r"\[Errno 17 EEXIST\]") as info:
        _checkpoint(tmp_path / "run.h5.checkpoint").save({"done": False}, {})
    assert info.value.exit_code == 74


def test_a_first_checkpoint_that_cannot_be_written_leaves_no_empty_directory(tmp_path, monkeypatch):
    # an empty <output>.checkpoint/ would make `hpcx show` describe a stopped run
    monkeypatch.setattr(hpcx_io.os, "fsync", _fail(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OutputWriteError, match="ENOSPC"):
        _checkpoint(tmp_path / "run.h5.checkpoint").save({"done": False}, {})
    assert not (tmp_path / "run.h5.checkpoint").exists()


def test_a_checkpoint_that_cannot_be_moved_aside_is_an_output_write_error(tmp_path, monkeypatch):
    from hpcx.io import checkpoint
    ck = _checkpoint(tmp_path / "run.h5.checkpoint")
    ck.save({"done": False}, {})
    foreign = _checkpoint(tmp_path / "run.h5.checkpoint", fingerprint="f1")
    monkeypatch.setattr(checkpoint.os, "replace", _fail(OSError(errno.EROFS, "Read-only file system")))
    with pytest.raises(OutputWriteError, match=r"point_0000.h5: cannot move the unusable checkpoint aside .*EROFS"):
        foreign.load()
