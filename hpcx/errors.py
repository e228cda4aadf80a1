"""Exceptions a user can act on.  The CLI prints them as one line, no traceback."""


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
    """The output file exists and ``--overwrite`` was not given."""


class ConvergenceError(HpcxError):
    """A numerical method did not converge to the requested tolerance."""


class CheckpointedStop(HpcxError):
    """The run was asked to stop (SIGTERM, SIGINT, SIGUSR1) and left a checkpoint to resume from.

    The CLI exits with :data:`EXIT_CHECKPOINTED`; rerunning the same command resumes.
    """

    exit_code = 75          # EX_TEMPFAIL: rerun to continue


EXIT_CHECKPOINTED = CheckpointedStop.exit_code
