"""Independent items dealt over ranks in rounds, with a checkpoint after each round.

Each rank takes every ``size``-th item; in round n every rank solves its n-th item alone and the
results are gathered on all ranks, so a result never depends on the rank count.  Before each round
and after the last the ranks agree on a stop request (``ctx.stop_requested``): on one, the run ends
with :class:`~hpcx.errors.CheckpointedStop` (exit 75) and what is done stays in the checkpoint, or,
without a checkpoint (no output path), at once (``ctx.interrupt()``, exit 128 + signal).
"""

from __future__ import annotations

from .parallel import allgather_blocks, max_over_ranks

__all__ = ["solve_in_rounds"]


def solve_in_rounds(todo, solve, done, ctx, *, store, tree, name, unit):
    """``done`` ({item: value}) completed with every item of ``todo`` (a list, equal on all ranks).

    ``solve(item) -> (item, value)`` runs on one rank; ``store`` is the
    :class:`~hpcx.io.checkpoint.Checkpoint` (or None) that receives ``tree(done)`` after every
    round; ``name`` and ``unit`` name the work in the progress, checkpoint and stop lines.
    """
    comm = ctx.comm
    total = len(done) + len(todo)
    mine = list(todo)[comm.rank::comm.size]
    progress = ctx.progress(len(todo), f"{name} {unit}", unit=unit)
    rounds = max_over_ranks(len(mine), comm)
    for n in range(rounds + 1):                 # a safe point before each round and after the last
        if ctx.stop_requested(final=n == rounds):
            ctx.end_after_stop(store, name, f"{len(done)} of {total} {unit} done")
        if n == rounds:
            break
        new = allgather_blocks([solve(mine[n])] if n < len(mine) else [], comm)
        done.update(new)
        progress.update(len(new))
        if store is not None:
            store.save({}, tree(done), f"{len(done)} of {total} {unit} done")
    return done
