"""1 rank and several ranks give identical kinetics results: rate rows and sweep points over ranks,
also when the sweep is stopped and resumed from its checkpoint."""

import importlib

import numpy as np
import pytest

from helpers import assert_ranks_agree, kinetics_config, params_of, run_config

pytestmark = pytest.mark.mpi


def test_ranks_agree_main_point_and_sweep(comm, tmp_path_factory):
    assert_ranks_agree(kinetics_config(sweep=True, substrates=["SiO2", "vacuum"]), comm, tmp_path_factory,
                       required=["density", "occupation", "formation_time", "pl/intensity", "sweep/formation_time"])


def test_stopped_sweep_resumes_to_the_serial_result(comm, tmp_path_factory):
    """A stop request on one rank only stops every rank after the same round; the rerun finishes the
    missing points and equals a serial run."""
    from hpcx import api
    from hpcx.context import RunContext
    from hpcx.errors import CheckpointedStop
    from hpcx.parallel import SerialComm
    from hpcx.workflows import kinetics

    run_module = importlib.import_module("hpcx.workflows.kinetics.run")
    text = kinetics_config(sweep=True)
    p = params_of(text)
    base = comm.bcast(str(tmp_path_factory.mktemp("stop")) if comm.rank == 0 else None)
    out = f"{base}/k.h5"
    polls = {"n": 0}

    def flag():                      # rank 1 is signalled after the first round
        polls["n"] += 1
        return comm.rank == 1 and polls["n"] > 1

    with pytest.raises(CheckpointedStop):
        kinetics.run(p, RunContext(comm, output=out, workflow="kinetics", stop_flag=flag))
    calls = []
    solve = run_module.solve_point
    run_module.solve_point = lambda *a, **k: calls.append(a[1:3]) or solve(*a, **k)
    try:
        resumed = kinetics.run(p, RunContext(comm, output=out, workflow="kinetics"))
    finally:
        run_module.solve_point = solve
    done_first = min(comm.size, len(p.points))
    assert comm.allreduce(len(calls)) == comm.size + len(p.points) - done_first   # main point on every rank
    serial = api.read(run_config(text, f"{base}/serial_{comm.rank}.h5", SerialComm())).sweep
    np.testing.assert_array_equal(resumed.sweep.formation_time, serial.formation_time)
