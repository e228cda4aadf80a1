"""Exceptions a user can act on.  The CLI prints them as one line, no traceback."""

import sys


class HpcxError(Exception):
    """An error caused by input, environment or output location, not by a bug.

    ``collective`` is True when every rank of the communicator raised it (see
    :func:`hpcx.parallel.all_or_none`); the CLI then reports it once from rank 0
    instead of aborting the communicator.
    """

    collective = False


class ConfigError(HpcxError):
    """A config file is malformed or holds a value outside what is allowed."""

    def __init__(self, source, key, message):
        self.source, self.key, self.message = str(source), key, message
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        super().__init__(where + message)

    def __reduce__(self):  # picklable, so it can travel between MPI ranks
        return (type(self), (self.source, self.key, self.message))


class InputError(HpcxError):
    """An input data file (earlier run, Wannier90 file, ...) cannot be used."""


class OutputExistsError(HpcxError):
    """The output cannot be used: it exists without ``--overwrite``, is a directory, is the
    config file itself, or its directory is missing or not writable."""


class OutputWriteError(HpcxError):
    """Writing or renaming an output file failed (full disk, quota, I/O error); the message names
    the path and the errno.  Exit code 74 (EX_IOERR)."""

    exit_code = 74


class ResourceError(HpcxError):
    """The run would need more memory (or another resource) than this job has."""


class NumericalError(HpcxError):
    """A computation produced a non-finite or otherwise invalid number where that means a
    wrong result (see :func:`hpcx.checks.numerical_errors`)."""


class ConvergenceError(HpcxError):
    """A numerical method did not converge to the requested tolerance."""


class CheckpointedStop(HpcxError):
    """The run was asked to stop (SIGTERM, SIGINT, SIGUSR1) and left a checkpoint to resume from.

    The CLI exits with :data:`EXIT_CHECKPOINTED`; rerunning the same command resumes.
    """

    exit_code = 75          # EX_TEMPFAIL: rerun to continue


EXIT_CHECKPOINTED = CheckpointedStop.exit_code


def error_line(exc, rank=None):
    """The one line an error is reported as: ``hpcx: error: MESSAGE`` for an :class:`HpcxError`,
    ``hpcx: stopped: ...`` for a :class:`CheckpointedStop`, ``hpcx: internal error: Type: message``
    for anything else; ``[rank N] `` before the message when only that rank raised it."""
    user = isinstance(exc, HpcxError)
    prefix = ("hpcx: stopped: " if isinstance(exc, CheckpointedStop)
              else "hpcx: error: " if user else "hpcx: internal error: ")
    where = "" if rank is None else f"[rank {rank}] "
    return prefix + where + (str(exc) if user else f"{type(exc).__name__}: {exc}")


def print_line(line, stream=None):
    """Write ``line`` and its newline to ``stream`` (default stderr) in one write and flush: the
    ranks of a job share one stderr, and print() writes the text and the newline separately, so
    another process's output (mpirun's abort notice, another rank's line) could land in between."""
    stream = sys.stderr if stream is None else stream
    stream.write(line + "\n")
    stream.flush()
