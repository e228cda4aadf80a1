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

from helpers import QUICKSTART, ROOT, run_hpcx


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


def _start(args, cwd, log):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "hpcx", *args], cwd=cwd, env=env,
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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1])
def test_a_signal_before_any_safe_point_stops_at_once_with_one_line(tmp_path, signum):
    """wannier has no safe point (nothing to resume): the signal ends it at once, exit 128 + N."""
    (tmp_path / "slow.toml").write_text(SLOW)
    log = tmp_path / "log.txt"
    with open(log, "w") as stream:
        proc = _start(["run", "slow.toml"], tmp_path, stream)
        _wait_for(log, "phase solve: start", proc)
        proc.send_signal(signum)
        proc.wait(timeout=30)
    assert proc.returncode == 128 + signum, log.read_text()
    name = signal.Signals(signum).name
    _one_line(log.read_text(), f"hpcx: stopped by {name}", "no checkpoint written")
    assert not (tmp_path / "slow.h5").exists()


def test_a_long_run_logs_progress_lines_with_rate_and_eta(tmp_path):
    (tmp_path / "slow.toml").write_text(SLOW)
    proc = run_hpcx(["run", "slow.toml"], tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr
    wall = float(re.search(r"finished: .* \(([\d.]+) s wall", proc.stderr).group(1))
    if wall < 20.0:
        pytest.skip(f"the run took {wall:.0f} s on this machine; the check needs > 20 s")
    progress = [line for line in proc.stderr.splitlines() if " ETA " in line]
    assert len(progress) >= 2, proc.stderr
    assert any("100.0%" not in line for line in progress), "a line before the end"
    pattern = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[0/1\] INFO .+: +[\d.]+% \(\d+/\d+\) "
                         r"[\d.e+-]+ \S+/s elapsed \d+:\d\d:\d\d ETA (\d+:\d\d:\d\d|\?)$")
    assert all(pattern.match(line) for line in progress), progress
    assert "\r" not in proc.stderr
    assert len(progress) <= 4 + wall / 20.0, "a few lines a minute, not one per item"
