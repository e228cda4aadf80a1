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
