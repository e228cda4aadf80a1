"""Rank-aware logging, phase timers and progress lines that read well in SLURM logs.

Rank 0 logs at the chosen level; other ranks log warnings and errors only.
Every line carries a time stamp and ``rank/size``.  Progress is printed as
whole lines (never carriage-return spinners), throttled in time.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager

from .parallel import max_over_ranks

LOGGER_NAME = "hpcx"


def get_logger(name=None):
    return logging.getLogger(LOGGER_NAME if name is None else f"{LOGGER_NAME}.{name}")


def setup_logging(comm, level="INFO", stream=None):
    """Configure the ``hpcx`` logger for this rank; returns it."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s [{comm.rank}/{comm.size}] %(levelname)s %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(level if comm.rank == 0 else "WARNING")
    logger.propagate = False
    return logger


class PhaseTimer:
    """Wall time per named phase; ``summary(comm)`` gives the max over ranks."""

    def __init__(self):
        self.seconds = {}

    @contextmanager
    def phase(self, name, logger=None):
        logger = logger or get_logger()
        logger.info("phase %s: start", name)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            logger.info("phase %s: done in %.3f s", name, elapsed)

    def summary(self, comm):
        """{phase: max wall seconds over ranks}; collective."""
        return {name: max_over_ranks(t, comm) for name, t in sorted(self.seconds.items())}


def _format_seconds(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


class Progress:
    """Percent, rate and ETA for a loop of ``total`` steps, logged as whole lines.

    Lines are emitted at most every ``interval`` seconds (and at the end), so a
    SLURM log stays readable.  Counts are this rank's unless the caller passes
    global counts.
    """

    def __init__(self, total, label, logger=None, interval=10.0, unit="it"):
        self.total, self.label, self.unit = max(int(total), 1), label, unit
        self.logger = logger or get_logger()
        self.interval = interval
        self.start = self.last = time.perf_counter()
        self.done = 0

    def update(self, steps=1):
        self.done += steps
        now = time.perf_counter()
        if self.done >= self.total or now - self.last >= self.interval:
            self.last = now
            self.logger.info("%s", self.line(now))

    def line(self, now=None):
        now = time.perf_counter() if now is None else now
        elapsed = max(now - self.start, 1e-12)
        rate = self.done / elapsed
        remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = _format_seconds(remaining) if remaining != float("inf") else "?"
        return (f"{self.label}: {100.0 * self.done / self.total:5.1f}% "
                f"({self.done}/{self.total}) {rate:.3g} {self.unit}/s "
                f"elapsed {_format_seconds(elapsed)} ETA {eta}")
