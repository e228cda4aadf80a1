"""The hpcx command as a user runs it: exit codes, one-line errors, atomic output."""

import os
import signal
import subprocess
import sys
import time

import h5py
import pytest

from hpcx.errors import CheckpointedStop
from hpcx.io.checkpoint import Checkpoint
from hpcx.parallel import SerialComm
from hpcx.summary import describe

from helpers import ROOT, TRANSPORT_SMALL, HpcxLog, run_hpcx, run_with_context, stop_after

BAD = """
[run]
workflow = "wannier"
[structure]
layers = ["MoSe2", "WSe3"]
"""


def _one_error_line(stderr, *fragments):
    lines = [line for line in stderr.splitlines() if line.startswith("hpcx: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("ranks", [1, 2])
def test_bad_config_one_line_nonzero_no_hang(tmp_path, ranks):
    (tmp_path / "bad.toml").write_text(BAD)
    for command in (["validate", "bad.toml"], ["run", "bad.toml"]):
        proc = run_hpcx(command, tmp_path, ranks=ranks, timeout=120)
        assert proc.returncode != 0
        _one_error_line(proc.stderr, "bad.toml", "structure.layers[1]", "unknown TMD 'WSe3'", "known:")
    assert not list(tmp_path.glob("*.h5*")), "nothing may be written before validation passes"


def test_an_error_line_is_written_in_one_piece():
    """The ranks of a job share stderr: text and newline in one write, so that no other process's
    output (mpirun's abort notice) lands inside the line."""
    from hpcx.errors import print_line

    class Recorder:
        def __init__(self):
            self.writes, self.flushed = [], 0

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            self.flushed += 1

    stream = Recorder()
    print_line("hpcx: error: x.toml: run.workflow: missing", stream)
    assert stream.writes == ["hpcx: error: x.toml: run.workflow: missing\n"] and stream.flushed == 1


def test_debug_shows_traceback(tmp_path):
    (tmp_path / "bad.toml").write_text(BAD)
    proc = run_hpcx(["--debug", "validate", "bad.toml"], tmp_path)
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_run_refuses_to_overwrite_and_leaves_file_untouched(tmp_path):
    config = tmp_path / "q.toml"
    config.write_text((ROOT / "examples" / "quickstart.toml").read_text())
    first = run_hpcx(["run", "q.toml"], tmp_path)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "q.h5"
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    second = run_hpcx(["run", "q.toml", "-o", "q.h5"], tmp_path)
    assert second.returncode == 2
    _one_error_line(second.stderr, "q.h5 exists", "--overwrite")
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    assert not (tmp_path / "q.h5.partial").exists()
    third = run_hpcx(["run", "q.toml", "--overwrite"], tmp_path)
    assert third.returncode == 0 and out.stat().st_mtime_ns != before[1]


def test_killed_run_leaves_only_partial(tmp_path):
    config = tmp_path / "slow.toml"
    config.write_text('[run]\nworkflow = "wannier"\n[structure]\nlayers = ["MoSe2", "WSe2"]\n'
                      '[wannier]\nstates = ["1s", "2p", "3d", "4f", "5g", "6h"]\nbasis_size = 300\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "hpcx", "run", "slow.toml"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / "slow.h5.partial"
    deadline = time.time() + 60
    while not partial.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert partial.exists(), "run finished before it could be killed; make the config slower"
    assert not (tmp_path / "slow.h5").exists()


def test_two_rank_run_writes_one_complete_file(tmp_path):
    config = tmp_path / "q.toml"
    config.write_text((ROOT / "examples" / "quickstart.toml").read_text())
    proc = run_hpcx(["run", "q.toml", "-o", "out.h5"], tmp_path, ranks=2)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "q.toml"]
    with h5py.File(tmp_path / "out.h5") as f:
        assert f.attrs["mpi_size"] == 2 and f.attrs["finished"]
        assert set(f["timings"]) >= {"solve", "write"}
        assert f["config"][()].decode() == config.read_text()


def test_info_reports_the_parallel_stack(tmp_path):
    proc = run_hpcx(["info"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "complex scalars" in out and "SLEPc" in out and "present" in out
    rows = {line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in out.splitlines() if "  " in line}
    assert rows["h5py MPI (mpio)"] == "True"
    from hpcx._kernels import EXPECTED
    for name in EXPECTED:
        assert rows[f"kernel {name}"] == "compiled, importable"


def test_plot_writes_pngs_next_to_the_file(tmp_path):
    config = tmp_path / "q.toml"
    config.write_text((ROOT / "examples" / "quickstart.toml").read_text())
    assert run_hpcx(["run", "q.toml"], tmp_path).returncode == 0
    proc = run_hpcx(["plot", "q.h5"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["q_levels.png", "q_wavefunctions.png"]


def test_show_summarises_finished_and_unfinished_run_files(tmp_path):
    config = tmp_path / "q.toml"
    config.write_text((ROOT / "examples" / "quickstart.toml").read_text())
    assert run_hpcx(["run", "q.toml"], tmp_path).returncode == 0
    proc = run_hpcx(["show", "q.h5", "--config"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("q.h5: 'wannier' run, finished 20")
    with h5py.File(tmp_path / "q.h5") as f:
        eb = f["results/excitons/MoSe2-WSe2/binding_energy"][()]
        n_results = sum(1 for _ in _datasets(f["results"]))
    row = next(line for line in lines if "excitons/MoSe2-WSe2/binding_energy " in line)
    assert row.split()[1:3] == [f"[{len(eb)}]", "meV"]
    assert row.split("= ")[1] == ", ".join(f"{v:.6g}" for v in eb)
    assert f"results (/results, {n_results} datasets):" in lines
    assert config.read_text().rstrip("\n") in proc.stdout

    (tmp_path / "q.h5").rename(tmp_path / "q.h5.partial")
    (tmp_path / "q.h5.checkpoint").mkdir()
    (tmp_path / "q.h5.checkpoint" / "wannier.h5").write_bytes(b"")
    proc = run_hpcx(["show", "q.h5"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "q.h5.partial: 'wannier' run, UNFINISHED" in proc.stdout
    assert "q.h5.checkpoint/ (1 file(s)): the same command continues the run" in proc.stdout
    assert "    wannier.h5: unreadable (" in proc.stdout

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1.0
    proc = run_hpcx(["show", "other.h5"], tmp_path)
    assert proc.returncode == 2
    _one_error_line(proc.stderr, "other.h5", "not an hpcx run file")


def _datasets(group):
    for item in group.values():
        if isinstance(item, h5py.Dataset):
            yield item
        else:
            yield from _datasets(item)


def test_bench_lists_every_benchmark_module(tmp_path):
    from hpcx.bench import BENCH_MODULES
    proc = run_hpcx(["bench", "--help"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in BENCH_MODULES:
        assert name in proc.stdout


def test_every_workflow_module_is_registered():
    from hpcx import workflows
    for name in workflows.WORKFLOW_MODULES:
        module = workflows.load(name)
        assert module.SCHEMA is not None and callable(module.run)
        assert callable(getattr(module, "params", None) or getattr(module, "check", None))


# -- the command line itself ------------------------------------------------------------

def test_bare_hpcx_prints_help(tmp_path):
    proc = run_hpcx([], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: hpcx") and "run" in proc.stdout and "exit codes" in proc.stdout


def test_version(tmp_path):
    from hpcx import __version__
    proc = run_hpcx(["--version"], tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(f"hpcx {__version__} (git ")


@pytest.mark.parametrize("ranks", [1, 2])
def test_command_line_errors_come_once_and_options_are_not_abbreviated(tmp_path, ranks):
    """A misspelled option is an error on every rank (exit 2), printed once per job; a prefix of
    --overwrite must not overwrite an existing output."""
    (tmp_path / "bad.toml").write_text(BAD)
    proc = run_hpcx(["run", "bad.toml", "--overwrit"], tmp_path, ranks=ranks, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("unrecognized arguments: --overwrit") == 1, proc.stderr
    assert proc.stderr.count("usage: hpcx") == 1, proc.stderr


def test_debug_is_accepted_after_the_command(tmp_path):
    (tmp_path / "bad.toml").write_text(BAD)
    for args in (["validate", "--debug", "bad.toml"], ["validate", "bad.toml", "--debug"],
                 ["--debug", "validate", "bad.toml"]):
        proc = run_hpcx(args, tmp_path)
        assert proc.returncode == 2 and "Traceback" in proc.stderr, args
    assert "Traceback" not in run_hpcx(["validate", "bad.toml"], tmp_path).stderr


def test_every_positional_argument_has_help():
    import argparse

    from hpcx.cli import _parser

    def walk(parser, where):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{where} {name}")
            elif not action.option_strings:
                yield where, action
    missing = [f"{where}: {action.dest}" for where, action in walk(_parser(), "hpcx") if not action.help]
    assert not missing, missing


def test_info_output_is_plain_text(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hpcx", "info"], cwd=tmp_path, capture_output=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 0
    out = proc.stdout.decode("utf-8")
    assert "\x00" not in out and all(ch.isprintable() or ch == "\n" for ch in out)


def test_show_describes_a_stopped_run_by_its_checkpoints(tmp_path):
    # a run stopped before writing its file (exit 75) is shown by its checkpoints: when each was
    # written and what it holds (the text of its log line); so is one checkpoint file; the
    # description is bookkeeping, not one of the workflow's attributes
    with HpcxLog() as log, pytest.raises(CheckpointedStop):
        run_with_context(TRANSPORT_SMALL, tmp_path / "run.h5", stop_flag=stop_after(5))
    logged = next(line for line in log.text.splitlines() if line.startswith("checkpoint written: "))
    what = logged.split(" (", 1)[1].removesuffix(")")
    assert what.startswith("point 0, t = ")
    lines = describe(tmp_path / "run.h5")
    directory = tmp_path / "run.h5.checkpoint"
    assert lines[0] == f"{tmp_path / 'run.h5'}: not written yet: the run stopped before its end (exit 75 at a " \
                       f"checkpoint, or a failure) or is still running"
    assert lines[1] == f"  checkpoint  {directory}/ (1 file(s)): the same command continues the run"
    assert lines[2].startswith(f"    point_0000.h5: written {time.strftime('%Y')}") and lines[2].endswith(f": {what}")
    assert describe(directory / "point_0000.h5")[1] == lines[2]
    with h5py.File(directory / "point_0000.h5") as f:
        fingerprint = f.attrs["fingerprint"]
    state = Checkpoint(directory, "point_0000", fingerprint, SerialComm(), None).load()
    assert set(state["attrs"]) == {"done", "next_sample"}
