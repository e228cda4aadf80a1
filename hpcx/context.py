"""What a workflow's ``run`` receives besides its parameters: communicator, timer, logger, paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .log import PhaseTimer, Progress, get_logger
from .parallel import SerialComm


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
        """Context manager timing one named phase (``/timings/<name>`` of the run file)."""
        return self.timer.phase(name, self.log)

    def progress(self, total, label, unit="it", interval=10.0):
        """A :class:`~hpcx.log.Progress` reporter logging from rank 0."""
        return Progress(total, label, self.log, interval=interval, unit=unit)

    def stop_requested(self):
        """True once the run has been asked to stop (a signal): write a checkpoint at the next
        safe point, then raise :class:`hpcx.errors.CheckpointedStop`.  Long loops poll this."""
        return bool(self.stop_flag and self.stop_flag())

    @property
    def checkpoint_dir(self):
        """``<output>.checkpoint/``: restart files, removed when the run finishes (None without output)."""
        return None if self.output is None else Path(str(self.output) + ".checkpoint")
