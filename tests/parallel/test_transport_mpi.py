"""1 rank and several ranks give bit-identical Monte Carlo moments; a stop request on one rank
stops every rank with a checkpoint; damaged checkpoints are set aside alike on every rank, and a
checkpoint directory that cannot be created or damaged input tables are one error on every rank;
the tables are held once per node in shared memory and give the result of private copies (run
under mpirun -n 2 and -n 3)."""

import types
from pathlib import Path

import h5py
import numpy as np
import pytest

from hpcx.errors import CheckpointedStop, InputError, OutputWriteError
from hpcx.parallel import SerialComm, block_range, broadcast, shared_arrays
from hpcx.physics import mc_engine as me
from hpcx.physics import mc_table as mt
from hpcx.physics import scattering_tables as st

from helpers import SCATTERING_SMALL as SCAT
from helpers import TRANSPORT_SMALL as SMALL
from helpers import HpcxLog, assert_ranks_agree, run_config, run_with_context, stop_after

pytestmark = pytest.mark.mpi

REQUIRED = ("variance", "msd", "diffusion/stationary", "occupation", "profiles", "sweep/diffusion")


def test_particles_over_ranks_equal_one_rank(comm, tmp_path_factory):
    # (d) one sweep point, its particles (batches) split over the ranks, tables read from a
    # scattering run file: every dataset identical, checkpoints (gathered particles) included
    path = None
    if comm.rank == 0:
        path = str(run_config(SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0"),
                              tmp_path_factory.mktemp("scat") / "s.h5", SerialComm()))
    path = broadcast(path, comm)
    text = SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{path}"').replace(
        "checkpoint_every = 0", "checkpoint_every = 7")
    assert_ranks_agree(text, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_sweep_points_over_groups_of_ranks_equal_one_rank(comm, tmp_path_factory):
    # two sweep points on two groups of ranks (in-process tables) = the serial sweep
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 300.0]")
    assert_ranks_agree(text, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


def test_in_process_tables_over_ranks(comm, tmp_path_factory):
    # one point, tables and particles both split over the ranks: the tables are bit-identical
    # on any rank layout (tests/test_scattering_mpi.py), so the moments are too
    assert_ranks_agree(SMALL, comm, tmp_path_factory, required=REQUIRED, rtol=0.0)


@pytest.mark.parametrize("events_per_piece", [me.EVENTS_PER_PIECE, 2000], ids=["whole", "pieces"])
def test_stop_on_one_rank_stops_all_and_resumes_bit_identical(comm, tmp_path_factory, events_per_piece,
                                                               monkeypatch):
    # a stop request seen by the last rank only (a signal delivered late elsewhere) stops every rank
    # at the same sample (or, with intervals pushed in pieces, between the same two pieces) with one
    # checkpoint per point; the rerun on the same ranks equals a serial uninterrupted run of whole
    # intervals; two sweep points, so with 3 ranks the groups differ in size
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 300.0]")
    base = broadcast(str(tmp_path_factory.mktemp("stop")) if comm.rank == 0 else None, comm)
    monkeypatch.setattr(me, "EVENTS_PER_PIECE", events_per_piece)
    with pytest.raises(CheckpointedStop):
        run_with_context(text, f"{base}/run.h5", comm, stop_after(7, rank=comm.size - 1, comm=comm))
    inside = None
    if comm.rank == 0:
        inside = []
        for path in sorted(Path(base, "run.h5.checkpoint").glob("point_*.h5")):
            with h5py.File(path) as f:
                inside.append("events" in f.attrs)      # a checkpoint between pieces holds the counts
    assert any(broadcast(inside, comm)) == (events_per_piece == 2000)
    out = run_with_context(text, f"{base}/run.h5", comm)
    monkeypatch.undo()
    ref = run_with_context(text, f"{base}/ref_{comm.rank}.h5", SerialComm())
    for name, value in ref.observables.items():
        np.testing.assert_array_equal(out.observables[name], value, err_msg=name)
    np.testing.assert_array_equal(out.occupation, ref.occupation)


def test_damaged_checkpoints_are_set_aside_on_every_rank(comm, tmp_path_factory):
    # both points stopped early; one checkpoint with a particle state beyond the table (a segfault
    # in the push when used), the other without a particle field: rank 0 of each group refuses its
    # checkpoint, every rank of the group starts that point afresh, and the rerun equals a serial
    # uninterrupted run
    text = SMALL.replace("temperatures = [150.0]", "temperatures = [100.0, 300.0]")
    base = broadcast(str(tmp_path_factory.mktemp("damaged")) if comm.rank == 0 else None, comm)
    with pytest.raises(CheckpointedStop):
        run_with_context(text, f"{base}/run.h5", comm, stop_after(7))
    if comm.rank == 0:
        with h5py.File(f"{base}/run.h5.checkpoint/point_0000.h5", "r+") as f:
            f["particles/state"][5] = 10 ** 9
        with h5py.File(f"{base}/run.h5.checkpoint/point_0001.h5", "r+") as f:
            del f["particles/ctr"]
    comm.Barrier()
    with HpcxLog() as log:
        out = run_with_context(text, f"{base}/run.h5", comm)
    assert "resuming" not in log.text
    aside = broadcast(sorted(p.name for p in Path(base).glob("run.h5.checkpoint-point_*.h5.corrupt-*")), comm)
    assert [name[:len("run.h5.checkpoint-point_0000.h5")] for name in aside] == [
        "run.h5.checkpoint-point_0000.h5", "run.h5.checkpoint-point_0001.h5"]
    ref = run_with_context(text, f"{base}/ref_{comm.rank}.h5", SerialComm())
    for name, value in ref.observables.items():
        np.testing.assert_array_equal(out.observables[name], value, err_msg=name)
    np.testing.assert_array_equal(out.occupation, ref.occupation)


@pytest.mark.parametrize("temperatures", ["[150.0]", "[100.0, 300.0]"], ids=["one group", "groups"])
def test_a_checkpoint_directory_that_cannot_be_created_is_one_error_on_every_rank(comm, tmp_path_factory,
                                                                                  temperatures):
    # its name taken by a file: the checkpoint at the stop is an OutputWriteError (exit 74) naming
    # the directory and the errno on every rank, none left waiting (one sweep point on all ranks, or
    # two on groups of ranks that each fail to write theirs)
    text = SMALL.replace("temperatures = [150.0]", f"temperatures = {temperatures}")
    base = broadcast(str(tmp_path_factory.mktemp("blocked")) if comm.rank == 0 else None, comm)
    if comm.rank == 0:
        Path(base, "run.h5.checkpoint").write_text("")
    comm.Barrier()
    with pytest.raises(OutputWriteError, match=r"run.h5.checkpoint: cannot create the checkpoint directory: "
                                               r"\[Errno 17 EEXIST\]") as info:
        run_with_context(text, f"{base}/run.h5", comm, stop_after(3))
    assert info.value.exit_code == 74 and info.value.collective


def test_damaged_input_tables_are_one_input_error_on_every_rank(comm, tmp_path_factory):
    # a final-state index damaged inside the transport.input file: every rank raises the same
    # InputError naming the file and the key (exit 2 once, no abort)
    path = None
    if comm.rank == 0:
        path = str(run_config(SCAT.replace("table_temperature = 30.0", "table_temperature = 150.0"),
                              tmp_path_factory.mktemp("scat") / "s.h5", SerialComm()))
        with h5py.File(path, "r+") as f:
            f["results/rates/indices"][3] = 10 ** 6
    path = broadcast(path, comm)
    base = broadcast(str(tmp_path_factory.mktemp("input")) if comm.rank == 0 else None, comm)
    text = SMALL.replace("twist_deg = [3.0]\ntemperatures = [150.0]", f'input = "{path}"')
    with pytest.raises(InputError, match="transport.input: the scattering tables cannot be used: McTable: "
                                         "final-state index out of range") as info:
        run_config(text, f"{base}/t.h5", comm)
    assert str(info.value).startswith(f"{path}: ") and info.value.collective


def _random_states_and_rows(n, comm):
    """States (energy meV, velocity nm/ps, two groups) and this rank's rows of a random sparse
    rate matrix (1/ps), identical for any number of ranks."""
    rng = np.random.default_rng(11)
    W = rng.exponential(1.0, (n, n)) * (rng.random((n, n)) < 0.3)
    states = types.SimpleNamespace(energy=rng.random(n) * 20.0, velocity=rng.normal(size=(n, 2)) * 30.0,
                                   group=np.arange(n) % 2, group_names=("a", "b"), weight=1.0 + rng.random(n),
                                   k=rng.normal(size=(n, 2)))
    start, stop = block_range(n, comm.size, comm.rank)
    return states, W[start:stop]


def test_shared_tables_are_one_copy_per_node_and_equal_private_ones(comm):
    # the rows gathered into node-shared memory: rank 0 (the node root) holds the only copy, the
    # other ranks allocate nothing for it, the CSR rows, alias tables and per-state arrays lie in
    # the windows, and the Monte Carlo on it equals the Monte Carlo on private copies bit for bit;
    # with decay, the shared alias tables are kept
    states, W = _random_states_and_rows(300, comm)
    private = st.mc_table(states, W, 0.02, comm)
    params = me.McParams(3000, 6, 5, 40.0, "alias", np.linspace(-300.0, 300.0, 31))
    times = np.linspace(0.0, 3.0, 4)
    with shared_arrays(comm) as arena:
        shared = st.mc_table(states, W, 0.02, comm, arena).share_alias(arena)
        assert arena.shared and arena.node_size == comm.size
        assert arena.local_bytes == (arena.nbytes if comm.rank == 0 else 0)
        assert arena.nbytes >= 48 * shared.nnz
        for name in mt.SHARED_FIELDS:
            assert arena.holds(getattr(shared, name)), name
            np.testing.assert_array_equal(getattr(shared, name), getattr(private, name), err_msg=name)
        decayed = shared.with_decay(0.5, 1.0)
        assert arena.holds(decayed.alias()) and arena.holds(decayed.indices)
        np.testing.assert_array_equal(decayed.alias(), private.alias())
        for a, b in ((shared, private), (decayed, private.with_decay(0.5, 1.0))):
            cdf = mt.initial_cdf(b, "uniform", e0=15.0)
            ra = me.simulate(a, params, times, cdf, comm).as_dict()
            rb = me.simulate(b, params, times, cdf, comm).as_dict()
            for key, value in rb.items():
                np.testing.assert_array_equal(ra[key], value, err_msg=key)
        assert ra["decays"][-1] > 0


def test_workflow_tables_are_shared_on_the_node(comm, tmp_path_factory):
    # the workflow places its tables in the node-shared memory of the group's ranks
    base = broadcast(str(tmp_path_factory.mktemp("shared")) if comm.rank == 0 else None, comm)
    with HpcxLog() as log:
        run_config(SMALL, f"{base}/run.h5", comm)
    if comm.rank == 0:
        assert f"one copy per node in shared memory ({comm.size} ranks of the group on this node" in log.text
        assert "MiB allocated by this rank" in log.text


def test_bench_tables_allocated_once_per_node(comm):
    # `hpcx bench transport --memory-only` on a tiny table: with shared tables only the node's first
    # rank allocates them (one copy per node); with private tables every rank holds a copy
    import argparse

    from hpcx.bench import transport as bench
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    common = ["--grid", "3", "--refine", "2", "--particles", "2000", "--samples", "2", "--t-push", "2",
              "--memory-only"]
    shared = bench.run(parser.parse_args(common), comm)["memory"]
    private = bench.run(parser.parse_args(common + ["--tables", "private"]), comm)["memory"]
    copy = private["ranks"][0]["allocated"]
    assert copy > 0 and [r["allocated"] for r in private["ranks"]] == [copy] * comm.size
    assert [r["allocated"] for r in shared["ranks"]] == [copy] + [0.0] * (comm.size - 1)
    assert shared["node"]["allocated"] * comm.size == pytest.approx(private["node"]["allocated"], rel=1e-12)
