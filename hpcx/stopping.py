"""Stopping a run at a safe point on SIGTERM, SIGINT or SIGUSR1.

:func:`handle_signals` (used by :func:`hpcx.api.run`) installs handlers that
set a per-rank flag.  Long loops of a workflow call ``ctx.stop_requested()``
(a :class:`StopFlag`) at safe points; all ranks call it at the same points
and it returns the same answer on every rank, so they stop together even
when the signal reached only some of them (``mpirun`` forwards SIGUSR1 to
every rank, a scheduler may signal ranks one by one).  The workflow then
writes its checkpoint and raises :class:`hpcx.errors.CheckpointedStop`
(exit 75).

A second signal, or a first one in a phase that has not polled the flag
(a phase without safe points, or before its first one), stops the run at
once with :class:`Interrupted` (exit 128 + signal number): there is no
checkpoint to write.  So does a request still pending when the next phase
starts.  While the run file is written, signals are deferred: the run
finishes.  While native code calls back into Python (a SLEPc solve running
the matrix-free product), :class:`HeldSignals` keeps the handler's exception
out of it: the solve ends at the same iteration on every rank and the signal
is delivered afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import numpy as np

from .parallel import max_over_ranks, sum_over_ranks

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGUSR1") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A signal ended the run where no checkpoint could be written; ``exit_code`` = 128 + signum."""

    def __init__(self, signum):
        self.signum = signum
        self.exit_code = 128 + int(signum)
        super().__init__(f"stopped by {signal.Signals(signum).name}")


class _Agreement:
    """Throttle state of the stop agreement over one communicator."""

    def __init__(self, last):
        self.stride, self.calls, self.last, self.agreed = 1, 0, last, False


class StopFlag:
    """The stop request of a run: set by a signal on one rank, agreed on by all ranks.

    ``flag(comm)`` is collective over ``comm`` (default: the run's): every
    rank of it calls it at the same safe points, and it returns the same
    answer on each.  It sums the ranks' flags with one 16-byte allreduce,
    but only every ``stride``-th call: the stride follows the rank-averaged
    time between agreements (doubling at most per agreement, capped at
    :attr:`MAX_STRIDE`) so that agreements happen about every ``interval``
    seconds; every rank computes the same stride, so the calls stay matched.
    """

    MAX_STRIDE = 64

    def __init__(self, comm, interval=1.0, clock=time.monotonic):
        self.comm, self.interval, self.clock = comm, float(interval), clock
        self.local = False          # this rank received a signal
        self.signum = None
        self.polled = False         # the workflow has polled at least once
        self._agreements = {}

    def request(self, signum=None):
        """Mark a stop request on this rank (what a signal handler does)."""
        self.local = True
        self.signum = signum if self.signum is None else self.signum

    def new_phase(self):
        """A phase starts (``ctx.phase``): a request nobody acted on stops the run now; otherwise a
        signal in this phase stops it at once unless the phase polls the flag."""
        if self.local:
            raise Interrupted(self.signum)
        self.polled = False

    def defer(self):
        """From now on a signal only sets the flag: the run finishes what it does (writing its file)."""
        self.polled = True

    def __call__(self, comm=None, final=False):
        """True once any rank of ``comm`` has a request; ``final=True`` (the last safe point of a
        loop, passed alike on every rank) agrees now instead of waiting for the stride."""
        comm = self.comm if comm is None else comm
        self.polled = True
        if comm.size == 1:
            return self.local
        state = self._agreements.setdefault(id(comm), _Agreement(self.clock()))
        if state.agreed:
            return True
        state.calls += 1
        if state.calls < state.stride and not final:
            return False
        now = self.clock()
        total = sum_over_ranks(np.array([1.0 if self.local else 0.0, now - state.last]), comm)
        elapsed = max(total[1] / comm.size, 1e-9)
        wanted = round(state.stride * self.interval / elapsed)
        state.stride = int(min(max(wanted, 1), 2 * state.stride, self.MAX_STRIDE))
        state.calls, state.last = 0, now
        state.agreed = bool(total[0] > 0)
        return state.agreed


class HeldSignals:
    """SIGTERM, SIGINT and SIGUSR1 held back while native code runs Python callbacks.

    A SLEPc solve calls the operator's product, its monitor and its stopping test in Python; an
    exception raised there by a signal handler (:class:`Interrupted`) would unwind through SLEPc,
    leave the solver mid-iteration and crash the process when the solver is destroyed, hiding the
    stop.  Inside the block a signal is only recorded; :meth:`requested` (collective over
    ``comm``: every rank calls it at the same points, e.g. the solver's stopping test) tells
    whether any rank got one, so that all ranks end the solve at the same iteration.  Leaving the
    block normally, the ranks agree once more and the signal is delivered again, on every rank,
    to the handlers that were there before (hpcx's: :func:`handle_signals`); leaving it with an
    exception, a rank delivers only the signal it got.  Handlers that are not Python callables
    (SIG_DFL, SIG_IGN) are left alone, and outside the main thread nothing is changed.
    """

    def __init__(self, comm):
        self.comm = comm
        self.signum = None          # the first signal this rank received in the block
        self.agreed = 0             # a signal number once any rank has one (after requested())
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                handler = signal.getsignal(s)
                if callable(handler):
                    self._previous[s] = handler
                    signal.signal(s, self._record)
        return self

    def _record(self, signum, frame):
        if self.signum is None:
            self.signum = signum

    def requested(self):
        """True once any rank of ``comm`` has received a signal in the block (collective)."""
        if not self.agreed:
            self.agreed = int(max_over_ranks(int(self.signum or 0), self.comm))
        return self.agreed > 0

    def __exit__(self, kind, exc, tb):
        if kind is None:
            self.requested()
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        pending = self.agreed if kind is None else self.signum
        if pending:
            signal.raise_signal(pending)
        return False


def disable_petsc_signal_handler():
    """Keep PETSc (initialised later, on first use) from taking over SIGTERM/SIGINT/SIGUSR1/SIGPIPE.

    PETSc's default handler catches those signals and aborts the job, which
    would bypass the safe-point stop.  Adds ``-no_signal_handler`` to
    ``PETSC_OPTIONS``; has no effect on a PETSc that is already initialised.
    """
    options = os.environ.get("PETSC_OPTIONS", "")
    if "-no_signal_handler" not in options.split():
        os.environ["PETSC_OPTIONS"] = (options + " -no_signal_handler").strip()


@contextlib.contextmanager
def handle_signals(flag, log=None):
    """Route SIGTERM/SIGINT/SIGUSR1 to ``flag`` while the block runs (main thread only; else a no-op).

    The first signal sets the flag (or, if the workflow never polled it,
    raises :class:`Interrupted`); a second one raises :class:`Interrupted`.
    The previous handlers are restored afterwards.
    """
    disable_petsc_signal_handler()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        name = signal.Signals(signum).name
        if flag.local or not flag.polled:
            raise Interrupted(signum)
        flag.request(signum)
        if log is not None:
            log.warning("%s received: stopping at the next safe point with a checkpoint "
                        "(send it again to stop at once, without one)", name)

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, handler)
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, signal.SIG_DFL if h is None else h)   # None: a handler set outside Python
