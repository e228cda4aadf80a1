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


def require_kernel(name):
    """Import ``hpcx._kernels.<name>``; fail under HPCX_REQUIRE_KERNELS=1 (make test), else skip."""
    import importlib
    try:
        return importlib.import_module(f"hpcx._kernels.{name}")
    except ImportError as exc:
        if os.environ.get("HPCX_REQUIRE_KERNELS") == "1":
            pytest.fail(f"hpcx._kernels.{name} is not built but HPCX_REQUIRE_KERNELS=1: {exc}")
        pytest.skip(f"hpcx._kernels.{name} not built")


@pytest.fixture
def comm():
    from hpcx.parallel import get_comm
    return get_comm()


def assert_ranks_agree(text, comm, tmp_path_factory, required=(), rtol=0.0, scale_atol=0.0):
    """Run config ``text`` on ``comm`` (2 ranks) and serially on every rank; compare /results.

    Integer/bool datasets must be identical; floats identical (rtol=0) or within rtol, or
    within scale_atol times the dataset's largest magnitude (for iterative solvers: noise-level
    entries such as dark-state oscillator strengths carry no relative accuracy).
    ``required`` names datasets (relative to /results) that must be present.
    """
    import h5py
    import numpy as np

    from hpcx.parallel import SerialComm
    from test_wannier_workflow import run_config

    assert comm.size == 2
    base = comm.bcast(str(tmp_path_factory.mktemp("ranks")) if comm.rank == 0 else None)
    parallel = run_config(text, f"{base}/two.h5", comm)
    serial = run_config(text, f"{base}/one_{comm.rank}.h5", SerialComm())
    comm.Barrier()
    names = []
    with h5py.File(parallel) as p, h5py.File(serial) as s:
        assert p.attrs["mpi_size"] == 2 and s.attrs["mpi_size"] == 1
        s["results"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        for name in required:
            assert name in names, name
        for name in names:
            a, b = p[f"results/{name}"][()], s[f"results/{name}"][()]
            if (rtol == 0.0 and scale_atol == 0.0) or np.asarray(a).dtype.kind not in "fc":
                np.testing.assert_array_equal(a, b, err_msg=name)
            else:
                atol = scale_atol * float(np.max(np.abs(b))) if np.size(b) else 0.0
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)
