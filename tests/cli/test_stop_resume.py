"""SIGTERM (or SIGUSR1 through mpirun) during a transport run: the run writes a checkpoint at its
next safe point and exits 75; rerunning the same command resumes and gives a run file whose
/results are bit-identical to an uninterrupted run's."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from helpers import ROOT, mpirun_command, run_hpcx

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
