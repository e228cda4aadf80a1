"""SIGTERM (or SIGUSR1 through mpirun) during a transport run: the run writes a checkpoint at its
next safe point and exits 75; rerunning the same command resumes and gives a run file whose
/results are bit-identical to an uninterrupted run's.  A checkpoint directory that cannot be
created ends the run with one line and exit 74, damaged input tables with one line and exit 2,
on one rank and on two."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from helpers import ROOT, SCATTERING_SMALL, TRANSPORT_SMALL, mpirun_command, run_config, run_hpcx

CONFIG = (ROOT / "examples" / "transport.toml").read_text()


def _results(path):
    out = {}
    with h5py.File(path) as f:
        f["results"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def _start(args, cwd, ranks, log):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    prefix = [sys.executable] if ranks == 1 else mpirun_command(ranks)
    if prefix is None:
        pytest.skip("mpirun not found")
    return subprocess.Popen(prefix + ["-m", "hpcx", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=log, start_new_session=True)


@pytest.mark.parametrize("ranks, signum", [(1, signal.SIGTERM), (2, signal.SIGUSR1)])
def test_a_stopped_transport_run_resumes_bit_identically(tmp_path, ranks, signum):
    (tmp_path / "t.toml").write_text(CONFIG)
    reference = run_hpcx(["run", "t.toml", "-o", "ref.h5"], tmp_path, ranks=ranks, timeout=600)
    assert reference.returncode == 0, reference.stderr
    checkpoints = tmp_path / "t.h5.checkpoint"
    log = tmp_path / "stopped.log"
    with open(log, "w") as stream:
        proc = _start(["run", "t.toml", "-o", "t.h5"], tmp_path, ranks, stream)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not any(checkpoints.glob("*")):
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before its first checkpoint: make CONFIG longer"
        proc.send_signal(signum)             # mpirun forwards SIGUSR1 to every rank
        proc.wait(timeout=120)
    text = log.read_text()
    assert proc.returncode == 75, text
    lines = [line for line in text.splitlines() if line.startswith("hpcx: ")]
    assert len(lines) == 1 and lines[0].startswith("hpcx: stopped: "), text
    assert any(checkpoints.iterdir()) and not (tmp_path / "t.h5").exists()
    resumed = run_hpcx(["run", "t.toml", "-o", "t.h5"], tmp_path, ranks=ranks, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resum" in resumed.stderr
    new, old = _results(tmp_path / "t.h5"), _results(tmp_path / "ref.h5")
    assert new.keys() == old.keys()
    for name in old:
        np.testing.assert_array_equal(new[name], old[name], err_msg=name)
    assert not checkpoints.exists(), "checkpoints are removed when the run finishes"


def _one_error_line(proc):
    """The stderr lines of ``proc`` that start with ``hpcx:`` (there must be exactly one)."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("hpcx:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_checkpoint_directory_that_cannot_be_created_is_exit_74(tmp_path, ranks):
    # the name of the checkpoint directory is taken by a file (as when the file system is out of
    # inodes or remounted read-only): the first checkpoint (sample 5) fails with one line naming the
    # directory and the errno and exit 74 on every rank, as any failing write; it used to be an
    # internal error (exit 1) on one rank and "rank 0: OSError" (exit 2) on two
    (tmp_path / "t.toml").write_text(TRANSPORT_SMALL.replace("checkpoint_every = 0", "checkpoint_every = 5"))
    (tmp_path / "t.h5.checkpoint").write_text("")
    proc = run_hpcx(["run", "t.toml", "-o", "t.h5"], tmp_path, ranks=ranks)
    assert proc.returncode == 74, proc.stderr
    line = _one_error_line(proc)
    expect = "hpcx: error: t.h5.checkpoint: cannot create the checkpoint directory: [Errno 17 EEXIST]"
    assert line.startswith(expect), line
    assert not (tmp_path / "t.h5").exists()


@pytest.mark.parametrize("ranks", [1, 2])
def test_damaged_input_tables_are_exit_2_naming_the_file_and_key(tmp_path, ranks):
    # a final-state index damaged inside the scattering run file of transport.input (the input
    # checks pass): one line naming the file and the key, exit 2, on one rank and on two (it was an
    # internal error naming neither)
    scattering = run_config(SCATTERING_SMALL.replace("table_temperature = 30.0", "table_temperature = 150.0"),
                            tmp_path / "s.h5")
    with h5py.File(scattering, "r+") as f:
        f["results/rates/indices"][3] = -7
    (tmp_path / "t.toml").write_text(TRANSPORT_SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]",
                                                             'input = "s.h5"'))
    proc = run_hpcx(["run", "t.toml", "-o", "t.h5"], tmp_path, ranks=ranks)
    assert proc.returncode == 2, proc.stderr
    line = _one_error_line(proc)
    assert line.startswith(f"hpcx: error: {scattering}: transport.input: the scattering tables cannot be used: "), line
    assert "final-state index out of range" in line and not (tmp_path / "t.h5").exists()
