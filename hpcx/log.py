"""Rank-aware logging, phase timers and progress lines that read well in SLURM logs.

Rank 0 logs at the chosen level; other ranks log warnings and errors only, except
warnings marked :data:`ONCE` (``log.warning(..., extra=ONCE)``: every rank would give the
same one, decided on replicated values), which only rank 0 prints.
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

#: ``extra=`` of a log call that every rank makes alike: printed by rank 0 only
ONCE = {"hpcx_once": True}


def _not_once(record):
    return not getattr(record, "hpcx_once", False)


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
    if comm.rank != 0:
        handler.addFilter(_not_once)
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
        ended = "ended early"            # an exception or a signal left the phase
        try:
            yield
            ended = "done"
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            logger.info("phase %s: %s in %.3f s", name, ended, elapsed)

    def summary(self, comm):
        """{phase: max wall seconds over ranks}; collective."""
        return {name: max_over_ranks(t, comm) for name, t in sorted(self.seconds.items())}


def _format_seconds(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


PROGRESS_FIRST = 10.0       # seconds before the first progress line
PROGRESS_INTERVAL = 20.0    # seconds between progress lines


class Progress:
    """Percent, rate and ETA for a loop of ``total`` steps, logged as whole lines.

    The first line comes ``first`` seconds after the start (default
    :data:`PROGRESS_FIRST`), then one every ``interval`` seconds (default
    :data:`PROGRESS_INTERVAL`), and one when ``total`` is reached: a few
    lines a minute, never carriage returns, readable in a SLURM log.  A loop
    shorter than ``first`` logs only its final line.  ``done`` steps are
    complete before the loop starts (a resumed run): the rate and ETA count
    only the steps done since.  ``enabled=False`` (the ranks other than 0)
    counts silently.  Counts are this rank's unless the caller passes global
    counts.  ``clock`` is a seconds counter (for tests).
    """

    def __init__(self, total, label, logger=None, interval=None, unit="it", first=None, done=0,
                 enabled=True, clock=time.perf_counter):
        self.total, self.label, self.unit = max(int(total), 1), label, unit
        self.logger = logger or get_logger()
        self.interval = PROGRESS_INTERVAL if interval is None else float(interval)
        self.clock = clock
        self.start = clock()
        self.due = self.start + (min(PROGRESS_FIRST, self.interval) if first is None else float(first))
        self.done = self.initial = int(done)
        self.enabled = enabled
        self.finished = False

    def update(self, steps=1):
        """``steps`` more steps are done; log a line if one is due."""
        self.set(self.done + steps)

    def set(self, done):
        """``done`` steps (of ``total``) are complete; log a line if one is due."""
        self.done = int(done)
        now = self.clock()
        end = self.done >= self.total and not self.finished
        if end or now >= self.due:
            self.finished = self.finished or end
            self.due = now + self.interval
            if self.enabled:
                self.logger.info("%s", self.line(now))

    def line(self, now=None):
        """'label:  42.0% (42/100) 3.1 it/s elapsed 0:00:13 ETA 0:00:18'."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-12)
        rate = (self.done - self.initial) / elapsed
        remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = _format_seconds(max(remaining, 0.0)) if remaining != float("inf") else "?"
        return (f"{self.label}: {100.0 * self.done / self.total:5.1f}% "
                f"({self.done}/{self.total}) {rate:.3g} {self.unit}/s "
                f"elapsed {_format_seconds(elapsed)} ETA {eta}")
