"""What a workflow's ``run`` receives besides its parameters: communicator, timer, logger, paths."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

from .errors import CheckpointedStop
from .log import ONCE, PhaseTimer, Progress, get_logger
from .parallel import SerialComm, max_over_ranks
from .stopping import Interrupted, StopFlag


@dataclasses.dataclass
class RunContext:
    """The run-time environment of one workflow run (built by :func:`hpcx.api.run`).

    ``output`` is the final run-file path (``None`` when the result is not
    written, e.g. a library call from a script); long-running workflows put
    their restart files in :attr:`checkpoint_dir`.
    """

    comm: object = dataclasses.field(default_factory=SerialComm)
    timer: PhaseTimer = dataclasses.field(default_factory=PhaseTimer)
    output: Path | None = None
    workflow: str = ""
    stop_flag: object = None        # callable -> bool, set by the run's signal handling

    @property
    def log(self):
        return get_logger(self.workflow or None)

    def phase(self, name):
        """Context manager timing one named phase (``/timings/<name>`` of the run file).

        A signal during a phase that never calls :meth:`stop_requested` stops
        the run at once (no checkpoint); see :mod:`hpcx.stopping`.
        """
        new_phase = getattr(self.stop_flag, "new_phase", None)
        if new_phase is not None:
            new_phase()
        return self.timer.phase(name, self.log)

    def progress(self, total, label, unit="it", interval=None, first=None, done=0):
        """A :class:`~hpcx.log.Progress` reporter: whole log lines from rank 0 with rate and ETA.

        Lines come ``first`` seconds after the start (default 10 s), then every
        ``interval`` seconds (default 20 s), and at the end.  ``done`` steps
        are already complete (a resumed run): the rate counts only new steps.
        """
        return Progress(total, label, self.log, interval=interval, unit=unit, first=first,
                        done=done, enabled=self.comm.rank == 0)

    def stop_requested(self, comm=None, *, final=False):
        """True once the run has been asked to stop (SIGTERM, SIGINT, SIGUSR1).

        Collective over ``comm`` (default: the run's communicator): every rank
        calls it at the same safe points and gets the same answer, even if the
        signal reached only some ranks.  Ranks with fewer items than others
        still poll as often as the busiest one (loop over the largest count).  It is cheap (one small allreduce about
        once a second at most).  When it returns True, write the checkpoint and
        raise :class:`hpcx.errors.CheckpointedStop` on every rank of the run's
        communicator (a workflow that polls on sub-communicators agrees over
        ``ctx.comm`` before raising).
        """
        if not self.stop_flag:
            return False
        if isinstance(self.stop_flag, StopFlag):
            return bool(self.stop_flag(comm, final=final))
        asked = self.stop_flag() if comm is None else self.stop_flag(comm)     # a test's plain callable,
        return bool(max_over_ranks(int(bool(asked)), comm or self.comm))       # per rank: agreed here

    def interrupt(self):
        """Raise :class:`hpcx.stopping.Interrupted` after :meth:`stop_requested` agreed, in a phase
        that keeps no checkpoint: called on every rank, the run ends there with exit 128 + the signal
        (SIGTERM on a rank the signal did not reach) instead of computing on to the next phase."""
        raise Interrupted(getattr(self.stop_flag, "signum", None) or signal.SIGTERM)

    def end_after_stop(self, store, what, status):
        """End the run on every rank after an agreed stop request: :class:`~hpcx.errors.CheckpointedStop`
        (exit 75: "``what`` stopped on request with ``status`` (in PATH, if written) ...") when ``store`` (the
        phase's Checkpoint) keeps what is done, else at once with :meth:`interrupt` (no output path:
        nothing to resume into)."""
        if store is None:
            self.log.warning("%s: stop requested, no output path, so no checkpoint; stopping now", what, extra=ONCE)
            self.interrupt()
        where = f" (in {store.path})" if store.path.exists() else ""     # nothing of this phase kept yet
        raise CheckpointedStop(f"{what} stopped on request with {status}{where}; rerun the same command to "
                               f"continue")

    def checkpoint(self, name, fingerprint, comm=None):
        """The restart file ``<checkpoint_dir>/<name>.h5`` (:class:`hpcx.io.checkpoint.Checkpoint`)
        of parameters with ``fingerprint``, written by rank 0 of ``comm`` (default: the run's); None
        when the run has no output path (nothing to resume into)."""
        if self.checkpoint_dir is None:
            return None
        from .io.checkpoint import Checkpoint
        return Checkpoint(self.checkpoint_dir, name, fingerprint, self.comm if comm is None else comm, self.log)

    @property
    def checkpoint_dir(self):
        """``<output>.checkpoint/``: restart files, removed when the run finishes (None without output)."""
        return None if self.output is None else Path(str(self.output) + ".checkpoint")
