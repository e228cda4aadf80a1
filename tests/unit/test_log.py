import io
import logging

from hpcx.log import PhaseTimer, Progress, setup_logging
from hpcx.parallel import SerialComm


def test_progress_lines_are_whole_lines_with_rate_and_eta():
    stream = io.StringIO()
    logger = setup_logging(SerialComm(), "INFO", stream=stream)
    progress = Progress(4, "loop", logger, interval=0.0)
    for _ in range(4):
        progress.update()
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 4
    assert "loop: 100.0% (4/4)" in lines[-1] and "it/s" in lines[-1] and "ETA 0:00:00" in lines[-1]
    assert "[0/1] INFO" in lines[0]


def test_phase_timer_accumulates():
    timer = PhaseTimer()
    logger = logging.getLogger("hpcx.test")
    with timer.phase("a", logger):
        pass
    with timer.phase("a", logger):
        pass
    assert set(timer.seconds) == {"a"} and timer.seconds["a"] >= 0.0
    assert timer.summary(SerialComm()) == timer.seconds


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _lines(stream):
    return [line for line in stream.getvalue().splitlines() if line]


def test_progress_first_line_after_10_s_then_every_20_s_and_at_the_end():
    stream, clock = io.StringIO(), FakeClock()
    logger = setup_logging(SerialComm(), "INFO", stream=stream)
    progress = Progress(100, "samples", logger, unit="samples", clock=clock)
    for step in range(100):              # one step per second
        clock.now = step + 1.0
        progress.update()
    lines = _lines(stream)
    # at 10 s, 30 s, 50 s, 70 s, 90 s and the end (100 s)
    assert len(lines) == 6
    assert "samples:  10.0% (10/100) 1 samples/s elapsed 0:00:10 ETA 0:01:30" in lines[0]
    assert "(30/100)" in lines[1] and "ETA 0:01:10" in lines[1]
    assert "100.0% (100/100)" in lines[-1] and "ETA 0:00:00" in lines[-1]


def test_short_loops_log_only_their_end_and_other_ranks_nothing():
    stream, clock = io.StringIO(), FakeClock()
    logger = setup_logging(SerialComm(), "INFO", stream=stream)
    quiet = Progress(5, "other rank", logger, clock=clock, enabled=False)
    short = Progress(5, "short", logger, clock=clock)
    for _ in range(5):
        clock.now += 1.0
        quiet.update()
        short.update()
    assert [line.split("INFO ")[1].split(":")[0] for line in _lines(stream)] == ["short"]


def test_resumed_progress_counts_only_new_steps_in_rate_and_eta():
    clock = FakeClock()
    progress = Progress(100, "resumed", logging.getLogger("hpcx.test"), clock=clock, done=60)
    clock.now = 20.0
    progress.set(70)                      # 10 new steps in 20 s: 0.5 per second, 30 left
    assert "(70/100) 0.5 it/s" in progress.line() and "ETA 0:01:00" in progress.line()


def test_warnings_every_rank_gives_alike_are_printed_by_rank_0_only():
    from hpcx.log import ONCE

    class Rank1:
        rank, size = 1, 2

    for comm, printed in ((SerialComm(), 3), (Rank1(), 1)):
        stream = io.StringIO()
        logger = setup_logging(comm, "INFO", stream=stream)
        logger.info("progress")                         # other ranks: warnings and errors only
        logger.warning("replicated: %d", 1, extra=ONCE)
        logger.warning("this rank's own")
        lines = stream.getvalue().splitlines()
        assert len(lines) == printed and "this rank's own" in lines[-1], lines
        assert ("replicated: 1" in stream.getvalue()) == (comm.rank == 0)
