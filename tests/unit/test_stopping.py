"""Signals set the stop flag of a run; a second signal, or one before any safe point, stops at once."""

import os
import signal

import pytest

from hpcx.context import RunContext
from hpcx.parallel import SerialComm
from hpcx.stopping import Interrupted, StopFlag, handle_signals


def test_first_signal_sets_the_flag_a_second_one_interrupts():
    previous = signal.getsignal(signal.SIGUSR1)
    flag = StopFlag(SerialComm())
    ctx = RunContext(stop_flag=flag)
    with handle_signals(flag):
        assert not ctx.stop_requested()            # the workflow polls: safe points exist
        os.kill(os.getpid(), signal.SIGTERM)
        assert ctx.stop_requested() and flag.signum == signal.SIGTERM
        with pytest.raises(Interrupted) as info:
            os.kill(os.getpid(), signal.SIGINT)
        assert info.value.exit_code == 128 + signal.SIGINT
    assert signal.getsignal(signal.SIGUSR1) is previous, "handlers are restored after the run"


def test_a_signal_before_any_safe_point_interrupts_at_once():
    flag = StopFlag(SerialComm())
    with handle_signals(flag):
        with pytest.raises(Interrupted, match="SIGUSR1") as info:
            os.kill(os.getpid(), signal.SIGUSR1)
    assert info.value.exit_code == 138 and isinstance(info.value, KeyboardInterrupt)


def test_petsc_is_kept_from_catching_the_signals(monkeypatch):
    monkeypatch.setenv("PETSC_OPTIONS", "-log_view")
    with handle_signals(StopFlag(SerialComm())):
        assert os.environ["PETSC_OPTIONS"].split() == ["-log_view", "-no_signal_handler"]


def test_without_a_flag_nothing_is_requested():
    assert RunContext().stop_requested() is False


def test_a_phase_without_safe_points_stops_at_once_and_a_pending_request_at_the_next_phase():
    flag = StopFlag(SerialComm())
    ctx = RunContext(stop_flag=flag)
    with handle_signals(flag):
        with ctx.phase("loop"):
            ctx.stop_requested()
            os.kill(os.getpid(), signal.SIGUSR1)          # after the loop's last safe point
        with pytest.raises(Interrupted, match="SIGUSR1"):
            with ctx.phase("after"):                      # nobody acted on it: stop here
                pass
    quiet = StopFlag(SerialComm())
    ctx = RunContext(stop_flag=quiet)
    with handle_signals(quiet):
        with ctx.phase("loop"):
            ctx.stop_requested()
        with pytest.raises(Interrupted, match="SIGTERM"):
            with ctx.phase("no safe points"):
                os.kill(os.getpid(), signal.SIGTERM)
