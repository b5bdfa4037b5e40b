"""The launch clock behind the start-up figures, and the callback that logs it."""

import time

from aelab.callbacks.timing import StartupTimer
from aelab.launch_clock import seconds_since_launch


def test_seconds_since_launch_counts_from_process_start():
    first = seconds_since_launch()
    time.sleep(0.05)
    second = seconds_since_launch()
    assert 0 < first < 24 * 3600
    assert second > first


def test_startup_timer_records_the_first_step_only():
    timer = StartupTimer()
    timer.on_train_batch_start(None, None, None, 0)
    first = timer.seconds
    time.sleep(0.05)
    timer.on_train_batch_start(None, None, None, 1)
    assert first is not None and first > 0
    assert timer.seconds == first
