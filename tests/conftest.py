"""Shared fixtures.  Tests marked ``mpi`` run under ``mpirun -n 2`` (make test)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")


def mpirun_command(n):
    """argv prefix that starts ``n`` ranks of this Python, or None without mpirun."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        return None
    cmd = [mpirun, "-n", str(n)]
    if os.geteuid() == 0:
        cmd += ["--allow-run-as-root", "--oversubscribe"]
    return cmd + [sys.executable]


def run_hpcx(args, cwd, ranks=1, timeout=300):
    """Run ``python -m hpcx ARGS`` (under mpirun for ranks > 1); CompletedProcess."""
    if ranks == 1:
        prefix = [sys.executable]
    else:
        prefix = mpirun_command(ranks)
        if prefix is None:
            if os.environ.get("CI"):
                pytest.fail("mpirun not found (CI must test MPI)")
            pytest.skip("mpirun not found")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(prefix + ["-m", "hpcx", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def comm():
    from hpcx.parallel import get_comm
    return get_comm()
