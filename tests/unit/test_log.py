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
