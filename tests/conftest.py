"""Shared fixtures.  Test helpers live in tests/helpers.py (this directory is on sys.path).

Tests marked ``mpi`` run under ``mpirun -n 2`` and ``-n 3`` (make test).
"""

import os

import pytest

os.environ.setdefault("H5PY_ALWAYS_USE_MPI", "1")


@pytest.fixture
def comm():
    from hpcx.parallel import get_comm
    return get_comm()
