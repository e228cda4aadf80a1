"""Faults of production runs: a full disk, signals, bad output paths and encodings, long silent phases.

Each ends within seconds with one ``hpcx:`` line and a documented exit code
(docs/reliability.md), keeps earlier output and never leaves a rank spinning.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import QUICKSTART, ROOT, mpirun_command, run_hpcx


def _one_line(stderr, *fragments):
    lines = [line for line in stderr.splitlines() if line.startswith("hpcx: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@contextlib.contextmanager
def small_tmpfs(path, size):
    """A tmpfs of ``size`` mounted at ``path`` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a full file system is simulated with a small tmpfs, which needs root (CI runs as root)")
    path.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.parametrize("ranks", [1, 2])
def test_full_disk_one_line_with_errno_no_hang_earlier_output_intact(tmp_path, ranks):
    (tmp_path / "q.toml").write_text(QUICKSTART)
    with small_tmpfs(tmp_path / "full", "192k") as full:        # room for one quickstart run file
        first = run_hpcx(["run", "q.toml", "-o", "full/q.h5"], tmp_path, ranks=ranks, timeout=300)
        assert first.returncode == 0, first.stderr
        earlier = (full / "q.h5").read_bytes()
        start = time.monotonic()
        proc = run_hpcx(["run", "q.toml", "-o", "full/q.h5", "--overwrite"], tmp_path, ranks=ranks, timeout=30)
        assert time.monotonic() - start < 30
        assert proc.returncode == 74, proc.stderr
        _one_line(proc.stderr, "full/q.h5.partial: cannot write the run file", "[Errno 28 ENOSPC]")
        assert (full / "q.h5").read_bytes() == earlier
        assert sorted(p.name for p in full.iterdir()) == ["q.h5"], "the incomplete .partial is removed"


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_failing_write_is_one_line_and_removes_the_partial(tmp_path, ranks):
    """The write itself fails (the file system reports room, the device does not have it)."""
    (tmp_path / "q.toml").write_text(QUICKSTART)
    (tmp_path / "out.h5.partial").symlink_to("/dev/full")
    proc = run_hpcx(["run", "q.toml", "-o", "out.h5"], tmp_path, ranks=ranks, timeout=120)
    assert proc.returncode == 74, proc.stderr
    _one_line(proc.stderr, "out.h5.partial: cannot write the run file: [Errno 28 ENOSPC]")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.toml"]


@pytest.mark.parametrize("args, fragment", [
    (["-o", "outdir"], "outdir is a directory"),
    (["-o", "outdir", "--overwrite"], "outdir is a directory"),
    (["-o", "q.toml", "--overwrite"], "q.toml is the config file itself"),
    (["-o", "./q.toml"], "is the config file itself"),
    (["-o", "missing/q.h5"], "does not exist"),
])
def test_bad_output_paths_are_refused_before_any_work(tmp_path, args, fragment):
    (tmp_path / "q.toml").write_text(QUICKSTART)
    (tmp_path / "outdir").mkdir()
    proc = run_hpcx(["run", "q.toml", *args], tmp_path, timeout=120)
    assert proc.returncode == 2
    _one_line(proc.stderr, fragment)
    assert "phase" not in proc.stderr, "refused before any work"
    assert (tmp_path / "q.toml").read_text() == QUICKSTART and not list((tmp_path / "outdir").iterdir())


def test_a_config_with_a_utf8_bom_runs(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + QUICKSTART.encode("utf-8"))
    proc = run_hpcx(["run", "bom.toml"], tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _start(args, cwd, log, ranks=1):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    prefix = [sys.executable] if ranks == 1 else mpirun_command(ranks)
    return subprocess.Popen(prefix + ["-m", "hpcx", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)


def _wait_for(path, text, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if text in path.read_text():
            return
        time.sleep(0.05)
    pytest.fail(f"'{text}' did not appear in the log: {path.read_text()}")


SLOW = ('[run]\nworkflow = "wannier"\n[structure]\nlayers = ["MoSe2", "WSe2"]\n'
        '[wannier]\nstates = ["2p", "3d"]\nbasis_size = 1000\n')


MEDIUM = SLOW.replace("basis_size = 1000", "basis_size = 600")


def _results(path):
    import h5py
    out = {}
    with h5py.File(path) as f:
        f["results"].visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


@pytest.mark.parametrize("ranks, signum", [(1, signal.SIGTERM), (1, signal.SIGINT), (2, signal.SIGUSR1)])
def test_a_signal_leaves_a_checkpoint_and_the_rerun_is_bit_identical(tmp_path, ranks, signum):
    """wannier stops between eigenproblems (exit 75) and resumes from its restart file."""
    import numpy as np
    (tmp_path / "w.toml").write_text(MEDIUM)
    reference = run_hpcx(["run", "w.toml", "-o", "ref.h5"], tmp_path, ranks=ranks, timeout=600)
    assert reference.returncode == 0, reference.stderr
    log = tmp_path / "stopped.log"
    with open(log, "w") as stream:
        proc = _start(["run", "w.toml"], tmp_path, stream, ranks=ranks)
        _wait_for(log, "phase solve: start", proc)
        time.sleep(0.3)                     # inside the solve: its last safe point agrees on the stop
        proc.send_signal(signum)            # mpirun forwards SIGUSR1 to every rank
        proc.wait(timeout=120)
    text = log.read_text()
    assert proc.returncode == 75, text
    _one_line(text, "hpcx: stopped: ", "eigenproblems solved, checkpoint", "run the same command again")
    assert "checkpoint written: " in text and not (tmp_path / "w.h5").exists()
    assert (tmp_path / "w.h5.checkpoint" / "solved.h5").exists()
    resumed = run_hpcx(["run", "w.toml"], tmp_path, ranks=ranks, timeout=600)
    assert resumed.returncode == 0 and "resuming from " in resumed.stderr, resumed.stderr
    new, old = _results(tmp_path / "w.h5"), _results(tmp_path / "ref.h5")
    assert new.keys() == old.keys()
    for name in old:
        np.testing.assert_array_equal(new[name], old[name], err_msg=name)
    assert not (tmp_path / "w.h5.checkpoint").exists(), "the restart file is removed when the solve ends"


def test_a_second_signal_stops_at_once_without_a_checkpoint(tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW)
    log = tmp_path / "log.txt"
    with open(log, "w") as stream:
        proc = _start(["run", "slow.toml"], tmp_path, stream)
        _wait_for(log, "phase solve: start", proc)
        time.sleep(0.3)                     # past the first safe point (a signal before it stops at once)
        proc.send_signal(signal.SIGTERM)
        _wait_for(log, "SIGTERM received: stopping at the next safe point", proc)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, log.read_text()
    _one_line(log.read_text(), "hpcx: stopped by SIGTERM", "no checkpoint written")
    assert not (tmp_path / "slow.h5").exists() and not (tmp_path / "slow.h5.checkpoint").exists()


def test_a_stale_restart_file_is_moved_aside_and_named(tmp_path):
    (tmp_path / "w.toml").write_text(QUICKSTART)
    (tmp_path / "w.h5.checkpoint").mkdir()
    (tmp_path / "w.h5.checkpoint" / "solved.h5").write_bytes(b"truncated")
    proc = run_hpcx(["run", "w.toml"], tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint w.h5.checkpoint/solved.h5 not used: it cannot be read" in proc.stderr
    assert "starting afresh" in proc.stderr
    assert list(tmp_path.glob("w.h5.checkpoint-solved.h5.corrupt-*")), "the bad file is kept, named"


def test_a_transport_run_of_more_than_20_s_logs_progress_lines_with_eta(tmp_path):
    """examples/transport.toml with as many particles as make the run last > 20 s on this machine
    (a first run measures the speed; the Monte Carlo time is proportional to the particles)."""
    template = (ROOT / "examples" / "transport.toml").read_text()
    assert "particles = 100000" in template
    particles, wall = 100000, 0.0
    for _ in range(3):
        (tmp_path / "t.toml").write_text(template.replace("particles = 100000", f"particles = {particles}"))
        proc = run_hpcx(["run", "t.toml", "-o", "t.h5", "--overwrite"], tmp_path, timeout=900)
        assert proc.returncode == 0, proc.stderr
        wall = float(re.search(r"finished: .* \(([\d.]+) s wall", proc.stderr).group(1))
        if wall > 20.0:
            break
        particles = int(particles * min(10.0, 30.0 / max(wall, 1.0)))
    assert wall > 20.0, f"{particles} particles still took only {wall:.0f} s"
    progress = [line for line in proc.stderr.splitlines() if " ETA " in line]
    assert len(progress) >= 2, proc.stderr
    assert any("Monte Carlo" in line and "100.0%" not in line for line in progress), progress
    pattern = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[0/1\] INFO .+: +[\d.]+% \(\d+/\d+\) "
                         r"[\d.e+-]+ \S+/s elapsed \d+:\d\d:\d\d ETA (\d+:\d\d:\d\d|\?)$")
    assert all(pattern.match(line) for line in progress), progress
    assert "\r" not in proc.stderr
    assert len(progress) <= 4 + wall / 20.0, f"a few lines a minute, not one per item: {progress}"


@pytest.mark.parametrize("setup, args, fragment", [
    (None, ["validate", "nothere.toml"], "nothere.toml: no such file"),
    ("dir", ["validate", "d.toml"], "d.toml: is a directory, not a TOML config file"),
    (None, ["run", "q.toml", "-o", "x.h5.partial"], "x.h5.partial: output name must not end in .partial"),
])
def test_config_and_output_names(tmp_path, setup, args, fragment):
    (tmp_path / "q.toml").write_text(QUICKSTART)
    if setup == "dir":
        (tmp_path / "d.toml").mkdir()
    proc = run_hpcx(args, tmp_path, timeout=120)
    assert proc.returncode == 2
    _one_line(proc.stderr, fragment)


@pytest.mark.parametrize("code, kind, exit_code", [("ENOSPC", "OutputWriteError", 74),
                                                    ("EDQUOT", "OutputWriteError", 74),
                                                    ("EACCES", "OutputExistsError", 2),
                                                    ("EROFS", "OutputExistsError", 2)])
def test_the_output_probe_tells_full_storage_from_a_wrong_place(tmp_path, monkeypatch, code, kind, exit_code):
    """Before any work a probe file is created in the output's directory: a full or failing disk
    (no space, no inodes, quota) is exit 74 like a failed write, a forbidden place exit 2."""
    import errno
    import tempfile

    from hpcx import errors
    from hpcx.io import check_output_path

    def refuse(*args, **kwargs):
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(getattr(errors, kind), match=f"run.h5: cannot create files in {tmp_path}") as info:
        check_output_path(tmp_path / "run.h5", False)
    assert getattr(info.value, "exit_code", 2) == exit_code


def test_a_partial_name_taken_by_a_directory_is_refused_before_any_work(tmp_path):
    from hpcx.errors import OutputExistsError
    from hpcx.io import check_output_path
    (tmp_path / "run.h5.partial").mkdir()
    with pytest.raises(OutputExistsError, match=r"run.h5.partial is a directory"):
        check_output_path(tmp_path / "run.h5", True)
